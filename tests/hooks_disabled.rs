//! An executable bit does not decide whether a hook runs: a file without one runs as a shell
//! fragment under the same trust rules, so an admin disables a hook by renaming it to a name
//! the naming rules skip, such as `30foo.disabled`.
mod common;
use common::*;

#[test]
fn a_hook_renamed_to_name_dot_disabled_does_not_run_and_chmod_minus_x_does_not_disable() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhookoff1");
    let hooks = HookDir::new("hookoff1");
    hooks.add("10fragment", 0o644, "touch OUT/fragment\n");
    hooks.add("30foo.disabled", 0o755, "#!/bin/sh\ntouch OUT/disabled\n");
    hooks.add("31bar.disabled", 0o644, "touch OUT/disabled-fragment\n");
    let (code, log) = end_one_sleeper(&user, "off1", &hooks.dir);
    assert!(hooks.out("fragment").exists(), "a hook without an executable bit did not run: {log}");
    assert!(!hooks.out("disabled").exists(), "30foo.disabled ran");
    assert!(!hooks.out("disabled-fragment").exists(), "31bar.disabled ran");
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn a_fragment_others_may_write_is_refused_like_an_executable() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhookoff2");
    let hooks = HookDir::new("hookoff2");
    let fragment = hooks.add("10fragment", 0o644, "touch OUT/fragment\n");
    nix::unistd::chown(&fragment, Some(user.uid.into()), None).unwrap();
    hooks.add("20world", 0o646, "touch OUT/world\n");
    let (code, log) = end_one_sleeper(&user, "off2", &hooks.dir);
    assert!(!hooks.out("fragment").exists(), "the user's fragment ran as root: {log}");
    assert!(!hooks.out("world").exists(), "a world-writable fragment ran: {log}");
    assert_eq!(lines_with(&log, "refused hook").len(), 2, "{log}");
    assert_eq!(code, Some(1), "{log}");
}
