//! `--spare` goes by the executable's identity (device and inode of /proc/PID/exe against
//! the spared program's file), never by a name a process chooses: a process that calls itself
//! `sleep` (comm and argv[0]), a copy of the sleep binary, and a binary bind-mounted over
//! /usr/bin/sleep in a private mount namespace all end; the real sleep is spared.
mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;

#[test]
fn only_the_real_spared_program_is_spared() {
    if !need_root() || !need_program("python3") || !need_program("unshare") {
        return;
    }
    let user = TestUser::get("xxspare");
    let dir = TempDir::new("spare");
    let copy = dir.path("sleep");
    std::fs::copy("/usr/bin/sleep", &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tag = [("XEXIT_TEST_TAG", "spare1")];

    let mut real = user.command("/usr/bin/sleep", &tag).arg("1000").spawn().unwrap();
    // Names itself sleep: argv[0] and comm (PR_SET_NAME).
    let renamer = "import ctypes, time\nctypes.CDLL(None).prctl(15, b'sleep', 0, 0, 0)\ntime.sleep(1000)";
    let mut renamed = user.command("python3", &tag).arg0("sleep").args(["-c", renamer]).spawn().unwrap();
    let mut copied = user.command(copy.to_str().unwrap(), &tag).arg("1000").spawn().unwrap();
    // /usr/bin/sleep itself, but with the copy bound over it in a namespace of its own.
    let bind = format!("mount --bind {} /usr/bin/sleep || exit 97; exec setpriv \"$@\"", copy.display());
    let mut bound = clean_command("unshare");
    bound.args(["-m", "--propagation", "private", "sh", "-c", &bind, "sh"]).args(user.setpriv_args());
    let mut bound = bound.arg("/usr/bin/sleep").arg("1000").envs(tag).spawn().unwrap();
    let pids: Vec<i32> = [&real, &renamed, &copied, &bound].iter().map(|c| c.id() as i32).collect();
    assert!(wait_exec(pids[0], "sleep") && wait_exec(pids[2], copy.to_str().unwrap()), "the sleeps never ran");
    assert!(wait_for(std::time::Duration::from_secs(5), || {
        status_field(pids[1], "Name").as_deref() == Some("sleep") && uid_of(pids[3]) == Some(user.uid)
    }));

    let output = run(xexit(&["end", "--no-hooks", "--grace", "1", "--spare", "sleep", "--user", &user.name])
        .args(["--session", "env:XEXIT_TEST_TAG=spare1"]));
    let alive_now: Vec<bool> = pids.iter().map(|pid| alive(*pid)).collect();
    for child in [&mut real, &mut renamed, &mut copied, &mut bound] {
        let _ = child.kill();
        let _ = child.wait();
    }
    let log = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(alive_now[0], "the real sleep was not spared\n{log}");
    assert!(!alive_now[1], "a process that named itself sleep was spared\n{log}");
    assert!(!alive_now[2], "a copy of sleep was spared\n{log}");
    assert!(!alive_now[3], "a binary bound over /usr/bin/sleep was spared\n{log}");
    assert!(log.contains(&format!("sparing {} (sleep): --spare sleep", pids[0])), "{log}");
}

#[test]
fn a_spared_program_that_does_not_exist_is_a_usage_error() {
    let output = run(xexit(&["end", "--no-hooks", "--spare", "no-such-program-xexit", "--session", "env:X=y"]));
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("--spare no-such-program-xexit: no such program in PATH"));
}
