//! Hostile programs for the tests, in C (built with `compile_c`): each does what a user
//! process can do to escape or fool xexit.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

use super::TestUser;

/// As root: a child subreaper that starts PROGRAM [ARG]... as the user (`UID GID TAG
/// PROGRAM [ARG]...`) with only XEXIT_TEST_TAG=TAG in its environment, and reaps whatever is
/// left to it: a hopper's processes live on under it, not under PID 1.
pub const SUBREAPER: &str = "import ctypes, os, signal, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)
if os.fork() == 0:
    os.setgroups([])
    os.setgid(int(sys.argv[2]))
    os.setuid(int(sys.argv[1]))
    os.execve(sys.argv[4], sys.argv[4:], {'XEXIT_TEST_TAG': sys.argv[3]})
while True:
    try:
        os.wait()
    except ChildProcessError:
        signal.pause()
";

/// What root's end of a session with a PID hopper in it may say: exit 0 only with the
/// hopper gone, exit 1 only naming what survived. 0 or 1 as it exited; `what` names the run.
pub fn hopper_end_outcome(status: Option<i32>, hopper_alive: bool, what: &str, log: &str) -> usize {
    match status {
        Some(0) => {
            assert!(!hopper_alive, "{what}: exit 0 while the chain runs\n{log}");
            0
        }
        Some(1) => {
            assert!(log.contains("survived:"), "{what}: exit 1 naming nothing\n{log}");
            1
        }
        code => panic!("{what}: exit {code:?}\n{log}"),
    }
}

/// Forks its successor and exits, with no pause: each PID lives about a millisecond.
pub const FORK_HOPPER: &str = r#"
#include <signal.h>
#include <unistd.h>
int main(void) {
    signal(SIGTERM, SIG_IGN);
    for (;;) {
        pid_t child = fork();
        if (child > 0) _exit(0);
        if (child < 0) usleep(1000);
    }
}
"#;

/// Moves itself between two sub-cgroups (their cgroup.procs files, argv[1] and argv[2]) in a
/// loop, so that a walk that reads one and then the other can miss it.
pub const CGROUP_HOPPER: &str = r#"
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
int main(int argc, char **argv) {
    signal(SIGTERM, SIG_IGN);
    if (argc < 3) return 2;
    int a = open(argv[1], O_WRONLY), b = open(argv[2], O_WRONLY);
    if (a < 0 || b < 0) return 1;
    for (;;) { write(a, "0", 1); write(b, "0", 1); }
}
"#;

/// Ignores TERM, starts a thread that waits forever, and ends its main thread.
pub const MAIN_THREAD_EXITS: &str = r#"
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
static void *wait_forever(void *arg) { for (;;) pause(); return arg; }
int main(void) {
    pthread_t thread;
    signal(SIGTERM, SIG_IGN);
    pthread_create(&thread, 0, wait_forever, 0);
    pthread_exit(0);
}
"#;

/// `big-environ MIB FIRST [untouched]`: an environment of MIB MiB whose first entry is
/// FIRST, then padding (untouched: NULs in memory never written); ignores TERM and waits.
pub const BIG_ENVIRON: &str = r#"
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <linux/prctl.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    size_t size = (size_t)atol(argv[1]) << 20;
    char *env = mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (env == MAP_FAILED) return 1;
    /* "untouched": the padding is left as zero pages that cost no memory. */
    if (argc < 4) memset(env, 'x', size);
    size_t first = strlen(argv[2]);
    memcpy(env, argv[2], first + 1);
    memcpy(env + first + 1, "PAD=", 4);
    env[size - 1] = 0;
    /* The other fields of the map as the kernel has them (/proc/self/stat). */
    char stat[4096];
    FILE *file = fopen("/proc/self/stat", "r");
    if (!file || !fgets(stat, sizeof stat, file)) return 1;
    fclose(file);
    unsigned long field[64] = {0};
    int index = 3;
    for (char *word = strtok(strrchr(stat, ')') + 2, " "); word && index < 60; word = strtok(0, " "))
        field[index++] = strtoul(word, 0, 10);
    struct prctl_mm_map map = {0};
    map.start_code = field[26]; map.end_code = field[27]; map.start_stack = field[28];
    map.start_data = field[45]; map.end_data = field[46]; map.start_brk = field[47];
    map.brk = (unsigned long)sbrk(0); map.arg_start = field[48]; map.arg_end = field[49];
    map.env_start = (unsigned long)env; map.env_end = (unsigned long)env + size; map.exe_fd = -1;
    if (prctl(PR_SET_MM, PR_SET_MM_MAP, &map, sizeof map, 0)) { perror("prctl"); return 1; }
    signal(SIGTERM, SIG_IGN);
    for (;;) pause();
}
"#;

/// Names itself with backspaces, a right-to-left override, a C1 CSI and DEL (prctl
/// PR_SET_NAME), empties its command line, ignores TERM and waits.
pub const CONTROL_NAME: &str = r#"
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
int main(int argc, char **argv) {
    char *end = argv[argc - 1] + strlen(argv[argc - 1]);
    prctl(PR_SET_NAME, "\x08\x08\x08\xe2\x80\xae" "toor\xc2\x9b" "2J\x7f");
    memset(argv[0], 0, end - argv[0]);
    signal(SIGTERM, SIG_IGN);
    for (;;) pause();
}
"#;

/// `env-herd N`: forks N-1 copies of itself, which share its environment (copy-on-write: no
/// memory to speak of, however large); says "ready" once all run, then waits. All die of
/// TERM; the children are reaped as they die.
pub const ENV_HERD: &str = r#"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    signal(SIGCHLD, SIG_IGN);
    for (int i = 1; i < atoi(argv[1]); i++) {
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 1; }
        if (pid == 0) for (;;) pause();
    }
    printf("ready\n");
    fflush(stdout);
    for (;;) pause();
}
"#;

/// What pads an env-herd's environment: 48 variables of 125 KiB (one variable may have at
/// most 128 KiB, MAX_ARG_STRLEN), 6,000 KiB in all, before the tag (A00..) or after it
/// (ZZ00..), since std hands a cleared environment over sorted. Exec takes that much under a
/// stack limit of 24 MiB or more (see `raise_stack_limit`).
#[derive(Clone, Copy, Debug)]
pub enum Padding {
    None,
    After,
    Before,
}

/// Lets what this process starts exec with an environment of up to 6 MiB (a quarter of the
/// stack limit, at most 6 MiB): the stack limit is raised to 64 MiB where it is lower.
pub fn raise_stack_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Stack);
    let wanted = limit.maximum.map_or(64 << 20, |maximum| maximum.min(64 << 20));
    setrlimit(Resource::Stack, Rlimit { current: Some(wanted), maximum: limit.maximum }).unwrap();
}

/// Starts `env-herd` (`program`) of `count` processes of `user`, XEXIT_TEST_TAG=`tag`, padded
/// so; returns once all run. Its parent is the Child.
pub fn env_herd(user: &TestUser, program: &Path, count: usize, tag: &str, padding: Padding) -> Child {
    let value = "x".repeat(125 << 10);
    let mut command = user.command(program.to_str().unwrap(), &[("XEXIT_TEST_TAG", tag)]);
    for n in 0..48 {
        match padding {
            Padding::None => None,
            Padding::After => Some(command.env(format!("ZZ{n:02}"), &value)),
            Padding::Before => Some(command.env(format!("A{n:02}"), &value)),
        };
    }
    let mut child = command.arg(count.to_string()).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "the herd never got ready (an environment too large for exec?)");
    child
}

/// The CPU time (user and system) of `who`, in ms: this thread, or the children reaped.
pub fn cpu_ms(who: nix::sys::resource::UsageWho) -> f64 {
    let usage = nix::sys::resource::getrusage(who).unwrap();
    let ms = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1000.0 + t.tv_usec() as f64 / 1000.0;
    ms(usage.user_time()) + ms(usage.system_time())
}

/// The CPU time this thread takes to read the environment of each of `pids` once, in ms.
pub fn read_environ_once_ms(pids: &[i32]) -> f64 {
    let before = cpu_ms(nix::sys::resource::UsageWho::RUSAGE_THREAD);
    let mut buffer = vec![0; 64 << 10];
    for pid in pids {
        let mut file = std::fs::File::open(format!("/proc/{pid}/environ")).unwrap();
        while std::io::Read::read(&mut file, &mut buffer).unwrap() > 0 {}
    }
    cpu_ms(nix::sys::resource::UsageWho::RUSAGE_THREAD) - before
}
