//! PID hoppers: a TERM-ignoring process that forks its successor and exits, over and over,
//! is never there for long under one PID, so one look at /proc may see none of it. xexit
//! follows each process it signals down to the children it made, and believes an empty look
//! only once looks over a settle time agree: the chain is ended, or xexit exits non-zero
//! naming what survived; never "session empty" while a hopper runs. The test counts the
//! chain through a cgroup of its own, which no hop can leave; xexit finds it by its tag.
mod common;
use common::*;
use std::time::Duration;

/// Shells that hop after a 10 ms and a 20 ms sleep. (One that hops faster than /proc can be
/// read may never be seen; the kernel's count of the user's tasks then makes the end exit 1:
/// end_tight_hopper.)
const HOPPERS: [&str; 2] = ["trap '' TERM\nsleep 0.01\nsh \"$0\" &\n", "trap '' TERM\nsleep 0.02\nsh \"$0\" &\n"];

#[test]
fn a_chain_of_pid_hoppers_is_ended_or_reported() {
    if !need_root() {
        return;
    }
    let Some(cgroup) = TestCgroup::create("hoppers") else { return };
    let user = TestUser::get("xxhop");
    let dir = TempDir::new("hoppers");
    let tag = [("XEXIT_TEST_TAG", "hop1")];
    for (kind, hopper) in HOPPERS.iter().enumerate() {
        let script = dir.path(&format!("hop{kind}.sh"));
        std::fs::write(&script, hopper).unwrap();
        for round in 0..3 {
            let mut first = user.command_in(&cgroup, "sh", &tag).arg(&script).spawn().unwrap();
            let _ = first.wait();
            assert!(wait_for(Duration::from_secs(2), || !cgroup.pids().is_empty()), "the chain never started");
            let output = run(xexit(&["end", "--no-hooks", "--schedule", "TERM/1/KILL/1", "--user", &user.name])
                .args(["--session", "env:XEXIT_TEST_TAG=hop1"]));
            let survived = !cgroup.pids().is_empty();
            let log = stderr_of(&output);
            let code = output.status.code();
            // Ends the chain, so that the next round starts clean.
            std::fs::write(cgroup.dir.join("cgroup.kill"), "1").unwrap();
            assert!(wait_for(Duration::from_secs(2), || cgroup.pids().is_empty()), "cgroup.kill left the chain");
            match code {
                Some(0) => assert!(!survived, "hopper {kind}, round {round}: exit 0 while a hopper runs\n{log}"),
                _ => assert!(
                    log.contains("survived:"),
                    "hopper {kind}, round {round}: exit {code:?} naming nothing\n{log}"
                ),
            }
        }
    }
}
