//! See it work: `cargo run --release --example demo`.
//!
//! Starts Xvfb on a free display and a small session on it (a process that ignores TERM, a
//! stopped one, a daemon that double-forked and called setsid, an ordinary one), all tagged
//! with a tag of this run's own. Starts xexit watching the display, kills the X server, and
//! prints the timeline. Exits 0 when every session process ended.
//!
//! As root it makes a user `xxdemo` for the session (root's own processes are never ended by
//! an env selector); otherwise the session is the caller's, told apart by the tag alone.

// The helpers the tests use (their own #![allow(dead_code)] covers what this does not use).
#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{HookDir, TestUser, Watcher, Xvfb, alive, clean_command, read_pid, wait_exec};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const DEMO_USER: &str = "xxdemo";

fn main() {
    // Run as `demo xexit ARGS...`, this is xexit itself: the library's own entry point.
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "xexit") {
        std::process::exit(i32::from(xexit::main_with_args(args)));
    }
    match run() {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("demo: {e}");
            std::process::exit(2);
        }
    }
}

/// Who the session belongs to.
enum Owner {
    /// As root: a system user made for the demo, removed (with anything it still runs) when
    /// the demo ends.
    Made(TestUser),
    /// Otherwise the caller, by name.
    Caller(String),
}

impl Owner {
    fn new() -> Owner {
        let me = rustix::process::getuid();
        if me.is_root() {
            return Owner::Made(TestUser::get(DEMO_USER));
        }
        let user = nix::unistd::User::from_uid(me.as_raw().into()).ok().flatten();
        Owner::Caller(user.map_or(me.as_raw().to_string(), |u| u.name))
    }

    fn name(&self) -> &str {
        match self {
            Owner::Made(user) => &user.name,
            Owner::Caller(name) => name,
        }
    }

    /// `program` as the owner, with a clean environment plus `env`, its stdout to /dev/null.
    fn command(&self, program: &str, env: &[(&str, &str)]) -> Command {
        let mut command = match self {
            Owner::Made(user) => user.command(program, env),
            Owner::Caller(_) => {
                let mut command = clean_command(program);
                command.env("PATH", "/usr/local/bin:/usr/bin:/bin").env("HOME", "/tmp").envs(env.iter().copied());
                command
            }
        };
        command.stdout(Stdio::null());
        command
    }
}

/// The session's processes, killed when the demo ends, however it ends.
struct Stage {
    children: Vec<Child>,
    pids: Vec<(String, i32)>,
}

impl Drop for Stage {
    fn drop(&mut self) {
        for (_, pid) in &self.pids {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn run() -> Result<bool, String> {
    // Dropped in reverse: the session's processes, the X server, the directory, the user.
    let owner = Owner::new();
    let tag = format!("demo-{}", std::process::id());
    // A hook directory xexit trusts (0755), in a directory the session writes its PIDs to.
    let hooks = HookDir::new("demo");
    hooks.add(
        "10save-state",
        0o755,
        "#!/bin/sh\necho \"saving $XEXIT_USER's state ($XEXIT_REASON), PIDs $XEXIT_PIDS\"\nsleep 0.1\n",
    );
    let x = Xvfb::start().ok_or("cannot start Xvfb: apt-get install xvfb")?;
    let mut stage = Stage { children: Vec::new(), pids: Vec::new() };
    let display = x.display.as_str();
    println!("Xvfb on display {display}; the session belongs to {} and is tagged XEXIT_DEMO_TAG={tag}", owner.name());

    let env = [("DISPLAY", display), ("XEXIT_DEMO_TAG", tag.as_str())];
    let pidfile = |name: &str| hooks.out(name).display().to_string();
    let session = [
        ("an ordinary program", "exec sleep 1000".to_string()),
        (
            "one that ignores TERM",
            format!("trap '' TERM; echo $$ > {}; while :; do sleep 0.2; done", pidfile("stubborn")),
        ),
        ("a stopped one", "exec sleep 1001".to_string()),
        (
            "a daemon (double fork, setsid)",
            format!("(setsid sh -c 'echo $$ > {}; exec sleep 1002' &)", pidfile("daemon")),
        ),
    ];
    for (what, script) in &session {
        let child = owner.command("/bin/sh", &env).args(["-c", script]).spawn().map_err(|e| e.to_string())?;
        let pid = child.id() as i32;
        stage.children.push(child);
        let pid = match *what {
            "a stopped one" => {
                // Stopped before its exec, it would be a stopped shell, not the sleep.
                if !wait_exec(pid, "sleep") {
                    return Err(format!("{pid} never ran sleep"));
                }
                kill(Pid::from_raw(pid), Signal::SIGSTOP).map_err(|e| e.to_string())?;
                pid
            }
            "one that ignores TERM" => read_pid(&hooks.out("stubborn")),
            "a daemon (double fork, setsid)" => read_pid(&hooks.out("daemon")),
            _ => pid,
        };
        stage.pids.push((what.to_string(), pid));
    }
    for (what, pid) in &stage.pids {
        println!("  session process {pid:>7}: {what}");
    }

    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = owner.command(me.to_str().ok_or("odd path")?, &env);
    command.args(["xexit", "--foreground", "--session", "env:XEXIT_DEMO_TAG", "--grace", "1s"]).arg(hooks.arg());
    let mut watcher = Watcher::spawn_quiet(command);
    println!("xexit is watching: {}", watcher.seen.last().map_or("", |l| l.trim_start_matches("xexit: ")));
    std::thread::sleep(Duration::from_millis(300));

    let killed = std::time::Instant::now();
    x.signal(Signal::SIGKILL);
    println!("\ntimeline (from SIGKILL of the X server):");
    println!("  {:>6} ms  X server killed", 0);
    for (at, line) in watcher.lines.iter() {
        let text = line.trim_start_matches("xexit: ");
        let shown = if text.starts_with("lost display") {
            format!("loss noticed: {text}")
        } else if text.starts_with("session empty") {
            format!("session empty: {text}")
        } else {
            text.to_string()
        };
        println!("  {:>6} ms  {shown}", at.duration_since(killed).as_millis());
    }
    let status = watcher.child.wait().map_err(|e| e.to_string())?;
    println!("  {:>6} ms  xexit exited ({status})", killed.elapsed().as_millis());

    let survivors: Vec<String> =
        stage.pids.iter().filter(|(_, pid)| alive(*pid)).map(|(what, pid)| format!("{pid} ({what})")).collect();
    if survivors.is_empty() && status.success() {
        println!("\nevery session process ended ({} of them)", stage.pids.len());
        Ok(true)
    } else {
        println!(
            "\nsurvived: {}",
            if survivors.is_empty() { "none, but xexit failed".into() } else { survivors.join(", ") }
        );
        Ok(false)
    }
}
