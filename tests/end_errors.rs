//! Bad input to list and end: a message naming what to fix, exit 2, nothing signalled.
mod common;
use common::*;

#[test]
fn bad_input_is_refused_and_nothing_is_signalled() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxerr");
    let tag = [("XEXIT_TEST_TAG", "ws01")];
    let mut sentinel = user.command("sleep", &tag).arg("1000").spawn().unwrap();
    let name = user.name.as_str();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["end", "--user", name, "--session", "bogus"], "unknown selector 'bogus'"),
        (vec!["end", "--user", name, "--session", "env:"], "'env:' needs a variable name"),
        (
            vec!["end", "--user", name, "--session", "env:XEXIT_TEST_UNSET"],
            "xexit's own environment has no XEXIT_TEST_UNSET",
        ),
        (
            vec!["end", "--user", name, "--session", "env:XEXIT_TEST_TAG=ws01", "--schedule", "TERM/3/BOGUS/5"],
            "unknown signal 'BOGUS'",
        ),
        (
            vec!["end", "--user", name, "--session", "env:XEXIT_TEST_TAG=ws01", "--schedule", "TERM/3/KILL"],
            "is not a schedule",
        ),
        (
            vec!["end", "--user", "xxnosuchuser", "--session", "env:XEXIT_TEST_TAG=ws01"],
            "--user xxnosuchuser: no such user",
        ),
        (
            vec!["end", "--session", "env:XEXIT_TEST_TAG=ws01"],
            "running as root, --session env:XEXIT_TEST_TAG=ws01 needs --user",
        ),
        (vec!["end", "--user", "root", "--session", "user"], "uid 0 is never a target"),
        (vec!["list", "--session", "cgroup:/xexit-no-such-cgroup"], "no such cgroup"),
        (vec!["list", "--user", name, "--session", "display"], "needs a display"),
    ];
    let mut failures = Vec::new();
    for (args, expected) in &cases {
        let output = run(xexit(args).env_remove("DISPLAY").env_remove("XEXIT_TEST_UNSET"));
        let stderr = stderr_of(&output);
        if output.status.code() != Some(2) || !stderr.starts_with("xexit: error: ") || !stderr.contains(expected) {
            failures.push(format!("{args:?}: exit {:?}, stderr {stderr:?}", output.status.code()));
        }
    }
    // A user may not name another one.
    let output = run(user.command(XEXIT, &tag).args(["end", "--user", "root", "--session", "env:XEXIT_TEST_TAG"]));
    if output.status.code() != Some(2) || !stderr_of(&output).contains("only root may name another user") {
        failures.push(format!("non-root --user root: {:?} {}", output.status.code(), stderr_of(&output)));
    }
    let sentinel_alive = alive(sentinel.id() as i32);
    let _ = sentinel.kill();
    let _ = sentinel.wait();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(sentinel_alive, "a refused command signalled the session");
}
