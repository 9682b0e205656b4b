//! ssh-agent's environment is unreadable to its own user: --unreadable decides its fate.
mod common;
use common::*;

fn start_agent(user: &TestUser) -> i32 {
    user.start_ssh_agent(&[("XEXIT_TEST_TAG", "ws01")])
}

fn xexit_as(user: &TestUser, args: &[&str]) -> std::process::Output {
    run(user.command(XEXIT, &[("XEXIT_TEST_TAG", "ws01")]).args(args))
}

#[test]
fn auto_spares_unreadable_processes_while_another_session_is_visible() {
    if !need_root() || !need_program("ssh-agent") {
        return;
    }
    let user = TestUser::get("xxunr1");
    user.cleanup();
    let agent = start_agent(&user);
    let mut other_session = user.command("sleep", &[("XEXIT_TEST_TAG", "ws02")]).arg("1000").spawn().unwrap();

    let list = xexit_as(&user, &["list", "--session", "env:XEXIT_TEST_TAG"]);
    assert!(stdout_of(&list).contains(&format!("{agent} {} ssh-agent -s [environment unreadable: spared]", user.name)));
    assert_eq!(list.status.code(), Some(1), "nothing but spared processes: {}", stdout_of(&list));

    let end = xexit_as(&user, &["end", "--session", "env:XEXIT_TEST_TAG", "--no-hooks", "--grace", "1"]);
    assert_eq!(end.status.code(), Some(0), "{}", stderr_of(&end));
    assert!(alive(agent), "ssh-agent was ended although another session is visible");
    assert!(stderr_of(&end).contains(&format!("sparing {agent} (ssh-agent): environment unreadable, no tie to any login, and another session of the user is visible")));
    assert!(alive(other_session.id() as i32));

    let end = xexit_as(&user, &["end", "--session", "env:XEXIT_TEST_TAG", "--no-hooks", "--unreadable", "kill"]);
    assert_eq!(end.status.code(), Some(0), "{}", stderr_of(&end));
    let agent_alive = alive(agent);
    let other_alive = finish(&mut other_session);
    user.cleanup();
    assert!(!agent_alive, "--unreadable kill left ssh-agent");
    assert!(other_alive, "the other session was hit");
}

#[test]
fn spare_leaves_unreadable_processes_even_alone() {
    if !need_root() || !need_program("ssh-agent") {
        return;
    }
    let user = TestUser::get("xxunr2");
    user.cleanup();
    let agent = start_agent(&user);
    let end = xexit_as(&user, &["end", "--session", "env:XEXIT_TEST_TAG", "--no-hooks", "--unreadable", "spare"]);
    let spared = alive(agent);
    user.cleanup();
    assert_eq!(end.status.code(), Some(0), "{}", stderr_of(&end));
    assert!(spared, "--unreadable spare ended ssh-agent");
}
