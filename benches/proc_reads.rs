//! What each /proc read costs the kernel, per process: the floor of a lookup (environ) against
//! what `xexit list` must learn of each process (whose it is by real and effective uid, its
//! command line). `cargo bench --bench proc_reads -- [--processes N]`: a C program built at
//! bench time forks N sleeping children of its own (10,000 by default), times each kind of
//! read over all of them (the best of three passes, one thread), and kills them.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{compile_c, run, stdout_of};

const READS: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/types.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
/* linux/pidfd.h of Linux 6.13, which Debian 12's headers predate. */
struct pidfd_info { __u64 mask, cgroupid; __u32 pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid, spare; };
#define PIDFD_GET_INFO _IOWR(0xFF, 11, struct pidfd_info)
static char buf[1 << 16];
static int proc;
static void file(pid_t pid, const char *name) {
    char path[64];
    snprintf(path, sizeof path, "%d/%s", pid, name);
    int fd = openat(proc, path, O_RDONLY);
    if (fd < 0) return;
    while (read(fd, buf, sizeof buf) > 0) {}
    close(fd);
}
static void environ_(pid_t pid) { file(pid, "environ"); }
static void cmdline(pid_t pid) { file(pid, "cmdline"); }
static void status(pid_t pid) { file(pid, "status"); }
static void stat_(pid_t pid) { file(pid, "stat"); }
static void owner(pid_t pid) {
    char path[32];
    struct stat st;
    snprintf(path, sizeof path, "%d", pid);
    fstatat(proc, path, &st, 0);
}
static void pidfd_uids(pid_t pid) {
    int fd = syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) return;
    struct pidfd_info info = {.mask = 2};
    ioctl(fd, PIDFD_GET_INFO, &info);
    close(fd);
}
static void list_now(pid_t pid) { status(pid), environ_(pid), cmdline(pid); }
static void list_least(pid_t pid) { pidfd_uids(pid), environ_(pid), cmdline(pid); }
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}
int main(int argc, char **argv) {
    int count = atoi(argv[1]);
    pid_t *pids = calloc(count, sizeof *pids);
    proc = open("/proc", O_RDONLY | O_DIRECTORY);
    for (int i = 0; i < count; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            pause();
            _exit(0);
        }
    }
    usleep(300000);
    struct { const char *name; void (*read)(pid_t); } reads[] = {
        {"environ (the floor)", environ_}, {"cmdline", cmdline}, {"status", status}, {"stat", stat_},
        {"stat of /proc/PID (effective uid)", owner}, {"pidfd_open + PIDFD_GET_INFO + close (uids)", pidfd_uids},
        {"status + environ + cmdline (list now)", list_now}, {"pidfd uids + environ + cmdline (the least)", list_least},
    };
    for (unsigned r = 0; r < sizeof reads / sizeof *reads; r++) {
        double best = 1e18;
        for (int pass = 0; pass < 3; pass++) {
            double start = now();
            for (int i = 0; i < count; i++) reads[r].read(pids[i]);
            double took = (now() - start) / count;
            best = took < best ? took : best;
        }
        printf("%s: %.2f us per process\n", reads[r].name, best);
    }
    for (int i = 0; i < count; i++) kill(pids[i], SIGKILL);
    while (wait(0) > 0) {}
    return 0;
}
"#;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let processes: usize =
        args.iter().position(|a| a == "--processes").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(10_000);
    let (_dir, program) = compile_c("proc-reads", READS);
    let output = run(std::process::Command::new(&program).arg(processes.to_string()));
    assert!(output.status.success(), "the reads program failed");
    print!("{}", stdout_of(&output));
}
