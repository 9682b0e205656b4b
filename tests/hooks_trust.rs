//! A hook (or a hook directory) that others may write is refused, and its siblings still run.
mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;

fn end_with(hooks: &HookDir, user: &TestUser) -> String {
    let output = run(xexit(&["end", "--user", &user.name, "--session", "env:XEXIT_TEST_TAG=none"]).arg(hooks.arg()));
    stderr_of(&output)
}

#[test]
fn world_writable_and_foreign_hooks_are_refused_while_siblings_run() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhook2");
    let hooks = HookDir::new("hooktrust");
    hooks.add("10world", 0o777, "#!/bin/sh\ntouch OUT/world\n");
    let foreign = hooks.add("20foreign", 0o755, "#!/bin/sh\ntouch OUT/foreign\n");
    nix::unistd::chown(&foreign, Some(user.uid.into()), None).unwrap();
    hooks.add("30good", 0o755, "#!/bin/sh\ntouch OUT/good\n");

    let log = end_with(&hooks, &user);
    assert!(hooks.out("good").exists(), "the trusted sibling did not run: {log}");
    assert!(!hooks.out("world").exists(), "a world-writable hook ran");
    assert!(!hooks.out("foreign").exists(), "a hook the session's user may write ran as root");
    let world = format!("refused hook {}/10world", hooks.dir.display());
    assert!(log.contains(&world) && log.contains("owner uid 0, group 0, mode 0777"), "{log}");
    assert!(log.contains(&format!("owner uid {}", user.uid)), "{log}");
}

#[test]
fn a_world_writable_hook_directory_is_refused_whole() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhook3");
    let hooks = HookDir::new("hookdirtrust");
    hooks.add("10good", 0o755, "#!/bin/sh\ntouch OUT/good\n");
    std::fs::set_permissions(&hooks.dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let log = end_with(&hooks, &user);
    assert!(!hooks.out("good").exists(), "a hook in a world-writable directory ran");
    assert!(log.contains(&format!("hook directory {} refused", hooks.dir.display())), "{log}");
}

#[test]
fn a_missing_hook_directory_is_no_error() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhook6");
    let output = run(xexit(&["end", "--user", &user.name, "--session", "env:XEXIT_TEST_TAG=none"])
        .arg("--hook-dir=/nonexistent/xexit-hooks"));
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(!stderr_of(&output).contains("error"), "{}", stderr_of(&output));
}
