//! A session of more TERM-ignorers than xexit may open files (a hard RLIMIT_NOFILE of 128,
//! so raising the soft limit does not help): they are all held and signalled in batches, and
//! all end; running out of descriptors is never taken for "the process is gone".
mod common;
use common::*;
use std::time::Duration;

const IGNORERS: usize = 300;

#[test]
fn more_processes_than_open_files_all_end() {
    if !need_root() || !need_program("prlimit") {
        return;
    }
    let user = TestUser::get("xxfds");
    let tag = [("XEXIT_TEST_TAG", "fds1")];
    // One shell starts them all; each ignores TERM and keeps ignoring it through exec.
    let script = format!("trap '' TERM; i=0; while [ $i -lt {IGNORERS} ]; do sleep 1000 & i=$((i+1)); done");
    let mut starter = user.command("sh", &tag).args(["-c", &script]).spawn().unwrap();
    let _ = starter.wait();
    let started = wait_for(Duration::from_secs(20), || {
        let pids = user.processes();
        pids.len() >= IGNORERS && pids.iter().all(|pid| exe_of(*pid).is_some_and(|exe| exe.ends_with("sleep")))
    });
    assert!(started, "only {} of {IGNORERS} started", user.processes().len());

    let mut end = clean_command("prlimit");
    end.args(["--nofile=128:128", XEXIT, "end", "--no-hooks", "--schedule", "TERM/1/KILL/3"]);
    end.args(["--user", &user.name, "--session", "env:XEXIT_TEST_TAG=fds1"]);
    let output = run(end);
    let left = user.processes();
    user.cleanup();
    let log = stderr_of(&output);
    assert!(left.is_empty(), "{} of {IGNORERS} survived\n{log}", left.len());
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(log.contains(&format!("ending session env:XEXIT_TEST_TAG=fds1 of {}", user.name)), "{log}");
    assert!(log.contains(&format!(": {IGNORERS} processes")), "not all were seen: {log}");
}
