//! The processes that started the session: a watcher's ancestors when it started, such as
//! x2goruncommand and dbus-run-session above an X2Go desktop's Xsession. They wait for the
//! session and then do the host's own bookkeeping (X2Go marks the session finished in its
//! database, unmounts shares, runs x2go_logout), so they are not signalled while the rest
//! of the session is ended, nor is what they start as the display is lost; then they get
//! a bounded time to finish on their own.

use std::time::{Duration, Instant};

use crate::proc::{self, ProcReader};

/// What a starter started this long before the display last answered is taken as its
/// reaction to the session's end: x2goruncommand TERMs its agent when the session command has
/// exited and starts its bookkeeping at once, before xexit sees the loss (at once when the
/// agent closes its connections, interval + timeout later when it is slow to exit).
const BEFORE_LOSS: Duration = Duration::from_secs(1);

/// One ancestor, known by PID, start time and name: a PID used again is another process,
/// and one that exec'd since (Xsession becoming the session command) is no longer it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Starter {
    pid: i32,
    start: u64,
    name: String,
}

#[derive(Clone, Debug, Default)]
pub struct Starters {
    known: Vec<Starter>,
    /// Once the display is lost: the start time (clock ticks after boot) from which what a
    /// starter starts is its own.
    since: Option<u64>,
}

impl Starters {
    /// xexit's ancestors in its own process session that run as `uid`, from its parent up
    /// to the session's leader (x2goruncommand), or to the first that is another user's (a
    /// display manager's). The process session is what a launcher makes for the session; an
    /// ancestor outside it, such as the `sshd: USER@notty` above an ssh login's command,
    /// only carries the session (and hangs with an unplugged client).
    pub fn record(uid: u32, reader: &mut ProcReader) -> Starters {
        let mut known = Vec::new();
        // Read from /proc, not getsid(2): a session whose leader is outside this PID namespace
        // (a container's, a CI runner's) has the number 0 here, and then no ancestor is known
        // to be in it.
        let me = rustix::process::getpid().as_raw_nonzero().get();
        let Some(own_session) = reader.stat_ids(me).map(|ids| ids.sid).filter(|&sid| sid > 0) else {
            log::debug!("the process session's leader is outside this PID namespace: no starters recorded");
            return Starters::default();
        };
        let mut pid = rustix::process::getppid().map_or(1, |p| p.as_raw_nonzero().get());
        while pid > 1 {
            let Some(starter) = Starter::read(pid, reader) else { break };
            let owned = reader.status(pid).is_some_and(|s| s.is_owned_by(Some(uid)));
            let Some(ids) = reader.stat_ids(pid) else { break };
            if !owned || ids.sid != own_session {
                break;
            }
            known.push(starter);
            pid = ids.ppid;
        }
        Starters { known, since: None }
    }

    /// The display is lost now, and last answered `silent_for` ago: from BEFORE_LOSS before
    /// that on, what a starter starts is its own.
    pub fn lost(&mut self, silent_for: Duration) {
        let ticks_per_second = clock_ticks_per_second();
        let now = now_in_ticks();
        let back = (silent_for + BEFORE_LOSS).as_millis() as u64 * ticks_per_second / 1000;
        self.since = Some(now.saturating_sub(back));
    }

    /// Whether `pid` is a starter, or was started by one since the loss (through processes
    /// all started since). A starter that exec'd since (Xsession, now the session command) is
    /// the session itself, and so is what it started.
    pub fn hold(&self, pid: i32, reader: &mut ProcReader) -> bool {
        if self.known.is_empty() {
            return false;
        }
        let mut pid = pid;
        loop {
            if self.known.iter().any(|s| s.pid == pid) {
                return self.is_starter(pid, reader);
            }
            let Some(since) = self.since else { return false };
            let started = proc::start_time(pid).ok().flatten();
            let Some(ids) = reader.stat_ids(pid) else { return false };
            if started.is_none_or(|start| start < since) || ids.ppid < 1 {
                return false;
            }
            pid = ids.ppid;
        }
    }

    fn is_starter(&self, pid: i32, reader: &mut ProcReader) -> bool {
        let Some(known) = self.known.iter().find(|s| s.pid == pid) else { return false };
        Starter::read(pid, reader).as_ref() == Some(known)
    }

    /// Waits up to `limit` for the starters to end on their own; whether any was running.
    /// Afterwards none is held any more: what is left is ended like the rest.
    pub fn wait(&mut self, limit: Duration, reader: &mut ProcReader) -> bool {
        let running = |starters: &Starters, reader: &mut ProcReader| -> Vec<i32> {
            starters.known.iter().filter(|s| starters.is_starter(s.pid, reader)).map(|s| s.pid).collect()
        };
        let first = running(self, reader);
        if !first.is_empty() {
            log::info!("waiting up to {limit:?} for the processes that started the session to finish: {first:?}");
            let deadline = Instant::now() + limit;
            while !running(self, reader).is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            match running(self, reader) {
                left if left.is_empty() => log::info!("the processes that started the session have finished"),
                left => log::info!("the processes that started the session still run, ended with the rest: {left:?}"),
            }
        }
        self.known.clear();
        !first.is_empty()
    }
}

/// Now, as the start times in /proc count: clock ticks since boot.
fn now_in_ticks() -> u64 {
    let ticks_per_second = clock_ticks_per_second();
    let boot = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    boot.tv_sec as u64 * ticks_per_second + boot.tv_nsec as u64 * ticks_per_second / 1_000_000_000
}

/// The unit of the start times in /proc (USER_HZ), as the kernel gives it to every process
/// in its auxiliary vector (AT_CLKTCK); 100, the value on every common architecture, where
/// that cannot be read.
fn clock_ticks_per_second() -> u64 {
    const AT_CLKTCK: u64 = 17;
    let auxv = std::fs::read("/proc/self/auxv").unwrap_or_default();
    let words: Vec<u64> = auxv.chunks_exact(8).map(|w| u64::from_ne_bytes(w.try_into().unwrap_or_default())).collect();
    words.chunks_exact(2).find(|pair| pair[0] == AT_CLKTCK).map_or(100, |pair| pair[1])
}

impl Starter {
    fn read(pid: i32, reader: &mut ProcReader) -> Option<Starter> {
        let start = proc::start_time(pid).ok().flatten()?;
        let name = reader.status(pid)?.name;
        Some(Starter { pid, start, name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_ticks_come_from_the_auxiliary_vector() {
        assert_eq!(clock_ticks_per_second(), 100, "USER_HZ on Linux's common architectures");
    }

    /// Runs the next test in a process session of its own, under `sh`, so that its parent is
    /// a starter wherever the harness runs (whose own session may be outside the namespace).
    #[test]
    fn a_parent_in_the_own_process_session_is_a_starter() {
        let test = "find::starters::tests::the_tests_own_parent_is_recorded_and_held_while_it_is_the_same";
        let run = std::process::Command::new("setsid")
            .args(["sh", "-c", "\"$0\" --exact \"$1\" --include-ignored; exit $?"])
            .arg(std::env::current_exe().unwrap())
            .arg(test)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&run.stdout);
        assert!(run.status.success() && out.contains(" 1 passed;"), "{test}: {}\n{out}", run.status);
    }

    #[test]
    #[ignore = "run by a_parent_in_the_own_process_session_is_a_starter, in a session of its own"]
    fn the_tests_own_parent_is_recorded_and_held_while_it_is_the_same() {
        let mut reader = ProcReader::new().unwrap();
        let uid = rustix::process::getuid().as_raw();
        let starters = Starters::record(uid, &mut reader);
        let parent = rustix::process::getppid().unwrap().as_raw_nonzero().get();
        assert_eq!(starters.known.first().map(|s| s.pid), Some(parent));
        assert!(starters.hold(parent, &mut reader));
        assert!(!starters.hold(std::process::id() as i32, &mut reader), "xexit itself is no starter");
    }

    #[test]
    fn a_starter_that_exec_d_or_whose_pid_is_used_again_is_not_held() {
        let mut reader = ProcReader::new().unwrap();
        let pid = std::process::id() as i32;
        let mut starters = Starters::default();
        let me = Starter::read(pid, &mut reader).unwrap();
        starters.known.push(Starter { name: "Xsession".into(), ..me.clone() });
        assert!(!starters.hold(pid, &mut reader), "another name: it exec'd since");
        starters.known[0] = Starter { start: me.start + 1, ..me.clone() };
        assert!(!starters.hold(pid, &mut reader), "another start time: another process");
        starters.known[0] = me;
        assert!(starters.hold(pid, &mut reader));
    }

    #[test]
    fn what_a_starter_that_exec_d_starts_is_the_sessions() {
        let mut reader = ProcReader::new().unwrap();
        let mut starters = Starters::default();
        let me = Starter::read(std::process::id() as i32, &mut reader).unwrap();
        starters.known.push(Starter { name: "Xsession".into(), ..me });
        starters.lost(Duration::ZERO);
        let mut child = std::process::Command::new("sleep").arg("10").spawn().unwrap();
        assert!(!starters.hold(child.id() as i32, &mut reader));
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn what_a_starter_starts_is_held_only_from_the_loss_on() {
        let mut reader = ProcReader::new().unwrap();
        let mut starters = Starters::default();
        starters.known.push(Starter::read(std::process::id() as i32, &mut reader).unwrap());
        let mut old = std::process::Command::new("sleep").arg("10").spawn().unwrap();
        std::thread::sleep(BEFORE_LOSS + Duration::from_millis(100));
        starters.lost(Duration::ZERO);
        let mut new = std::process::Command::new("sleep").arg("10").spawn().unwrap();
        assert!(!starters.hold(old.id() as i32, &mut reader), "started before the loss: the session's");
        assert!(starters.hold(new.id() as i32, &mut reader), "started since: the starter's own");
        assert!(starters.wait(Duration::ZERO, &mut reader));
        assert!(!starters.hold(new.id() as i32, &mut reader), "let go of after the wait");
        for child in [&mut old, &mut new] {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}
