//! A cgroup that still holds a process xexit cannot see (here: one outside the PID
//! namespace xexit runs in, which cgroup.procs lists as 0) is never reported empty, and
//! that process is not ended on a guess, by cgroup.kill or otherwise: xexit exits 1 and
//! says what it could not see.
mod common;
use common::*;

#[test]
fn a_cgroup_with_a_process_out_of_sight_is_not_reported_empty() {
    if !need_root() || !need_program("unshare") {
        return;
    }
    let Some(session) = TestCgroup::create("unseen") else { return };
    let user = TestUser::get("xxunseen");
    let mut sleeper = user.command_in(&session, "sleep", &[]).arg("1000").spawn().unwrap();
    assert!(session.wait_started(1), "the sleeper never started");
    let mut command = clean_command("unshare");
    command.args(["--pid", "--fork", "--mount-proc", XEXIT, "end", "--no-hooks", "--schedule", "TERM/0.5/KILL/0.5"]);
    let output = run(command.arg("--session").arg(format!("cgroup:{}", session.path)));
    let log = stderr_of(&output);
    let alive_after = alive(sleeper.id() as i32);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(log.contains("survived:") && log.contains("PID namespace"), "{log}");
    assert!(alive_after, "a process xexit could not see was ended\n{log}");
}
