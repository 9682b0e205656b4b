//! Ending the session: the rounds of the schedule over processes held by pidfd, following
//! the session while each round waits, until none is left or the schedule runs out.

mod schedule;
mod targets;
mod waves;

use std::collections::HashSet;
use std::io;
use std::time::{Duration, Instant};

pub use self::schedule::{Schedule, Step};
pub use self::targets::{Emptiness, Report, Spared, Targets};
use crate::error::Exit;
use crate::process::{self, LetGo, ProcessRef, Signal, needs_cont, signal_name, wait_any};

#[derive(Debug, thiserror::Error)]
pub enum Error<E: std::error::Error + 'static> {
    #[error(transparent)]
    Look(E),
    #[error(
        "cannot hold process {pid} to signal it: {source}, even after letting go of every other process held (raise the open-files limit, ulimit -n)"
    )]
    Exhausted { pid: i32, source: io::Error },
}

impl<E> From<Error<E>> for crate::error::Error
where
    E: std::error::Error + Send + Sync + 'static,
    crate::error::Error: From<E>,
{
    fn from(error: Error<E>) -> Self {
        match error {
            Error::Look(e) => e.into(),
            exhausted => crate::error::Error::new(Exit::Failed, exhausted),
        }
    }
}

/// How often the session is looked at again for new processes while a round waits.
const LOOK_EVERY: Duration = Duration::from_millis(50);
/// How long apart two looks must both see nothing before the session is taken as empty
/// (following the session to nothing, then a full look; or two full looks): one look can
/// miss a process that forks a child and exits while /proc is read (a PID hopper).
/// Processes that ignore TERM are kept stopped between rounds, so they cannot hop meanwhile.
const SETTLE: Duration = Duration::from_millis(100);
/// The looks made over SETTLE after one that saw nothing.
const SETTLE_LOOKS: u32 = 1;
/// How many full looks in a row that saw nothing but were not believed on the kernel's count
/// of the user's tasks end the rounds early.
const UNCOUNTED_LOOKS: u32 = 3;

/// A look at the session, settled: the targets, and what is left unseen.
struct Look {
    pids: Vec<i32>,
    unseen: Option<String>,
}

/// Runs the schedule against `targets`, starting from `first`, a full look just made;
/// `leftovers` (what the hooks left running, outside the session's scope) are signalled with
/// them.
///
/// While the schedule runs, the session is followed rather than looked for: the processes
/// signalled and the children they make. The whole host is looked at again only when that
/// finds nothing, to confirm the end (see `look_settled`).
///
/// The open-files limit is raised to its maximum first; half of it is the budget of pidfds
/// held at once, and a session larger than that is signalled in batches.
pub fn end<T: Targets>(
    targets: &mut T,
    schedule: &Schedule,
    first: Vec<i32>,
    leftovers: Vec<ProcessRef>,
) -> Result<Report, Error<T::Error>> {
    let limit = process::raise_open_files_limit().unwrap_or(u64::MAX);
    let budget = usize::try_from(limit / 2).unwrap_or(usize::MAX).max(8);
    end_within(targets, schedule, first, leftovers, budget)
}

/// `end`, holding at most `budget` processes at once.
fn end_within<T: Targets>(
    targets: &mut T,
    schedule: &Schedule,
    first: Vec<i32>,
    leftovers: Vec<ProcessRef>,
    budget: usize,
) -> Result<Report, Error<T::Error>> {
    let mut rounds = Rounds {
        targets,
        alive: Vec::new(),
        let_go: Vec::new(),
        leftovers,
        ever_signalled: HashSet::new(),
        budget,
        first: Some(first),
        left_stopped: HashSet::new(),
        last_round: false,
        needed_kill: std::collections::HashMap::new(),
        later_round: false,
        uncounted_in_a_row: 0,
    };
    let report = rounds.run(schedule);
    // On an error, nothing may stay stopped.
    rounds.continue_left_stopped();
    report
}

/// Logs what the schedule would do to `pids`, and does nothing.
pub fn dry_run(schedule: &Schedule, pids: &[i32]) {
    let shown: Vec<String> = pids.iter().map(i32::to_string).collect();
    for step in &schedule.steps {
        let cont = if needs_cont(step.signal) { " and CONT" } else { "" };
        log::info!(
            "dry run: would send {}{cont} to {} processes [{}], then wait up to {:?}",
            signal_name(step.signal),
            pids.len(),
            shown.join(" "),
            step.wait
        );
    }
}

struct Rounds<'a, T> {
    targets: &'a mut T,
    /// Signalled processes whose end has not been seen yet.
    alive: Vec<ProcessRef>,
    /// Signalled processes let go of to stay within the budget, followed until they end: a
    /// look of /proc cannot tell one still exiting (its environment gone) as the session's.
    let_go: Vec<LetGo>,
    leftovers: Vec<ProcessRef>,
    ever_signalled: HashSet<i32>,
    /// How many processes may be held (one pidfd each) at once.
    budget: usize,
    /// The full look made before the rounds, not yet used.
    first: Option<Vec<i32>>,
    /// Processes left stopped after a signal they ignore, until the next round: they would
    /// not act on it, and stopped they can neither fork nor hop away from being followed.
    /// Continued in the last round, or at the end if the schedule fails.
    left_stopped: HashSet<i32>,
    /// Whether the round under way is the schedule's last: no process is left stopped then.
    last_round: bool,
    /// The programs of the processes KILL was sent to after an earlier round.
    needed_kill: std::collections::HashMap<i32, String>,
    /// Whether the round under way follows another (KILL in it means earlier ones failed).
    later_round: bool,
    /// Full looks in a row that saw nothing and were not believed on the kernel's count.
    uncounted_in_a_row: u32,
}

impl<T: Targets> Rounds<'_, T> {
    fn run(&mut self, schedule: &Schedule) -> Result<Report, Error<T::Error>> {
        let started = Instant::now();
        'rounds: for (index, step) in schedule.steps.iter().enumerate() {
            let is_last = index + 1 == schedule.steps.len();
            self.last_round = is_last;
            self.later_round = index > 0;
            let deadline = Instant::now() + step.wait;
            let mut signalled_this_round = HashSet::new();
            let mut count = 0;
            let mut killed_all = false;
            loop {
                let looked = Instant::now();
                let Look { pids, unseen } = self.look()?;
                // A look that takes long (a large session) is made less often.
                let pause = LOOK_EVERY.max(looked.elapsed() * 2);
                if pids.is_empty() && self.uncounted_in_a_row >= UNCOUNTED_LOOKS {
                    log_round(step, count, started);
                    break 'rounds;
                }
                if pids.is_empty() && self.leftovers.is_empty() && unseen.is_none() {
                    log_round(step, count, started);
                    log::info!(
                        "session empty {} ms after the first signal ({} processes signalled)",
                        started.elapsed().as_millis(),
                        self.ever_signalled.len()
                    );
                    return Ok(self.report(Vec::new()));
                }
                // cgroup.kill first, which no fork escapes; then KILL to each process seen
                // as well, which reaches one cgroup.kill cannot (a process whose main thread
                // has exited is skipped by the kernel's group kill).
                if is_last && step.signal == Signal::KILL && !killed_all && self.targets.kill_all() {
                    killed_all = true;
                    self.ever_signalled.extend(pids.iter().copied());
                    if self.later_round {
                        for pid in &pids {
                            let program = self.targets.program(*pid);
                            self.needed_kill.insert(*pid, program);
                        }
                    }
                }
                count += self.signal_new(&pids, step.signal, &mut signalled_this_round)?;
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                self.wait_for_exits(deadline.min(now + pause));
            }
            log_round(step, count, started);
        }
        self.continue_left_stopped();
        let Look { mut pids, unseen } = self.look_settled(0)?;
        // One signalled and still exiting outlived the schedule too, though no look sees it
        // as the session's (its environment is gone); one that changed (a setuid program it
        // exec'd) is not the session's.
        self.alive.retain(|process| !process.has_exited());
        let seen: HashSet<i32> = pids.iter().copied().collect();
        for pid in self.followed() {
            if !seen.contains(&pid) && self.targets.is_exiting(pid) {
                pids.push(pid);
            }
        }
        let mut survivors: Vec<String> = pids.into_iter().map(|pid| self.targets.describe(pid)).collect();
        survivors.extend(self.leftovers.iter().map(|l| format!("{} (left by a hook)", l.pid())));
        survivors.extend(unseen);
        for survivor in &survivors {
            log::warn!("survived: {survivor}");
        }
        Ok(self.report(survivors))
    }

    /// The session's targets now: the first full look; then what follows from the processes
    /// signalled (themselves while they live, and their children); and when that is nothing,
    /// which counts as the first of the two empty looks, a full look after the settle time.
    fn look(&mut self) -> Result<Look, Error<T::Error>> {
        if let Some(pids) = self.first.take() {
            if !pids.is_empty() {
                return Ok(Look { pids, unseen: None });
            }
        } else {
            // Those signalled and still alive were found before: still targets.
            let mut pids = self.followed();
            let held: HashSet<i32> = pids.iter().copied().collect();
            let mut children = self.targets.children(&pids);
            children.retain(|child| !held.contains(child));
            children.sort_unstable();
            children.dedup();
            if !children.is_empty() {
                pids.extend(self.targets.look_near(children).map_err(Error::Look)?);
            }
            self.leftovers.retain(|l| !l.has_exited());
            if !pids.is_empty() || !self.leftovers.is_empty() {
                return Ok(Look { pids, unseen: None });
            }
            // Followed to nothing: the session is seen empty once. Unless that is sure (a
            // cgroup with nothing in it), one full look after the settle time must agree.
            if self.targets.is_surely_empty() {
                return Ok(Look { pids, unseen: None });
            }
            std::thread::sleep(SETTLE);
            return self.look_settled(SETTLE_LOOKS);
        }
        self.look_settled(0)
    }

    /// The processes signalled that have not been seen to end: held (those seen to exit are
    /// dropped as the rounds wait), or let go of and followed.
    fn followed(&mut self) -> Vec<i32> {
        self.let_go.retain(LetGo::is_running);
        let mut pids: Vec<i32> =
            self.alive.iter().map(ProcessRef::pid).chain(self.let_go.iter().map(LetGo::pid)).collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// The session's targets now, from full looks. A look that sees none (while no leftover
    /// of a hook lives) is believed at once where the session is surely empty, once looks
    /// over SETTLE all agree where that cannot be known, and never while something is left
    /// unseen.
    /// `looks`: how many empty looks over SETTLE were made already.
    fn look_settled(&mut self, mut looks: u32) -> Result<Look, Error<T::Error>> {
        loop {
            let pids = self.targets.look().map_err(Error::Look)?;
            self.leftovers.retain(|l| !l.has_exited());
            if !pids.is_empty() || !self.leftovers.is_empty() {
                self.uncounted_in_a_row = 0;
                return Ok(Look { pids, unseen: None });
            }
            let emptiness = self.targets.emptiness();
            if !matches!(emptiness, Emptiness::Uncounted(_)) {
                self.uncounted_in_a_row = 0;
            }
            match emptiness {
                Emptiness::Unproven if looks < SETTLE_LOOKS => {
                    std::thread::sleep(SETTLE / SETTLE_LOOKS);
                    looks += 1;
                }
                Emptiness::Unseen(why) => return Ok(Look { pids, unseen: Some(why) }),
                Emptiness::Uncounted(why) => {
                    self.uncounted_in_a_row += 1;
                    return Ok(Look { pids, unseen: Some(why) });
                }
                Emptiness::Sure | Emptiness::Unproven => return Ok(Look { pids, unseen: None }),
            }
        }
    }

    fn report(&mut self, survivors: Vec<String>) -> Report {
        let mut needed_kill: Vec<String> = std::mem::take(&mut self.needed_kill).into_values().collect();
        needed_kill.sort();
        let mut spared = self.targets.spared();
        // One signalled counts as signalled, not spared, though a later look spared it (it
        // exec'd a spared program).
        spared.retain(|s| !self.ever_signalled.contains(&s.pid));
        Report { survivors, signalled: self.ever_signalled.len(), needed_kill, spared }
    }

    /// Waits until every signalled process has exited or `until` comes.
    fn wait_for_exits(&mut self, until: Instant) {
        if self.alive.is_empty() {
            std::thread::sleep(until.saturating_duration_since(Instant::now()));
            return;
        }
        while !self.alive.is_empty() {
            let exited = wait_any(&self.alive, until);
            if exited.is_empty() {
                return;
            }
            let mut index = 0;
            self.alive.retain(|_| {
                index += 1;
                !exited.contains(&(index - 1))
            });
        }
    }
}

fn log_round(step: &Step, count: usize, started: Instant) {
    let cont = if needs_cont(step.signal) { "+CONT" } else { "" };
    log::info!(
        "round {}{cont}: {count} processes signalled, {} ms since the first signal",
        signal_name(step.signal),
        started.elapsed().as_millis()
    );
}

#[cfg(test)]
mod tests;
