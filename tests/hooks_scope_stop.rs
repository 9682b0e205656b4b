//! A logind host with KillUserProcesses=yes stops the session's scope as the login closes:
//! TERM and HUP to every process in it, the detached xexit and its running hook included.
//! The hook still runs to its end, no signal counts as its timeout, and then the session is
//! ended. (`tests/host_logind.rs` does the same under a real systemd-logind.)
mod common;
use common::desktop::*;
use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

/// What systemd does to a stopping scope (KillMode=control-group, SendSIGHUP=yes).
fn stop_scope(scope: &TestCgroup) -> usize {
    let pids = scope.pids();
    for signal in [Signal::SIGTERM, Signal::SIGHUP] {
        for pid in &pids {
            let _ = kill(Pid::from_raw(*pid), signal);
        }
    }
    pids.len()
}

#[test]
fn a_hook_runs_to_its_end_while_the_scope_is_stopped() {
    let Some(parent) = TestCgroup::create("scope-stop") else { return };
    if !need_root() || !need_program("Xvfb") {
        return;
    }
    let Some(installed) = Installed::new("scope-stop", true) else { return };
    let Some(x) = Xvfb::start() else { return };
    let scope = parent.child("session-93.scope");
    let user = TestUser::get("xxstop1");
    let mut outside = user.command("sleep", &[]).arg("1000").spawn().unwrap();
    let hooks = HookDir::new("scope-stop-hooks");
    hooks.add(
        "10save",
        0o755,
        "#!/bin/sh\necho $$ > OUT/started.tmp && mv OUT/started.tmp OUT/started\nsleep 2\n\
         echo \"saved $XEXIT_USER $XEXIT_REASON\" > OUT/saved\n",
    );
    let options = format!("{} --grace 1 --log stderr", hooks.arg());
    let script = format!("sleep 1000 & echo $! > OUT/sleep\n{READY}wait\n");
    let spec = SessionSpec { options: &options, cgroup: Some(&scope), ..SessionSpec::new(&user, &x.display, &script) };
    let mut session = XSession::start(installed, spec);
    session.wait_ready();
    let sleeper = read_pid(&session.out("sleep"));
    assert!(wait_exec(sleeper, "sleep"), "the session's sleep never ran");

    x.signal(Signal::SIGKILL);
    let started = hooks.out("started");
    assert!(wait_for(Duration::from_secs(5), || started.exists()), "the hook never started\n{}", session.errors());
    let stopped_at = Instant::now();
    let signalled = stop_scope(&scope);
    let saved = hooks.out("saved");
    let hook_done =
        wait_for(Duration::from_secs(6), || std::fs::read_to_string(&saved).is_ok_and(|s| s.ends_with('\n')));
    let emptied = wait_for(Duration::from_secs(6), || scope.pids().is_empty());
    let elapsed = stopped_at.elapsed();
    wait_for(Duration::from_secs(5), || session.errors().contains("xexit: quit"));
    let log = session.errors();
    eprintln!("{log}\nscope stopped ({signalled} processes) to empty: {} ms", elapsed.as_millis());
    assert!(hook_done, "the hook was cut short by the scope's stop\n{log}");
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), format!("saved {} closed\n", user.name));
    assert!(!log.contains("still running after"), "a signal counted as the hook's timeout\n{log}");
    assert!(log.contains("hook 10save done in"), "{log}");
    assert!(
        emptied,
        "the scope still holds {:?}\n{log}",
        scope.pids().iter().map(|p| describe(*p)).collect::<Vec<_>>()
    );
    let summary = lines_with(&log, "xexit: ended session");
    assert!(summary.len() == 1 && summary[0].contains("hooks: 1 run, 0 failed"), "{log}");
    assert!(finish(&mut outside), "a process of the user outside the scope was ended");
}
