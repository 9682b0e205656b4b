//! The shipped Xexit.d: each hook is silent and harmless where its program is absent or the
//! user is not the session's, and 20gpg-agent stops the session's agent and no other.
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
    assert!(hook_files().len() >= 2);
    // A PATH with id and cat, and without pactl and GnuPG.
    let bin = TempDir::new("shipped-bin");
    for tool in ["id", "cat"] {
        std::os::unix::fs::symlink(format!("/usr/bin/{tool}"), bin.path(tool)).unwrap();
    }
    // XEXIT_PIDS names a process of the test's own, so nothing else could be hit.
    let mut decoy = user.command("sleep", &[]).arg("1000").spawn().unwrap();
    let decoy_pid = decoy.id().to_string();
    let mut failures = Vec::new();
    for hook in hook_files() {
        let path = bin.0.to_str().unwrap();
        let env = [("PATH", path), ("XEXIT_USER", user.name.as_str()), ("XEXIT_PIDS", decoy_pid.as_str())];
        let output = run(user.command(hook.to_str().unwrap(), &env));
        if output.status.code() != Some(0) || !output.stdout.is_empty() || !output.stderr.is_empty() {
            failures.push(format!("{}: {:?} {}", hook.display(), output.status.code(), stderr_of(&output)));
        }
    }
    let decoy_alive = finish(&mut decoy);
    assert!(failures.is_empty(), "{failures:?}");
    assert!(decoy_alive, "a hook signalled a process of the session");
}

#[test]
fn the_gpg_agent_hook_stops_only_the_sessions_own_agent() {
    if !need_root() || !need_program("gpg-connect-agent") || !need_program("gpgconf") {
        return;
    }
    let user = TestUser::get("xxship2");
    let gnupg = user.home.join(".gnupg");
    let gnupg_text = gnupg.to_str().unwrap();
    assert!(run(user.command("mkdir", &[]).args(["-m", "700", gnupg_text])).status.success());
    let launch = run(user.command("gpgconf", &[]).args(["--launch", "gpg-agent"]));
    assert!(launch.status.success(), "{}", stderr_of(&launch));
    let info = run(user.command("gpg-connect-agent", &[]).args(["getinfo pid", "/bye"]));
    let agent: i32 = stdout_of(&info)
        .lines()
        .find_map(|l| l.strip_prefix("D ")?.parse().ok())
        .unwrap_or_else(|| panic!("no agent PID in {:?}", stdout_of(&info)));
    let hook = format!("{HOOKS}/20gpg-agent");
    let user_name = user.name.as_str();

    // Run as root for another user: not its business.
    let output =
        run(std::process::Command::new(&hook).env("XEXIT_USER", user_name).env("XEXIT_PIDS", agent.to_string()));
    assert_eq!(output.status.code(), Some(0));
    assert!(alive(agent), "the hook acted although it is not the session's user");

    // The agent is not one of the session's processes: another login's, left alone.
    let output = run(user.command(&hook, &[("XEXIT_USER", user_name), ("XEXIT_PIDS", "1 2 3")]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(alive(agent), "the hook stopped an agent that is not the session's");

    let pids = format!("5 {agent} 7");
    let output = run(user.command(&hook, &[("XEXIT_USER", user_name), ("XEXIT_PIDS", pids.as_str())]));
    let stopped = wait_for(std::time::Duration::from_secs(5), || !alive(agent));
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(stopped, "gpg-agent {agent} still runs");
}
