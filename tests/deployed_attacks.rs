//! The attacks of the hardening review, run the deployed way: the real Xsession starts xexit
//! detached; the session's own processes try to escape it; the X server dies. Every one of
//! them ends, and the user's other login stays.
mod common;
use common::attackers::*;
use common::desktop::*;
use common::*;
use nix::sys::signal::Signal;
use std::time::Duration;

/// A short grace, and the log kept in ~/.xsession-errors.
const OPTIONS: &str = "--grace 1 --log stderr";

fn ready() -> bool {
    need_root() && need_program("Xvfb") && need_audit()
}

/// The hostile programs, built; keep the directories while they run.
struct Programs {
    _dirs: Vec<TempDir>,
    main_exits: String,
    big_environ: String,
    control_name: String,
    fork_hopper: String,
}

impl Programs {
    fn build() -> Programs {
        let mut dirs = Vec::new();
        let mut build = |name: &str, source: &str| {
            let (dir, path) = compile_c(name, source);
            dirs.push(dir);
            path.display().to_string()
        };
        let (main_exits, big_environ) = (build("main-exits", MAIN_THREAD_EXITS), build("big-environ", BIG_ENVIRON));
        let (control_name, fork_hopper) = (build("control-name", CONTROL_NAME), build("fork-hopper", FORK_HOPPER));
        Programs { _dirs: dirs, main_exits, big_environ, control_name, fork_hopper }
    }
}

/// Starts `script` (then READY) under the real Xsession with xexit installed, kills the X
/// server once the session is ready, and returns the session and its log once xexit quit.
fn lose_display(label: &str, user: &TestUser, script: &str, cgroup: Option<&TestCgroup>) -> (XSession, String) {
    let installed = Installed::new(label, true).expect("checked by the caller");
    let x = Xvfb::start().expect("checked by the caller");
    let script = format!("{script}{READY}wait\n");
    let spec = SessionSpec { options: OPTIONS, cgroup, ..SessionSpec::new(user, &x.display, &script) };
    let mut session = XSession::start(installed, spec);
    session.wait_ready();
    // Each attacker ignores TERM once it runs; give the last of them the time to get there.
    std::thread::sleep(Duration::from_millis(300));
    x.signal(Signal::SIGKILL);
    wait_for(Duration::from_secs(10), || session.errors().contains("xexit: quit"));
    let log = session.errors();
    (session, log)
}

#[test]
fn hostile_processes_found_by_display_and_login_end_with_the_display() {
    if !ready() {
        return;
    }
    let user = TestUser::get("xxattack1");
    let programs = Programs::build();
    let mut other = other_login(&user, "exec sleep 1000");
    // A main thread that exits; a 12 MiB environment (DISPLAY first); a name of control
    // characters; a cleared environment that ignores TERM; a chain of PID hoppers.
    let script = format!(
        "{} &\n{} 12 \"DISPLAY=$DISPLAY\" &\n{} &\nenv -i sh -c 'trap \"\" TERM; while :; do sleep 0.1; done' &\n\
         printf 'trap \"\" TERM\\nsleep 0.02\\nsh \"$0\" &\\n' > OUT/hop.sh; sh OUT/hop.sh &\n",
        programs.main_exits, programs.big_environ, programs.control_name
    );
    let (session, log) = lose_display("attack-display", &user, &script, None);
    let login = session.audit_session().expect("the session has an audit login session");
    let gone = wait_for(Duration::from_secs(3), || processes_in_audit_session(&user, login).is_empty());
    let left: Vec<String> = processes_in_audit_session(&user, login).into_iter().map(describe).collect();
    assert!(gone, "left: {left:?}\n{log}");
    assert!(finish(&mut other), "the user's other login was ended\n{log}");
    assert!(!log.contains("survived:"), "{log}");
}

#[test]
fn hostile_processes_in_a_login_cgroup_end_with_the_display() {
    let Some(parent) = TestCgroup::create("attack-cgroup") else { return };
    if !ready() {
        return;
    }
    let session_cgroup = parent.child("session-79.scope");
    let user = TestUser::get("xxattack2");
    let programs = Programs::build();
    let mut outside = user.command("sleep", &[]).arg("1000").spawn().unwrap();
    let script = format!("{} &\n{} &\n{} &\n", programs.fork_hopper, programs.main_exits, programs.control_name);
    let (_session, log) = lose_display("attack-cgroup", &user, &script, Some(&session_cgroup));
    let gone = wait_for(Duration::from_secs(3), || session_cgroup.pids().is_empty());
    assert!(gone, "the cgroup still holds {:?}\n{log}", session_cgroup.pids());
    assert!(log.contains(&format!("cgroup:{}", session_cgroup.path)), "not ended by its cgroup\n{log}");
    assert!(finish(&mut outside), "a process outside the session's cgroup was ended\n{log}");
    assert!(!log.contains("survived:"), "{log}");
}
