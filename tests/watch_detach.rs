//! Without --foreground, xexit returns to the X session at once and watches in the background.
mod common;
use common::*;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

#[test]
fn detaching_returns_at_once_while_the_watcher_keeps_running() {
    let Some(x) = Xvfb::start() else { return };
    let dir = TempDir::new("detach");
    let out = dir.path("env");
    let program = env_dumper(&out);

    let started = Instant::now();
    let output = run(xexit(&["-d", &x.display]).args(&program));
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr_of(&output));
    // output() returned, so the daemon no longer holds the caller's stdout and stderr.
    assert!(started.elapsed() < Duration::from_secs(3), "detaching took {:?}", started.elapsed());
    assert!(stdout_of(&output).is_empty());

    std::thread::sleep(Duration::from_millis(500));
    assert!(!out.exists(), "PROGRAM ran while the display was there");
    x.signal(Signal::SIGKILL);
    assert!(wait_for(Duration::from_secs(5), || out.exists()), "the detached watcher did not act");
    assert_eq!(env_in(&out, "XEXIT_REASON").as_deref(), Some("closed"));
}
