//! Two xrdp-style sessions of one user, with no audit login and no login cgroup to tell
//! them apart, each with its own ssh-agent and D-Bus bus: the agent and bus a session names
//! in its environment (SSH_AGENT_PID, DBUS_SESSION_BUS_PID) are that session's, so ending
//! one ends its own and leaves the other's answering.
mod common;
use common::*;

/// What one session started: its shell (now `sleep`), agent, bus and agent socket.
struct Started {
    shell: std::process::Child,
    agent: i32,
    bus: i32,
    socket: String,
}

/// A session tagged XEXIT_TEST_TAG=`tag` whose shell starts ssh-agent and dbus-launch as
/// an Xsession does, so its processes carry SSH_AGENT_PID and DBUS_SESSION_BUS_PID.
fn start_session(user: &TestUser, dir: &TempDir, tag: &str) -> Started {
    let file = dir.path(tag);
    let script = format!(
        r#"eval "$(ssh-agent -s)" >/dev/null; eval "$(dbus-launch --sh-syntax)";
        echo "$SSH_AGENT_PID $DBUS_SESSION_BUS_PID $SSH_AUTH_SOCK" > {file}.tmp && mv {file}.tmp {file}; exec sleep 1000"#,
        file = file.display()
    );
    let shell = user.spawn_shell(&script, &[("XEXIT_TEST_TAG", tag)]);
    assert!(wait_for(std::time::Duration::from_secs(10), || file.exists()), "session {tag} never started");
    let text = std::fs::read_to_string(&file).unwrap();
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(fields.len(), 3, "session {tag} wrote {text:?}");
    let pid = |field: &str| field.parse::<i32>().unwrap_or_else(|_| panic!("no PID in {text:?}"));
    Started { shell, agent: pid(fields[0]), bus: pid(fields[1]), socket: fields[2].to_string() }
}

/// `ssh-add -l` against the agent at `socket`: 1 when it answers with no identities, 2 when
/// nothing answers.
fn agent_answers(user: &TestUser, socket: &str) -> Option<i32> {
    run(user.command("ssh-add", &[("SSH_AUTH_SOCK", socket)]).arg("-l")).status.code()
}

/// `xexit end` as the user, from inside session a (XEXIT_TEST_TAG=a).
fn end_a_as_user(user: &TestUser) -> std::process::Output {
    let args = ["end", "--session", "env:XEXIT_TEST_TAG", "--no-hooks", "--grace", "1"];
    run(user.command(XEXIT, &[("XEXIT_TEST_TAG", "a")]).args(args))
}

/// Ends session a with `end_a`; `reads_agent`: whether it reads the agent's environment
/// (as root), else the agent is ended as named by the session.
fn ends_own_agents(test_user: &str, reads_agent: bool, end_a: impl Fn(&TestUser) -> std::process::Output) {
    if !need_root() || !need_program("ssh-agent") || !need_program("dbus-launch") || !need_program("ssh-add") {
        return;
    }
    let user = TestUser::get(test_user);
    let dir = TempDir::new(test_user);
    let mut a = start_session(&user, &dir, "a");
    let mut b = start_session(&user, &dir, "b");

    let end = end_a(&user);
    let log = stderr_of(&end);
    let a_agent_ended = wait_for(std::time::Duration::from_secs(5), || !alive(a.agent));
    let a_bus_ended = !alive(a.bus);
    let b_answer = agent_answers(&user, &b.socket);
    let b_bus_alive = alive(b.bus);
    let a_shell_alive = finish(&mut a.shell);
    let b_shell_alive = finish(&mut b.shell);
    user.cleanup();
    assert_eq!(end.status.code(), Some(0), "{log}");
    assert!(a_agent_ended, "session a's ssh-agent {} was spared: {log}", a.agent);
    assert!(a_bus_ended, "session a's dbus-daemon {} was spared: {log}", a.bus);
    assert!(!a_shell_alive, "session a's shell was spared: {log}");
    assert_eq!(b_answer, Some(1), "session b's ssh-agent {} no longer answers: {log}", b.agent);
    assert!(b_bus_alive, "session b's dbus-daemon {} was ended: {log}", b.bus);
    assert!(b_shell_alive, "session b's shell was ended: {log}");
    if !reads_agent {
        let line = format!("ending {} (ssh-agent): environment unreadable, named by", a.agent);
        assert!(log.contains(&line), "no line says who named the agent: {log}");
    }
}

/// As the user, the agent's environment is unreadable (ssh-agent is non-dumpable): its
/// session names it.
#[test]
fn as_the_user_each_session_ends_its_own_agent_and_bus() {
    ends_own_agents("xxnamed1", false, end_a_as_user);
}

/// As root, every environment is read, and the tags decide alone.
#[test]
fn as_root_each_session_ends_its_own_agent_and_bus() {
    ends_own_agents("xxnamed2", true, |user| end_tagged(user, "a", &["--no-hooks"]));
}

/// A name is not taken on its word where it may be stale (the named process is older than
/// the session: its PID may have been reused) or where another session of the user names
/// the same process: then the old rule holds (spared while another session is visible).
#[test]
fn as_the_user_a_stale_or_shared_name_ties_nothing() {
    if !need_root() || !need_program("ssh-agent") {
        return;
    }
    let user = TestUser::get("xxnamed3");
    let tick = std::time::Duration::from_millis(100);
    let older = user.start_ssh_agent(&[("XEXIT_TEST_TAG", "a")]);
    std::thread::sleep(tick);
    let older_text = older.to_string();
    let mut first =
        user.command("sleep", &[("XEXIT_TEST_TAG", "a"), ("SSH_AGENT_PID", &older_text)]).arg("1000").spawn().unwrap();
    std::thread::sleep(tick);
    let shared = user.start_ssh_agent(&[("XEXIT_TEST_TAG", "a")]);
    let shared_text = shared.to_string();
    let named_by = |tag| user.command("sleep", &[("XEXIT_TEST_TAG", tag), ("DBUS_SESSION_BUS_PID", &shared_text)]);
    let mut second = named_by("a").arg("1000").spawn().unwrap();
    let mut other = named_by("b").arg("1000").spawn().unwrap();
    assert!([&first, &second, &other].iter().all(|c| wait_exec(c.id() as i32, "sleep")));

    let end = end_a_as_user(&user);
    let log = stderr_of(&end);
    let spared = [older, shared].map(alive);
    let session_alive = [finish(&mut first), finish(&mut second)];
    let other_alive = finish(&mut other);
    user.cleanup();
    assert_eq!(end.status.code(), Some(0), "{log}");
    assert_eq!(spared, [true, true], "the older agent {older} or the shared one {shared} was ended: {log}");
    assert_eq!(session_alive, [false, false], "{log}");
    assert!(other_alive, "{log}");
    for agent in [older, shared] {
        let line = format!("sparing {agent} (ssh-agent): environment unreadable, no tie to any login");
        assert!(log.contains(&line), "{line:?} not in {log}");
    }
}
