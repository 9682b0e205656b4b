//! A stopped X server is lost after the timeout, not before; one resumed in time is not lost.
mod common;
use common::*;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_millis(300);
const TIMEOUT: Duration = Duration::from_millis(1500);

#[test]
fn a_hung_server_is_lost_with_reason_timeout_within_interval_plus_timeout() {
    let Some(x) = Xvfb::start() else { return };
    let dir = TempDir::new("hung");
    let out = dir.path("env");
    let mut watcher = watch_with_dumper(&["-d", &x.display, "--interval", "300ms", "--timeout", "1.5s"], &out);
    // Let a few pings be answered first.
    std::thread::sleep(Duration::from_millis(700));

    let stopped = Instant::now();
    x.signal(Signal::SIGSTOP);
    let code = watcher.wait_exit(INTERVAL + TIMEOUT + Duration::from_secs(3));
    let elapsed = stopped.elapsed();
    x.signal(Signal::SIGCONT);
    assert_eq!(code, Some(0), "xexit did not give up on the stopped server");
    assert_eq!(env_in(&out, "XEXIT_REASON").as_deref(), Some("timeout"));
    // A ping already in flight when the server stopped may run out up to one interval early.
    assert!(elapsed >= TIMEOUT - INTERVAL, "lost after only {elapsed:?}");
    assert!(elapsed <= INTERVAL + TIMEOUT + Duration::from_secs(1), "lost only after {elapsed:?}");
    let lost = watcher.wait_line("lost display", Duration::ZERO).unwrap();
    let silent_ms: u64 = lost.split(", ").nth(1).and_then(|s| s.split(' ').next()).unwrap().parse().unwrap();
    assert!(silent_ms >= TIMEOUT.as_millis() as u64, "declared lost after {silent_ms} ms of silence: {lost}");
}

#[test]
fn a_server_stopped_for_less_than_the_timeout_triggers_nothing() {
    let Some(x) = Xvfb::start() else { return };
    let dir = TempDir::new("resumed");
    let out = dir.path("env");
    let mut watcher = watch_with_dumper(&["-d", &x.display, "--interval", "200ms", "--timeout", "2s"], &out);

    x.signal(Signal::SIGSTOP);
    std::thread::sleep(Duration::from_millis(1000));
    x.signal(Signal::SIGCONT);
    // Well past the point where the stop would have counted, had it gone on.
    assert_eq!(watcher.wait_exit(Duration::from_millis(2500)), None, "xexit quit over a slow server");
    assert!(!out.exists(), "PROGRAM ran although the server came back");

    // Still watching: a real loss afterwards is seen.
    x.signal(Signal::SIGKILL);
    assert_eq!(watcher.wait_exit(Duration::from_secs(5)), Some(0));
    assert_eq!(env_in(&out, "XEXIT_REASON").as_deref(), Some("closed"));
}
