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

#[test]
fn a_cgroup_with_a_rootless_containers_process_is_not_reported_empty() {
    if !need_root() || !need_program("unshare") {
        return;
    }
    let Some(session) = TestCgroup::create("subuid") else { return };
    let user = TestUser::get("xxsubuid1");
    // A uid of the user's /etc/subuid range, as a rootless container's processes have: here
    // another test user's, named in a private /etc/subuid.
    let contained = TestUser::get("xxsubuid2");
    let bystander = TestUser::get("xxsubuid3");
    let dir = TempDir::new("subuid");
    std::fs::write(dir.path("subuid"), format!("{}:{}:1\n", user.name, contained.uid)).unwrap();
    let mut own = user.command_in(&session, "sleep", &[]).arg("1000").spawn().unwrap();
    let mut container = contained.command_in(&session, "sleep", &[]).arg("1000").spawn().unwrap();
    let mut other = bystander.command_in(&session, "sleep", &[]).arg("1000").spawn().unwrap();
    assert!(session.wait_started(3), "the sleepers never started");
    let output = {
        let mut command = clean_command("unshare");
        command.args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount --bind \"$0\" /etc/subuid && exec \"$@\"",
        ]);
        command.arg(dir.path("subuid")).args([XEXIT, "end", "--no-hooks", "--user", &user.name]);
        command.args(["--schedule", "TERM/0.5/KILL/0.5", "--session"]).arg(format!("cgroup:{}", session.path));
        run(command)
    };
    let log = stderr_of(&output);
    let (own_left, container_left, other_left) = (finish(&mut own), finish(&mut container), finish(&mut other));
    assert!(!own_left, "the user's process survived\n{log}");
    assert!(container_left && other_left, "a process of another uid was ended\n{log}");
    assert_eq!(output.status.code(), Some(1), "{log}");
    let named = format!("{} (uid {})", container.id(), contained.uid);
    assert!(log.contains("survived:") && log.contains("subordinate uids") && log.contains(&named), "{log}");
    assert!(
        !log.contains(&format!("{} (uid {})", other.id(), bystander.uid)),
        "another user's process is no survivor\n{log}"
    );
}
