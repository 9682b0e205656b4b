//! The rounds against a fake session over real processes.

use std::collections::HashSet;
use std::io;

use super::*;

/// What becomes of a process once it is stopped and checked again.
enum AfterStop {
    /// It is no longer a target (it exec'd a setuid program, say).
    Changed,
    /// It is still a target, but once signalled it is no longer seen as the session's, yet
    /// runs on: as a process still exiting, its environment gone, looks to a look of /proc.
    Unseen,
}

/// A session of real processes, whose checks are counted.
struct Fake {
    members: HashSet<i32>,
    /// Those no longer seen (AfterStop::Unseen): as if exiting.
    unseen: HashSet<i32>,
    checks: usize,
    after_stop: AfterStop,
}

impl Fake {
    fn new(pids: &[i32], after_stop: AfterStop) -> Fake {
        Fake { members: pids.iter().copied().collect(), unseen: HashSet::new(), checks: 0, after_stop }
    }
}

impl Targets for Fake {
    type Error = io::Error;
    fn look(&mut self) -> Result<Vec<i32>, io::Error> {
        Ok(self.members.iter().copied().collect())
    }
    fn look_near(&mut self, candidates: Vec<i32>) -> Result<Vec<i32>, io::Error> {
        Ok(candidates.into_iter().filter(|pid| self.members.contains(pid)).collect())
    }
    fn confirm(&mut self, pid: i32) -> bool {
        self.checks += 1;
        self.members.contains(&pid)
    }
    fn kill_all(&mut self) -> bool {
        false
    }
    fn children(&mut self, _parents: &[i32]) -> Vec<i32> {
        Vec::new()
    }
    fn recheck(&mut self, pid: i32) -> Option<u64> {
        self.checks += 1;
        match self.after_stop {
            AfterStop::Changed => None,
            AfterStop::Unseen => {
                self.members.remove(&pid);
                self.unseen.insert(pid);
                Some(0)
            }
        }
    }
    fn emptiness(&mut self) -> Emptiness {
        Emptiness::Unproven
    }
    fn program(&mut self, _pid: i32) -> String {
        "sleep".into()
    }
    fn is_exiting(&mut self, pid: i32) -> bool {
        self.unseen.contains(&pid)
    }
    fn describe(&mut self, pid: i32) -> String {
        pid.to_string()
    }
}

/// Real `sleep` processes, run by `sh -c SCRIPT`, killed when dropped.
struct Sleepers(Vec<std::process::Child>);

impl Sleepers {
    /// One sleeper per script; returns once each shell has exec'd `sleep`.
    fn start(scripts: &[&str]) -> Sleepers {
        let spawn = |script: &&str| std::process::Command::new("sh").args(["-c", script]).spawn().unwrap();
        let sleepers = Sleepers(scripts.iter().map(spawn).collect());
        let ready = |pid: &i32| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c == "sleep\n");
        let started = std::time::Instant::now();
        while !sleepers.pids().iter().all(ready) && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        sleepers
    }

    fn pids(&self) -> Vec<i32> {
        self.0.iter().map(|c| c.id() as i32).collect()
    }
}

impl Drop for Sleepers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn a_process_that_changes_before_it_is_stopped_is_let_go_running() {
    let sleeper = Sleepers::start(&["exec sleep 100"]);
    let pid = sleeper.pids()[0];
    let mut targets = Fake::new(&[pid], AfterStop::Changed);
    let schedule: Schedule = "KILL/0.2".parse().unwrap();
    let report = end(&mut targets, &schedule, vec![pid], Vec::new()).unwrap();
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    drop(sleeper);
    assert!(targets.checks >= 2, "checked {} times", targets.checks);
    assert_eq!(report.survivors, [pid.to_string()]);
    let state = state.rsplit(')').next().unwrap_or_default().split_whitespace().next();
    assert_eq!(state, Some("S"), "left stopped or killed");
}

#[test]
fn processes_signalled_beyond_the_budget_are_followed_until_they_end() {
    // Half ignore TERM and run on once signalled; the other half end.
    let scripts: Vec<&str> =
        (0..12).map(|n| if n % 2 == 0 { "trap '' TERM; exec sleep 100" } else { "exec sleep 100" }).collect();
    let sleepers = Sleepers::start(&scripts);
    let pids = sleepers.pids();
    // Once signalled, none is seen as the session's: as one still exiting looks to /proc.
    let mut targets = Fake::new(&pids, AfterStop::Unseen);
    let schedule: Schedule = "TERM/0.3".parse().unwrap();
    // Four held at once: the first eight are let go of to make room.
    let report = end_within(&mut targets, &schedule, pids.clone(), Vec::new(), 4).unwrap();
    let mut survivors = report.survivors.clone();
    survivors.sort();
    let mut expected: Vec<String> = pids.iter().step_by(2).map(i32::to_string).collect();
    expected.sort();
    assert_eq!(survivors, expected, "not exactly those still running (the TERM-ignorers) are survivors");
    assert_eq!(report.signalled, 12);
}
