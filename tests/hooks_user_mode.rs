//! In user mode (xexit run by the session's user) the same trust rules hold, with the user
//! as a trusted owner besides root: the user's own hooks in their own directory run, and a
//! hook another user owns, or may write through an ACL, is refused.
mod common;
use common::*;

#[test]
fn the_users_own_hooks_run_and_hooks_others_may_write_are_refused() {
    if !need_root() || !need_program("setfacl") {
        return;
    }
    let user = TestUser::get("xxhookum1");
    let other = TestUser::get("xxhookum2");
    let hooks = HookDir::new("hookum1");
    // The user's hook directory in the user's home (0700, in sticky /tmp).
    let dir = user.home.join("Xexit.d");
    std::fs::create_dir(&dir).unwrap();
    let out = hooks.temp.0.display();
    let add = |name: &str, owner: u32| {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\ntouch {out}/{name}\n")).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        nix::unistd::chown(&path, Some(owner.into()), None).unwrap();
        path
    };
    add("10mine", user.uid);
    add("20roots", 0);
    add("30others", other.uid);
    let acl = add("40acl", user.uid);
    let setfacl = run(std::process::Command::new("setfacl").args(["-m", &format!("u:{}:rwx", other.name)]).arg(&acl));
    assert!(setfacl.status.success(), "{}", stderr_of(&setfacl));
    nix::unistd::chown(&dir, Some(user.uid.into()), None).unwrap();

    let mut sleeper = tagged_sleeper(&user, "um1");
    let hook_dir = format!("--hook-dir={}", dir.display());
    let output = run(user.command(XEXIT, &[("XEXIT_TEST_TAG", "um1")]).args([
        "end",
        "--session",
        "env:XEXIT_TEST_TAG",
        "--grace",
        "1",
        &hook_dir,
    ]));
    let sleeper_alive = finish(&mut sleeper);
    let log = stderr_of(&output);
    assert!(hooks.out("10mine").exists(), "the user's own hook did not run: {log}");
    assert!(hooks.out("20roots").exists(), "root's hook did not run: {log}");
    assert!(!hooks.out("30others").exists(), "another user's hook ran as the user: {log}");
    assert!(!hooks.out("40acl").exists(), "a hook another user may write ran: {log}");
    assert!(log.contains(&format!("its owner uid {}", other.uid)), "{log}");
    assert!(log.contains(&format!("ACL user {}", other.uid)), "{log}");
    assert!(!sleeper_alive, "the session survived");
    assert_eq!(output.status.code(), Some(1), "{log}");
}
