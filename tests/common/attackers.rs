//! Hostile programs for the tests, in C (built with `compile_c`): each does what a user
//! process can do to escape or fool xexit.

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
