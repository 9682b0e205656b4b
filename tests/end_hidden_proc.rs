//! With /proc mounted hidepid=2 (in a private mount namespace), xexit as the user cannot see
//! a root process in the user's own delegated cgroup: it is never assumed to be a target, so
//! cgroup.kill, which would hit it, is not used; the user's processes still end.
mod common;
use common::*;
use nix::sys::signal::Signal;
use std::os::unix::process::CommandExt;

#[test]
fn a_process_hidden_by_hidepid_in_the_users_cgroup_is_not_killed() {
    if !need_root() || !need_program("unshare") {
        return;
    }
    let Some(session) = TestCgroup::create("hidepid") else { return };
    let user = TestUser::get("xxhide");
    // Delegated as systemd delegates a user's cgroup: the user may write its control files.
    for file in ["", "cgroup.procs", "cgroup.kill"] {
        std::os::unix::fs::chown(session.dir.join(file), Some(user.uid), Some(user.gid)).unwrap();
    }
    let mut roots = clean_command("sleep");
    roots.arg("1000");
    session.place(&mut roots);
    let mut root_process = roots.spawn().unwrap();
    let mut ignorer = user
        .command_in(&session, "/bin/sh", &[])
        .args(["-c", "trap '' TERM; while :; do sleep 0.1; done"])
        .spawn()
        .unwrap();
    assert!(session.wait_started(3), "the processes never started");
    assert!(wait_ignoring(ignorer.id() as i32, Signal::SIGTERM), "the shell never ignored TERM");

    // A new proc instance with hidepid=2 over /proc, in a mount namespace of its own.
    let script = r#"mount -t proc -o hidepid=2 proc /proc || exit 97; exec setpriv "$@""#;
    let mut end = clean_command("unshare");
    end.args(["-m", "--propagation", "private", "sh", "-c", script, "sh"]).args(user.setpriv_args());
    end.args([XEXIT, "end", "-v", "--no-hooks", "--grace", "1", "--session"]).arg(format!("cgroup:{}", session.path));
    let output = run(end.process_group(0));
    let root_alive = alive(root_process.id() as i32);
    let user_left: Vec<i32> = session.pids().into_iter().filter(|pid| uid_of(*pid) == Some(user.uid)).collect();
    for child in [&mut root_process, &mut ignorer] {
        let _ = child.kill();
        let _ = child.wait();
    }
    let log = stderr_of(&output);
    assert_ne!(output.status.code(), Some(97), "cannot mount proc with hidepid=2: {log}");
    assert!(!log.contains("cgroup.kill"), "cgroup.kill was used: {log}");
    assert!(root_alive, "the hidden root process was killed\n{log}");
    assert!(user_left.is_empty(), "the user's processes {user_left:?} survived\n{log}");
    assert_eq!(output.status.code(), Some(0), "{log}");
}
