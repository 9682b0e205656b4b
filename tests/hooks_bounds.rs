//! Hooks are bounded: a hanging one is cut off (TERM, then KILL), a failing one is logged,
//! what one leaves running is ended with the session, and the reap happens regardless; the
//! exit status (1) says that hooks failed.
mod common;
use common::*;
use std::time::{Duration, Instant};

#[test]
fn hanging_failing_and_background_hooks_do_not_stop_the_reap() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhook4");
    let hooks = HookDir::new("hookbounds");
    // Ignores TERM, so only the KILL one second later ends it.
    hooks.add("10hang", 0o755, "#!/bin/sh\ntrap '' TERM\necho hanging\nwhile :; do sleep 0.1; done\n");
    hooks.add("20fail", 0o755, "#!/bin/sh\necho about to fail >&2\nexit 3\n");
    // Runs as root here, so only its process group ties the child to the hook.
    hooks.add("30background", 0o755, "#!/bin/sh\nsleep 1000 >/dev/null 2>&1 &\necho $! > OUT/bg\n");
    hooks.add("40after", 0o755, "#!/bin/sh\ntouch OUT/after\n");

    let mut sleeper = user.command("sleep", &[("XEXIT_TEST_TAG", "ws01")]).arg("1000").spawn().unwrap();
    let started = Instant::now();
    let output = run(xexit(&["end", "--user", &user.name, "--session", "env:XEXIT_TEST_TAG=ws01"])
        .args(["--hook-timeout", "1s", "--grace", "1"])
        .arg(hooks.arg()));
    let elapsed = started.elapsed();
    eprintln!("the end took {elapsed:?}");
    let sleeper_alive = finish(&mut sleeper);
    let background = read_pid(&hooks.out("bg"));
    let background_alive = alive(background);
    if background_alive {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(background), nix::sys::signal::Signal::SIGKILL);
    }
    let log = stderr_of(&output);

    // The session was ended, but hooks failed (one hung, one exited 3): exit status 1.
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(log.contains("hook 10hang: hanging"), "{log}");
    assert!(log.contains("hook 10hang still running after 1s (--hook-timeout): TERM to its process group"), "{log}");
    assert!(log.contains("hook 10hang: KILL to its process group"), "{log}");
    assert!(log.contains("hook 20fail: about to fail"), "{log}");
    assert!(log.contains("hook 20fail failed (exit status: 3)"), "{log}");
    assert!(hooks.out("after").exists(), "the hooks after the hanging one did not run");
    assert!(!background_alive, "the hook's background child outlived the session\n{log}");
    assert!(!sleeper_alive, "the reap did not happen");
    // 1 s hook timeout, 1 s to KILL, the rest quick (about 3 s here); far below the hang's
    // forever, with room for a loaded CI machine (5 s was once exceeded by 36 ms).
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}
