//! A setuid helper of the session (real uid root, effective uid the user's, made dumpable
//! again so that its environment reads as the user's) is not the user's, as the user or as
//! root: `list` does not show it, `end` does not signal it, and it is no survivor that would
//! make `end` fail.
mod common;
use common::*;
use std::time::Duration;

/// Runs as root: keeps root as real and saved uid, takes the user's as effective uid, then
/// sets itself dumpable again (PR_SET_DUMPABLE), as a helper that drops privileges may.
const HELPER: &str = "import ctypes, os, sys, time
uid = int(sys.argv[1])
os.setresuid(0, uid, 0)
ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)
time.sleep(1000)
";

#[test]
fn a_setuid_helper_is_neither_listed_nor_signalled_nor_a_survivor() {
    if !need_root() || !need_program("python3") {
        return;
    }
    let user = TestUser::get("xxsuid");
    let tag = [("XEXIT_TEST_TAG", "suid1")];
    let mut helper = clean_command("python3");
    helper.args(["-c", HELPER, &user.uid.to_string()]).envs(tag);
    let mut helper = helper.spawn().unwrap();
    let helper_pid = helper.id() as i32;
    let mut member = user.command("sleep", &tag).arg("1000").spawn().unwrap();
    let member_pid = member.id() as i32;
    let environ_owner = || {
        std::fs::metadata(format!("/proc/{helper_pid}/environ")).ok().map(|m| {
            use std::os::unix::fs::MetadataExt;
            m.uid()
        })
    };
    let ready = wait_for(Duration::from_secs(5), || {
        environ_owner() == Some(user.uid) && status_field(helper_pid, "Uid").is_some_and(|u| u.starts_with("0\t"))
    });
    assert!(ready, "the helper never became real uid 0, effective uid {}", user.uid);
    assert!(wait_exec(member_pid, "sleep"), "the member never ran sleep");

    let selector = ["--session", "env:XEXIT_TEST_TAG=suid1"];
    let as_user = || user.command(XEXIT, &[]);
    let lists =
        [run(as_user().arg("list").args(selector)), run(xexit(&["list"]).args(["--user", &user.name]).args(selector))];
    let ended_by_user = run(as_user().args(["end", "--no-hooks", "--grace", "1"]).args(selector));
    let member_survived_user = alive(member_pid);
    let mut second = user.command("sleep", &tag).arg("1000").spawn().unwrap();
    let second_pid = second.id() as i32;
    assert!(wait_exec(second_pid, "sleep"), "the second member never ran sleep");
    let ended_by_root = run(xexit(&["end", "--no-hooks", "--grace", "1", "--user", &user.name]).args(selector));
    let helper_alive = alive(helper_pid);
    let second_survived = alive(second_pid);
    for child in [&mut helper, &mut member, &mut second] {
        let _ = child.kill();
        let _ = child.wait();
    }

    for (mode, listed) in ["user", "root"].iter().zip(&lists) {
        let list = stdout_of(listed);
        assert!(
            list.lines().any(|l| l.starts_with(&format!("{member_pid} "))),
            "{mode}: the member is not listed:\n{list}"
        );
        assert!(
            !list.lines().any(|l| l.starts_with(&format!("{helper_pid} "))),
            "{mode}: the helper is listed:\n{list}"
        );
    }
    for (mode, ended) in [("user", &ended_by_user), ("root", &ended_by_root)] {
        assert_eq!(ended.status.code(), Some(0), "{mode}: {}", stderr_of(ended));
        assert!(!stderr_of(ended).contains("survived:"), "{mode}: {}", stderr_of(ended));
    }
    assert!(helper_alive, "the setuid helper was signalled");
    assert!(!member_survived_user && !second_survived, "a process of the session survived");
}
