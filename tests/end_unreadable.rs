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

/// Without audit login sessions, an unreadable process is judged by its relatives: one whose
/// parent is in the session is ended even while another session is visible; one whose
/// parent is the user's but outside the session is another login's, spared even by `kill`.
#[test]
fn relatives_decide_where_no_audit_session_is_set() {
    if !need_root() || !need_program("ssh-agent") {
        return;
    }
    let own_audit = std::fs::read_to_string("/proc/self/sessionid").unwrap_or_default();
    let unset = own_audit.trim().is_empty() || own_audit.trim() == u32::MAX.to_string();
    if !available((!unset).then(|| "the tests run in an audit login session, so relatives are never asked".into())) {
        return;
    }
    let user = TestUser::get("xxunr3");
    let dir = TempDir::new("relatives");
    let agent_under = |tag: Option<&str>, file: &str| {
        let env: Vec<(&str, &str)> = tag.map(|t| ("XEXIT_TEST_TAG", t)).into_iter().collect();
        let script = format!(
            "ssh-agent -D -a {}/{file}.sock >/dev/null & echo $! > {}/{file}; wait",
            dir.0.display(),
            dir.0.display()
        );
        user.spawn_shell(&script, &env)
    };
    let mut session_shell = agent_under(Some("ws01"), "ours");
    let mut login_shell = agent_under(None, "theirs");
    let mut other_session = user.command("sleep", &[("XEXIT_TEST_TAG", "ws02")]).arg("1000").spawn().unwrap();
    let (ours, theirs) = (read_pid(&dir.path("ours")), read_pid(&dir.path("theirs")));
    // $! is the shell's fork, readable and still sh until it execs ssh-agent; the agent makes
    // itself unreadable before it makes its socket.
    for file in ["ours.sock", "theirs.sock"] {
        let socket = dir.path(file);
        assert!(wait_for(std::time::Duration::from_secs(5), || socket.exists()), "no ssh-agent made {file}");
    }

    let end = xexit_as(
        &user,
        &["end", "--session", "env:XEXIT_TEST_TAG", "--no-hooks", "--grace", "1", "--unreadable", "kill"],
    );
    let log = stderr_of(&end);
    let (ours_alive, theirs_alive) = (alive(ours), alive(theirs));
    let login_alive = finish(&mut login_shell);
    let other_alive = finish(&mut other_session);
    finish(&mut session_shell);
    assert_eq!(end.status.code(), Some(0), "{log}");
    assert!(!ours_alive, "the session's agent survived\n{log}");
    assert!(log.contains(&format!("ending {ours} (ssh-agent): environment unreadable, its parent")), "{log}");
    assert!(theirs_alive, "the other login's agent was ended\n{log}");
    assert!(log.contains(&format!("sparing {theirs} (ssh-agent): environment unreadable, its parent")), "{log}");
    assert!(login_alive && other_alive, "the other login or session was hit\n{log}");
}
