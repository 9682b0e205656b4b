//! The rounds against a fake session over real processes.

use std::io;

use super::*;

/// One process, whose check passes and whose check once stopped does not.
struct ChangesBetweenChecks {
    pid: i32,
    checks: usize,
}

impl Targets for ChangesBetweenChecks {
    type Error = io::Error;
    fn look(&mut self) -> Result<Vec<i32>, io::Error> {
        Ok(vec![self.pid])
    }
    fn look_near(&mut self, _candidates: Vec<i32>) -> Result<Vec<i32>, io::Error> {
        Ok(vec![self.pid])
    }
    fn confirm(&mut self, _pid: i32) -> bool {
        self.checks += 1;
        true
    }
    fn kill_all(&mut self) -> bool {
        false
    }
    fn children(&mut self, _pid: i32) -> Vec<i32> {
        Vec::new()
    }
    fn recheck(&mut self, _pid: i32) -> Option<u64> {
        self.checks += 1;
        None
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
    let mut targets = ChangesBetweenChecks { pid, checks: 0 };
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
