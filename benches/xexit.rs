//! Benchmarks against the real thing: `cargo bench --bench xexit -- [detection|hung|idle|lookup|reap|all]`.
//!
//! Run as root on a machine with Xvfb: the lookup and reap benchmarks make a system user
//! (xxbench) and thousands of its processes, end only those, and remove the user.

// The helpers the tests use (their own #![allow(dead_code)] covers what this does not use).
#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TempDir, TestUser, Watcher, XEXIT, Xvfb};
use nix::sys::signal::Signal;

const BENCH_USER: &str = "xxbench";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--bench")).collect();
    match args.first().map(String::as_str) {
        // Helper modes, run as children of the benchmarks.
        Some("stamp") => return stamp(Path::new(&args[1])),
        Some("tree") => {
            return tree(
                args[1].parse().unwrap(),
                args[2] == "ignore",
                args[3].parse().unwrap(),
                args[4].parse().unwrap(),
            );
        }
        _ => {}
    }
    let runs: usize = flag(&args, "--runs").unwrap_or(20);
    let names: Vec<&str> = args
        .iter()
        .enumerate()
        // Neither an option nor an option's value.
        .filter(|(i, a)| !(a.starts_with("--") || *i > 0 && args[i - 1].starts_with("--")))
        .map(|(_, a)| a.as_str())
        .collect();
    let all = names.is_empty() || names.contains(&"all");
    let wanted = |name: &str| all || names.contains(&name);
    if wanted("detection") {
        detection(runs);
    }
    if wanted("hung") {
        hung(runs.min(5));
    }
    if wanted("idle") {
        idle(Duration::from_secs(flag(&args, "--idle-seconds").unwrap_or(60)));
    }
    if wanted("lookup") {
        for count in [1_000, 10_000] {
            lookup(count, runs.min(10));
        }
    }
    if wanted("reap") {
        reap(1_000, false);
        reap(1_000, true);
    }
}

fn flag<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok())
}

fn monotonic_ns() -> u128 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    now.tv_sec as u128 * 1_000_000_000 + now.tv_nsec as u128
}

/// PROGRAM for watch: notes the moment the exit action starts.
fn stamp(file: &Path) {
    std::fs::write(file, monotonic_ns().to_string()).unwrap();
}

/// Forks `count` children that become `uid` and wait for a signal (with `ignore`, ignoring
/// TERM). The leader stays root, so it is no session process, and reaps them all: no orphans
/// pile up as zombies for the next run. It says "ready" once every child has its uid and
/// its TERM disposition (each writes a byte to a pipe then), not merely once forked.
fn tree(count: usize, ignore: bool, uid: u32, gid: u32) {
    let (ready, ready_in_child) = nix::unistd::pipe().unwrap();
    for _ in 0..count {
        // SAFETY: single-threaded; the child only changes ids and signals, writes a byte to
        // the pipe, then pauses.
        if let nix::unistd::ForkResult::Child = unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::setgid(gid.into()).unwrap();
            nix::unistd::setuid(uid.into()).unwrap();
            if ignore {
                // SAFETY: SIG_IGN has no handler to be unsafe about.
                unsafe { nix::sys::signal::signal(Signal::SIGTERM, nix::sys::signal::SigHandler::SigIgn) }.unwrap();
            }
            nix::unistd::write(&ready_in_child, b"r").unwrap();
            loop {
                nix::unistd::pause();
            }
        }
    }
    drop(ready_in_child);
    let mut left = count;
    let mut buffer = [0u8; 1024];
    while left > 0 {
        match nix::unistd::read(&ready, &mut buffer) {
            Ok(0) => panic!("{left} of the tree's children never got ready"),
            Ok(n) => left -= n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => panic!("reading the tree's ready pipe: {e}"),
        }
    }
    println!("ready");
    while nix::sys::wait::wait().is_ok() {}
}

fn stats(label: &str, mut samples: Vec<f64>, unit: &str) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = samples[samples.len() / 2];
    let p95 = samples[((samples.len() as f64 * 0.95).ceil() as usize).clamp(1, samples.len()) - 1];
    println!(
        "{label}: median {median:.1} {unit}, p95 {p95:.1} {unit}, min {:.1}, max {:.1} ({} runs)",
        samples[0],
        samples[samples.len() - 1],
        samples.len()
    );
    median
}

fn xvfb() -> Xvfb {
    Xvfb::start().expect("Xvfb (apt-get install xvfb)")
}

/// A foreground watcher running the stamp PROGRAM, once it has said "started".
fn watcher(display: &str, interval: &str, timeout: &str, stamp_file: &Path) -> Watcher {
    let me = std::env::current_exe().unwrap();
    let mut command = Command::new(XEXIT);
    command.args(["--foreground", "-d", display, "--interval", interval, "--timeout", timeout]);
    command.arg(me).arg("stamp").arg(stamp_file);
    Watcher::spawn_quiet(command)
}

/// Waits for a watcher the benchmark ended (or whose display it took away) to exit.
fn wait_exit(watch: &mut Watcher) {
    assert!(watch.wait_exit(Duration::from_secs(60)).is_some(), "xexit did not exit");
}

/// Milliseconds from `signal` to the X server until the exit action (PROGRAM) starts.
fn time_to_action(signal: Signal, interval: &str, timeout: &str, settle: Duration, runs: usize) -> Vec<f64> {
    let dir = TempDir::new("bench-stamp");
    let file = dir.path("stamp");
    let mut samples = Vec::new();
    for _ in 0..runs {
        let x = xvfb();
        let mut watch = watcher(&x.display, interval, timeout, &file);
        std::thread::sleep(settle);
        let signalled = monotonic_ns();
        x.signal(signal);
        wait_exit(&mut watch);
        let stamped: u128 = std::fs::read_to_string(&file).unwrap().trim().parse().unwrap();
        samples.push((stamped - signalled) as f64 / 1e6);
        if signal == Signal::SIGSTOP {
            x.signal(Signal::SIGCONT);
        }
        let _ = std::fs::remove_file(&file);
    }
    samples
}

/// SIGKILL of the X server to the start of the exit action (PROGRAM's first instruction).
fn detection(runs: usize) {
    let samples = time_to_action(Signal::SIGKILL, "5s", "15s", Duration::from_millis(100), runs);
    let median = stats("detection (closed): SIGKILL of Xvfb to PROGRAM start", samples, "ms");
    println!("  target: median at most 20 ms: {}", verdict(median <= 20.0));
}

/// SIGSTOP of the X server to the exit action, against interval + timeout.
fn hung(runs: usize) {
    let samples = time_to_action(Signal::SIGSTOP, "1s", "2s", Duration::from_millis(300), runs);
    let worst = samples.iter().cloned().fold(0.0, f64::max);
    stats("detection (hung, interval 1s, timeout 2s): SIGSTOP of Xvfb to PROGRAM start", samples, "ms");
    let bound = 3000.0;
    println!("  bound interval+timeout = {bound:.0} ms: max {worst:.0} ms {}", verdict(worst <= bound + 50.0));
}

/// The watcher's resident size and CPU time over `span` at the default interval.
fn idle(span: Duration) {
    let x = xvfb();
    let dir = TempDir::new("bench-idle");
    let mut watch = watcher(&x.display, "5s", "15s", &dir.path("stamp"));
    let pid = watch.child.id();
    std::thread::sleep(Duration::from_secs(1));
    let before = cpu_ns(pid);
    std::thread::sleep(span);
    let cpu_ms = (cpu_ns(pid) - before) as f64 / 1e6;
    let rss = common::status_field(pid as i32, "VmRSS");
    let rss_kib: f64 = rss.as_deref().and_then(|v| v.split_whitespace().next()?.parse().ok()).expect("VmRSS");
    let per_minute = cpu_ms * 60.0 / span.as_secs_f64();
    println!(
        "idle (default interval 5s, {} s): RSS {:.2} MiB {}, CPU {cpu_ms:.2} ms = {per_minute:.2} ms per minute {}",
        span.as_secs(),
        rss_kib / 1024.0,
        verdict(rss_kib <= 4096.0),
        verdict(per_minute <= 10.0)
    );
    watch.signal(Signal::SIGTERM);
    wait_exit(&mut watch);
}

/// Time on CPU of every thread, in ns, from schedstat.
fn cpu_ns(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()))
        .sum()
}

fn verdict(ok: bool) -> &'static str {
    if ok { "(meets the target)" } else { "(MISSES the target)" }
}

/// `count` processes of the bench user in trees of 1,000, all tagged XEXIT_BENCH_TAG=`tag`.
fn spawn_trees(user: &TestUser, tag: &str, count: usize, ignore_term: bool) -> Vec<Child> {
    let me = std::env::current_exe().unwrap();
    let mut leaders = Vec::new();
    let mut left = count;
    while left > 0 {
        let children = left.min(1000);
        let mut child = Command::new(&me)
            .args(["tree", &children.to_string(), if ignore_term { "ignore" } else { "obey" }])
            .args([user.uid.to_string(), user.gid.to_string()])
            .env_clear()
            .env("XEXIT_BENCH_TAG", tag)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        leaders.push(child);
        left -= children;
    }
    leaders
}

/// Ends the benchmark's processes with xexit itself, session by session.
fn end_trees(mut leaders: Vec<Child>) {
    for tag in ["ws01", "ws02"] {
        Command::new(XEXIT)
            .args(["end", "-q", "--no-hooks", "--schedule", "KILL/5", "--user", BENCH_USER])
            .arg(format!("--session=env:XEXIT_BENCH_TAG={tag}"))
            .status()
            .unwrap();
    }
    for leader in &mut leaders {
        let _ = leader.wait();
    }
}

/// `xexit list` against the classic `ps eww | grep -w | awk` among `count` processes of the user.
fn lookup(count: usize, runs: usize) {
    let user = TestUser::get(BENCH_USER);
    // A tenth of the processes are the session (ws01), the rest another session (ws02).
    let mut leaders = spawn_trees(&user, "ws01", count / 10, false);
    leaders.extend(spawn_trees(&user, "ws02", count - count / 10, false));
    let classic = format!("ps eww -u {BENCH_USER} | grep -w XEXIT_BENCH_TAG=ws01 | awk '{{print $1}}'");
    let ours = format!("{XEXIT} list --user {BENCH_USER} --session env:XEXIT_BENCH_TAG=ws01 | awk '{{print $1}}'");
    let (mut ours_ms, mut classic_ms) = (Vec::new(), Vec::new());
    let mut found = (String::new(), String::new());
    for _ in 0..runs {
        // Interleaved, so both see the same machine load.
        let (time, out) = timed_shell(&ours);
        ours_ms.push(time);
        found.0 = out;
        let (time, out) = timed_shell(&classic);
        classic_ms.push(time);
        found.1 = out;
    }
    let ours_median = stats(&format!("lookup among {count}: xexit list"), ours_ms, "ms");
    let classic_median = stats(&format!("lookup among {count}: ps eww | grep -w | awk"), classic_ms, "ms");
    let ratio = ours_median / classic_median;
    let sorted = |s: &str| {
        let mut pids: Vec<i32> = s.lines().filter_map(|l| l.trim().parse().ok()).collect();
        pids.sort();
        pids
    };
    let same = sorted(&found.0) == sorted(&found.1);
    println!(
        "  ratio xexit/classic {ratio:.3} {}; same {} processes found: {same}",
        verdict(ratio <= 0.1),
        sorted(&found.0).len()
    );
    end_trees(leaders);
}

fn timed_shell(script: &str) -> (f64, String) {
    let start = Instant::now();
    let output = Command::new("/bin/sh").args(["-c", script]).output().unwrap();
    (start.elapsed().as_secs_f64() * 1000.0, String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `xexit end` of `count` processes: when the last of them is gone (seen from outside), when
/// xexit says the session is empty (after the settle that confirms it), and the whole command.
fn reap(count: usize, ignore_term: bool) {
    let user = TestUser::get(BENCH_USER);
    let mut leaders = spawn_trees(&user, "ws01", count, ignore_term);
    let start = Instant::now();
    let child = Command::new(XEXIT)
        .args(["end", "--no-hooks", "--user", BENCH_USER, "--session", "env:XEXIT_BENCH_TAG=ws01"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while !user.processes().is_empty() && start.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(2));
    }
    let gone_ms = start.elapsed().as_secs_f64() * 1000.0;
    let output = child.wait_with_output().unwrap();
    let wall = start.elapsed();
    let log = String::from_utf8_lossy(&output.stderr);
    let empty_ms = log
        .lines()
        .find_map(|l| l.split("session empty ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|ms| ms.parse::<f64>().ok());
    let kind = if ignore_term { "ignore TERM" } else { "obey TERM" };
    match empty_ms {
        Some(ms) => println!(
            "reap {count} that {kind}: all gone {gone_ms:.0} ms after the start{}; xexit saw the session empty {ms:.0} ms \
             after the first signal, and confirmed (whole command {:.0} ms)",
            if ignore_term { String::new() } else { format!(" {}", verdict(gone_ms <= 200.0)) },
            wall.as_secs_f64() * 1000.0
        ),
        None => println!("reap {count} that {kind}: NOT emptied; exit {:?}\n{log}", output.status.code()),
    }
    for leader in &mut leaders {
        let _ = leader.wait();
    }
}
