//! xexit's own signals: SIGHUP is survived; SIGTERM and SIGINT quit without ending anything.
mod common;
use common::*;
use nix::sys::signal::Signal;
use std::time::Duration;

fn watcher_on(x: &Xvfb, out: &std::path::Path) -> Watcher {
    watch_with_dumper(&["-d", &x.display], out)
}

#[test]
fn sighup_is_survived_and_watching_goes_on() {
    let Some(x) = Xvfb::start() else { return };
    let dir = TempDir::new("hup");
    let out = dir.path("env");
    let mut watcher = watcher_on(&x, &out);

    watcher.signal(Signal::SIGHUP);
    assert!(watcher.wait_line("SIGHUP ignored", Duration::from_secs(5)).is_some());
    assert_eq!(watcher.wait_exit(Duration::from_millis(500)), None, "SIGHUP ended xexit");

    x.signal(Signal::SIGKILL);
    assert_eq!(watcher.wait_exit(Duration::from_secs(5)), Some(0));
    assert_eq!(env_in(&out, "XEXIT_REASON").as_deref(), Some("closed"));
}

#[test]
fn sigterm_and_sigint_quit_without_action() {
    let Some(x) = Xvfb::start() else { return };
    let dir = TempDir::new("term");
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let out = dir.path(signal.as_str());
        let mut watcher = watcher_on(&x, &out);
        watcher.signal(signal);
        assert_eq!(watcher.wait_exit(Duration::from_secs(5)), Some(0), "{signal} did not quit");
        assert!(watcher.wait_line("quit: terminated by signal", Duration::ZERO).is_some());
        std::thread::sleep(Duration::from_millis(200));
        assert!(!out.exists(), "PROGRAM ran on {signal}");
    }
    assert!(alive(x.pid()));
}
