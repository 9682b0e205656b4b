//! A closed connection (the X server killed) runs PROGRAM at once, with reason closed.
mod common;
use common::*;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

#[test]
fn killing_the_x_server_runs_program_with_reason_closed() {
    let Some(x) = Xvfb::start() else { return };
    let dir = TempDir::new("closed");
    let out = dir.path("env");
    let mut watcher = watch_with_dumper(&["-d", &x.display, "--interval", "5s", "--timeout", "15s"], &out);

    let killed = Instant::now();
    x.signal(Signal::SIGKILL);
    assert_eq!(watcher.wait_exit(Duration::from_secs(5)), Some(0), "xexit did not finish after the server died");
    // Far below the 5 s interval: the end-of-file was noticed, not a missed ping.
    assert!(killed.elapsed() < Duration::from_secs(3), "took {:?}", killed.elapsed());

    assert_eq!(env_in(&out, "XEXIT_REASON").as_deref(), Some("closed"));
    assert_eq!(env_in(&out, "XEXIT_DISPLAY").as_deref(), Some(x.display.as_str()));
    assert_eq!(env_in(&out, "DISPLAY").as_deref(), Some(x.display.as_str()));
    assert!(env_in(&out, "XEXIT_SESSION").is_some(), "no XEXIT_SESSION");
    assert!(watcher.wait_line("lost display", Duration::ZERO).unwrap().contains("(closed)"));
}
