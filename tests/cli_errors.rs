//! Bad input: a clear message on stderr, the documented exit code, and nothing run.
mod common;
use common::*;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

#[test]
fn no_display_is_a_usage_error() {
    let (code, stderr) = refused("nodisplay", &["--foreground"], None);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("xexit: error: no display: give --display"), "{stderr}");
}

#[test]
fn an_unreachable_display_exits_3() {
    let (code, stderr) = refused("unreachable", &["--foreground", "-d", ":5999"], Some(":1"));
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("xexit: error: cannot connect to display :5999"), "{stderr}");
}

#[test]
fn a_display_that_never_answers_exits_3_within_the_timeout() {
    let Some(x) = Xvfb::start() else { return };
    x.signal(Signal::SIGSTOP);
    let started = Instant::now();
    let (code, stderr) = refused("stopped", &["--foreground", "-d", &x.display, "--timeout", "1s"], None);
    x.signal(Signal::SIGCONT);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("did not answer within 1s (--timeout)"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn bad_durations_are_usage_errors() {
    for (args, expected) in [
        ("--timeout=5x", "'5x' is not a duration"),
        ("--interval=0", "'0' is zero"),
        ("--interval=-2s", "'-2s' is negative"),
        ("--hook-timeout=soon", "'soon' is not a duration"),
    ] {
        let option = args.split('=').next().unwrap();
        let mut all = vec!["--foreground", "-d", ":59998"];
        all.push(args);
        let (code, stderr) = refused("duration", &all, None);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.starts_with("xexit: error: "), "{stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(stderr.contains(option), "the option is not named: {stderr}");
    }
}

#[test]
fn help_and_version_exit_0() {
    let output = run(&mut xexit(&["--version"]));
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout_of(&output).starts_with("xexit "));
    let output = run(&mut xexit(&["watch", "--help"]));
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout_of(&output).contains("--interval <DURATION>"));
}
