//! The summary line counts what an end left running, by program and reason, in the words
//! `list --format json` uses; what was left because whose it is could not be told makes it a
//! warning; a name a process gives itself cannot forge a count.
mod common;
use std::process::{Child, Stdio};

use common::*;
use nix::sys::signal::Signal;

/// The one summary line of `log` for the session tagged `tag` of `user`.
fn summary<'a>(log: &'a str, tag: &str, user: &TestUser) -> &'a str {
    let lines = lines_with(log, &format!("ended session env:XEXIT_TEST_TAG={tag} of {}", user.name));
    assert_eq!(lines.len(), 1, "one summary line\n{log}");
    lines[0]
}

/// The "why" of the row of `pid` in the JSON of `list`.
fn json_why(output: &std::process::Output, pid: i32) -> String {
    let text = stdout_of(output);
    let row = text.lines().find(|l| l.contains(&format!("\"pid\": {pid},")));
    let row = row.unwrap_or_else(|| panic!("{text}{}", stderr_of(output)));
    row.split("\"why\": \"").nth(1).and_then(|rest| rest.split('"').next()).unwrap().to_string()
}

#[test]
fn spared_by_the_admin_is_counted_at_info() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxsumsp1");
    let mut spared: Vec<Child> = (0..2).map(|_| tagged_sleeper(&user, "sp1")).collect();
    let mut ended = user.command("tail", &[("XEXIT_TEST_TAG", "sp1")]).args(["-f", "/dev/null"]).spawn().unwrap();
    assert!(wait_exec(ended.id() as i32, "tail"), "tail never ran");
    let session = ["--user", &user.name, "--session", "env:XEXIT_TEST_TAG=sp1", "--spare", "sleep"];
    let why = json_why(&run(xexit(&["list", "--format", "json"]).args(session)), spared[0].id() as i32);
    let output = end_tagged(&user, "sp1", &["--no-hooks", "--spare", "sleep"]);
    let log = stderr_of(&output);
    let left: Vec<bool> = spared.iter_mut().map(finish).collect();
    assert!(!finish(&mut ended), "the session's tail survived\n{log}");
    assert_eq!(left, [true, true], "a spared sleep was ended\n{log}");
    let line = summary(&log, "sp1", &user);
    assert!(line.starts_with("xexit: ended session"), "spared by --spare alone is no warning: {line}");
    assert!(line.contains(", 0 survived, 2 spared (sleep x2: --spare); "), "{line}");
    assert_eq!(why, "--spare", "list --format json says it in the summary's words");
    assert_eq!(output.status.code(), Some(0), "{log}");
}

#[test]
fn spared_for_want_of_an_owner_is_a_warning() {
    if !need_root() || !need_program("ssh-agent") {
        return;
    }
    let user = TestUser::get("xxsumsp2");
    user.cleanup();
    // The agent's environment is unreadable and nothing ties it to a login, while the user's
    // other session (ws02) is visible: it is spared, as xexit cannot tell whose it is.
    let agent = user.start_ssh_agent(&[("XEXIT_TEST_TAG", "ws01")]);
    let mut other_session = user.command("sleep", &[("XEXIT_TEST_TAG", "ws02")]).arg("1000").spawn().unwrap();
    let mut ended = tagged_sleeper(&user, "ws01");
    // As the user, as its own watcher would: root reads every environment.
    let as_user = |args: &[&str]| {
        let session = ["--session", "env:XEXIT_TEST_TAG"];
        run(user.command(XEXIT, &[("XEXIT_TEST_TAG", "ws01")]).args(args).args(session))
    };
    let why = json_why(&as_user(&["list", "--format", "json"]), agent);
    let output = as_user(&["end", "--grace", "1", "--no-hooks"]);
    let log = stderr_of(&output);
    let agent_left = alive(agent);
    let other_left = finish(&mut other_session);
    let ended_left = finish(&mut ended);
    user.cleanup();
    assert!(agent_left && other_left && !ended_left, "{log}");
    let line = summary(&log, "ws01", &user);
    assert!(line.starts_with("xexit: warning: ended session"), "{line}");
    assert!(line.contains(", 0 survived, 1 spared (ssh-agent: unreadable, another session visible); "), "{line}");
    assert_eq!(why, "unreadable, another session visible", "list --format json says it in the summary's words");
    assert_eq!(output.status.code(), Some(0), "a warning, not a failure: {log}");
}

#[test]
fn names_cannot_forge_a_count() {
    if !need_root() || !need_program("bash") || !need_program("dash") {
        return;
    }
    let user = TestUser::get("xxsumsp3");
    let tag = [("XEXIT_TEST_TAG", "sp3")];
    // Each names itself (/proc/self/comm) as if the line went on, and waits on its stdin: a
    // dash one spared, a bash one that ignores TERM and so needs KILL.
    let forger = |shell: &str, script: &str| {
        let mut command = user.command(shell, &tag);
        command.args(["-c", script]).stdin(Stdio::piped()).spawn().unwrap()
    };
    let mut spared = forger("dash", "printf 'b, 9 spared;' > /proc/self/comm; read x");
    let mut killed = forger("bash", "trap '' TERM; printf 'a, 9 survived;' > /proc/self/comm; read x");
    // A no-break space first: no trim of the name may take it.
    let mut spaced = forger("bash", "trap '' TERM; printf '\\302\\240x;(' > /proc/self/comm; read x");
    assert!(wait_ignoring(killed.id() as i32, Signal::SIGTERM), "bash never ignored TERM");
    assert!(wait_ignoring(spaced.id() as i32, Signal::SIGTERM), "bash never ignored TERM");
    let renamed = |pid: u32| status_field(pid as i32, "Name").is_some_and(|n| n.contains(", 9 ") || n.ends_with("x;("));
    let all_renamed = || [&spared, &killed, &spaced].iter().all(|child| renamed(child.id()));
    assert!(wait_for(std::time::Duration::from_secs(5), all_renamed));
    let output = end_tagged(&user, "sp3", &["--no-hooks", "--spare", "dash"]);
    let log = stderr_of(&output);
    let spared_left = finish(&mut spared);
    assert!(!finish(&mut killed), "the TERM-ignoring bash survived\n{log}");
    assert!(!finish(&mut spaced), "the TERM-ignoring bash survived\n{log}");
    assert!(spared_left, "the spared dash was ended\n{log}");
    let line = summary(&log, "sp3", &user);
    assert!(
        line.contains(" 2 needed KILL (a\\x2c\\x209\\x20survived\\x3b, \\u{a0}x\\x3b\\x28), 0 survived, "),
        "{line}"
    );
    assert!(line.contains(", 1 spared (b\\x2c\\x209\\x20spared\\x3b: --spare); "), "{line}");
    assert!(!line.contains("9 s"), "a name added a count: {line}");
}
