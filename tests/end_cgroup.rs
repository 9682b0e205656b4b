//! cgroup selectors on a cgroup v2 hierarchy the test makes: descendants included, siblings
//! untouched, xexit itself spared, cgroup.kill for the final KILL when root is outside.
mod common;
use common::*;
use nix::sys::signal::Signal;

fn spawn_in(cgroup: &TestCgroup, user: &TestUser, script: &str) -> std::process::Child {
    user.command_in(cgroup, "/bin/sh", &[]).args(["-c", script]).spawn().unwrap()
}

#[test]
fn cgroup_path_ends_the_cgroup_and_its_descendants_only() {
    if !need_root() {
        return;
    }
    let Some(session) = TestCgroup::create("session") else { return };
    let Some(sibling) = TestCgroup::create("sibling") else { return };
    let nested = session.child("app");
    let user = TestUser::get("xxcg1");
    let members = [
        spawn_in(&session, &user, "exec sleep 1000"),
        spawn_in(&session, &user, "trap '' TERM; while :; do sleep 0.1; done"),
        spawn_in(&nested, &user, "sleep 1000 & exec sleep 1000"),
    ];
    let bystander = spawn_in(&sibling, &user, "exec sleep 1000");
    assert!(session.wait_started(4));
    // The nested shell forks its background sleep before it execs its own.
    for member in [&members[0], &members[2]] {
        assert!(wait_exec(member.id() as i32, "sleep"), "{} never ran sleep", member.id());
    }
    // The TERM-ignorer is what needs the final KILL: it must have run its trap by now.
    assert!(wait_ignoring(members[1].id() as i32, Signal::SIGTERM), "the shell never ignored TERM");

    let output =
        run(xexit(&["end", "-v", "--no-hooks", "--grace", "1", "--session"]).arg(format!("cgroup:{}", session.path)));
    let log = stderr_of(&output);
    let left = session.pids();
    let bystander_alive = alive(bystander.id() as i32);
    for mut child in members.into_iter().chain([bystander]) {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(left.is_empty(), "left in the cgroup: {left:?}\n{log}");
    assert!(bystander_alive, "the sibling cgroup was hit");
    // Root outside the cgroup, nothing but the session in it: the last KILL uses cgroup.kill.
    assert!(log.contains("cgroup.kill"), "{log}");
}

#[test]
fn own_cgroup_ends_everything_in_it_but_xexit() {
    if !need_root() {
        return;
    }
    let Some(session) = TestCgroup::create("own") else { return };
    let Some(sibling) = TestCgroup::create("ownsibling") else { return };
    let user = TestUser::get("xxcg2");
    let mut members = [
        spawn_in(&session, &user, "exec sleep 1000"),
        spawn_in(&session, &user, "(setsid sleep 1000 &); exec sleep 1000"),
    ];
    let mut bystander = spawn_in(&sibling, &user, "exec sleep 1000");
    assert!(session.wait_started(3));

    let output =
        run(user.command_in(&session, XEXIT, &[]).args(["end", "--session", "cgroup", "--no-hooks", "--grace", "1"]));
    let left = session.pids();
    let bystander_alive = alive(bystander.id() as i32);
    for child in members.iter_mut().chain([&mut bystander]) {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(output.status.code(), Some(0), "xexit did not come through: {}", stderr_of(&output));
    assert!(left.is_empty(), "left: {left:?}\n{}", stderr_of(&output));
    assert!(bystander_alive);
}

#[test]
fn as_root_with_user_other_users_in_the_cgroup_are_untouched() {
    if !need_root() {
        return;
    }
    let Some(session) = TestCgroup::create("mixed") else { return };
    let (user, other) = (TestUser::get("xxcg3"), TestUser::get("xxcg4"));
    let mut target = spawn_in(&session, &user, "exec sleep 1000");
    let mut foreign = spawn_in(&session, &other, "exec sleep 1000");
    assert!(session.wait_started(2));
    let output = run(xexit(&["end", "-v", "--no-hooks", "--schedule", "KILL/2", "--user", &user.name, "--session"])
        .arg(format!("cgroup:{}", session.path)));
    let (target_alive, foreign_alive) = (alive(target.id() as i32), alive(foreign.id() as i32));
    for child in [&mut target, &mut foreign] {
        let _ = child.kill();
        let _ = child.wait();
    }
    let log = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(!target_alive, "{log}");
    assert!(foreign_alive, "another user's process in the cgroup was killed");
    assert!(!log.contains("cgroup.kill"), "cgroup.kill would have hit the other user: {log}");
}
