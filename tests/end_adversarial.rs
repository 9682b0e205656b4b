//! An adversarial session (TERM ignored, stopped, double-forked setsid daemon, fork loop, a
//! program saving its state on TERM, ssh-agent, a tmux server) ends whole within grace + 1 s.
mod common;
use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

#[test]
fn every_process_of_an_adversarial_session_ends() {
    if !need_root() || !need_program("ssh-agent") || !need_program("tmux") {
        return;
    }
    let user = TestUser::get("xxadv");
    user.cleanup();
    let dir = TempDir::new("adversarial");
    let tag = [("XEXIT_TEST_TAG", "ws01")];
    let file = |name: &str| dir.path(name).display().to_string();

    let mut shells = Vec::new();
    shells.push(
        user.spawn_shell(&format!("trap '' TERM; echo $$ > {}; while :; do sleep 0.2; done", file("ignorer")), &tag),
    );
    let stopped = user.command("sleep", &tag).arg("1000").spawn().unwrap();
    kill(Pid::from_raw(stopped.id() as i32), Signal::SIGSTOP).unwrap();
    shells.push(
        user.spawn_shell(&format!("(setsid sh -c 'echo $$ > {}; exec sleep 1000' &); exit 0", file("daemon")), &tag),
    );
    shells.push(
        user.spawn_shell(&format!("echo $$ > {}; while :; do sleep 30 & sleep 0.05; done", file("forker")), &tag),
    );
    shells.push(user.spawn_shell(
        &format!(
            "trap 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; echo saved > {}; exit 0' TERM; \
             echo $$ > {}; while :; do sleep 0.1; done",
            file("saved"),
            file("saver")
        ),
        &tag,
    ));
    let agent_pid = user.start_ssh_agent(&tag);
    let socket = file("tmux.sock");
    let tmux = run(user.command("tmux", &tag).args(["-S", &socket, "new-session", "-d", "sleep 1000"]));
    assert!(tmux.status.success(), "tmux: {}", stderr_of(&tmux));
    let tmux_pid: i32 = stdout_of(&run(user.command("tmux", &tag).args(["-S", &socket, "display", "-p", "#{pid}"])))
        .trim()
        .parse()
        .unwrap();

    let named = [
        read_pid(&dir.path("ignorer")),
        stopped.id() as i32,
        read_pid(&dir.path("daemon")),
        read_pid(&dir.path("forker")),
        read_pid(&dir.path("saver")),
        agent_pid,
        tmux_pid,
    ];
    assert!(named.iter().all(|pid| alive(*pid)));
    // Children come and go (the forker's, the loops' sleeps, tmux's pane): wait for them.
    let children = wait_for(Duration::from_secs(5), || user.processes().len() >= named.len() + 3);
    assert!(children, "too few processes: {:?}", user.processes());

    let grace = Duration::from_secs(2);
    let started = Instant::now();
    let output =
        run(user.command(XEXIT, &tag).args(["end", "--session", "env:XEXIT_TEST_TAG", "--no-hooks", "--grace", "2s"]));
    let elapsed = started.elapsed();
    let survivors = user.processes();
    user.cleanup();
    for mut child in shells.into_iter().chain([stopped]) {
        let _ = child.wait();
    }

    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(survivors.is_empty(), "survivors: {survivors:?}\n{}", stderr_of(&output));
    for pid in named {
        assert!(!alive(pid), "{pid} survived");
    }
    assert!(elapsed <= grace + Duration::from_secs(1), "took {elapsed:?}");
    assert_eq!(std::fs::read_to_string(dir.path("saved")).unwrap(), "saved\n", "the saver was cut short");
    let log = stderr_of(&output);
    assert!(log.contains("round TERM+CONT:"), "{log}");
    assert!(log.contains("round KILL:"), "{log}");
}
