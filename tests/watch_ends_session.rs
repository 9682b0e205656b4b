//! Watch without PROGRAM: on loss of the display, the session's processes are ended.
mod common;
use common::*;
use nix::sys::signal::Signal;
use std::time::Duration;

#[test]
fn losing_the_display_ends_the_session() {
    if !need_root() {
        return;
    }
    let Some(x) = Xvfb::start() else { return };
    let user = TestUser::get("xxwatch");
    user.cleanup();
    let env = [("DISPLAY", x.display.as_str())];
    let mut session = user.command("sleep", &env).arg("1000").spawn().unwrap();
    let mut ignorer =
        user.command("/bin/sh", &env).args(["-c", "trap '' TERM; while :; do sleep 0.1; done"]).spawn().unwrap();
    let mut elsewhere = user.command("sleep", &[("DISPLAY", ":4242")]).arg("1000").spawn().unwrap();
    // Until the shell has run its trap, TERM would end it and no KILL round would come.
    assert!(wait_ignoring(ignorer.id() as i32, Signal::SIGTERM), "the shell never ignored TERM");

    let mut watcher = user.command(XEXIT, &env);
    watcher.args(["--foreground", "--session", "display", "--no-hooks", "--grace", "1"]);
    let mut watcher = Watcher::spawn(watcher);
    x.signal(Signal::SIGKILL);
    let code = watcher.wait_exit(Duration::from_secs(5));
    let (session_alive, ignorer_alive) = (alive(session.id() as i32), alive(ignorer.id() as i32));
    let elsewhere_alive = alive(elsewhere.id() as i32);
    for child in [&mut session, &mut ignorer, &mut elsewhere] {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(code, Some(0));
    assert!(!session_alive && !ignorer_alive, "session processes survived");
    assert!(elsewhere_alive, "a process of another display was ended");
    assert!(watcher.wait_line("round KILL", Duration::ZERO).is_some());
}
