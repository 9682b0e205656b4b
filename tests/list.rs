//! `xexit list`: PID USER COMMAND per process, marks for spared ones, pgrep's exit codes.
mod common;
use common::*;

#[test]
fn lists_the_session_with_marks_and_pgrep_exit_codes() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxlist");
    user.cleanup();
    let tag = [("XEXIT_TEST_TAG", "ws07")];
    let mut sleeper = user.command("sleep", &tag).arg("1001").spawn().unwrap();
    let mut spared = user.command("tail", &tag).args(["-f", "/dev/null"]).spawn().unwrap();
    let mut unrelated = user.command("sleep", &[("XEXIT_TEST_TAG", "ws070")]).arg("1002").spawn().unwrap();

    let output = run(xexit(&["list", "--user", &user.name, "--session", "env:XEXIT_TEST_TAG=ws07", "--spare", "tail"]));
    let text = stdout_of(&output);
    let lines: Vec<&str> = text.lines().collect();
    let fresh = run(xexit(&["list", "--user", &user.name, "--session", "env:XEXIT_TEST_TAG=ws08"]));
    for child in [&mut sleeper, &mut spared, &mut unrelated] {
        let _ = child.kill();
        let _ = child.wait();
    }

    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        lines,
        [
            format!("{} {} sleep 1001", sleeper.id(), user.name),
            format!("{} {} tail -f /dev/null [spared: --spare tail]", spared.id(), user.name),
        ]
    );
    assert_eq!(fresh.status.code(), Some(1), "no process matched, yet: {}", stdout_of(&fresh));
    assert!(stdout_of(&fresh).is_empty());
}
