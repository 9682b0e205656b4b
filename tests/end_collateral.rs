//! No collateral: other sessions of the user (ws010 and ws02 beside ws01), a process with the
//! tag only in its argv, another user's processes with the same tag, root's, and xexit itself.
mod common;
use common::*;
use std::process::Child;

struct Bystanders {
    session: Vec<Child>,
    others: Vec<Child>,
}

fn setup(user: &TestUser, other_user: &TestUser) -> Bystanders {
    let tagged = |value: &str| [("XEXIT_TEST_TAG", value.to_string())];
    let spawn = |u: &TestUser, value: &str| {
        let env = tagged(value);
        u.command("sleep", &[(env[0].0, env[0].1.as_str())]).arg("1000").spawn().unwrap()
    };
    let session = vec![spawn(user, "ws01"), spawn(user, "ws01")];
    let argv_only = user
        .command("/bin/sh", &[])
        .args(["-c", "sleep 1000; : XEXIT_TEST_TAG=ws01", "XEXIT_TEST_TAG=ws01"])
        .spawn()
        .unwrap();
    let mut root_tagged = std::process::Command::new("sleep");
    root_tagged.arg("1000").env("XEXIT_TEST_TAG", "ws01");
    let others = vec![
        spawn(user, "ws010"),
        spawn(user, "ws02"),
        argv_only,
        spawn(other_user, "ws01"),
        root_tagged.spawn().unwrap(),
    ];
    Bystanders { session, others }
}

fn check(mut bystanders: Bystanders, output: &std::process::Output, users: [&TestUser; 2]) {
    let log = stderr_of(output);
    let session_alive: Vec<u32> = bystanders.session.iter().map(Child::id).filter(|p| alive(*p as i32)).collect();
    let others_dead: Vec<u32> = bystanders.others.iter().map(Child::id).filter(|p| !alive(*p as i32)).collect();
    for child in bystanders.session.iter_mut().chain(bystanders.others.iter_mut()) {
        let _ = child.kill();
        let _ = child.wait();
    }
    // The argv-only shell's sleep outlives the shell.
    users.iter().for_each(|u| u.cleanup());
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(session_alive.is_empty(), "session processes survived: {session_alive:?}\n{log}");
    assert!(others_dead.is_empty(), "bystanders were killed: {others_dead:?}\n{log}");
}

#[test]
fn as_the_user_only_the_session_ends() {
    if !need_root() {
        return;
    }
    let (user, other) = (TestUser::get("xxcol1"), TestUser::get("xxcol2"));
    let bystanders = setup(&user, &other);
    // xexit runs in the session it ends (the tag in its own environment) and survives it.
    let output = run(user.command(XEXIT, &[("XEXIT_TEST_TAG", "ws01")]).args([
        "end",
        "--session",
        "env:XEXIT_TEST_TAG",
        "--no-hooks",
        "--grace",
        "1",
    ]));
    check(bystanders, &output, [&user, &other]);
}

#[test]
fn as_root_with_user_only_the_session_ends() {
    if !need_root() {
        return;
    }
    let (user, other) = (TestUser::get("xxcol3"), TestUser::get("xxcol4"));
    let bystanders = setup(&user, &other);
    let output = run(xexit(&[
        "end",
        "--session",
        "env:XEXIT_TEST_TAG=ws01",
        "--user",
        &user.name,
        "--no-hooks",
        "--grace",
        "1",
    ])
    .env("XEXIT_TEST_TAG", "ws01"));
    check(bystanders, &output, [&user, &other]);
}
