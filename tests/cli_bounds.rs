//! Input past every sane bound is refused with a message naming the option, never a panic.
mod common;
use common::*;

#[test]
fn durations_beyond_a_year_are_usage_errors_naming_the_option() {
    for (option, value) in [
        ("--interval", "1e19"),
        ("--timeout", "1e19"),
        ("--grace", "1e19"),
        ("--schedule", "TERM/1e19/KILL/1"),
        ("--hook-timeout", "1e19"),
        ("--interval", "31536001"),
        ("--timeout", "525601m"),
    ] {
        let given = format!("{option}={value}");
        let label = format!("bound{}", option.trim_start_matches('-'));
        let (code, stderr) = refused(&label, &["--foreground", "-d", ":1", &given], None);
        assert!(!stderr.contains("panicked"), "{given}: {stderr}");
        assert_eq!(code, 2, "{given}: {stderr}");
        assert!(stderr.starts_with("xexit: error: "), "{given}: {stderr}");
        assert!(stderr.contains(option) && stderr.contains(value), "{given} is not named: {stderr}");
        assert!(stderr.contains("more than a year"), "{given}: {stderr}");
    }
    let (code, stderr) = refused("boundyear", &["--foreground", "-d", ":59998", "--timeout=525600m"], None);
    assert_eq!(code, 3, "a year is accepted, so the display is tried: {stderr}");
}

#[test]
fn display_numbers_past_the_tcp_port_range_are_unreachable_not_a_panic() {
    for display in [":59536", ":59998", "localhost:65535", ":65536.0"] {
        let (code, stderr) = refused("bigdisplay", &["--foreground", "-d", display, "--timeout=1s"], None);
        assert!(!stderr.contains("panicked"), "{display}: {stderr}");
        assert_eq!(code, 3, "{display}: {stderr}");
        assert!(stderr.contains(&format!("cannot connect to display {display}")), "{stderr}");
    }
}
