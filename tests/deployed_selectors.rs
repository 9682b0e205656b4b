//! Every selector kind, run the deployed way: the real Xsession starts xexit detached; the
//! X server dies; the session (a TERM-ignorer included) ends, and what is outside it stays.
mod common;
use common::desktop::*;
use common::*;
use nix::sys::signal::Signal;
use std::time::Duration;

/// Options for these tests: a short grace, and the log kept in ~/.xsession-errors.
const OPTIONS: &str = "--grace 1 --log stderr";

struct Case<'a> {
    label: &'a str,
    user: &'a TestUser,
    options: &'a str,
    env: &'a [(&'a str, &'a str)],
    cgroup: Option<&'a TestCgroup>,
    /// More of the session program, before it writes OUT/ready.
    extra: &'a str,
}

/// Runs the session, kills its X server, and returns the session's log once it is over;
/// fails unless OUT/sleep, OUT/ignorer and any `ended` PID files are gone in 1 + 2 s, and
/// the `kept` ones still run. The `ended` and `kept` PIDs are of `sleep` processes.
fn lose_display(case: Case, ended: &[&str], kept: &[&str]) -> String {
    let installed = Installed::new(case.label, true).expect("checked by the caller");
    let x = Xvfb::start().expect("checked by the caller");
    let script = format!(
        "sleep 1000 & echo $! > OUT/sleep\nsh -c 'trap \"\" TERM; while :; do sleep 0.1; done' & echo $! > OUT/ignorer\n{}{READY}wait\n",
        case.extra.replace("DISPLAY_NUMBER", x.display.trim_start_matches(':'))
    );
    let spec = SessionSpec {
        user: case.user,
        display: &x.display,
        script: &script,
        options: case.options,
        env: case.env,
        cgroup: case.cgroup,
    };
    let mut session = XSession::start(installed, spec);
    session.wait_ready();
    let names: Vec<&str> = ["ignorer", "sleep"].into_iter().chain(ended.iter().copied()).collect();
    let pids: Vec<i32> = names.iter().map(|name| read_pid(&session.out(name))).collect();
    let kept: Vec<i32> = kept.iter().map(|name| read_pid(&session.out(name))).collect();
    // `$!` is the session shell's fork, with the shell's environment (its DISPLAY too) until
    // it execs; the ignorer ignores TERM only once it has run its trap.
    assert!(wait_ignoring(pids[0], Signal::SIGTERM), "the ignorer never ignored TERM");
    for pid in pids[1..].iter().chain(&kept) {
        assert!(wait_exec(*pid, "sleep"), "{} never ran sleep", describe(*pid));
    }
    x.signal(Signal::SIGKILL);
    let gone = wait_for(Duration::from_secs(3), || pids.iter().all(|pid| !alive(*pid)));
    let left: Vec<String> = pids.iter().filter(|pid| alive(**pid)).map(|pid| describe(*pid)).collect();
    // xexit writes its last line as it quits.
    wait_for(Duration::from_secs(10), || session.errors().contains("xexit: quit"));
    let log = session.errors();
    assert!(gone, "left: {left:?}\n{log}");
    for pid in kept {
        assert!(alive(pid), "{pid} is not the session's, but was ended\n{log}");
    }
    log
}

fn ready() -> bool {
    need_root() && need_program("Xvfb")
}

#[test]
fn env_selector_ltsp_client_hostname() {
    if !ready() {
        return;
    }
    let user = TestUser::get("xxsel1");
    let mut other = user.command("sleep", &[("LTSP_CLIENT_HOSTNAME", "ws02")]).arg("1000").spawn().unwrap();
    let case = Case {
        label: "sel-env",
        user: &user,
        options: OPTIONS,
        env: &[("LTSP_CLIENT_HOSTNAME", "ws01")],
        cgroup: None,
        extra: "",
    };
    let log = lose_display(case, &[], &[]);
    assert!(log.contains("so env:LTSP_CLIENT_HOSTNAME=ws01"), "{log}");
    assert!(finish(&mut other), "the user's session on ws02 was ended");
    // The administrator's line: the TERM-ignoring shell (and its sleep, which inherits the
    // ignored TERM) needed KILL.
    let summary = lines_with(&log, "xexit: ended session env:LTSP_CLIENT_HOSTNAME=ws01 of xxsel1");
    assert_eq!(summary.len(), 1, "one summary line\n{log}");
    // Under load other programs (dbus-launch) may need KILL too; the list is sorted.
    let killed = summary[0].split("needed KILL (").nth(1).and_then(|rest| rest.split(')').next()).unwrap_or("");
    assert!(summary[0].contains("(closed)") && killed.split(", ").any(|p| p == "sh"), "{log}");
    assert!(summary[0].contains(", 0 survived, ") && summary[0].contains("hooks:"), "{log}");
}

#[test]
fn display_selector_matches_every_spelling_and_no_other_display() {
    if !ready() {
        return;
    }
    let user = TestUser::get("xxsel2");
    let extra = "DISPLAY=:DISPLAY_NUMBER.0 sleep 1000 & echo $! > OUT/screen
DISPLAY=unix:DISPLAY_NUMBER sleep 1000 & echo $! > OUT/unix
DISPLAY=localhost/unix:DISPLAY_NUMBER sleep 1000 & echo $! > OUT/protocol
DISPLAY=:DISPLAY_NUMBER9 sleep 1000 & echo $! > OUT/other
";
    let case = Case { label: "sel-display", user: &user, options: OPTIONS, env: &[], cgroup: None, extra };
    let log = lose_display(case, &["screen", "unix", "protocol"], &["other"]);
    assert!(log.contains("so display :"), "{log}");
}

/// Runs the session inside a cgroup named `leaf`, as systemd or elogind name a login's:
/// `--session auto` must pick it and log `logged` (with CGROUP for its path), and a process
/// of the user outside it stays.
fn login_cgroup_case(label: &str, user_name: &str, leaf: &str, env: &[(&str, &str)], logged: &str) {
    let Some(parent) = TestCgroup::create(label) else { return };
    if !ready() {
        return;
    }
    let session_cgroup = parent.child(leaf);
    let user = TestUser::get(user_name);
    let mut outside = user.command("sleep", &[]).arg("1000").spawn().unwrap();
    let case = Case { label, user: &user, options: OPTIONS, env, cgroup: Some(&session_cgroup), extra: "" };
    let log = lose_display(case, &[], &[]);
    assert!(log.contains(&logged.replace("CGROUP", &session_cgroup.path)), "{log}");
    assert!(session_cgroup.pids().is_empty(), "the cgroup still holds {:?}", session_cgroup.pids());
    assert!(finish(&mut outside), "a process outside the session's cgroup was ended");
}

#[test]
fn cgroup_selector_picks_a_systemd_login_scope() {
    login_cgroup_case("sel-scope", "xxsel3", "session-77.scope", &[], "so cgroup:CGROUP");
}

#[test]
fn cgroup_selector_picks_an_elogind_session_cgroup() {
    login_cgroup_case(
        "sel-elogind",
        "xxsel4",
        "c77",
        &[("XDG_SESSION_ID", "c77")],
        "cgroup CGROUP (XDG_SESSION_ID=c77)",
    );
}

#[test]
fn user_selector_ends_all_of_the_user_and_nobody_else() {
    if !ready() {
        return;
    }
    let (user, other_user) = (TestUser::get("xxsel5"), TestUser::get("xxsel6"));
    let mut mine = user.command("sleep", &[]).arg("1000").spawn().unwrap();
    let mut theirs = other_user.command("sleep", &[]).arg("1000").spawn().unwrap();
    let options = format!("{OPTIONS} --session user");
    let case = Case { label: "sel-user", user: &user, options: &options, env: &[], cgroup: None, extra: "" };
    lose_display(case, &[], &[]);
    let mine_alive = alive(mine.id() as i32);
    finish(&mut mine);
    assert!(!mine_alive, "--session user left a process of the user");
    assert!(finish(&mut theirs), "another user's process was ended");
}
