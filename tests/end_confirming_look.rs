//! The looks after an end's first examine only process instances they have not settled
//! (PID and /proc/PID inode), found as root by listing /proc and as the user by the PIDs
//! the kernel allocated since the last look: a tagged process that appears while the end
//! runs, started by no process of the session (so no following finds it), is still found by
//! the next full look and ended; a process of the user with another tag, settled by the
//! first look, is still left alone.
mod common;
use common::*;
use nix::sys::signal::Signal;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Ends the session `tag` of `user` with `end` (TERM/1/KILL/1), starting a tagged process
/// 300 ms in, and checks what is left.
/// `by_allocation`: whether the later looks go by the PIDs allocated since the last (as the
/// user), or list /proc (as root).
fn ends_what_appears(user: &TestUser, tag: &str, mut end: Command, extra: &[&str], by_allocation: bool) {
    let env = [("XEXIT_TEST_TAG", tag)];
    // Keeps the end in its rounds (TERM ignored across the exec).
    let mut ignorer = user.command("sh", &env).args(["-c", "trap '' TERM; exec sleep 1000"]).spawn().unwrap();
    assert!(wait_exec(ignorer.id() as i32, "sleep") && wait_ignoring(ignorer.id() as i32, Signal::SIGTERM));
    let mut outsider = tagged_sleeper(user, &format!("{tag}-other"));
    let end = end.args(["end", "--no-hooks", "--schedule", "TERM/1/KILL/1", "-vv"]).args(extra);
    let end = end.args(["--session", &format!("env:XEXIT_TEST_TAG={tag}")]).stderr(Stdio::piped()).spawn();
    let end = end.unwrap();
    // After the first look, while the TERM round waits on the ignorer.
    std::thread::sleep(Duration::from_millis(300));
    let mut late = tagged_sleeper(user, tag);
    let output = end.wait_with_output().unwrap();
    let log = stderr_of(&output);
    let late_gone = wait_for(Duration::from_secs(2), || late.try_wait().unwrap().is_some());
    let ignorer_gone = ignorer.try_wait().unwrap().is_some();
    let outsider_alive = outsider.try_wait().unwrap().is_none();
    let _ = (late.kill(), outsider.kill(), ignorer.kill());
    let _ = (late.wait(), outsider.wait(), ignorer.wait());
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(late_gone, "the process that appeared during the end survived\n{log}");
    assert!(ignorer_gone, "the TERM-ignorer survived\n{log}");
    assert!(outsider_alive, "the process with another tag was ended\n{log}");
    let later_looks = lines_with(&log, "look: ").into_iter().skip(1).collect::<Vec<_>>();
    assert!(!later_looks.is_empty(), "no later look\n{log}");
    assert!(later_looks.iter().all(|l| !l.contains(", 0 settled before")), "a later look examined all\n{log}");
    assert_eq!(log.contains("allocated since the last"), by_allocation, "{log}");
}

#[test]
fn as_root_a_process_that_appears_during_the_end_is_found_and_a_settled_outsider_left() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxconfirm");
    ends_what_appears(&user, "confirm1", xexit(&[]), &["--user", &user.name], false);
    user.cleanup();
}

#[test]
fn as_the_user_a_process_that_appears_during_the_end_is_found_by_its_new_pid() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxconfirm2");
    ends_what_appears(&user, "confirm2", user.command(XEXIT, &[]), &[], true);
    user.cleanup();
}
