//! Sub-cgroups a user may make in a delegated cgroup do not stop the end: a threaded one
//! (whose cgroup.procs cannot be read) and a chain deeper than PATH_MAX allows to name.
mod common;
use common::*;
use nix::sys::signal::Signal;

#[test]
fn threaded_and_very_deep_sub_cgroups_do_not_stop_the_end() {
    if !need_root() {
        return;
    }
    let Some(session) = TestCgroup::create("odd-trees") else { return };
    let user = TestUser::get("xxoddtree");
    let threaded = session.child("t");
    std::fs::write(threaded.dir.join("cgroup.type"), "threaded").expect("make a threaded cgroup");
    // 18 levels of 250-character names: more than 4096 bytes as one path.
    let mut deep = open_dir(&session.dir);
    for name in deep_names() {
        rustix::fs::mkdirat(&deep, name.as_str(), rustix::fs::Mode::from_raw_mode(0o755)).unwrap();
        deep = rustix::fs::openat(&deep, name.as_str(), DIRECTORY, rustix::fs::Mode::empty()).unwrap();
    }
    let mut ignorer = user
        .command_in(&session, "/bin/sh", &[])
        .args(["-c", "trap '' TERM; while :; do sleep 0.1; done"])
        .spawn()
        .unwrap();
    let mut sleeper = user.command_in(&session, "sleep", &[]).arg("1000").spawn().unwrap();
    assert!(wait_ignoring(ignorer.id() as i32, Signal::SIGTERM), "the shell never ignored TERM");
    let output = run(xexit(&["end", "--no-hooks", "--grace", "0.5", "--user", &user.name, "--session"])
        .arg(format!("cgroup:{}", session.path)));
    let log = stderr_of(&output);
    let left = session.pids();
    let (ignorer_left, sleeper_left) = (finish(&mut ignorer), finish(&mut sleeper));
    remove_tree(&session.dir);
    assert!(!ignorer_left && !sleeper_left && left.is_empty(), "left {left:?}\n{log}");
    assert_eq!(output.status.code(), Some(0), "{log}");
}

const DIRECTORY: rustix::fs::OFlags = rustix::fs::OFlags::RDONLY.union(rustix::fs::OFlags::DIRECTORY);

fn open_dir(dir: &std::path::Path) -> std::os::fd::OwnedFd {
    rustix::fs::open(dir, DIRECTORY, rustix::fs::Mode::empty()).unwrap()
}

fn deep_names() -> Vec<String> {
    (0..18).map(|level| format!("{level:02}{}", "d".repeat(248))).collect()
}

/// Removes the deep chain bottom up, one directory descriptor at a time (its path is too
/// long for rmdir by name).
fn remove_tree(dir: &std::path::Path) {
    let mut chain = vec![open_dir(dir)];
    let names = deep_names();
    for name in &names {
        match rustix::fs::openat(chain.last().unwrap(), name.as_str(), DIRECTORY, rustix::fs::Mode::empty()) {
            Ok(next) => chain.push(next),
            Err(_) => break,
        }
    }
    for name in names[..chain.len() - 1].iter().rev() {
        chain.pop();
        let _ = rustix::fs::unlinkat(chain.last().unwrap(), name.as_str(), rustix::fs::AtFlags::REMOVEDIR);
    }
}
