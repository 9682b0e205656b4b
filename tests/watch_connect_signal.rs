//! SIGTERM and SIGINT are honoured while the connection is still being made: a display that
//! accepts but never answers (a stopped Xvfb) does not hold xexit until --timeout.
mod common;
use common::*;
use nix::sys::signal::Signal;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn sigterm_while_connecting_quits_at_once_with_status_0() {
    let Some(x) = Xvfb::start() else { return };
    let dir = TempDir::new("connsig");
    x.signal(Signal::SIGSTOP);
    for (signal, mode) in [(Signal::SIGTERM, "--foreground"), (Signal::SIGINT, "--foreground"), (Signal::SIGTERM, "")] {
        let marker = dir.path("ran");
        let mut args = vec!["--log=stderr", "-d", &x.display, "--timeout=30s"];
        args.extend((!mode.is_empty()).then_some(mode));
        let mut command = xexit(&args);
        command.args(["/usr/bin/touch", marker.to_str().unwrap()]);
        let mut child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        assert!(wait_for(Duration::from_secs(5), || catches(pid.as_raw(), Signal::SIGTERM)), "no handler");
        // Well inside the connection attempt, which cannot end while the server is stopped.
        std::thread::sleep(Duration::from_millis(300));
        nix::sys::signal::kill(pid, Signal::SIGHUP).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert!(alive(pid.as_raw()), "SIGHUP ended xexit while connecting");

        let sent = Instant::now();
        nix::sys::signal::kill(pid, signal).unwrap();
        let exited = wait_for(Duration::from_secs(3), || !alive(pid.as_raw()));
        let took = sent.elapsed();
        let status = if exited { child.wait().unwrap().code() } else { None };
        finish(&mut child);
        let output = child.wait_with_output().unwrap();
        let stderr = stderr_of(&output);
        assert!(exited, "{signal} {mode}: still connecting 3 s later: {stderr}");
        assert!(took < Duration::from_secs(1), "{signal} {mode}: took {took:?}");
        assert_eq!(status, Some(0), "{signal} {mode}: {stderr}");
        assert!(stderr.contains("quit: terminated by signal while connecting"), "{signal} {mode}: {stderr}");
        assert!(!marker.exists(), "{signal} {mode}: PROGRAM ran");
    }
    x.signal(Signal::SIGCONT);
}
