//! The root window's LTSP_XEXIT property: DIE ends the session now, EXIT quits without it.
mod common;
use common::*;
use std::time::Duration;

#[test]
fn ltsp_xexit_die_runs_program_with_reason_requested() {
    let Some(x) = Xvfb::start() else { return };
    let dir = TempDir::new("die");
    let out = dir.path("env");
    let mut watcher = watch_with_dumper(&["-d", &x.display], &out);

    x.set_control("DIE");
    assert_eq!(watcher.wait_exit(Duration::from_secs(5)), Some(0));
    assert_eq!(env_in(&out, "XEXIT_REASON").as_deref(), Some("requested"));
}

#[test]
fn ltsp_xexit_exit_quits_without_running_program() {
    let Some(x) = Xvfb::start() else { return };
    let dir = TempDir::new("exit");
    let out = dir.path("env");
    let mut watcher = watch_with_dumper(&["-d", &x.display], &out);

    x.set_control("NONSENSE");
    assert!(watcher.wait_line("neither DIE nor EXIT", Duration::from_secs(5)).is_some());
    assert_eq!(watcher.wait_exit(Duration::from_millis(300)), None, "an unknown value made xexit quit");

    x.set_control("EXIT");
    assert_eq!(watcher.wait_exit(Duration::from_secs(5)), Some(0));
    std::thread::sleep(Duration::from_millis(200));
    assert!(!out.exists(), "PROGRAM ran on EXIT");
    assert!(alive(x.pid()), "the X server is gone");
}
