//! A process whose main thread has exited (pthread_exit) while its other threads run on:
//! /proc shows its main thread as a zombie, and its environment cannot be read through it.
//! It is still a live process of the session, found by tag and by cgroup, and ended.
mod common;
use common::attackers::*;
use common::*;
use nix::sys::signal::Signal;
use std::process::Output;
use std::time::Duration;

/// Waits until `pid` shows its main thread as a zombie, with another thread live.
fn main_thread_gone(pid: i32) -> bool {
    wait_for(Duration::from_secs(5), || {
        status_field(pid, "State").is_some_and(|s| s.starts_with('Z'))
            && status_field(pid, "Threads").is_some_and(|t| t != "1")
    })
}

#[test]
fn found_by_its_tag_and_ended() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxmainexit");
    let (_dir, program) = compile_c("main-exits", MAIN_THREAD_EXITS);
    let mut process = user.command(program.to_str().unwrap(), &[("XEXIT_TEST_TAG", "mx1")]).spawn().unwrap();
    let pid = process.id() as i32;
    assert!(wait_ignoring(pid, Signal::SIGTERM) && main_thread_gone(pid), "the main thread never exited");
    let listed = run(xexit(&["list", "--user", &user.name, "--session", "env:XEXIT_TEST_TAG=mx1"]));
    let output = end_tagged(&user, "mx1", &[]);
    let ended = !alive(pid);
    let _ = process.kill();
    let _ = process.wait();
    assert!(stdout_of(&listed).lines().any(|l| l.starts_with(&format!("{pid} "))), "not listed");
    assert!(ended, "it survived\n{}", stderr_of(&output));
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
}

/// A process whose main thread has exited, run by a new user in a new cgroup of the test's
/// own, and `xexit end` on that cgroup as root with `schedule`: the process's PID, the
/// output, how long it took, and whether the process was still alive after (it is ended).
fn end_in_cgroup(label: &str, user_name: &str, schedule: &str) -> Option<(i32, Output, Duration, bool)> {
    if !need_root() {
        return None;
    }
    let session = TestCgroup::create(label)?;
    let user = TestUser::get(user_name);
    let (_dir, program) = compile_c("main-exits", MAIN_THREAD_EXITS);
    let mut process = user.command_in(&session, program.to_str().unwrap(), &[]).spawn().unwrap();
    let pid = process.id() as i32;
    assert!(wait_ignoring(pid, Signal::SIGTERM) && main_thread_gone(pid), "the main thread never exited");
    let started = std::time::Instant::now();
    let output = run(xexit(&["end", "--no-hooks", "--user", &user.name, "--schedule", schedule, "--session"])
        .arg(format!("cgroup:{}", session.path)));
    let took = started.elapsed();
    Some((pid, output, took, finish(&mut process)))
}

#[test]
fn found_by_its_cgroup_and_ended() {
    // TERM alone: cgroup.kill (KILL only) would end it unseen.
    let Some((pid, output, _, _)) = end_in_cgroup("main-exits", "xxmainexitcg", "TERM/1") else { return };
    let log = stderr_of(&output);
    assert_eq!(output.status.code(), Some(1), "it ignores TERM: xexit must name it as a survivor\n{log}");
    assert!(log.contains(&format!("survived: {pid} ")), "{log}");
}

#[test]
fn ended_by_its_cgroup_at_once() {
    // cgroup.kill alone passes over a process whose main thread has exited: KILL must reach
    // it all the same, long before the KILL round's 5 s are up.
    let Some((_, output, took, survived)) = end_in_cgroup("main-exits-kill", "xxmainexitkl", "TERM/0.3/KILL/5") else {
        return;
    };
    let log = stderr_of(&output);
    assert!(!survived, "{log}");
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(took < Duration::from_secs(2), "took {took:?}\n{log}");
}
