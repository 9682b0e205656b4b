//! The kernel's count of the user's tasks cannot be fooled by threads that come and go. A
//! user's process without the tag keeps 12 threads, watches the PIDs the kernel hands out
//! for xexit's count probes (they run as the user, named xexit), ends its threads while a
//! probe runs and makes them anew right after, so that every read of /proc shows 12 threads
//! the count never held; beside it a tagged fork-and-exit loop (a PID hopper) runs, reaped
//! by a root subreaper. Crediting the fewer thread count of the two reads around a count,
//! root's end took the hopper's tasks for those threads and exited 0 with the hopper alive
//! (23 of 50 runs on d2a3656). Now only threads seen at both reads, by ID and inode, count:
//! exit 0 only with the hopper gone, and the other process is never ended.
mod common;
use common::attackers::{SUBREAPER, hopper_end_outcome};
use common::*;
use std::time::Duration;

/// Forks the tagged hopper, takes the tag out of its own environment (YEXIT_TEST_TAG), and
/// drops its threads while a probe of xexit runs.
const BLINKER: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
#define THREADS 12
static atomic_int generation;
static void *wait_generation(void *arg) {
    int mine = (int)(long)arg;
    while (atomic_load(&generation) == mine) syscall(SYS_futex, &generation, FUTEX_WAIT, mine, 0, 0, 0);
    return 0;
}
static void threads_up(void) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 65536);
    for (int i = 0; i < THREADS; i++) {
        pthread_t thread;
        pthread_create(&thread, &attr, wait_generation, (void *)(long)atomic_load(&generation));
    }
}
static void threads_down(void) {
    atomic_fetch_add(&generation, 1);
    syscall(SYS_futex, &generation, FUTEX_WAKE, 1 << 30, 0, 0, 0);
}
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}
static int read_int(const char *path) {
    char text[32];
    int fd = open(path, O_RDONLY), n = fd < 0 ? -1 : read(fd, text, sizeof text - 1);
    if (fd >= 0) close(fd);
    if (n <= 0) return -1;
    text[n] = 0;
    return atoi(text);
}
/* A process (not a thread) named xexit: a count probe, which runs as the user. */
static int is_probe(int pid) {
    char path[64], text[512], tgid[40];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    int fd = open(path, O_RDONLY), n = fd < 0 ? -1 : read(fd, text, sizeof text - 1);
    if (fd >= 0) close(fd);
    if (n <= 0) return 0;
    text[n] = 0;
    snprintf(tgid, sizeof tgid, "\nTgid:\t%d\n", pid);
    return strncmp(text, "Name:\txexit\n", 12) == 0 && strstr(text, tgid) != 0;
}
int main(void) {
    signal(SIGTERM, SIG_IGN);
    if (fork() == 0)
        for (;;) {
            pid_t child = fork();
            if (child > 0) _exit(0);
            if (child < 0) usleep(1000);
        }
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "XEXIT_TEST_TAG=", 15) == 0) (*e)[0] = 'Y';
    signal(SIGCHLD, SIG_IGN);
    threads_up();
    int up = 1, last = read_int("/proc/sys/kernel/ns_last_pid"), pid_max = read_int("/proc/sys/kernel/pid_max");
    double last_probe = 0;
    for (;;) {
        struct timespec pause = {0, 20000};
        nanosleep(&pause, 0);
        int newest = read_int("/proc/sys/kernel/ns_last_pid");
        for (int pid = last + 1, seen = 0; newest != last && seen < 64; pid = pid >= pid_max ? 300 : pid + 1, seen++) {
            if (is_probe(pid)) {
                last_probe = now();
                if (up) threads_down(), up = 0;
                break;
            }
            if (pid == newest) break;
        }
        last = newest;
        if (!up && now() - last_probe > 0.0005) threads_up(), up = 1;
    }
}
"#;

const RUNS: usize = 8;

#[test]
fn threads_that_blink_during_the_count_hide_no_hopper() {
    if !need_root() || !need_program("python3") || !need_program("cc") {
        return;
    }
    let Some(cgroup) = TestCgroup::create("census-threads") else { return };
    let user = TestUser::get("xxblink");
    let (_dir, blinker) = compile_c("blinker", BLINKER);
    let python = std::fs::canonicalize("/usr/bin/python3").unwrap();
    let mut tally = [0usize; 2];
    for run_index in 0..RUNS {
        let tag = format!("blink{run_index}");
        let mut reaper = clean_command(python.to_str().unwrap());
        reaper.args(["-c", SUBREAPER, &user.uid.to_string(), &user.gid.to_string(), &tag, blinker.to_str().unwrap()]);
        cgroup.place(&mut reaper);
        let mut reaper = reaper.spawn().unwrap();
        let with = |variable: &str| {
            let wanted = format!("{variable}={tag}");
            cgroup.pids().into_iter().filter(move |pid| environ_of(*pid).contains(&wanted)).count()
        };
        assert!(wait_for(Duration::from_secs(5), || with("XEXIT_TEST_TAG") > 0 && with("YEXIT_TEST_TAG") == 1));
        std::thread::sleep(Duration::from_millis(300));
        let mut end = xexit(&["end", "--no-hooks", "--schedule", "TERM/0.5/KILL/1", "--user", &user.name, "-vv"]);
        end.args(["--session", &format!("env:XEXIT_TEST_TAG={tag}")]);
        let output = run(&mut end);
        let log = stderr_of(&output);
        // The hopper's processes each live about a millisecond: looked for several times.
        let hopper_seen = (0..5).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            with("XEXIT_TEST_TAG") > 0
        });
        let other_alive = with("YEXIT_TEST_TAG") == 1;
        std::fs::write(cgroup.dir.join("cgroup.kill"), "1").unwrap();
        let _ = reaper.wait();
        assert!(wait_for(Duration::from_secs(5), || cgroup.pids().is_empty()), "cgroup.kill left processes");
        assert!(other_alive, "run {run_index}: the untagged process was ended\n{log}");
        tally[hopper_end_outcome(output.status.code(), hopper_seen, &format!("run {run_index}"), &log)] += 1;
    }
    eprintln!("{RUNS} runs: {} ended (exit 0), {} reported (exit 1)", tally[0], tally[1]);
}

/// The environment of `pid` as root reads it, one entry each; empty once it is gone.
fn environ_of(pid: i32) -> Vec<String> {
    let bytes = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    bytes.split(|b| *b == 0).map(|entry| String::from_utf8_lossy(entry).into_owned()).collect()
}
