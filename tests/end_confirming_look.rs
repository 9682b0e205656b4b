//! The looks after an end's first examine only process instances they have not settled
//! (PID and /proc/PID inode): a tagged process that appears while the end runs, started by
//! no process of the session (so no following finds it), is still found by the next full
//! look and ended; a process of the user with another tag, settled by the first look, is
//! still left alone.
mod common;
use common::*;
use nix::sys::signal::Signal;
use std::time::Duration;

#[test]
fn a_process_that_appears_during_the_end_is_found_and_a_settled_outsider_left() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxconfirm");
    let tag = [("XEXIT_TEST_TAG", "confirm1")];
    // Keeps the end in its rounds (TERM ignored across the exec).
    let mut ignorer = user.command("sh", &tag).args(["-c", "trap '' TERM; exec sleep 1000"]).spawn().unwrap();
    assert!(wait_exec(ignorer.id() as i32, "sleep") && wait_ignoring(ignorer.id() as i32, Signal::SIGTERM));
    let mut outsider = tagged_sleeper(&user, "confirm-other");
    let mut end = xexit(&["end", "--no-hooks", "--schedule", "TERM/1/KILL/1", "--user", &user.name]);
    let end = end.args(["--session", "env:XEXIT_TEST_TAG=confirm1"]).stderr(std::process::Stdio::piped()).spawn();
    let end = end.unwrap();
    // After the first look, while the TERM round waits on the ignorer.
    std::thread::sleep(Duration::from_millis(300));
    let mut late = tagged_sleeper(&user, "confirm1");
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
    user.cleanup();
}
