//! Ending the session: signal rounds through pidfds, sweeping again until nothing new turns up.

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, PidfdFlags};

use crate::cli::parse_duration;
use crate::session::{self, Detail, ProcReader, Scope, Session, Sweep, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Session(#[from] session::Error),
    #[error("cannot open /proc: {0}")]
    Proc(io::Error),
}

/// How often the session is swept for new processes while a round waits.
const SWEEP_EVERY: Duration = Duration::from_millis(50);

/// One signal and how long to wait after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub signal: Signal,
    pub wait: Duration,
}

/// `--schedule`: SIGNAL/SECONDS pairs, as start-stop-daemon's --retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub steps: Vec<Step>,
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split('/').collect();
        if !parts.len().is_multiple_of(2) || parts.iter().any(|p| p.trim().is_empty()) {
            return Err(format!("'{text}' is not a schedule: give SIGNAL/SECONDS pairs, e.g. TERM/3/KILL/5"));
        }
        let steps = parts
            .chunks(2)
            .map(|pair| {
                let signal = parse_signal(pair[0])?;
                let wait = parse_duration(pair[1]).map_err(|e| format!("in schedule '{text}': {e}"))?;
                Ok(Step { signal, wait })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Schedule { steps })
    }
}

/// A signal by name, with or without SIG, or by number: TERM, SIGTERM, 15.
pub fn parse_signal(text: &str) -> Result<Signal, String> {
    let text = text.trim();
    let unknown = || format!("unknown signal '{text}': use a name such as TERM, HUP, KILL, or a number");
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number).map_err(|_| unknown());
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    Signal::from_str(&name).map_err(|_| unknown())
}

/// The short name for logs: TERM, KILL.
pub fn signal_name(signal: Signal) -> &'static str {
    signal.as_str().trim_start_matches("SIG")
}

/// Stopped processes only act on a signal once continued.
fn needs_cont(signal: Signal) -> bool {
    !matches!(signal, Signal::SIGKILL | Signal::SIGCONT)
}

fn to_rustix(signal: Signal) -> rustix::process::Signal {
    rustix::process::Signal::from_named_raw(signal as i32).expect("nix and rustix agree on signal numbers")
}

/// A process outside the session's scope that is ended with it (what a hook left behind).
pub struct Leftover {
    pub pid: i32,
    pub pidfd: OwnedFd,
}

/// What a run of the schedule came to.
#[derive(Debug, Default)]
pub struct Report {
    /// PID, state and command line of each process still there at the end.
    pub survivors: Vec<String>,
}

/// Runs the schedule against the session; `leftovers` are signalled with it.
pub fn end(session: &Session, schedule: &Schedule, leftovers: Vec<Leftover>, dry_run: bool) -> Result<Report, Error> {
    let mut reaper = Reaper {
        session,
        reader: ProcReader::new().map_err(Error::Proc)?,
        alive: HashMap::new(),
        leftovers,
        ever_signalled: HashSet::new(),
        announced: HashSet::new(),
    };
    if dry_run {
        return reaper.dry_run(schedule);
    }
    reaper.run(schedule)
}

struct Reaper<'a> {
    session: &'a Session,
    reader: ProcReader,
    /// Signalled processes whose end has not been seen yet, by PID.
    alive: HashMap<i32, OwnedFd>,
    leftovers: Vec<Leftover>,
    ever_signalled: HashSet<i32>,
    /// Processes whose sparing, or ending despite an unreadable environment, was logged.
    announced: HashSet<i32>,
}

impl Reaper<'_> {
    fn run(&mut self, schedule: &Schedule) -> Result<Report, Error> {
        let started = Instant::now();
        for (index, step) in schedule.steps.iter().enumerate() {
            let is_last = index + 1 == schedule.steps.len();
            let deadline = Instant::now() + step.wait;
            let mut signalled_this_round = HashSet::new();
            let mut count = 0;
            let mut cgroup_killed = false;
            loop {
                let sweep = self.sweep()?;
                self.leftovers.retain(|l| !has_exited(&l.pidfd));
                if sweep.targets().next().is_none() && self.leftovers.is_empty() {
                    self.log_round(step, count, started);
                    log::info!(
                        "session empty {} ms after the first signal ({} processes signalled)",
                        started.elapsed().as_millis(),
                        self.ever_signalled.len()
                    );
                    return Ok(Report::default());
                }
                if is_last && step.signal == Signal::SIGKILL && !cgroup_killed && self.try_cgroup_kill(&sweep, deadline)
                {
                    cgroup_killed = true;
                    count += sweep.targets().count();
                    continue;
                }
                count += self.signal_new(&sweep, step.signal, &mut signalled_this_round);
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                self.wait_for_exits(deadline.min(now + SWEEP_EVERY));
            }
            self.log_round(step, count, started);
        }
        let sweep = self.sweep()?;
        let mut survivors: Vec<String> = sweep
            .targets()
            .map(|m| {
                let state = self.reader.state(m.pid);
                format!("{} {state} {}", m.pid, self.reader.command_line(m.pid, &m.name))
            })
            .collect();
        survivors.extend(self.leftovers.iter().map(|l| format!("{} (left by a hook)", l.pid)));
        for survivor in &survivors {
            log::warn!("survived: {survivor}");
        }
        Ok(Report { survivors })
    }

    fn sweep(&mut self) -> Result<Sweep, Error> {
        let sweep = self.session.sweep(&mut self.reader, Detail::Plain)?;
        self.announce(&sweep, false);
        Ok(sweep)
    }

    /// Logs, once per process, each one spared and each one ended although its environment
    /// could not be read, with the reason.
    fn announce(&mut self, sweep: &Sweep, dry_run: bool) {
        for member in &sweep.members {
            let why = match (&member.verdict, member.verdict.unreadable_reason()) {
                (Verdict::Spared(name), _) => format!("--spare {name}"),
                (_, Some(why)) => format!("environment unreadable, {why}"),
                _ => continue,
            };
            if self.announced.insert(member.pid) {
                let verb = match (dry_run, member.verdict.is_target()) {
                    (false, true) => "ending",
                    (false, false) => "sparing",
                    (true, true) => "dry run: would end",
                    (true, false) => "dry run: would spare",
                };
                log::info!("{verb} {member}: {why}");
            }
        }
    }

    fn log_round(&self, step: &Step, count: usize, started: Instant) {
        let cont = if needs_cont(step.signal) { "+CONT" } else { "" };
        log::info!(
            "round {}{cont}: {count} processes signalled, {} ms since the first signal",
            signal_name(step.signal),
            started.elapsed().as_millis()
        );
    }

    /// Signals the targets of `sweep` not yet signalled this round; returns how many it reached.
    fn signal_new(&mut self, sweep: &Sweep, signal: Signal, done: &mut HashSet<i32>) -> usize {
        let mut reached = 0;
        let fresh: Vec<i32> = sweep.targets().map(|m| m.pid).filter(|pid| !done.contains(pid)).collect();
        for pid in fresh {
            done.insert(pid);
            if let Some(pidfd) = self.open_confirmed(pid)
                && send(&pidfd, pid, signal)
            {
                reached += 1;
                self.ever_signalled.insert(pid);
                self.alive.insert(pid, pidfd);
            }
        }
        for leftover in &self.leftovers {
            if done.insert(leftover.pid) && send(&leftover.pidfd, leftover.pid, signal) {
                reached += 1;
                self.ever_signalled.insert(leftover.pid);
            }
        }
        reached
    }

    /// The pidfd is opened before membership is confirmed: whatever the PID names later, the
    /// signal goes to the process that was checked, or nowhere.
    fn open_confirmed(&mut self, pid: i32) -> Option<OwnedFd> {
        let pidfd = rustix::process::pidfd_open(Pid::from_raw(pid)?, PidfdFlags::empty()).ok()?;
        self.session.confirm(pid, &mut self.reader).then_some(pidfd)
    }

    /// Waits until every signalled process has exited or `until` comes.
    fn wait_for_exits(&mut self, until: Instant) {
        loop {
            let now = Instant::now();
            if now >= until {
                return;
            }
            if self.alive.is_empty() {
                std::thread::sleep(until - now);
                return;
            }
            let pids: Vec<i32> = self.alive.keys().copied().collect();
            let exited: Vec<i32> = {
                let mut fds: Vec<PollFd> =
                    pids.iter().map(|pid| PollFd::new(&self.alive[pid], PollFlags::IN)).collect();
                let timeout = rustix::event::Timespec::try_from(until - now).ok();
                if rustix::event::poll(&mut fds, timeout.as_ref()).unwrap_or(0) == 0 {
                    return;
                }
                pids.iter().zip(&fds).filter(|(_, fd)| !fd.revents().is_empty()).map(|(pid, _)| *pid).collect()
            };
            for pid in exited {
                self.alive.remove(&pid);
            }
            if self.alive.is_empty() {
                return;
            }
        }
    }

    /// A final KILL through cgroup.kill, when the cgroup holds nothing but the session and
    /// xexit may write it; then waits for `populated 0`. Returns whether it was used.
    fn try_cgroup_kill(&mut self, sweep: &Sweep, deadline: Instant) -> bool {
        let Scope::Cgroup(cgroup) = &self.session.scope else { return false };
        if sweep.scope_has_others {
            return false;
        }
        let Some(kill_file) = cgroup.kill_file() else { return false };
        if let Err(e) = std::fs::write(&kill_file, "1") {
            log::debug!("cannot write {}: {e}; signalling each process", kill_file.display());
            return false;
        }
        for member in sweep.targets() {
            self.ever_signalled.insert(member.pid);
        }
        log::debug!("wrote 1 to {}", kill_file.display());
        wait_unpopulated(&cgroup.dir().join("cgroup.events"), deadline);
        true
    }

    fn dry_run(&mut self, schedule: &Schedule) -> Result<Report, Error> {
        let sweep = self.session.sweep(&mut self.reader, Detail::Plain)?;
        self.announce(&sweep, true);
        let mut pids: Vec<String> = sweep.targets().map(|m| m.pid.to_string()).collect();
        pids.extend(self.leftovers.iter().map(|l| l.pid.to_string()));
        for step in &schedule.steps {
            let cont = if needs_cont(step.signal) { " and CONT" } else { "" };
            log::info!(
                "dry run: would send {}{cont} to {} processes [{}], then wait up to {:?}",
                signal_name(step.signal),
                pids.len(),
                pids.join(" "),
                step.wait
            );
        }
        Ok(Report::default())
    }
}

/// Sends `signal` (and CONT after it where needed) through the pidfd; false if it is gone.
fn send(pidfd: &OwnedFd, pid: i32, signal: Signal) -> bool {
    match rustix::process::pidfd_send_signal(pidfd, to_rustix(signal)) {
        Ok(()) => {
            if needs_cont(signal) {
                let _ = rustix::process::pidfd_send_signal(pidfd, rustix::process::Signal::CONT);
            }
            true
        }
        Err(rustix::io::Errno::SRCH) => false,
        Err(e) => {
            log::warn!("cannot signal {pid}: {e}");
            false
        }
    }
}

/// A pidfd turns readable when its process has exited.
pub fn has_exited(pidfd: &impl AsFd) -> bool {
    let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
    rustix::event::poll(&mut fds, Some(&rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 })).unwrap_or(0) > 0
}

/// Waits for `populated 0` in cgroup.events; the kernel flags a change with POLLPRI.
fn wait_unpopulated(events: &Path, deadline: Instant) {
    let Ok(file) = std::fs::File::open(events) else { return };
    let populated = |path: &PathBuf| {
        std::fs::read_to_string(path).map(|t| t.lines().any(|l| l.trim() == "populated 1")).unwrap_or(false)
    };
    let path = events.to_path_buf();
    while populated(&path) {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        let mut fds = [PollFd::new(&file, PollFlags::PRI)];
        let timeout = rustix::event::Timespec::try_from(deadline - now).ok();
        let _ = rustix::event::poll(&mut fds, timeout.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse_like_start_stop_daemon() {
        let schedule: Schedule = "TERM/3/KILL/5".parse().unwrap();
        assert_eq!(
            schedule.steps,
            vec![
                Step { signal: Signal::SIGTERM, wait: Duration::from_secs(3) },
                Step { signal: Signal::SIGKILL, wait: Duration::from_secs(5) },
            ]
        );
        let schedule: Schedule = "sighup/250ms/15/1.5/9/2".parse().unwrap();
        let signals: Vec<Signal> = schedule.steps.iter().map(|s| s.signal).collect();
        assert_eq!(signals, [Signal::SIGHUP, Signal::SIGTERM, Signal::SIGKILL]);
        assert_eq!(schedule.steps[1].wait, Duration::from_millis(1500));
    }

    #[test]
    fn malformed_schedules_and_unknown_signals_are_refused() {
        for bad in ["", "TERM", "TERM/3/KILL", "TERM//KILL/5", "/3", "TERM/x"] {
            assert!(bad.parse::<Schedule>().is_err(), "{bad:?} was accepted");
        }
        assert!("BOGUS/3".parse::<Schedule>().unwrap_err().contains("unknown signal 'BOGUS'"));
        assert!(parse_signal("99").is_err());
        assert!(parse_signal("0").is_err());
        assert_eq!(parse_signal("SIGINT"), Ok(Signal::SIGINT));
        assert_eq!(parse_signal("int"), Ok(Signal::SIGINT));
    }

    #[test]
    fn cont_follows_all_but_kill_and_cont() {
        assert!(needs_cont(Signal::SIGTERM));
        assert!(needs_cont(Signal::SIGHUP));
        assert!(!needs_cont(Signal::SIGKILL));
        assert!(!needs_cont(Signal::SIGCONT));
    }

    #[test]
    fn a_pidfd_of_an_exited_process_signals_nothing() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        let pidfd = rustix::process::pidfd_open(Pid::from_raw(pid).unwrap(), PidfdFlags::empty()).unwrap();
        child.wait().unwrap();
        // The PID is free now and may be reused; the pidfd still names the dead process.
        assert!(has_exited(&pidfd));
        assert!(!send(&pidfd, pid, Signal::SIGKILL));
    }

    #[test]
    fn a_pidfd_of_a_live_process_reaches_it() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id() as i32;
        let pidfd = rustix::process::pidfd_open(Pid::from_raw(pid).unwrap(), PidfdFlags::empty()).unwrap();
        assert!(!has_exited(&pidfd));
        assert!(send(&pidfd, pid, Signal::SIGTERM));
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(Signal::SIGTERM as i32));
        assert!(has_exited(&pidfd));
    }
}
