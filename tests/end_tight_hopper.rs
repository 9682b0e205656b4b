//! A tight fork-and-exit loop (each process forks its successor and exits at once, ignoring
//! TERM; a subreaper reaps them), found by its tag, ended as root: exit 0 only with the chain
//! dead. Most of its processes live for less than a read of /proc, so a look may see none of
//! it; the kernel's count of the user's tasks still holds them, and then xexit exits 1 saying
//! so. Run with the kernel's children files and without them (the PPid pass), and with and
//! without another process of the user beside it (which could start short processes the
//! count also holds: no reason either for exit 0 while the chain runs).
mod common;
use common::attackers::{SUBREAPER, hopper_end_outcome};
use common::*;
use std::time::Duration;

/// The chain: each process forks and exits at once.
const HOPPER: &str = "import os, signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)
while True:
    try:
        if os.fork():
            os._exit(0)
    except OSError:
        pass
";

const RUNS: usize = 8;

#[test]
fn a_tight_fork_and_exit_loop_is_ended_or_reported_never_exit_0_alive() {
    if !need_root() || !need_program("python3") {
        return;
    }
    let Some(cgroup) = TestCgroup::create("tight-hopper") else { return };
    let user = TestUser::get("xxtighthop");
    let python = std::fs::canonicalize("/usr/bin/python3").unwrap();
    let mut tally = [0usize; 2];
    for run_index in 0..RUNS {
        let without_children_files = run_index % 2 == 1;
        let mut other = (run_index / 2 % 2 == 1).then(|| tagged_sleeper(&user, &format!("other{run_index}")));
        let tag = format!("tight{run_index}");
        let mut reaper = clean_command(python.to_str().unwrap());
        let python_str = python.to_str().unwrap();
        reaper.args(["-c", SUBREAPER, &user.uid.to_string(), &user.gid.to_string(), &tag, python_str, "-c", HOPPER]);
        cgroup.place(&mut reaper);
        let mut reaper = reaper.spawn().unwrap();
        let reaper_pid = reaper.id() as i32;
        let chain = || cgroup.pids().into_iter().filter(|pid| *pid != reaper_pid).count();
        assert!(wait_for(Duration::from_secs(5), || chain() > 0), "the chain never started");
        std::thread::sleep(Duration::from_millis(200));
        let mut end = xexit(&["end", "--no-hooks", "--schedule", "TERM/0.5/KILL/1", "--user", &user.name]);
        end.args(["--session", &format!("env:XEXIT_TEST_TAG={tag}")]);
        if without_children_files {
            end.env("XEXIT_TEST_NO_CHILDREN_FILES", "1");
        }
        let output = run(&mut end);
        std::thread::sleep(Duration::from_millis(300));
        let alive_after = chain();
        let log = stderr_of(&output);
        std::fs::write(cgroup.dir.join("cgroup.kill"), "1").unwrap();
        let _ = reaper.wait();
        assert!(wait_for(Duration::from_secs(5), || cgroup.pids().is_empty()), "cgroup.kill left the chain");
        let files = if without_children_files { "without children files" } else { "with children files" };
        let kind = format!("{files}{}", if other.is_some() { ", another process beside" } else { "" });
        if let Some(other) = other.as_mut() {
            let alive = other.try_wait().unwrap().is_none();
            let _ = other.kill();
            let _ = other.wait();
            assert!(alive, "run {run_index}, {kind}: the process outside the session was ended\n{log}");
        }
        if without_children_files {
            assert!(log.contains("no /proc/PID/task/TID/children"), "{kind}: the PPid pass was not said\n{log}");
        }
        let what = format!("run {run_index}, {kind}");
        tally[hopper_end_outcome(output.status.code(), alive_after > 0, &what, &log)] += 1;
    }
    eprintln!("{RUNS} runs: {} ended (exit 0), {} reported (exit 1)", tally[0], tally[1]);
}
