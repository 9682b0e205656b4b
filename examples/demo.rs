//! See it work: `cargo run --release --example demo`.
//!
//! Starts Xvfb on a free display and a small session on it (a process that ignores TERM, a
//! stopped one, a daemon that double-forked and called setsid, an ordinary one), all tagged
//! with a tag of this run's own. Starts xexit watching the display, kills the X server, and
//! prints the timeline. Exits 0 when every session process ended.
//!
//! As root it makes a user `xxdemo` for the session (root's own processes are never ended by
//! an env selector); otherwise the session is the caller's, told apart by the tag alone.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const DEMO_USER: &str = "xxdemo";

fn main() {
    // Run as `demo xexit ARGS...`, this is xexit itself: the library's own entry point.
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "xexit") {
        std::process::exit(i32::from(xexit::main_with_args(args)));
    }
    let result = run();
    remove_demo_user();
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("demo: {e}");
            std::process::exit(2);
        }
    }
}

/// As root, removes the system user the demo made (its processes have been ended by then).
fn remove_demo_user() {
    if rustix::process::getuid().is_root() && nix::unistd::User::from_name(DEMO_USER).ok().flatten().is_some() {
        let _ = Command::new("userdel").arg(DEMO_USER).status();
    }
}

/// Who the session belongs to: uid, gid and name.
struct Owner {
    uid: u32,
    gid: u32,
    name: String,
}

fn owner() -> Result<Owner, String> {
    let me = rustix::process::getuid().as_raw();
    if me != 0 {
        let name = nix::unistd::User::from_uid(me.into()).ok().flatten().map_or(me.to_string(), |u| u.name);
        return Ok(Owner { uid: me, gid: rustix::process::getgid().as_raw(), name });
    }
    if nix::unistd::User::from_name(DEMO_USER).ok().flatten().is_none() {
        Command::new("useradd")
            .args(["-r", "-M", "-N", "-s", "/bin/sh", DEMO_USER])
            .status()
            .map_err(|e| e.to_string())?;
    }
    let user = nix::unistd::User::from_name(DEMO_USER).ok().flatten().ok_or("cannot make the demo user")?;
    Ok(Owner { uid: user.uid.as_raw(), gid: user.gid.as_raw(), name: user.name })
}

/// Everything the demo started, ended and removed when it goes out of scope.
struct Stage {
    dir: PathBuf,
    xvfb: Option<Child>,
    children: Vec<Child>,
    pids: Vec<(String, i32)>,
}

impl Drop for Stage {
    fn drop(&mut self) {
        for (_, pid) in &self.pids {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        for child in self.children.iter_mut().chain(self.xvfb.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run() -> Result<bool, String> {
    let owner = owner()?;
    let tag = format!("demo-{}", std::process::id());
    let dir = std::env::temp_dir().join(format!("xexit-demo-{}", std::process::id()));
    let mut stage = Stage { dir: dir.clone(), xvfb: None, children: Vec::new(), pids: Vec::new() };
    make_dirs(&dir)?;

    let (xvfb, display) = start_xvfb()?;
    stage.xvfb = Some(xvfb);
    println!("Xvfb on display {display}; the session belongs to {} and is tagged XEXIT_DEMO_TAG={tag}", owner.name);

    let env = [("DISPLAY", display.as_str()), ("XEXIT_DEMO_TAG", tag.as_str())];
    let pidfile = |name: &str| dir.join("run").join(name).display().to_string();
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
        let child = as_owner(&owner, "/bin/sh", &env).args(["-c", script]).spawn().map_err(|e| e.to_string())?;
        let pid = child.id() as i32;
        stage.children.push(child);
        match *what {
            "a stopped one" => {
                std::thread::sleep(Duration::from_millis(50));
                kill(Pid::from_raw(pid), Signal::SIGSTOP).map_err(|e| e.to_string())?;
                stage.pids.push((what.to_string(), pid));
            }
            "one that ignores TERM" => {
                stage.pids.push((what.to_string(), read_pid(&PathBuf::from(pidfile("stubborn")))?))
            }
            "a daemon (double fork, setsid)" => {
                stage.pids.push((what.to_string(), read_pid(&PathBuf::from(pidfile("daemon")))?))
            }
            _ => stage.pids.push((what.to_string(), pid)),
        }
    }
    for (what, pid) in &stage.pids {
        println!("  session process {pid:>7}: {what}");
    }

    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut watcher = as_owner(&owner, me.to_str().ok_or("odd path")?, &env)
        .args(["xexit", "--foreground", "--session", "env:XEXIT_DEMO_TAG", "--grace", "1s"])
        .arg(format!("--hook-dir={}", dir.join("Xexit.d").display()))
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start xexit: {e}"))?;
    let (tx, lines) = mpsc::channel();
    let stderr = watcher.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send((Instant::now(), line));
        }
    });
    let started = lines.recv_timeout(Duration::from_secs(10)).map_err(|_| "xexit did not start")?;
    println!("xexit is watching: {}", started.1.trim_start_matches("xexit: "));
    std::thread::sleep(Duration::from_millis(300));

    let killed = Instant::now();
    if let Some(x) = stage.xvfb.as_mut() {
        x.kill().map_err(|e| e.to_string())?;
    }
    println!("\ntimeline (from SIGKILL of the X server):");
    println!("  {:>6} ms  X server killed", 0);
    for (at, line) in lines.iter() {
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
    let status = watcher.wait().map_err(|e| e.to_string())?;
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

/// The demo's directory: a hook directory xexit trusts (0755), and `run/` for the session.
fn make_dirs(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let io = |e: std::io::Error| e.to_string();
    std::fs::create_dir_all(dir.join("Xexit.d")).map_err(io)?;
    std::fs::create_dir_all(dir.join("run")).map_err(io)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
    std::fs::set_permissions(dir.join("Xexit.d"), std::fs::Permissions::from_mode(0o755)).map_err(io)?;
    std::fs::set_permissions(dir.join("run"), std::fs::Permissions::from_mode(0o777)).map_err(io)?;
    let hook = dir.join("Xexit.d/10save-state");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho \"saving $XEXIT_USER's state ($XEXIT_REASON), PIDs $XEXIT_PIDS\"\nsleep 0.1\n",
    )
    .map_err(io)?;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).map_err(io)
}

fn start_xvfb() -> Result<(Child, String), String> {
    let mut child = Command::new("Xvfb")
        .args(["-displayfd", "1", "-nolisten", "tcp", "-noreset"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start Xvfb ({e}): apt-get install xvfb"))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).map_err(|e| e.to_string())?;
    Ok((child, format!(":{}", line.trim())))
}

fn as_owner(owner: &Owner, program: &str, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", "/tmp")
        .envs(env.iter().copied())
        .current_dir("/tmp")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if rustix::process::getuid().is_root() {
        command.uid(owner.uid).gid(owner.gid);
    }
    command
}

fn read_pid(file: &Path) -> Result<i32, String> {
    for _ in 0..250 {
        if let Some(pid) = std::fs::read_to_string(file).ok().and_then(|t| t.trim().parse().ok()) {
            return Ok(pid);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("{} never got a PID", file.display()))
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().chars().next()))
        .is_some_and(|state| state != Some('Z') && state != Some('X'))
}
