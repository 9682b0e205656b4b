//! `--spare tmux` (and `--spare screen`) keeps the program and what it runs: after an end,
//! the user's tmux (or screen) session is still there to attach to, with the programs in its
//! windows, while the session's other processes are gone, and so is a process a window
//! double-forked out of the tree. As root, as the user, and through the detached watcher
//! that the real Xsession starts; and with a cgroup selector, no cgroup.kill while a process
//! of the spared tree is in the cgroup.
mod common;
use common::desktop::*;
use common::*;
use nix::sys::signal::Signal;
use std::time::Duration;

/// Run in a window as `pane.sh DIR`: writes its PID to DIR/pane, leaves a sleep that
/// double-forked out of the tree (its PID in DIR/left), and runs on as `sleep 997`.
const PANE: &str =
    "#!/bin/sh\necho $$ > \"$1/pane\"\nsetsid sh -c 'sleep 998 & echo $! > \"$0\"' \"$1/left\"\nexec sleep 997\n";

/// The user's private tmux server (`-L`), so that no other tmux of the machine is touched.
const SOCKET: &str = "xexit-spare-tree";

/// Where tmux and screen keep their sockets: the test user's home, gone with it (a test
/// user's name or uid is reused by later runs).
const SOCKETS: &str = "export TMUX_TMPDIR=\"$HOME\" SCREENDIR=\"$HOME/.screen\"\n";

/// Writes DIR/pane.sh; the shell lines that start the multiplexer with its windows, one of
/// them running pane.sh.
fn starter(dir: &TempDir, program: &str) -> String {
    let pane = dir.path("pane.sh");
    std::fs::write(&pane, PANE).unwrap();
    std::fs::set_permissions(&pane, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (pane, dir) = (pane.display(), dir.0.display());
    let start = match program {
        "tmux" => format!(
            "tmux -L {SOCKET} new-session -d -s xexit 'sleep 999'\ntmux -L {SOCKET} new-window -d -t xexit '{pane} {dir}'\n"
        ),
        _ => format!("screen -dmS xexit {pane} {dir}\n"),
    };
    format!("{SOCKETS}{start}")
}

/// What the multiplexer lists as the user: its sessions, with their windows.
fn listed(user: &TestUser, program: &str) -> String {
    let args: &[&str] = if program == "tmux" { &["-L", SOCKET, "ls"] } else { &["-ls"] };
    let output = run(user.command("sh", &[]).args(["-c", &format!("{SOCKETS}exec \"$@\""), "sh", program]).args(args));
    format!("{}{}", stdout_of(&output), stderr_of(&output))
}

/// Checks that the window's program runs on and the multiplexer lists its session, while
/// the double-forked sleep is gone; `log` for the failure messages.
fn assert_kept(user: &TestUser, program: &str, dir: &TempDir, log: &str) {
    let (pane, left) = (read_pid(&dir.path("pane")), read_pid(&dir.path("left")));
    let list = listed(user, program);
    assert!(alive(pane), "the program in {program}'s window was ended\n{log}");
    let kept = if program == "tmux" {
        list.contains("xexit: 2 windows")
    } else {
        list.contains(".xexit\t") && list.contains("(Detached)")
    };
    assert!(kept, "{program} no longer lists the session: {list}\n{log}");
    assert!(!alive(left), "a process that left {program}'s tree was spared\n{log}");
}

/// A session of `user` tagged `tag`: a shell that starts `program` with its windows and goes
/// on as a sleep; ended with `--spare program`, as root or (`as_user`) as the user.
fn end_session_sparing(user_name: &str, program: &str, as_user: bool) {
    if !need_root() || !need_program(program) || !need_program("setsid") {
        return;
    }
    let user = TestUser::get(user_name);
    let dir = TempDir::new(user_name);
    let tag = format!("tree-{user_name}");
    let script = format!("{}echo started > {}/started\nexec sleep 1000\n", starter(&dir, program), dir.0.display());
    let mut session = user.spawn_shell(&script, &[("XEXIT_TEST_TAG", &tag)]);
    let started = dir.path("started");
    assert!(wait_for(Duration::from_secs(10), || started.exists() && dir.path("left").exists()), "never started");
    assert!(wait_exec(session.id() as i32, "sleep"), "the session shell never ran sleep");

    let output = if as_user {
        let mut end = clean_command("setpriv");
        end.args(user.setpriv_args()).args([XEXIT, "end", "--no-hooks", "--grace", "1", "--spare", program]);
        run(end.args(["--session", &format!("env:XEXIT_TEST_TAG={tag}")]).envs(user.login_env()))
    } else {
        end_tagged(&user, &tag, &["--no-hooks", "--spare", program])
    };
    let log = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(!finish(&mut session), "the session's own process was spared\n{log}");
    assert_kept(&user, program, &dir, &log);
}

#[test]
fn tmux_and_its_windows_are_spared_as_root() {
    end_session_sparing("xxtree1", "tmux", false);
}

#[test]
fn tmux_and_its_windows_are_spared_as_the_user() {
    end_session_sparing("xxtree2", "tmux", true);
}

#[test]
fn screen_and_its_window_are_spared_as_root() {
    end_session_sparing("xxtree3", "screen", false);
}

#[test]
fn screen_and_its_window_are_spared_as_the_user() {
    end_session_sparing("xxtree4", "screen", true);
}

#[test]
fn the_detached_watcher_spares_tmux_and_its_windows() {
    if !need_program("tmux") || !need_program("setsid") {
        return;
    }
    let Some(installed) = Installed::new("spare-tree", true) else { return };
    let Some(x) = Xvfb::start() else { return };
    let user = TestUser::get("xxtree5");
    let script = format!("{}sleep 1000 & echo $! > OUT/sleep\n{READY}wait\n", starter(&installed.dir, "tmux"));
    let spec =
        SessionSpec { options: "--spare tmux --grace 1 --log stderr", ..SessionSpec::new(&user, &x.display, &script) };
    let mut session = XSession::start(installed, spec);
    session.wait_ready();
    let sleep = read_pid(&session.out("sleep"));
    assert!(wait_for(Duration::from_secs(10), || session.out("left").exists()), "the window never started");

    x.signal(Signal::SIGKILL);
    let ended = wait_for(Duration::from_secs(10), || !alive(sleep));
    let log = session.errors();
    assert!(ended, "the session's sleep outlived its display\n{log}");
    assert_kept(&user, "tmux", &session.installed.dir, &log);
}

#[test]
fn no_cgroup_kill_while_a_spared_tree_is_in_the_cgroup() {
    if !need_root() || !need_program("tmux") || !need_program("setsid") {
        return;
    }
    let Some(cgroup) = TestCgroup::create("sparetree") else { return };
    let user = TestUser::get("xxtree6");
    let dir = TempDir::new("xxtree6");
    // tmux runs outside the cgroup; a program in one of its windows is moved in, beside
    // the session's own sleep.
    let mut starting = user.spawn_shell(&starter(&dir, "tmux"), &[]);
    let pane = read_pid(&dir.path("pane"));
    let _ = starting.wait();
    assert!(wait_exec(pane, "sleep"), "the window never ran sleep");
    std::fs::write(cgroup.dir.join("cgroup.procs"), pane.to_string()).unwrap();
    let mut sleeper = user.command_in(&cgroup, "sleep", &[]).arg("1000").spawn().unwrap();
    assert!(cgroup.wait_started(2));

    let mut end = xexit(&["end", "-v", "--no-hooks", "--schedule", "KILL/2", "--spare", "tmux", "--user", &user.name]);
    let output = run(end.args(["--session", &format!("cgroup:{}", cgroup.path)]));
    let log = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(!finish(&mut sleeper), "the session's own process was spared\n{log}");
    assert!(alive(pane), "the program in tmux's window was ended\n{log}");
    assert!(!log.contains("cgroup.kill"), "cgroup.kill was used with a spared tree in the cgroup: {log}");
}
