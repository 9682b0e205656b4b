//! X2Go, as the README sets it up: x2goserver 4.1 with x2goserver-xsession (so desktop
//! sessions run /etc/x2go/Xsession, whose Xsession.d is Debian's, with 89xexit-x2go and
//! 90xexit) and the pre-runcommand extension 090_xexit for rootless sessions, both read from
//! doc/hosts/. The client is the real pyhoca-cli over a private sshd. The admin's
//! /etc/default/xexit holds the options, and xexit's lines reach
//! ~/.xsession-x2go-HOST-errors through `--log stderr`.
mod common;
use common::desktop::*;
use common::x2go::*;
use common::*;
use std::time::{Duration, Instant};

const DEFAULTS: &str = "XEXIT_OPTIONS=\"--interval 1 --timeout 2 --grace 1 --log stderr\"\n";
/// The schedule's grace (--grace 1 above) and the slack the README promises.
const GRACE_AND_SLACK: Duration = Duration::from_secs(3);
/// How long x2goruncommand may take over its bookkeeping once its command has ended
/// (post-runcommand extensions, the database, unmounting, x2go_logout): 2.6 s measured.
const BOOKKEEPING: Duration = Duration::from_secs(20);

/// A desktop's programs: an X client, a plain child, a daemon outside the process group
/// (x2goterminate-session TERMs x2goruncommand's group only); each PID into OUT/SESSION.
/// The command ends when the test writes OUT/SESSION.quit.
const DESKTOP: &str = r#"#!/bin/sh
out="OUT/$X2GO_SESSION"
xprop -root -spy >/dev/null 2>&1 & echo $! >> "$out.pids"
sleep 1000 & echo $! >> "$out.pids"
setsid sleep 1001 & echo $! >> "$out.pids"
echo $$ >> "$out.pids"
mv "$out.pids" "$out"
while [ ! -e "$out.quit" ]; do sleep 0.2; done
"#;

fn session_pids(server: &X2GoServer, name: &str) -> Vec<i32> {
    let file = server.installed.dir.path(name);
    assert!(wait_for(Duration::from_secs(30), || file.exists()), "the session program of {name} never ran");
    std::fs::read_to_string(file).unwrap().lines().map(|l| l.parse().unwrap()).collect()
}

/// Every live process of `user` whose environment says X2GO_SESSION=`name`.
fn tagged(user: &TestUser, name: &str) -> Vec<i32> {
    let tag = format!("X2GO_SESSION={name}");
    let has = |pid: &i32| {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        environ.split(|b| *b == 0).any(|v| v == tag.as_bytes())
    };
    user.processes().into_iter().filter(has).collect()
}

/// The user's X2Go session log, where Xsession.d snippets and xexit write; the one before,
/// which the next session's Xsession renames to .old, first.
fn errors(user: &TestUser) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let file = user.home.join(format!(".xsession-x2go-{}-errors", host.trim()));
    let old = std::fs::read_to_string(file.with_extension("old")).unwrap_or_default();
    old + &std::fs::read_to_string(file).unwrap_or_default()
}

/// Waits until the agent is gone; then until `pids` are, the time from the one to the other.
fn time_to_empty(agent: i32, pids: &[i32], limit: Duration) -> (bool, Duration) {
    assert!(wait_for(Duration::from_secs(30), || !alive(agent)), "the agent {agent} did not go");
    empty_within(Instant::now(), pids, limit)
}

/// Whether `pids` are gone within `limit` of `lost`, and when they were seen gone.
fn empty_within(lost: Instant, pids: &[i32], limit: Duration) -> (bool, Duration) {
    let gone = wait_for(limit.saturating_sub(lost.elapsed()), || pids.iter().all(|pid| !alive(*pid)));
    (gone, lost.elapsed())
}

fn left(pids: &[i32]) -> Vec<String> {
    pids.iter().filter(|pid| alive(**pid)).map(|pid| describe(*pid)).collect()
}

/// The summary line xexit logged for the session `name`.
fn summary(user: &TestUser, name: &str) -> String {
    let log = errors(user);
    let found = wait_for(BOOKKEEPING, || lines_with(&errors(user), "ended session env:X2GO_SESSION=").len() == 1);
    assert!(found, "no summary line:\n{log}");
    let line = lines_with(&errors(user), "ended session").concat();
    eprintln!("summary: {line}");
    assert!(line.contains(&format!("env:X2GO_SESSION={name} of {}", user.name)), "{line}");
    line
}

fn server(label: &str, with_xexit: bool, users: &[&TestUser], extension: bool) -> Option<X2GoServer> {
    if !need_x2go() || !need_audit() {
        return None;
    }
    let installed = Installed::new(label, with_xexit)?.with_defaults(DEFAULTS);
    let programs = [("x2go-test-desktop", DESKTOP)];
    Some(X2GoServer::start(installed, users, &programs, extension))
}

#[test]
fn a_suspended_desktop_is_left_alone_and_a_terminated_one_ends() {
    let user = TestUser::get("xxx2go1");
    let Some(server) = server("x2go-suspend", true, &[&user], false) else { return };
    let (mut client, name) = server.new_session(&user, "first", "x2go-test-desktop", "desktop");
    let pids = session_pids(&server, &name);
    let agent = server.agent(&name);
    assert!(wait_for(Duration::from_secs(10), || errors(&user).contains("started: display :")), "{}", errors(&user));
    let started = lines_with(&errors(&user), "started: display").concat();
    // The admin's options and X2Go's selector, both in force.
    assert!(started.contains("interval 1s, timeout 2s, session env:X2GO_SESSION="), "{started}");

    // The client goes away (window closed, network lost), then x2gosuspend-session: the
    // agent waits for a client, and so does xexit, past interval + timeout.
    client.kill();
    std::thread::sleep(Duration::from_secs(4));
    server.run_client(&user, "suspend", &["-S", &name]);
    let suspended = wait_for(Duration::from_secs(10), || server.status_of(&name).as_deref() == Some("S"));
    assert!(suspended, "{:?}", server.rows());
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(left(&pids).len(), pids.len(), "suspended, yet ended:\n{}", errors(&user));
    assert!(!errors(&user).contains("lost display"), "{}", errors(&user));

    let resumed = server.client(&user, "resume", &["-R", &name]);
    assert!(wait_for(Duration::from_secs(60), || resumed.log().contains("Press CTRL+C")), "{}", resumed.log());
    assert_eq!(server.agent(&name), agent, "resuming started another agent");
    let count = tagged(&user, &name).len();

    server.run_client(&user, "terminate", &["-T", &name]);
    let (gone, elapsed) = time_to_empty(agent, &pids, GRACE_AND_SLACK);
    let line = summary(&user, &name);
    eprintln!(
        "{}\nterminated: {count} processes tagged, empty {} ms after the agent",
        errors(&user),
        elapsed.as_millis()
    );
    assert!(gone, "left after {elapsed:?}: {:?}", left(&pids));
    // The agent closes its connections as it exits on TERM; on a loaded host its exit can
    // take longer than the 2 s timeout, which then comes first.
    assert!(line.contains("(closed)") || line.contains("(timeout)"), "{line}");
    assert_eq!(server.status_of(&name).as_deref(), Some("F"), "{:?}", server.rows());
}

/// What X2Go's own cleanup leaves behind for the test to see: the session finished (F) in
/// its database, the post-runcommand extensions and x2go_logout run.
fn assert_x2go_cleaned_up(server: &X2GoServer, user: &TestUser, name: &str) {
    let finished = wait_for(BOOKKEEPING, || server.status_of(name).as_deref() == Some("F"));
    assert!(finished, "X2Go's row never became F: {:?}\n{}", server.rows(), errors(user));
    assert!(wait_for(BOOKKEEPING, || tagged(user, name).is_empty()), "left: {:?}", left(&tagged(user, name)));
    for marker in ["post-runcommand", "x2go_logout"] {
        assert!(user.home.join(marker).exists(), "x2goruncommand never ran {marker}\n{}", errors(user));
    }
}

#[test]
fn a_crashed_agent_ends_its_desktop_alone_and_x2go_cleans_up() {
    let (user, other_user) = (TestUser::get("xxx2go2"), TestUser::get("xxx2go3"));
    let Some(server) = server("x2go-crash", true, &[&user, &other_user], false) else { return };
    let (_client, name) = server.new_session(&user, "crash", "x2go-test-desktop", "desktop");
    let pids = session_pids(&server, &name);
    // Bystanders: the user's second X2Go session and plain ssh login, another user's session.
    let (_second_client, second) = server.new_session(&user, "second", "x2go-test-desktop", "desktop");
    let (_other_client, other) = server.new_session(&other_user, "other", "x2go-test-desktop", "desktop");
    let mut plain = common::sshd::ssh(&server.installed, &server.sshd, &user)
        .args(["-T", "127.0.0.1", "sleep 1000"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let bystanders: Vec<i32> = [session_pids(&server, &second), session_pids(&server, &other)].concat();
    let agent = server.agent(&name);
    assert!(wait_for(Duration::from_secs(10), || errors(&user).contains(&format!("session env:X2GO_SESSION={name}"))));
    let count = tagged(&user, &name).len();

    let killed = server.crash_agent(agent, &name);
    let (gone, elapsed) = empty_within(killed, &pids, GRACE_AND_SLACK);
    eprintln!("{}\nagent killed: {count} processes tagged, empty in {} ms", errors(&user), elapsed.as_millis());
    assert!(gone, "left after {elapsed:?}: {:?}", left(&pids));
    assert_eq!(left(&bystanders).len(), bystanders.len(), "a bystander was ended");
    assert!(finish(&mut plain), "the user's plain ssh login was ended");
    assert!(summary(&user, &name).contains("(closed)"));
    assert_x2go_cleaned_up(&server, &user, &name);
    for session in [&second, &other] {
        assert_eq!(server.status_of(session).as_deref(), Some("R"), "{:?}", server.rows());
    }
}

#[test]
fn without_xexit_a_crashed_agent_leaves_its_desktop_running() {
    let user = TestUser::get("xxx2go4");
    let Some(server) = server("x2go-without", false, &[&user], false) else { return };
    let (_client, name) = server.new_session(&user, "without", "x2go-test-desktop", "desktop");
    let pids = session_pids(&server, &name);
    let agent = server.agent(&name);
    server.crash_agent(agent, &name);
    assert!(wait_for(Duration::from_secs(10), || !alive(agent)));
    // Interval + timeout + grace, and then some: xexit would have ended it by now.
    std::thread::sleep(Duration::from_secs(6));
    let left_running = left(&tagged(&user, &name));
    eprintln!("without xexit, 6 s after the agent's crash: {left_running:#?}, row {:?}", server.rows());
    assert!(left(&pids).len() >= 3, "the desktop's programs went by themselves: {left_running:?}");
    assert_eq!(server.status_of(&name).as_deref(), Some("R"));
}

#[test]
fn the_session_command_exiting_ends_what_it_left_running() {
    let user = TestUser::get("xxx2go5");
    let Some(server) = server("x2go-exits", true, &[&user], false) else { return };
    let (_client, name) = server.new_session(&user, "exits", "x2go-test-desktop", "desktop");
    let pids = session_pids(&server, &name);
    let agent = server.agent(&name);
    std::fs::write(server.installed.dir.path(&format!("{name}.quit")), "").unwrap();
    // x2goruncommand TERMs the agent once the command has exited; xexit ends what is left.
    let (gone, elapsed) = time_to_empty(agent, &pids[..3], GRACE_AND_SLACK);
    eprintln!("{}\nthe command exited: the rest empty {} ms after the agent", errors(&user), elapsed.as_millis());
    assert!(gone, "left after {elapsed:?}: {:?}", left(&pids));
    // An agent slow to exit after x2goruncommand's TERM (a loaded host) stops answering first.
    let line = summary(&user, &name);
    assert!(line.contains("(closed)") || line.contains("(timeout)"), "{line}");
    assert_x2go_cleaned_up(&server, &user, &name);
}

#[test]
fn a_rootless_session_started_by_the_extension_ends_with_its_agent() {
    let user = TestUser::get("xxx2go6");
    let Some(server) = server("x2go-rootless", true, &[&user], true) else { return };
    let (_client, name) = server.new_session(&user, "rootless", "x2go-test-desktop", "application");
    assert!(name.contains("_stR"), "{name}");
    let pids = session_pids(&server, &name);
    let agent = server.agent(&name);
    let watching =
        wait_for(Duration::from_secs(10), || errors(&user).contains(&format!("session env:X2GO_SESSION={name}")));
    assert!(watching, "the extension started no xexit:\n{}", errors(&user));
    // Used for a while: what x2goruncommand starts just before the display's last answer is
    // taken as its bookkeeping (see src/find/starters.rs), the application is not.
    std::thread::sleep(Duration::from_secs(3));
    let count = tagged(&user, &name).len();
    let killed = server.crash_agent(agent, &name);
    let (gone, elapsed) = empty_within(killed, &pids, GRACE_AND_SLACK);
    eprintln!(
        "{}\nrootless agent killed: {count} processes tagged, empty in {} ms",
        errors(&user),
        elapsed.as_millis()
    );
    assert!(gone, "left after {elapsed:?}: {:?}", left(&pids));
    assert!(summary(&user, &name).contains("(closed)"));
    assert_x2go_cleaned_up(&server, &user, &name);
}

#[test]
fn a_hung_agent_ends_its_desktop_after_interval_and_timeout() {
    let user = TestUser::get("xxx2go7");
    let Some(server) = server("x2go-hung", true, &[&user], false) else { return };
    let (_client, name) = server.new_session(&user, "hung", "x2go-test-desktop", "desktop");
    let pids = session_pids(&server, &name);
    let agent = server.agent(&name);
    let stopped = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(agent), nix::sys::signal::Signal::SIGSTOP).unwrap();
    // --interval 1 --timeout 2, then the grace and the slack.
    let (gone, elapsed) = empty_within(stopped, &pids, Duration::from_secs(3) + GRACE_AND_SLACK);
    let agent_ended = wait_for(BOOKKEEPING, || !alive(agent));
    if !agent_ended {
        server.crash_agent(agent, &name);
    }
    eprintln!("{}\nagent stopped: empty in {} ms", errors(&user), elapsed.as_millis());
    assert!(gone, "left after {elapsed:?}: {:?}", left(&pids));
    assert!(summary(&user, &name).contains("(timeout)"));
    assert!(agent_ended, "the hung agent was left stopped");
    assert_x2go_cleaned_up(&server, &user, &name);
}
