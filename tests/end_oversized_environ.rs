//! A process can point its environment at any memory it maps (prctl PR_SET_MM_MAP), far
//! past the 6 MiB that exec allows. Such an environment is searched for the tag piece by
//! piece (so a session process cannot hide its tag behind megabytes), and one too large to
//! search is taken as the session's rather than spared as "unreadable".
mod common;
use common::*;
use nix::sys::signal::Signal;
use std::process::Child;

/// `big-environ MIB FIRST`: an environment of MIB MiB whose first entry is FIRST, then
/// padding; ignores TERM and waits.
const BIG_ENVIRON: &str = r#"
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
    char *env = mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (env == MAP_FAILED) return 1;
    memset(env, 'x', size);
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

fn start(user: &TestUser, program: &std::path::Path, mib: &str, first: &str) -> Child {
    let child = user.command(program.to_str().unwrap(), &[]).args([mib, first]).spawn().unwrap();
    assert!(wait_ignoring(child.id() as i32, Signal::SIGTERM), "big-environ never got ready");
    let size = std::fs::read(format!("/proc/{}/environ", child.id())).map(|e| e.len()).unwrap_or(0);
    assert!(size > 8 << 20, "the environment was not rewritten: {size} bytes");
    child
}

#[test]
fn a_tag_behind_megabytes_is_found_and_a_huge_environment_is_not_spared() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxbigenv");
    let (_dir, program) = compile_c("big-environ", BIG_ENVIRON);
    // Another session of the user, visible: an unreadable process would be spared for it.
    let mut other = tagged_sleeper(&user, "other");
    let mut tagged = start(&user, &program, "12", "XEXIT_TEST_TAG=big1");
    let mut other_tag = start(&user, &program, "12", "XEXIT_TEST_TAG=other");
    let mut huge = start(&user, &program, "72", "UNRELATED=1");
    let output = end_tagged(&user, "big1", &["--no-hooks"]);
    let log = stderr_of(&output);
    // `finish` says whether it was still alive, then ends it.
    let (tagged_left, huge_left) = (finish(&mut tagged), finish(&mut huge));
    let (other_left, other_tag_left) = (finish(&mut other), finish(&mut other_tag));
    assert!(!tagged_left, "the tagged process with a 12 MiB environment survived\n{log}");
    assert!(!huge_left, "the process with a 72 MiB environment was spared\n{log}");
    assert!(other_left && other_tag_left, "another session's process was ended\n{log}");
    assert_eq!(output.status.code(), Some(0), "{log}");
}
