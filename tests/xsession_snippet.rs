//! The Xsession.d snippet never aborts the session start, whether xexit is missing or fails.
mod common;
use common::*;

/// Sources the snippet as a session user would, under `set -e` (stricter than Debian's
/// Xsession, which sources snippets under `set +e`; deployed_xsession runs the real one).
fn source_snippet(user_name: &str, path: &str, display: &str) -> Option<std::process::Output> {
    if !need_root() {
        return None;
    }
    let user = TestUser::get(user_name);
    let snippet = concat!(env!("CARGO_MANIFEST_DIR"), "/Xsession.d/90xexit");
    let script = format!(". {snippet}; echo session-goes-on");
    Some(run(user.command("/bin/sh", &[("PATH", path), ("DISPLAY", display)]).args(["-e", "-c", &script])))
}

#[test]
fn a_missing_xexit_is_passed_over() {
    let Some(output) = source_snippet("xxsnip1", "/nonexistent", ":5999") else { return };
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout_of(&output), "session-goes-on\n");
}

#[test]
fn a_failing_xexit_is_reported_and_the_session_goes_on() {
    let bin = std::path::Path::new(XEXIT).parent().unwrap().to_str().unwrap().to_string();
    let Some(output) = source_snippet("xxsnip2", &format!("{bin}:/usr/bin:/bin"), ":5999") else { return };
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(stdout_of(&output), "session-goes-on\n");
    let stderr = stderr_of(&output);
    assert!(stderr.contains("xexit: error: cannot connect to display :5999"), "{stderr}");
    assert!(stderr.contains("90xexit: xexit did not start (exit status 3)"), "{stderr}");
}
