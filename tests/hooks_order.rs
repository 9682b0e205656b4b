//! Hooks run in byte order of their names, run-parts' names only, executable ones executed
//! and the others with /bin/sh, with the XEXIT_* environment, before the reap.
mod common;
use common::*;

#[test]
fn hooks_run_in_byte_order_with_the_session_environment_before_the_reap() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhook1");
    let hooks = HookDir::new("hookorder");
    let record = |name: &str| format!("#!/bin/sh\necho {name} >> OUT/order\n");
    for name in ["10first", "10a", "10B", "05x"] {
        hooks.add(name, 0o755, &record(name));
    }
    // No shebang and not executable: a classic Xexit.d fragment, run with /bin/sh.
    hooks.add("20fragment.sh", 0o644, "echo 20fragment.sh >> OUT/order\n");
    hooks.add(
        "30env",
        0o755,
        "#!/bin/sh\nenv > OUT/env\nfor pid in $XEXIT_PIDS; do kill -0 $pid && echo alive $pid >> OUT/alive; done\nexit 0\n",
    );
    for skipped in [
        ".hidden",
        "40editor~",
        "41old.dpkg-old",
        "42new.dpkg-dist",
        "43x.bak",
        "44x.ucf-dist",
        "45x.rpmsave",
        "46has.dot",
        "47x.swp",
    ] {
        hooks.add(skipped, 0o755, &record(skipped));
    }
    std::fs::create_dir(hooks.dir.join("50directory")).unwrap();

    let mut sleeper = user.command("sleep", &[("XEXIT_TEST_TAG", "ws01")]).arg("1000").spawn().unwrap();
    let output = run(xexit(&["end", "--user", &user.name, "--session", "env:XEXIT_TEST_TAG=ws01", "--grace", "1"])
        .arg(hooks.arg())
        .env_remove("DISPLAY"));
    let sleeper_alive = finish(&mut sleeper);
    let log = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{log}");

    let order = std::fs::read_to_string(hooks.out("order")).unwrap_or_default();
    assert_eq!(order.lines().collect::<Vec<_>>(), ["05x", "10B", "10a", "10first", "20fragment.sh"], "{log}");
    let env = hooks.out("env");
    assert_eq!(env_in(&env, "XEXIT_REASON").as_deref(), Some("manual"));
    assert_eq!(env_in(&env, "XEXIT_SESSION").as_deref(), Some("env:XEXIT_TEST_TAG=ws01"));
    assert_eq!(env_in(&env, "XEXIT_USER").as_deref(), Some(user.name.as_str()));
    assert_eq!(env_in(&env, "XEXIT_DISPLAY").as_deref(), Some(""));
    assert_eq!(env_in(&env, "XEXIT_PIDS"), Some(sleeper.id().to_string()));
    // The hooks ran while the session was still there; the reap came after them.
    assert_eq!(std::fs::read_to_string(hooks.out("alive")).unwrap(), format!("alive {}\n", sleeper.id()));
    assert!(!sleeper_alive, "the reap did not follow the hooks");
}
