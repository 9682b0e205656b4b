//! The user cannot make the count probes lie. A probe becomes the user and lowers its own
//! RLIMIT_NPROC before it forks; a process of the user that raised that limit back (with
//! prlimit(2), which wants only the caller's uid to be all of the target's) made every probe
//! fork succeed and the count read 0, so a PID hopper beside it no look saw went unreported:
//! root's end exited 0 with the hopper alive in 7 of 25 runs on 4b5ae5b (a review finding).
//! Now the probe keeps root as its saved uid, and the user's prlimit is refused. Here a
//! process of the user tries to raise the limit of every new process named xexit, beside a
//! tagged hopper: it must never succeed, and the end exit 0 only with the hopper gone.
mod common;
use common::attackers::{FORK_HOPPER, SUBREAPER, hopper_end_outcome};
use common::*;
use std::io::Read;
use std::time::Duration;

/// Tries prlimit on the PIDs just handed out; prints `raised PID` for each process named
/// xexit whose RLIMIT_NPROC it could set to its hard limit.
const RAISER: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
static int is_xexit(int pid) {
    char path[64], name[32] = {0};
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    int n = read(fd, name, sizeof name - 1);
    close(fd);
    return n > 0 && strcmp(name, "xexit\n") == 0;
}
int main(void) {
    int last_pid = open("/proc/sys/kernel/ns_last_pid", O_RDONLY);
    char text[32];
    for (;;) {
        int n = pread(last_pid, text, sizeof text - 1, 0);
        text[n > 0 ? n : 0] = 0;
        int last = atoi(text);
        for (int pid = last - 2; pid <= last + 3; pid++) {
            struct rlimit limit;
            if (pid <= 1 || prlimit(pid, RLIMIT_NPROC, NULL, &limit)) continue;
            limit.rlim_cur = limit.rlim_max;
            if (prlimit(pid, RLIMIT_NPROC, &limit, NULL) == 0 && is_xexit(pid)) printf("raised %d\n", pid), fflush(stdout);
        }
    }
}
"#;

const RUNS: usize = 4;

#[test]
fn the_user_cannot_raise_a_count_probe_s_limit() {
    if !need_root() || !need_program("python3") || !need_program("cc") {
        return;
    }
    let Some(cgroup) = TestCgroup::create("probe-limit") else { return };
    let user = TestUser::get("xxprobelimit");
    let (_raiser_dir, raiser) = compile_c("raiser", RAISER);
    let (_hopper_dir, hopper) = compile_c("hopper", FORK_HOPPER);
    let mut raiser = user.command(raiser.to_str().unwrap(), &[]);
    raiser.stdout(std::process::Stdio::piped());
    cgroup.place(&mut raiser);
    let mut raiser = raiser.spawn().unwrap();
    let python = std::fs::canonicalize("/usr/bin/python3").unwrap();
    let mut tally = [0usize; 2];
    for run_index in 0..RUNS {
        let tag = format!("limit{run_index}");
        let mut reaper = clean_command(python.to_str().unwrap());
        reaper.args(["-c", SUBREAPER, &user.uid.to_string(), &user.gid.to_string(), &tag, hopper.to_str().unwrap()]);
        let child = cgroup.child(&format!("run{run_index}"));
        child.place(&mut reaper);
        let mut reaper = reaper.spawn().unwrap();
        let reaper_pid = reaper.id() as i32;
        let chain = || child.pids().into_iter().filter(|pid| *pid != reaper_pid).count();
        assert!(wait_for(Duration::from_secs(5), || chain() > 0), "the chain never started");
        std::thread::sleep(Duration::from_millis(200));
        let mut end = xexit(&["end", "--no-hooks", "--schedule", "TERM/0.5/KILL/1", "--user", &user.name, "-v"]);
        end.args(["--session", &format!("env:XEXIT_TEST_TAG={tag}")]);
        let output = run(&mut end);
        std::thread::sleep(Duration::from_millis(300));
        let alive_after = chain();
        std::fs::write(child.dir.join("cgroup.kill"), "1").unwrap();
        let _ = reaper.wait();
        assert!(wait_for(Duration::from_secs(5), || child.pids().is_empty()), "cgroup.kill left the chain");
        let log = stderr_of(&output);
        tally[hopper_end_outcome(output.status.code(), alive_after > 0, &format!("run {run_index}"), &log)] += 1;
    }
    let _ = raiser.kill();
    let _ = raiser.wait();
    let mut raised = String::new();
    raiser.stdout.take().unwrap().read_to_string(&mut raised).unwrap();
    eprintln!("{RUNS} runs: {} ended (exit 0), {} reported (exit 1)", tally[0], tally[1]);
    assert!(raised.is_empty(), "the user raised the limit of xexit's probes:\n{raised}");
}
