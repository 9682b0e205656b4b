//! A delegated cgroup wider or deeper than xexit may open files (1024, soft and hard, so it
//! cannot raise the limit): 5,000 empty sub-cgroups with the user's TERM-ignorer in the one
//! listed last, or a chain of 1,100 with it at the bottom. Every sub-cgroup is read, the
//! process ends through cgroup.kill, and the end says 0.
mod common;
use common::*;
use nix::sys::signal::Signal;
use std::os::unix::fs::chown;

const SIBLINGS: usize = 5000;

#[test]
fn a_process_behind_thousands_of_sub_cgroups_is_found() {
    let Some((session, user)) = delegated("wide") else { return };
    // Empty sub-cgroups; TestCgroup's drop removes them all, even after a failed assertion.
    for i in 0..SIBLINGS {
        std::fs::create_dir(session.dir.join(format!("s{i:04}"))).unwrap();
    }
    // The one the directory lists last (kernfs lists by name hash, not by creation).
    let names: Vec<String> = std::fs::read_dir(&session.dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), SIBLINGS);
    let last = names.last().unwrap();
    let leaf = TestCgroup { dir: session.dir.join(last), path: format!("{}/{last}", session.path) };
    let mut ignorer = start_ignorer(&user, &leaf);
    assert_ended_whole(&session, &user, &mut ignorer, last);
}

#[test]
fn a_process_below_a_chain_deeper_than_the_open_files_is_found() {
    let Some((session, user)) = delegated("deep") else { return };
    // Short names keep the chain's path within PATH_MAX, for TestCgroup's drop to remove it.
    let mut path = String::new();
    for _ in 0..1100 {
        path.push_str("/d");
        std::fs::create_dir(session.dir.join(&path[1..])).unwrap();
    }
    let leaf = TestCgroup { dir: session.dir.join(&path[1..]), path: format!("{}{path}", session.path) };
    let mut ignorer = start_ignorer(&user, &leaf);
    assert_ended_whole(&session, &user, &mut ignorer, "the bottom");
}

/// A test cgroup and a test user it is delegated to, as systemd's Delegate=yes does: the
/// directory and the files that move processes and enable controllers are the user's.
fn delegated(label: &str) -> Option<(TestCgroup, TestUser)> {
    if !need_root() || !need_program("prlimit") {
        return None;
    }
    let session = TestCgroup::create(label)?;
    let user = TestUser::get(&format!("xx{label}"));
    for file in ["", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control"] {
        chown(session.dir.join(file), Some(user.uid), Some(user.gid)).unwrap();
    }
    Some((session, user))
}

/// A `sleep` of `user` in `cgroup` that ignores TERM.
fn start_ignorer(user: &TestUser, cgroup: &TestCgroup) -> std::process::Child {
    let script = "trap '' TERM; exec sleep 1000";
    let ignorer = user.command_in(cgroup, "/bin/sh", &[]).args(["-c", script]).spawn().unwrap();
    let pid = ignorer.id() as i32;
    assert!(wait_exec(pid, "sleep") && wait_ignoring(pid, Signal::SIGTERM), "the sleep never ignored TERM");
    ignorer
}

/// Ends the session as root with 1024 open files; the ignorer, in `place`, must be gone,
/// the end say 0 without a warning, and the last KILL be one write to cgroup.kill.
fn assert_ended_whole(session: &TestCgroup, user: &TestUser, ignorer: &mut std::process::Child, place: &str) {
    let mut end = clean_command("prlimit");
    end.args(["--nofile=1024:1024", "--", XEXIT, "end", "-v", "--no-hooks", "--schedule", "TERM/0.5/KILL/1.5"]);
    end.args(["--user", &user.name, "--session"]).arg(format!("cgroup:{}", session.path));
    let output = run(end);
    let log = stderr_of(&output);
    let survived = finish(ignorer);
    let brief = || log.lines().map(|l| l.chars().take(300).collect::<String>()).collect::<Vec<_>>().join("\n");
    assert!(!survived, "the sleep in {place} survived\n{}", brief());
    assert_eq!(output.status.code(), Some(0), "{}", brief());
    assert!(!log.contains("cannot read all of cgroup"), "{}", brief());
    assert!(log.lines().all(|line| line.len() < 1000), "a line of thousands of names:\n{}", brief());
    // Every sub-cgroup was read and nothing else is in the tree: the last KILL is one write.
    assert!(log.contains(&format!("wrote 1 to {}", session.dir.join("cgroup.kill").display())), "{}", brief());
}
