//! A process can point its environment at any memory it maps (prctl PR_SET_MM_MAP), far
//! past the 6 MiB that exec allows. Such an environment is told by its size (env_start and
//! env_end in /proc/PID/stat) before it is read, and taken as the session's, never spared as
//! "unreadable": only its owner can have made it so. Its size costs xexit nothing, so no
//! number of them makes the end take longer than the schedule.
mod common;
use common::attackers::*;
use common::*;
use nix::sys::signal::Signal;
use std::process::Child;

fn start(user: &TestUser, program: &std::path::Path, args: &[&str]) -> Child {
    let child = user.command(program.to_str().unwrap(), &[]).args(args).spawn().unwrap();
    assert!(wait_ignoring(child.id() as i32, Signal::SIGTERM), "big-environ never got ready");
    let size = std::fs::metadata(format!("/proc/{}/environ", child.id())).map(|_| ());
    assert!(size.is_ok(), "big-environ has no /proc entry");
    child
}

#[test]
fn a_rewritten_environment_is_the_sessions_and_another_session_is_left() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxbigenv");
    let (_dir, program) = compile_c("big-environ", BIG_ENVIRON);
    // Another session of the user, visible: an unreadable process would be spared for it.
    let mut other = tagged_sleeper(&user, "other");
    let mut tagged = start(&user, &program, &["12", "XEXIT_TEST_TAG=big1"]);
    let mut huge = start(&user, &program, &["72", "UNRELATED=1"]);
    let output = end_tagged(&user, "big1", &["--no-hooks"]);
    let log = stderr_of(&output);
    // `finish` says whether it was still alive, then ends it.
    let (tagged_left, huge_left, other_left) = (finish(&mut tagged), finish(&mut huge), finish(&mut other));
    assert!(!tagged_left, "the tagged process with a 12 MiB environment survived\n{log}");
    assert!(!huge_left, "the process with a 72 MiB environment was spared\n{log}");
    assert!(other_left, "another session's process was ended\n{log}");
    assert!(log.contains("rewritten with prctl PR_SET_MM"), "{log}");
    assert_eq!(output.status.code(), Some(0), "{log}");
}

#[test]
fn many_huge_environments_do_not_slow_the_end() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxbigenv2");
    let (_dir, program) = compile_c("big-environ", BIG_ENVIRON);
    // Ten environments of 4 GiB each, in memory never written (free for the user to make),
    // without the tag: nothing short of their whole would tell that it is not there.
    let mut huge: Vec<Child> = (0..10).map(|_| start(&user, &program, &["4096", "UNRELATED=1", "untouched"])).collect();
    let mut tagged = tagged_sleeper(&user, "big2");
    let started = std::time::Instant::now();
    let output = end_tagged(&user, "big2", &["--no-hooks", "--schedule", "TERM/0.5/KILL/1"]);
    let took = started.elapsed();
    let log = stderr_of(&output);
    let left = huge.iter_mut().chain([&mut tagged]).map(finish).filter(|alive| *alive).count();
    assert_eq!(left, 0, "{log}");
    assert!(took < std::time::Duration::from_secs(3), "ending them took {took:?}\n{log}");
    assert_eq!(output.status.code(), Some(0), "{log}");
}
