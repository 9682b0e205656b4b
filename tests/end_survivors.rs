//! Processes that outlast the schedule are reported with PID, state and command; exit 1.
mod common;
use common::*;
use nix::sys::signal::Signal;

#[test]
fn survivors_are_reported_and_exit_1() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxsurv");
    let tag = [("XEXIT_TEST_TAG", "ws01")];
    let mut stubborn =
        user.command("/bin/sh", &tag).args(["-c", "trap '' TERM; while :; do sleep 1000; done"]).spawn().unwrap();
    let mut obedient = user.command("sleep", &tag).arg("1000").spawn().unwrap();
    // Until the shell has run its trap, TERM would end it. It then waits for a long sleep
    // (which ignores TERM too), so it is sleeping, not running, when the survivors are listed.
    assert!(wait_ignoring(stubborn.id() as i32, Signal::SIGTERM), "the shell never ignored TERM");
    // No KILL in this schedule: the TERM-ignoring shell outlasts it.
    let output = run(xexit(&["end", "--user", &user.name, "--session", "env:XEXIT_TEST_TAG=ws01", "--no-hooks"])
        .args(["--schedule", "TERM/0.5"]));
    let (stubborn_alive, obedient_alive) = (alive(stubborn.id() as i32), alive(obedient.id() as i32));
    for child in [&mut stubborn, &mut obedient] {
        let _ = child.kill();
        let _ = child.wait();
    }
    user.cleanup();
    let log = stderr_of(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(stubborn_alive && !obedient_alive);
    let line = format!("xexit: warning: survived: {} S (sleeping) /bin/sh -c trap '' TERM;", stubborn.id());
    assert!(log.contains(&line), "no survivor line {line:?} in {log}");
}
