//! `xexit end` (a display manager's PostSession) that gets TERM, INT or HUP while a round
//! waits goes on to the end of its bounded schedule: dying there would leave the processes
//! it holds stopped (TERM-ignorers are kept stopped until the next round) stopped for good.
mod common;
use common::desktop::describe;
use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::io::Read;
use std::process::{Child, Stdio};
use std::time::Duration;

#[test]
fn signals_in_a_round_do_not_leave_the_session_stopped() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxsigend1");
    let tag = "signalled-end";
    let mut ignorers: Vec<Child> =
        (0..20).map(|_| user.spawn_shell("trap '' TERM; exec sleep 1000", &[("XEXIT_TEST_TAG", tag)])).collect();
    let pids: Vec<i32> = ignorers.iter().map(|child| child.id() as i32).collect();
    for pid in &pids {
        assert!(wait_exec(*pid, "sleep") && wait_ignoring(*pid, Signal::SIGTERM), "{} not ready", describe(*pid));
    }
    let session = format!("env:XEXIT_TEST_TAG={tag}");
    let mut end = xexit(&["end", "--user", &user.name, "--session", &session, "--schedule", "TERM/2/KILL/2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // In the TERM round: the ignorers are held stopped.
    let stopped = wait_for(Duration::from_secs(5), || {
        pids.iter().all(|pid| status_field(*pid, "State").is_some_and(|s| s.starts_with('T')))
    });
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        let _ = kill(Pid::from_raw(end.id() as i32), signal);
    }
    let exited = wait_for(Duration::from_secs(10), || end.try_wait().unwrap().is_some());
    let mut log = String::new();
    if exited {
        end.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    }
    let status = end.try_wait().unwrap();
    let left: Vec<String> = pids.iter().filter(|pid| alive(**pid)).map(|pid| describe(*pid)).collect();
    let _ = finish(&mut end);
    for child in &mut ignorers {
        finish(child);
    }
    assert!(stopped, "the TERM round never held the ignorers stopped");
    assert!(left.is_empty(), "left (stopped) after xexit was signalled: {left:?}\n{log}");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "xexit died of the signal or failed\n{log}");
    assert!(log.contains("20 processes signalled, 20 needed KILL"), "{log}");
}
