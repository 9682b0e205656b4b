//! On a TCP display, xexit has the kernel watch the connection too (keepalive).
mod common;
use common::*;
use nix::sys::signal::Signal;
use std::time::Duration;

/// The inodes of the TCP sockets PID holds.
fn socket_inodes(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| link.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_string))
        .collect()
}

#[test]
fn a_tcp_display_connection_has_keepalive() {
    let Some(x) = Xvfb::start_tcp() else { return };
    let dir = TempDir::new("tcp");
    let out = dir.path("env");
    let display = format!("127.0.0.1{}", x.display);
    let mut watcher = watch_with_dumper(&["-d", &display, "--interval", "2s", "--timeout", "6s"], &out);

    let inodes = socket_inodes(watcher.child.id());
    // The timer column of each of xexit's TCP sockets: "02:" is keepalive. While a ping is
    // not yet acknowledged (a loaded machine) it shows the retransmit timer, "01:", instead.
    let timers = || -> Vec<String> {
        let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap();
        // Columns: sl local rem st queues tr:when retrnsmt uid timeout inode.
        tcp.lines()
            .skip(1)
            .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .filter(|f| f.len() > 9 && inodes.iter().any(|i| *i == f[9]))
            .map(|f| f[5].clone())
            .collect()
    };
    // Two connections: one for the events, one for the pings and reads.
    assert_eq!(timers().len(), 2, "xexit's TCP sockets not found: {inodes:?}");
    let mut seen = Vec::new();
    let keepalive = wait_for(Duration::from_secs(5), || {
        seen = timers();
        seen.iter().all(|t| t.starts_with("02:"))
    });
    assert!(keepalive, "no keepalive timer: {seen:?}");

    x.signal(Signal::SIGKILL);
    assert_eq!(watcher.wait_exit(Duration::from_secs(5)), Some(0));
    assert_eq!(env_in(&out, "XEXIT_REASON").as_deref(), Some("closed"));
}
