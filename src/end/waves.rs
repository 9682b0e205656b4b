//! Signalling within the budget of pidfds: each process is held, confirmed and stopped, in
//! waves, checked again once stopped, then signalled; a session larger than the budget is
//! signalled in batches, and what was signalled before is let go of and only waited for.

use std::collections::HashSet;

use super::{Error, Rounds, Targets};
use crate::proc::is_exhaustion;
use crate::process::{ProcessRef, Signal, needs_cont};

impl<T: Targets> Rounds<'_, T> {
    /// Signals those of `pids` not yet signalled this round, and the children they have made.
    /// Each is held and confirmed first, so that whatever the PID names later, the signal goes
    /// to the process checked or nowhere; then stopped (STOP cannot be ignored), so that it
    /// neither forks nor exits while its children are read: a process that forks its successor
    /// and exits is followed down its line. Returns how many it reached.
    pub(super) fn signal_new(
        &mut self,
        pids: &[i32],
        signal: Signal,
        done: &mut HashSet<i32>,
    ) -> Result<usize, Error<T::Error>> {
        let mut held = Vec::new();
        let mut reached = 0;
        let mut queue = pids.to_vec();
        let mut retried = None;
        // In waves: each process of a wave is held, confirmed and stopped; then each is
        // checked again once stopped (by then most are) and its children make the next wave.
        while !queue.is_empty() {
            let mut stopped = Vec::new();
            for pid in std::mem::take(&mut queue) {
                if !done.insert(pid) {
                    continue;
                }
                if held.len() + stopped.len() + self.alive.len() + self.leftovers.len() >= self.budget {
                    self.check_stopped(std::mem::take(&mut stopped), &mut held, &mut queue);
                    reached += self.free_budget(&mut held, signal);
                }
                let targets = &mut *self.targets;
                match ProcessRef::open_verified(pid, || targets.confirm(pid)) {
                    Ok(Some(process)) if process.stop() => stopped.push(process),
                    // No longer the session's, and left stopped by an earlier round.
                    Ok(None) if self.left_stopped.contains(&pid) => self.continue_stopped(pid),
                    Ok(_) => {}
                    // Out of descriptors all the same: let go of all held, and try once more.
                    Err(e) if is_exhaustion(&e) && retried != Some(pid) => {
                        self.check_stopped(std::mem::take(&mut stopped), &mut held, &mut queue);
                        reached += self.free_budget(&mut held, signal);
                        retried = Some(pid);
                        done.remove(&pid);
                        queue.push(pid);
                    }
                    Err(e) if is_exhaustion(&e) => {
                        // None of those held may stay stopped.
                        self.check_stopped(stopped, &mut held, &mut queue);
                        self.send(held, signal);
                        return Err(Error::Exhausted { pid, source: e });
                    }
                    Err(e) => log::warn!("cannot hold process {pid} to signal it: {e}"),
                }
            }
            self.check_stopped(stopped, &mut held, &mut queue);
        }
        reached += self.send(held, signal);
        // One signalled in an earlier round was held anew for this one: its older handle goes.
        let mut newest = HashSet::new();
        self.alive.reverse();
        self.alive.retain(|process| newest.insert(process.pid()));
        self.alive.reverse();
        for leftover in &self.leftovers {
            if done.insert(leftover.pid()) && leftover.signal(signal) {
                reached += 1;
                self.ever_signalled.insert(leftover.pid());
            }
        }
        Ok(reached)
    }

    /// Checks each of `stopped` again, now that it cannot run: it may have exec'd a setuid
    /// program (no longer the user's) since the first check; such a one is continued and let
    /// go. The others are held, and their children queued (read in one go, while all are
    /// stopped: where the kernel has no children files that is one pass over /proc).
    fn check_stopped(&mut self, stopped: Vec<ProcessRef>, held: &mut Vec<(ProcessRef, u64)>, queue: &mut Vec<i32>) {
        let mut parents = Vec::new();
        for process in stopped {
            let pid = process.pid();
            let Some(ignored) = self.targets.recheck(pid) else {
                process.send(Signal::CONT);
                continue;
            };
            parents.push(pid);
            held.push((process, ignored));
        }
        queue.extend(self.targets.children(&parents));
    }

    /// Makes room in the budget: signals those held (stopped) so far, and lets go of the
    /// processes only waited on, which are still followed by PID and start time. Returns how
    /// many it reached.
    fn free_budget(&mut self, held: &mut Vec<(ProcessRef, u64)>, signal: Signal) -> usize {
        let reached = self.send(std::mem::take(held), signal);
        let let_go = std::mem::take(&mut self.alive).into_iter().filter_map(ProcessRef::let_go);
        self.let_go.extend(let_go);
        // A process signalled in more than one round was let go of more than once.
        self.let_go.sort_unstable();
        self.let_go.dedup();
        reached
    }

    /// Signals each of `held`; those reached are waited on. Returns how many it reached.
    fn send(&mut self, held: Vec<(ProcessRef, u64)>, signal: Signal) -> usize {
        let mut reached = 0;
        for (process, ignored) in held {
            // After KILL a stopped process dies as it is; any other signal is followed by
            // CONT, unless the process ignores it.
            let pid = process.pid();
            let bit = u32::try_from(signal.as_raw() - 1).ok().and_then(|n| 1u64.checked_shl(n)).unwrap_or(0);
            let stay_stopped = needs_cont(signal) && ignored & bit != 0 && !self.last_round;
            let delivered = if stay_stopped { process.send(signal) } else { process.signal(signal) };
            if delivered {
                if signal == Signal::KILL && self.later_round && !self.needed_kill.contains_key(&pid) {
                    let program = self.targets.program(pid);
                    self.needed_kill.insert(pid, program);
                }
                reached += 1;
                self.ever_signalled.insert(pid);
                if stay_stopped {
                    self.left_stopped.insert(pid);
                } else {
                    self.left_stopped.remove(&pid);
                }
                self.alive.push(process);
            }
        }
        reached
    }

    /// Continues whatever was left stopped and still lives (it outlived the schedule).
    pub(super) fn continue_left_stopped(&mut self) {
        for pid in std::mem::take(&mut self.left_stopped) {
            self.continue_stopped(pid);
        }
    }

    /// Continues `pid`, which xexit left stopped, whatever it is now: one that exec'd a
    /// setuid program since (its exec was under way when it was checked) is no longer the
    /// session's, but only xexit would continue it. Through the pidfd held, or one opened
    /// anew for the same process (PID and start time).
    pub(super) fn continue_stopped(&mut self, pid: i32) {
        self.left_stopped.remove(&pid);
        if let Some(held) = self.alive.iter().rev().find(|process| process.pid() == pid) {
            held.send(Signal::CONT);
        } else if let Some(let_go) = self.let_go.iter().find(|l| l.pid() == pid)
            && let Ok(Some(process)) = ProcessRef::open_verified(pid, || let_go.is_same())
        {
            process.send(Signal::CONT);
        }
    }
}
