//! Hooks never block the reap: a hook directory that is a file, that xexit cannot read, that
//! others may write, or that is missing gets one log line naming it and the reason, and the
//! session is ended all the same; exit status 1 says the hooks could not run (0 when the
//! directory is missing: no hooks is no failure).
mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;

/// One line names the directory, with `reason`.
fn assert_one_line(log: &str, dir: &std::path::Path, reason: &str) {
    let lines = lines_with(log, &dir.display().to_string());
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains(reason), "no {reason:?} in {log}");
}

#[test]
fn a_hook_directory_that_is_a_file_is_logged_and_the_session_ends() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhooknb1");
    let hooks = HookDir::new("hooknb1");
    let file = hooks.parent.path("Xexit.d-file");
    std::fs::write(&file, "#!/bin/sh\ntouch /nonexistent\n").unwrap();
    let (code, log) = end_one_sleeper(&user, "nb1", &file);
    assert_one_line(&log, &file, "not a directory");
    assert_eq!(code, Some(1), "{log}");
}

#[test]
fn an_unreadable_hook_directory_is_logged_and_the_session_ends() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhooknb2");
    let hooks = HookDir::new("hooknb2");
    hooks.add("10ran", 0o755, "#!/bin/sh\ntouch OUT/ran\n");
    std::fs::set_permissions(&hooks.dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    // In user mode: the user's own xexit cannot read root's 0700 directory.
    let tag = [("XEXIT_TEST_TAG", "nb2")];
    let mut sleeper = tagged_sleeper(&user, "nb2");
    let output = run(user
        .command(XEXIT, &tag)
        .args(["end", "--session", "env:XEXIT_TEST_TAG", "--grace", "1"])
        .arg(hooks.arg()));
    let sleeper_alive = finish(&mut sleeper);
    let log = stderr_of(&output);
    assert!(!sleeper_alive, "the session survived an unreadable hook directory\n{log}");
    assert_one_line(&log, &hooks.dir, "cannot read it");
    assert!(log.contains("Permission denied"), "{log}");
    assert!(!hooks.out("ran").exists());
    assert_eq!(output.status.code(), Some(1), "{log}");
}

#[test]
fn an_untrusted_hook_directory_is_logged_and_the_session_ends() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhooknb3");
    let hooks = HookDir::with_good("hooknb3");
    nix::unistd::chown(&hooks.dir, Some(user.uid.into()), None).unwrap();
    let why = format!("hook directory {} refused: {0} is writable", hooks.dir.display());
    let (code, log) = end_one_sleeper(&user, "nb3", &hooks.dir);
    assert!(log.contains(&format!("its owner uid {}", user.uid)), "{log}");
    assert_refused_whole(&hooks, (code, log), &why);
}

#[test]
fn a_missing_hook_directory_is_no_failure_and_the_session_ends() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhooknb4");
    let hooks = HookDir::new("hooknb4");
    let missing = hooks.parent.path("missing");
    let (code, log) = end_one_sleeper(&user, "nb4", &missing);
    assert!(!log.contains("refused"), "{log}");
    assert_eq!(code, Some(0), "{log}");
}
