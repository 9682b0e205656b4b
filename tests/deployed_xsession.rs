//! The deployed path: Debian's /etc/X11/Xsession sources 90xexit, which starts the installed
//! xexit detached; when the X server dies, the session's processes (TERM-ignorers, stopped
//! and double-forked ones included) are gone within the grace time plus 2 s, and nothing of
//! xexit shows in ~/.xsession-errors. Without xexit the same session starts, and stays.
mod common;
use common::desktop::*;
use common::*;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

/// A session program with an ordinary child, a TERM-ignorer, a stopped process and a
/// daemon that double-forked into a session of its own; each writes its PID.
const SESSION: &str = "sleep 1000 & echo $! > OUT/sleep
sh -c 'trap \"\" TERM; while :; do sleep 0.1; done' & echo $! > OUT/ignorer
sleep 1000 & echo $! > OUT/stopped; kill -STOP $!
setsid sh -c 'sleep 1000 & echo $! > OUT/daemon' &
";

/// Starts SESSION for a new user `user_name` under the real Xsession on a new Xvfb, with or
/// without xexit installed; returns them and the session's PIDs once all of them run.
fn start_session(label: &str, user_name: &str, with_xexit: bool) -> Option<(TestUser, XSession, Xvfb, Vec<i32>)> {
    let installed = Installed::new(label, with_xexit)?;
    let x = Xvfb::start()?;
    let user = TestUser::get(user_name);
    let script = format!("{SESSION}{READY}wait\n");
    let mut session = XSession::start(installed, SessionSpec::new(&user, &x.display, &script));
    session.wait_ready();
    let pids: Vec<i32> =
        ["sleep", "ignorer", "stopped", "daemon"].iter().map(|name| read_pid(&session.out(name))).collect();
    assert!(pids.iter().all(|pid| alive(*pid)));
    // `$!` is the session shell's fork until it execs; the ignorer's trap comes after that.
    assert!(wait_ignoring(pids[1], Signal::SIGTERM), "the ignorer never ignored TERM");
    Some((user, session, x, pids))
}

#[test]
fn losing_the_display_ends_the_whole_session_within_the_grace_time_plus_2s() {
    let Some((user, session, x, pids)) = start_session("deployed", "xxdeploy1", true) else { return };

    let killed = Instant::now();
    x.signal(Signal::SIGKILL);
    // The default schedule: TERM, 3 s of grace, then KILL.
    let gone = wait_for(Duration::from_secs(5), || pids.iter().all(|pid| !alive(*pid)));
    let elapsed = killed.elapsed();
    let left: Vec<String> = pids.iter().filter(|pid| alive(**pid)).map(|pid| describe(*pid)).collect();
    let errors = session.errors();
    eprintln!("X loss to an empty session: {} ms", elapsed.as_millis());
    assert!(gone, "left after {elapsed:?}: {left:?}\n~/.xsession-errors:\n{errors}");
    assert!(wait_for(Duration::from_secs(3), || user.processes().is_empty()), "the user still runs something");
    assert!(
        !errors.contains("xexit:") && !errors.contains("90xexit"),
        "a healthy start is silent in ~/.xsession-errors:\n{errors}"
    );
}

#[test]
fn without_xexit_the_same_session_starts_and_outlives_its_display() {
    let Some((_user, _session, x, pids)) = start_session("deployed-none", "xxdeploy2", false) else { return };
    x.signal(Signal::SIGKILL);
    std::thread::sleep(Duration::from_secs(5));
    let left = pids.iter().filter(|pid| alive(**pid)).count();
    eprintln!("without xexit, {left} of {} session processes are left 5 s after X died", pids.len());
    assert_eq!(left, pids.len(), "without xexit the session's processes stay: that is what xexit is for");
}

#[test]
fn a_failing_xexit_never_stops_the_session_from_starting() {
    let Some(installed) = Installed::new("deployed-fail", true) else { return };
    let Some(x) = Xvfb::start() else { return };
    let user = TestUser::get("xxdeploy3");
    let script = format!("{READY}sleep 1000\n");
    let spec = SessionSpec { options: "--no-such-option", ..SessionSpec::new(&user, &x.display, &script) };
    let mut session = XSession::start(installed, spec);
    session.wait_ready();
    let errors = session.errors();
    assert!(errors.contains("xexit: error:") && errors.contains("--no-such-option"), "{errors}");
    assert!(errors.contains("90xexit: xexit did not start (exit status 2)"), "{errors}");
}
