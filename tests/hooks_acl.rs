//! POSIX ACL entries count as writers: a hook, a hook directory or a directory above it that
//! an ACL lets another user or group write is refused, unless the mask takes write away.
mod common;
use common::*;

fn setfacl(args: &[&str], path: &std::path::Path) {
    let output = run(std::process::Command::new("setfacl").args(args).arg(path));
    assert!(output.status.success(), "setfacl {args:?} {}: {}", path.display(), stderr_of(&output));
}

#[test]
fn a_hook_an_acl_lets_the_user_write_is_refused_unless_masked() {
    if !need_root() || !need_program("setfacl") {
        return;
    }
    let user = TestUser::get("xxhookacl1");
    let hooks = HookDir::new("hookacl1");
    let open = hooks.add("10open", 0o755, "#!/bin/sh\ntouch OUT/open\n");
    setfacl(&["-m", &format!("u:{}:rwx", user.name)], &open);
    let masked = hooks.add("20masked", 0o755, "#!/bin/sh\ntouch OUT/masked\n");
    setfacl(&["-m", &format!("u:{}:rwx,m::rx", user.name)], &masked);
    let group = hooks.add("30group", 0o755, "#!/bin/sh\ntouch OUT/group\n");
    setfacl(&["-m", &format!("g:{}:w", user.gid)], &group);
    let (code, log) = end_one_sleeper(&user, "acl1", &hooks.dir);
    assert!(!hooks.out("open").exists(), "a hook the user may write through an ACL ran as root: {log}");
    assert!(
        lines_with(&log, "refused hook")
            .iter()
            .any(|l| l.contains("10open") && l.contains(&format!("ACL user {}", user.uid))),
        "{log}"
    );
    assert!(hooks.out("masked").exists(), "the mask takes write away, yet the hook did not run: {log}");
    assert!(!hooks.out("group").exists(), "a hook a group may write through an ACL ran: {log}");
    assert!(log.contains(&format!("ACL group {}", user.gid)), "{log}");
    assert_eq!(code, Some(1), "{log}");
}

#[test]
fn a_hook_directory_or_its_parent_with_a_write_acl_is_refused_whole() {
    if !need_root() || !need_program("setfacl") {
        return;
    }
    let user = TestUser::get("xxhookacl2");
    for on_parent in [false, true] {
        let hooks = HookDir::with_good(&format!("hookacl2-{on_parent}"));
        let target = if on_parent { hooks.parent.0.clone() } else { hooks.dir.clone() };
        setfacl(&["-m", &format!("u:{}:rwx", user.name)], &target);
        let why = format!("{} is writable by others than root and xexit's user", target.display());
        let (code, log) = end_one_sleeper(&user, "acl2", &hooks.dir);
        assert!(log.contains(&format!("writable by ACL user {}", user.uid)), "{log}");
        assert_refused_whole(&hooks, (code, log), &why);
    }
}
