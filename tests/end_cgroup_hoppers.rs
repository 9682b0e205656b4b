//! A cgroup's processes that fork and exit as fast as they can, or move between the
//! cgroup's own sub-cgroups, are missed by a listing of cgroup.procs. While cgroup.events
//! still says `populated 1`, no look that sees nothing is believed: the session is ended
//! (cgroup.kill reaches what no listing catches), or xexit exits non-zero; never "session
//! empty" with exit 0 while one runs.
mod common;
use common::attackers::*;
use common::*;
use nix::sys::signal::Signal;
use std::time::Duration;

/// Waits until the hopper runs, ignoring TERM (the PID seen may have hopped on already).
fn hopping(session: &TestCgroup) -> bool {
    wait_for(Duration::from_secs(2), || session.pids().into_iter().any(|pid| ignores(pid, Signal::SIGTERM)))
}

/// Runs `xexit end` on `session` over a hopper started by `start`, a few times: each time,
/// exit 0 must mean the cgroup is empty, and any other exit must name what survived. Then
/// with TERM alone, which the hopper ignores: it must survive, and xexit must say so.
fn end_hoppers(session: &TestCgroup, start: impl Fn() -> std::process::Child) {
    for round in 0..2 {
        let mut first = start();
        assert!(hopping(session), "the hopper never started");
        let output = run(xexit(&["end", "--no-hooks", "--schedule", "TERM/0.5", "--session"])
            .arg(format!("cgroup:{}", session.path)));
        let (code, log) = (output.status.code(), stderr_of(&output));
        std::fs::write(session.dir.join("cgroup.kill"), "1").unwrap();
        assert!(wait_for(Duration::from_secs(2), || session.pids().is_empty()), "cgroup.kill left the hopper");
        let _ = first.wait();
        assert_eq!(code, Some(1), "TERM only, round {round}: the hopper ignores TERM\n{log}");
        assert!(log.contains("survived:"), "TERM only, round {round}: no survivor named\n{log}");
    }
    for round in 0..6 {
        let mut first = start();
        assert!(hopping(session), "the hopper never started");
        let output = run(xexit(&["end", "--no-hooks", "--schedule", "TERM/0.5/KILL/1", "--session"])
            .arg(format!("cgroup:{}", session.path)));
        let left = session.pids();
        let (code, log) = (output.status.code(), stderr_of(&output));
        // Only the test's hopper is in there.
        std::fs::write(session.dir.join("cgroup.kill"), "1").unwrap();
        assert!(wait_for(Duration::from_secs(2), || session.pids().is_empty()), "cgroup.kill left the hopper");
        let _ = first.wait();
        match code {
            Some(0) => assert!(left.is_empty(), "round {round}: exit 0 while {left:?} run\n{log}"),
            _ => assert!(log.contains("survived:"), "round {round}: exit {code:?} naming nothing\n{log}"),
        }
        assert!(left.is_empty(), "round {round}: the KILL round's cgroup.kill left {left:?}\n{log}");
    }
}

#[test]
fn a_process_that_forks_and_exits_without_pause_is_ended() {
    if !need_root() {
        return;
    }
    let Some(session) = TestCgroup::create("fork-hopper") else { return };
    let user = TestUser::get("xxcghop");
    let (_dir, hopper) = compile_c("fork-hopper", FORK_HOPPER);
    end_hoppers(&session, || user.command_in(&session, hopper.to_str().unwrap(), &[]).spawn().unwrap());
}

#[test]
fn a_process_that_hops_between_its_sub_cgroups_is_ended() {
    if !need_root() {
        return;
    }
    let Some(session) = TestCgroup::create("cgroup-hopper") else { return };
    let (a, b) = (session.child("a"), session.child("b"));
    let (_dir, hopper) = compile_c("cgroup-hopper", CGROUP_HOPPER);
    // Root's own hopper: moving between cgroups takes write access to every cgroup.procs on
    // the way, which only root has here.
    end_hoppers(&session, || {
        let mut command = clean_command(hopper.to_str().unwrap());
        command.arg(a.dir.join("cgroup.procs")).arg(b.dir.join("cgroup.procs"));
        a.place(&mut command);
        command.spawn().unwrap()
    });
}
