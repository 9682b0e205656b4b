//! Every directory above the hook directory counts: one another user may write lets them
//! rename the hook directory away and put their own in its place, so it is refused. A sticky
//! directory of root's, like /tmp, is fine where the entry below it is root's; a symbolic
//! link on the way is followed only when root owns it.
mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn a_hook_directory_below_a_directory_others_may_write_is_refused() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhookanc1");
    // The user's own directory, a directory of the user's group, and one all may write.
    for (case, owner, group, mode) in
        [("owner", user.uid, 0, 0o755), ("group", 0, user.gid, 0o775), ("world", 0, 0, 0o777)]
    {
        let hooks = HookDir::with_good(&format!("hookanc1-{case}"));
        nix::unistd::chown(&hooks.parent.0, Some(owner.into()), Some(group.into())).unwrap();
        std::fs::set_permissions(&hooks.parent.0, std::fs::Permissions::from_mode(mode)).unwrap();
        let why = format!("{} is writable", hooks.parent.0.display());
        assert_refused_whole(&hooks, end_one_sleeper(&user, "anc1", &hooks.dir), &why);
    }
}

/// A hook directory with 10good in a sticky directory of root's that all may write, as /tmp.
fn sticky_parent(label: &str) -> HookDir {
    let hooks = HookDir::with_good(label);
    std::fs::set_permissions(&hooks.parent.0, std::fs::Permissions::from_mode(0o1777)).unwrap();
    hooks
}

#[test]
fn a_sticky_root_directory_is_fine_only_above_an_entry_of_roots() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhookanc2");
    let hooks = sticky_parent("hookanc2");
    // Root's hook directory in a sticky directory: others cannot rename it.
    assert_good_ran(&hooks, end_one_sleeper(&user, "anc2", &hooks.dir));

    // The user's directory in the sticky one, with a copy of root's hook directory in it.
    let theirs = hooks.parent.path("theirs");
    std::fs::create_dir(&theirs).unwrap();
    nix::unistd::chown(&theirs, Some(user.uid.into()), None).unwrap();
    std::fs::create_dir(theirs.join("Xexit.d")).unwrap();
    std::fs::copy(hooks.dir.join("10good"), theirs.join("Xexit.d/10good")).unwrap();
    let why = format!("{} is writable", theirs.display());
    assert_refused_whole(&hooks, end_one_sleeper(&user, "anc2", &theirs.join("Xexit.d")), &why);
}

#[test]
fn a_symbolic_link_to_the_hook_directory_counts_only_when_roots() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhookanc3");
    let hooks = sticky_parent("hookanc3");
    let roots = hooks.parent.path("roots-link");
    std::os::unix::fs::symlink(&hooks.dir, &roots).unwrap();
    assert_good_ran(&hooks, end_one_sleeper(&user, "anc3", &roots));

    let theirs = hooks.parent.path("users-link");
    std::os::unix::fs::symlink(&hooks.dir, &theirs).unwrap();
    std::os::unix::fs::lchown(&theirs, Some(user.uid), None).unwrap();
    let why = format!("a symbolic link owned by uid {}", user.uid);
    assert_refused_whole(&hooks, end_one_sleeper(&user, "anc3", &theirs), &why);
}
