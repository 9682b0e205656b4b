//! After a session ends, one line tells the administrator what happened: the session and
//! user, why, how many processes, which programs needed KILL, what survived, the memory
//! given back, the hooks, and the time it took.
mod common;
use common::*;
use nix::sys::signal::Signal;

#[test]
fn one_summary_line_names_what_needed_kill_and_what_survived() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxsummary");
    let hooks = HookDir::new("summary");
    hooks.add("10ok", 0o755, "#!/bin/sh\nexit 0\n");
    hooks.add("20fails", 0o755, "#!/bin/sh\nexit 3\n");
    let tag = [("XEXIT_TEST_TAG", "sum1")];
    let mut ignorer =
        user.command("/bin/sh", &tag).args(["-c", "trap '' TERM; while :; do sleep 0.1; done"]).spawn().unwrap();
    let mut sleeper = user.command("sleep", &tag).arg("1000").spawn().unwrap();
    assert!(wait_ignoring(ignorer.id() as i32, Signal::SIGTERM), "the shell never ignored TERM");
    let output = end_tagged(&user, "sum1", &[&hooks.arg()]);
    let log = stderr_of(&output);
    finish(&mut ignorer);
    finish(&mut sleeper);
    let summary = lines_with(&log, "ended session env:XEXIT_TEST_TAG=sum1 of xxsummary");
    assert_eq!(summary.len(), 1, "one summary line\n{log}");
    let line = summary[0];
    assert!(line.starts_with("xexit: warning: "), "a failed hook makes it a warning: {line}");
    assert!(line.contains(&format!("(uid {}) (manual) in ", user.uid)), "{line}");
    assert!(line.contains("needed KILL (sh") && line.contains(", 0 survived, 0 spared;"), "{line}");
    assert!(line.contains("MiB resident memory reclaimed") && line.contains("hooks: 2 run, 1 failed"), "{line}");
    let signalled: usize =
        line.split(" processes signalled").next().and_then(|s| s.rsplit(' ').next()?.parse().ok()).unwrap();
    assert!(signalled >= 2, "{line}");
    assert_eq!(output.status.code(), Some(1), "a hook failed: {log}");
}
