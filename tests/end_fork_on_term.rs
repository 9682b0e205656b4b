//! A process that answers TERM by forking a successor and exiting leaves a child that is
//! re-parented away from everything xexit holds. The rounds follow the session by what they
//! hold; the full look that confirms the end finds the successor, and it is ended too.
mod common;
use common::*;
use nix::sys::signal::Signal;

#[test]
fn a_child_forked_on_term_and_re_parented_away_is_ended() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxforkterm");
    let dir = TempDir::new("fork-on-term");
    let successor = dir.path("successor");
    let script = format!(
        "trap 'sh -c \"trap \\\"\\\" TERM; while :; do sleep 0.1; done\" & echo $! > {} ; exit 0' TERM\n\
         while :; do sleep 0.1; done",
        successor.display()
    );
    let mut parent = user.command("/bin/sh", &[("XEXIT_TEST_TAG", "fork1")]).args(["-c", &script]).spawn().unwrap();
    let trapped = wait_for(std::time::Duration::from_secs(5), || catches(parent.id() as i32, Signal::SIGTERM));
    assert!(trapped, "the shell never set its trap");
    let output = end_tagged(&user, "fork1", &["--no-hooks"]);
    let log = stderr_of(&output);
    let _ = parent.wait();
    let child = read_pid(&successor);
    let child_left = alive(child);
    user.cleanup();
    assert!(!child_left, "the successor {child} survived\n{log}");
    assert_eq!(output.status.code(), Some(0), "{log}");
}
