//! A process of the session inside exec when a look reads it: between the old image's
//! release and the new one's tables, /proc/PID/environ reads empty, so a look sees no tag.
//! That must not settle it as another's (see `find::instances`): a later look reads it again,
//! finds the tag, and the end exits 0 with every one of them gone. Processes that exec
//! themselves over and over for two seconds, then wait, tagged; ended as root one second in.
mod common;
use common::*;
use std::time::{Duration, SystemTime};

/// Execs itself until the deadline (argv[1], seconds since the epoch), then waits.
const REEXEC: &str = r#"
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc > 1 && time(NULL) < atol(argv[1])) execv("/proc/self/exe", argv);
    for (;;) pause();
}
"#;

const ROUNDS: usize = 6;
const PROCESSES: usize = 8;

#[test]
fn a_process_inside_exec_at_the_first_look_is_still_ended() {
    if !need_root() {
        return;
    }
    let Some(cgroup) = TestCgroup::create("exec-during-look") else { return };
    let user = TestUser::get("xxexeclook");
    let (_dir, reexec) = compile_c("reexec", REEXEC);
    for round in 0..ROUNDS {
        let tag = format!("execlook{round}");
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        let deadline = (now + 2).to_string();
        let mut children = Vec::new();
        for _ in 0..PROCESSES {
            let mut command = user.command_in(&cgroup, reexec.to_str().unwrap(), &[("XEXIT_TEST_TAG", &tag)]);
            children.push(command.arg(&deadline).spawn().unwrap());
        }
        std::thread::sleep(Duration::from_secs(1));
        let output = end_tagged(&user, &tag, &["--no-hooks", "--schedule", "TERM/0.5/KILL/1"]);
        let log = stderr_of(&output);
        let emptied = wait_for(Duration::from_secs(3), || cgroup.pids().is_empty());
        let left = cgroup.pids();
        std::fs::write(cgroup.dir.join("cgroup.kill"), "1").unwrap();
        for child in &mut children {
            let _ = child.wait();
        }
        assert_eq!(output.status.code(), Some(0), "round {round}: left {left:?}\n{log}");
        assert!(emptied, "round {round}: left {left:?}\n{log}");
    }
    user.cleanup();
}
