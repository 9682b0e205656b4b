//! The shipped Xexit.d: each hook is silent and harmless where its program is absent or the
//! user is not the session's, and 30ssh-agent really stops the session's agent.
mod common;
use common::*;

const HOOKS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/Xexit.d");

fn hook_files() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(HOOKS).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    files
}

#[test]
fn every_shipped_hook_is_silent_and_harmless_without_its_program() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxship1");
    assert!(hook_files().len() >= 3);
    // A PATH with id and cat, and without pactl, gpgconf and ssh-agent.
    let bin = TempDir::new("shipped-bin");
    for tool in ["id", "cat"] {
        std::os::unix::fs::symlink(format!("/usr/bin/{tool}"), bin.path(tool)).unwrap();
    }
    // SSH_AGENT_PID names a process of the test's own, so nothing else could be hit.
    let mut decoy = user.command("sleep", &[]).arg("1000").spawn().unwrap();
    let decoy_pid = decoy.id().to_string();
    let mut failures = Vec::new();
    for hook in hook_files() {
        let path = bin.0.to_str().unwrap();
        let env = [("PATH", path), ("XEXIT_USER", user.name.as_str()), ("SSH_AGENT_PID", decoy_pid.as_str())];
        let output = run(user.command(hook.to_str().unwrap(), &env));
        if output.status.code() != Some(0) || !output.stdout.is_empty() || !output.stderr.is_empty() {
            failures.push(format!("{}: {:?} {}", hook.display(), output.status.code(), stderr_of(&output)));
        }
    }
    let decoy_alive = finish(&mut decoy);
    assert!(failures.is_empty(), "{failures:?}");
    assert!(decoy_alive, "a hook signalled a process that is not an ssh-agent");
}

#[test]
fn the_ssh_agent_hook_stops_the_sessions_agent_and_only_as_its_user() {
    if !need_root() || !need_program("ssh-agent") {
        return;
    }
    let user = TestUser::get("xxship2");
    let pid = user.start_ssh_agent(&[]);
    let hook = format!("{HOOKS}/30ssh-agent");
    let pid_text = pid.to_string();

    // Run as root for another user: not its business.
    let output = run(std::process::Command::new(&hook).env("XEXIT_USER", &user.name).env("SSH_AGENT_PID", &pid_text));
    assert_eq!(output.status.code(), Some(0));
    assert!(alive(pid), "the hook acted although it is not the session's user");

    let mut decoy = user.command("sleep", &[]).arg("1000").spawn().unwrap();
    let decoy_pid = decoy.id().to_string();
    let env = [("XEXIT_USER", user.name.as_str()), ("SSH_AGENT_PID", decoy_pid.as_str())];
    let output = run(user.command(&hook, &env));
    assert_eq!(output.status.code(), Some(0));
    let decoy_alive = finish(&mut decoy);
    assert!(decoy_alive, "the hook stopped a process that is not an ssh-agent");

    let output = run(user.command(&hook, &[("XEXIT_USER", user.name.as_str()), ("SSH_AGENT_PID", pid_text.as_str())]));
    let stopped = wait_for(std::time::Duration::from_secs(3), || !alive(pid));
    user.cleanup();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(stopped, "ssh-agent {pid} still runs");
}
