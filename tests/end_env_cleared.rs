//! Env-tag finding, for a process that cleared its environment (`env -i`): it is still the
//! session's when it runs in the same audit login session as xexit (a login of the user), so
//! it ends with the session. A process with another value of the tag, and an untagged one of
//! the user's other login, are left.
mod common;
use common::desktop::*;
use common::*;
use std::time::Duration;

#[test]
fn a_process_that_cleared_its_environment_ends_with_its_login() {
    if !need_root() || !need_audit() {
        return;
    }
    let user = TestUser::get("xxcleared");
    let dir = TempDir::new("cleared");
    let out = |name: &str| dir.path(name).display().to_string();
    let mut other = other_login(&user, "exec env -i sleep 1000");
    let script = format!(
        "XEXIT_TEST_TAG=ws1 sleep 1000 & echo $! > {tagged}
env -i sleep 1000 & echo $! > {cleared}
XEXIT_TEST_TAG=ws2 sleep 1000 & echo $! > {other_tag}
sleep 0.5
XEXIT_TEST_TAG=ws1 exec {XEXIT} end --no-hooks --grace 1 --session env:XEXIT_TEST_TAG 2> {log}",
        tagged = out("tagged"),
        cleared = out("cleared"),
        other_tag = out("other_tag"),
        log = out("log"),
    );
    let mut login = other_login(&user, &script);
    let status = login.wait().unwrap();
    let log = std::fs::read_to_string(dir.path("log")).unwrap_or_default();
    let [tagged, cleared, other_tag] = ["tagged", "cleared", "other_tag"].map(|name| read_pid(&dir.path(name)));
    let other_pid = other.id() as i32;
    let after = |pid: i32| !wait_for(Duration::from_millis(500), || !alive(pid));
    let (other_tag_alive, other_alive) = (after(other_tag), after(other_pid));
    let (tagged_alive, cleared_alive) = (alive(tagged), alive(cleared));
    user.cleanup();
    let _ = other.wait();

    assert_eq!(status.code(), Some(0), "{log}");
    assert!(!tagged_alive, "the tagged process survived\n{log}");
    assert!(!cleared_alive, "the process that cleared its environment survived\n{log}");
    assert!(
        log.contains(&format!("ending {cleared} (sleep): no tag in its environment, but same login session")),
        "{log}"
    );
    assert!(other_tag_alive, "the process with another tag value was ended\n{log}");
    assert!(other_alive, "the user's other login was hit\n{log}");
}
