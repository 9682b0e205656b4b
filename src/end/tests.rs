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
    checks: usize,
    after_stop: AfterStop,
}

impl Fake {
    fn new(pids: &[i32], after_stop: AfterStop) -> Fake {
        Fake { members: pids.iter().copied().collect(), checks: 0, after_stop }
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
    fn children(&mut self, _pid: i32) -> Vec<i32> {
        Vec::new()
    }
    fn recheck(&mut self, pid: i32) -> Option<u64> {
        self.checks += 1;
        match self.after_stop {
            AfterStop::Changed => None,
            AfterStop::Unseen => {
                self.members.remove(&pid);
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
    fn describe(&mut self, pid: i32) -> String {
        pid.to_string()
    }
}

#[test]
fn a_process_that_changes_before_it_is_stopped_is_let_go_running() {
    let mut child = std::process::Command::new("sleep").arg("100").spawn().unwrap();
    let pid = child.id() as i32;
    let mut targets = Fake::new(&[pid], AfterStop::Changed);
    let schedule: Schedule = "KILL/0.2".parse().unwrap();
    let report = end(&mut targets, &schedule, vec![pid], Vec::new()).unwrap();
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert!(targets.checks >= 2, "checked {} times", targets.checks);
    assert_eq!(report.survivors, [pid.to_string()]);
    let state = state.rsplit(')').next().unwrap_or_default().split_whitespace().next();
    assert_eq!(state, Some("S"), "left stopped or killed");
}

#[test]
fn processes_signalled_beyond_the_budget_are_followed_until_they_end() {
    // Sleeps that ignore TERM: signalled, they run on.
    let spawn = || std::process::Command::new("sh").args(["-c", "trap '' TERM; exec sleep 100"]).spawn().unwrap();
    let mut children: Vec<_> = (0..12).map(|_| spawn()).collect();
    let pids: Vec<i32> = children.iter().map(|c| c.id() as i32).collect();
    // The trap is set once the shell has exec'd sleep.
    let ready = |pid: &i32| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e.ends_with("sleep"));
    let started = std::time::Instant::now();
    while !pids.iter().all(ready) && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut targets = Fake::new(&pids, AfterStop::Unseen);
    let schedule: Schedule = "TERM/0.3".parse().unwrap();
    // Four held at once: the first eight are let go of to make room.
    let report = end_within(&mut targets, &schedule, pids.clone(), Vec::new(), 4).unwrap();
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut survivors = report.survivors.clone();
    survivors.sort_by_key(|s| s.parse::<i32>().unwrap_or(0));
    let mut expected: Vec<String> = pids.iter().map(i32::to_string).collect();
    expected.sort_by_key(|s| s.parse::<i32>().unwrap_or(0));
    assert_eq!(survivors, expected, "a process signalled and still running was taken as ended");
    assert_eq!(report.signalled, 12);
}
