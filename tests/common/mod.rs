//! Shared helpers for the integration tests: a real Xvfb per test, test-made users, cgroups
//! and process trees, and the skip rule (a skip is a failure under CI=true).
#![allow(dead_code)]

pub mod attackers;
pub mod container;
pub mod desktop;
pub mod lightdm;
pub mod sshd;
pub mod tigervnc;
pub mod x2go;
pub mod xrdp;

use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

/// The built xexit. Cargo names it to tests and benches only; the demo (an example, which
/// includes this module too) runs xexit as itself and never uses this.
pub const XEXIT: &str = match option_env!("CARGO_BIN_EXE_xexit") {
    Some(path) => path,
    None => "/nonexistent/xexit: CARGO_BIN_EXE_xexit is set for tests and benches only",
};

/// Skips the test (returns false) when `missing` is set, unless CI=true, where it fails.
pub fn available(missing: Option<String>) -> bool {
    let Some(why) = missing else { return true };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("cannot run under CI=true: {why}");
    }
    eprintln!("SKIPPED: {why}");
    false
}

pub fn need_root() -> bool {
    available((!rustix::process::geteuid().is_root()).then(|| "needs root (to create users and cgroups)".into()))
}

pub fn need_program(program: &str) -> bool {
    available(
        find_program(program).is_none().then(|| format!("needs {program} (apt-get install the package that has it)")),
    )
}

/// Where `program` is on PATH.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join(program)).find(|path| path.is_file())
}

/// A private Xvfb on a display number it picked itself (-displayfd), killed on drop.
pub struct Xvfb {
    pub child: Child,
    pub display: String,
}

impl Xvfb {
    pub fn start() -> Option<Xvfb> {
        Xvfb::start_with(&["-nolisten", "tcp"])
    }

    /// An Xvfb that also listens on TCP (port 6000 + display number), without access control.
    pub fn start_tcp() -> Option<Xvfb> {
        Xvfb::start_with(&["-listen", "tcp", "-ac"])
    }

    fn start_with(listen: &[&str]) -> Option<Xvfb> {
        if !need_program("Xvfb") {
            return None;
        }
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-noreset", "-screen", "0", "320x240x16"])
            .args(listen)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("read display number");
        let number: u32 = line.trim().parse().unwrap_or_else(|_| panic!("Xvfb said {line:?}, not a display number"));
        Some(Xvfb { child, display: format!(":{number}") })
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, signal: Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal).expect("signal Xvfb");
    }

    /// Sets the root window's LTSP_XEXIT property, as an LTSP admin's `xprop -set` would.
    pub fn set_control(&self, value: &str) {
        use x11rb::connection::Connection;
        use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _, PropMode};
        use x11rb::wrapper::ConnectionExt as _;
        let (conn, screen) = x11rb::connect(Some(&self.display)).expect("connect to Xvfb");
        let root = conn.setup().roots[screen].root;
        let atom = conn.intern_atom(false, b"LTSP_XEXIT").unwrap().reply().unwrap().atom;
        conn.change_property8(PropMode::REPLACE, root, atom, AtomEnum::STRING, value.as_bytes()).unwrap();
        conn.sync().unwrap();
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("xexit-test-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Test users write their PID files here.
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits until `check` holds or `limit` passes; returns whether it held.
pub fn wait_for(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check()
}

/// Whether PID is a live process (a zombie counts as ended).
pub fn alive(pid: i32) -> bool {
    live_stat(pid).is_some()
}

/// /proc/PID/stat of a live process; None for a zombie or one that is gone.
pub fn live_stat(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    // A zombie is over, unless only its main thread exited (num_threads, field 20, above 1).
    // One being reaped shows X and 0 threads: over too.
    let threads = fields.get(17).and_then(|n| n.parse::<u32>().ok()).unwrap_or(0);
    (!matches!(fields.first(), Some(&("Z" | "X"))) || threads > 1).then_some(stat)
}

/// The value of `field` (such as "Uid" or "SigIgn") in /proc/PID/status.
pub fn status_field(pid: i32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let value = status.lines().find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?;
    Some(value.trim().to_string())
}

/// The real uid PID runs as.
pub fn uid_of(pid: i32) -> Option<u32> {
    status_field(pid, "Uid")?.split_whitespace().next()?.parse().ok()
}

/// Whether PID ignores `signal`, as a shell does once it has run `trap '' SIGNAL`.
pub fn ignores(pid: i32, signal: Signal) -> bool {
    let mask = status_field(pid, "SigIgn").and_then(|mask| u64::from_str_radix(&mask, 16).ok());
    mask.is_some_and(|mask| mask & (1 << (signal as i32 - 1)) != 0)
}

/// The program file PID runs (links resolved, as /proc/PID/exe has it).
pub fn exe_of(pid: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// How long a test waits for a process it started to get where it should be.
const START_LIMIT: Duration = Duration::from_secs(5);

/// Waits until PID runs `program` (a name on PATH or a path). Until it execs, a child that a
/// shell (`cmd &`), setpriv or the test forked is still its parent's program, with its
/// parent's uid and environment: not yet what xexit is to find or spare.
pub fn wait_exec(pid: i32, program: &str) -> bool {
    let path = if program.contains('/') { Some(PathBuf::from(program)) } else { find_program(program) };
    let file = path.and_then(|path| std::fs::canonicalize(path).ok());
    let file = file.unwrap_or_else(|| panic!("no program {program}"));
    wait_for(START_LIMIT, || exe_of(pid).as_ref() == Some(&file))
}

/// Waits until PID ignores `signal`: a shell ignores TERM only once it has run its trap.
pub fn wait_ignoring(pid: i32, signal: Signal) -> bool {
    wait_for(START_LIMIT, || ignores(pid, signal))
}

/// Waits until PID runs as `uid`: one started through setpriv is root until setpriv execs.
pub fn wait_uid(pid: i32, uid: u32) -> bool {
    wait_for(START_LIMIT, || uid_of(pid) == Some(uid))
}

/// `program` with an empty environment, in /tmp, its stdin from /dev/null.
pub fn clean_command(program: &str) -> Command {
    let mut command = Command::new(program);
    command.env_clear().current_dir("/tmp").stdin(Stdio::null());
    command
}

/// Runs a command (owned or borrowed) to the end, with stdin from /dev/null.
pub fn run(mut command: impl std::borrow::BorrowMut<Command>) -> Output {
    command.borrow_mut().stdin(Stdio::null()).output().expect("run command")
}

pub fn xexit(args: &[&str]) -> Command {
    let mut command = Command::new(XEXIT);
    command.args(args);
    command
}

pub fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

static USERADD: Mutex<()> = Mutex::new(());

/// Every test user's name starts with this, so leftovers are easy to find and remove.
pub const USER_PREFIX: &str = "xx";

/// A system user made for one test (`useradd -r`), with a home of its own; on drop its
/// processes (all the test's own) are killed and the user and home are removed.
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

/// Runs useradd or userdel, retrying while another process holds /etc/passwd's lock.
fn account_tool(args: &[&str], done: impl Fn() -> bool) {
    let _lock = USERADD.lock().unwrap_or_else(|p| p.into_inner());
    for _ in 0..50 {
        if done() {
            return;
        }
        let status = Command::new(args[0]).args(&args[1..]).stderr(Stdio::null()).status();
        if done() {
            return;
        }
        eprintln!("{args:?}: {status:?}; retrying");
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{args:?} never succeeded");
}

fn user_exists(name: &str) -> bool {
    nix::unistd::User::from_name(name).ok().flatten().is_some()
}

impl TestUser {
    /// Creates the user `name` (it must start with USER_PREFIX); names are per test, so
    /// tests never share one.
    pub fn get(name: &str) -> TestUser {
        assert!(name.starts_with(USER_PREFIX), "test users are named {USER_PREFIX}*");
        let home = PathBuf::from(format!("/tmp/xexit-home-{name}"));
        let home_text = home.to_str().unwrap();
        account_tool(&["useradd", "-r", "-M", "-N", "-s", "/bin/sh", "-d", home_text, name], || user_exists(name));
        let user = nix::unistd::User::from_name(name).unwrap().expect("test user exists");
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir(&home).unwrap();
        nix::unistd::chown(&home, Some(user.uid), Some(user.gid)).unwrap();
        std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        TestUser { name: name.to_string(), uid: user.uid.as_raw(), gid: user.gid.as_raw(), home }
    }

    /// The environment a login gives: HOME, USER, LOGNAME, SHELL and a plain PATH.
    pub fn login_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PATH", "/usr/local/bin:/usr/bin:/bin".to_string()),
            ("HOME", self.home.display().to_string()),
            ("USER", self.name.clone()),
            ("LOGNAME", self.name.clone()),
            ("SHELL", "/bin/sh".to_string()),
        ]
    }

    /// A command that runs as this user, with a clean environment plus `env`.
    pub fn command(&self, program: &str, env: &[(&str, &str)]) -> Command {
        let mut command = clean_command(program);
        command.envs(self.login_env()).envs(env.iter().copied()).uid(self.uid).gid(self.gid);
        command
    }

    /// Like `command`, but the process starts inside `cgroup`: root places it there, then
    /// setpriv drops to the user, since a user may not move itself out of the root cgroup.
    pub fn command_in(&self, cgroup: &TestCgroup, program: &str, env: &[(&str, &str)]) -> Command {
        let mut command = clean_command("setpriv");
        command.args(self.setpriv_args()).arg(program).envs(self.login_env()).envs(env.iter().copied());
        cgroup.place(&mut command);
        command
    }

    /// A shell script run as this user; its PID file is written by the script itself.
    pub fn spawn_shell(&self, script: &str, env: &[(&str, &str)]) -> Child {
        self.command("/bin/sh", env).args(["-c", script]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
    }

    /// Starts ssh-agent (which daemonizes) as this user; returns the agent's PID.
    pub fn start_ssh_agent(&self, env: &[(&str, &str)]) -> i32 {
        let output = run(self.command("ssh-agent", env).arg("-s"));
        let text = stdout_of(&output);
        text.split("SSH_AGENT_PID=")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| panic!("no SSH_AGENT_PID in {text:?}"))
    }

    /// Every live process of this user.
    pub fn processes(&self) -> Vec<i32> {
        self.own_pids().filter(|pid| alive(*pid)).collect()
    }

    /// /proc/PID/stat of each live process this test user runs, as read when it was found.
    pub fn live_stats(&self) -> Vec<String> {
        self.own_pids().filter_map(live_stat).collect()
    }

    fn own_pids(&self) -> impl Iterator<Item = i32> + '_ {
        let pids = std::fs::read_dir("/proc").unwrap().flatten().filter_map(|e| e.file_name().to_str()?.parse().ok());
        pids.filter(|pid| uid_of(*pid) == Some(self.uid))
    }

    /// Ends whatever this test user still runs: its PIDs are all the test's own.
    pub fn cleanup(&self) {
        for pid in self.processes() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }

    /// setpriv's arguments that drop root to this user, up to the program.
    pub fn setpriv_args(&self) -> Vec<String> {
        let (uid, gid) = (self.uid.to_string(), self.gid.to_string());
        ["--reuid", &uid, "--regid", &gid, "--clear-groups", "--"].map(str::to_string).to_vec()
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        self.cleanup();
        wait_for(Duration::from_secs(5), || self.processes().is_empty());
        let name = self.name.clone();
        account_tool(&["userdel", &self.name], || !user_exists(&name));
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// Reads a PID that a test process wrote to `file`, waiting for it to appear.
pub fn read_pid(file: &Path) -> i32 {
    assert!(
        wait_for(Duration::from_secs(5), || std::fs::read_to_string(file)
            .is_ok_and(|t| t.trim().parse::<i32>().is_ok())),
        "{} never got a PID",
        file.display()
    );
    std::fs::read_to_string(file).unwrap().trim().parse().unwrap()
}

/// The writable cgroup v2 hierarchy's mount point, if there is one.
pub fn cgroup2_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    let mount = mounts.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(fields[1]))
    })?;
    rustix::fs::access(mount.join("cgroup.procs"), rustix::fs::Access::WRITE_OK).ok().map(|_| mount)
}

/// A cgroup v2 group made by the test under the hierarchy's root, removed on drop.
pub struct TestCgroup {
    pub dir: PathBuf,
    /// Relative to the hierarchy's root, as `cgroup:PATH` takes it.
    pub path: String,
}

impl TestCgroup {
    pub fn create(name: &str) -> Option<TestCgroup> {
        let mount = cgroup2_mount();
        if !available(
            mount.is_none().then(|| "needs a writable cgroup v2 hierarchy (a cgroup2 line in /proc/mounts)".into()),
        ) {
            return None;
        }
        let path = format!("/xexit-test-{name}-{}", std::process::id());
        let dir = mount.unwrap().join(path.trim_start_matches('/'));
        let _ = std::fs::create_dir(&dir);
        Some(TestCgroup { dir, path })
    }

    pub fn child(&self, name: &str) -> TestCgroup {
        let dir = self.dir.join(name);
        std::fs::create_dir(&dir).unwrap();
        TestCgroup { dir, path: format!("{}/{name}", self.path) }
    }

    /// Makes `command` start inside this cgroup (it must not change its uid itself: the
    /// move is made after Command's own uid change, just before the exec).
    pub fn place(&self, command: &mut Command) {
        use rustix::fs::{Mode, OFlags};
        // Opened here, before the fork: between fork and exec nothing may allocate.
        let procs = rustix::fs::open(self.dir.join("cgroup.procs"), OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
            .expect("open cgroup.procs");
        // SAFETY: the closure makes one async-signal-safe call, write(2) of a static byte to
        // an open descriptor, and allocates nothing (an OS error is a code, not a heap value).
        // "0" moves the writing process itself.
        unsafe {
            command.pre_exec(move || {
                if libc::write(procs.as_raw_fd(), b"0".as_ptr().cast(), 1) == 1 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    }

    /// Waits until at least `count` processes are in here and each has become the program it
    /// runs: none is still the test's fork or setpriv, which run as root before they exec.
    pub fn wait_started(&self, count: usize) -> bool {
        let this_test = std::env::current_exe().ok();
        let started = |pid: &i32| {
            let exe = exe_of(*pid);
            exe.is_some() && exe != this_test && exe.as_deref() != Some(Path::new("/usr/bin/setpriv"))
        };
        wait_for(START_LIMIT, || {
            let pids = self.pids();
            pids.len() >= count && pids.iter().all(started)
        })
    }

    pub fn pids(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        let mut dirs = vec![self.dir.clone()];
        while let Some(dir) = dirs.pop() {
            let text = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            pids.extend(text.lines().filter_map(|l| l.parse::<i32>().ok()));
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push(entry.path());
                }
            }
        }
        pids.into_iter().filter(|pid| alive(*pid)).collect()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // Only this test's processes are in here.
        let _ = std::fs::write(self.dir.join("cgroup.kill"), "1");
        wait_for(Duration::from_secs(2), || self.pids().is_empty());
        let mut dirs = vec![self.dir.clone()];
        let mut all = Vec::new();
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push(entry.path());
                }
            }
            all.push(dir);
        }
        for dir in all.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// A foreground watcher whose stderr lines arrive on a channel, each with when it was read.
pub struct Watcher {
    pub child: Child,
    pub lines: std::sync::mpsc::Receiver<(Instant, String)>,
    pub seen: Vec<String>,
}

impl Watcher {
    /// Starts `xexit --foreground ARGS` and waits for its "started" line.
    pub fn start(args: &[&str]) -> Watcher {
        let mut command = xexit(&["--foreground"]);
        command.args(args);
        Watcher::spawn(command)
    }

    /// Starts a prepared xexit command and waits for its "started" line; its lines are
    /// copied to stderr as they come.
    pub fn spawn(command: Command) -> Watcher {
        Watcher::spawn_echoing(command, true)
    }

    /// Like `spawn`, without copying the lines to stderr (for the demo's and the bench's output).
    pub fn spawn_quiet(command: Command) -> Watcher {
        Watcher::spawn_echoing(command, false)
    }

    fn spawn_echoing(mut command: Command, echo: bool) -> Watcher {
        let mut child =
            command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start xexit");
        let (tx, lines) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if echo {
                    eprintln!("[xexit] {line}");
                }
                if tx.send((Instant::now(), line)).is_err() {
                    return;
                }
            }
        });
        let mut watcher = Watcher { child, lines, seen: Vec::new() };
        assert!(watcher.wait_line("started:", Duration::from_secs(10)).is_some(), "xexit never started");
        watcher
    }

    /// The first line (seen or to come within `limit`) that contains `text`.
    pub fn wait_line(&mut self, text: &str, limit: Duration) -> Option<String> {
        if let Some(line) = self.seen.iter().find(|l| l.contains(text)) {
            return Some(line.clone());
        }
        let deadline = Instant::now() + limit;
        while let Ok((_, line)) = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            self.seen.push(line.clone());
            if line.contains(text) {
                return Some(line);
            }
        }
        None
    }

    /// Waits for the watcher to exit; its exit code, or None if it still runs after `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn signal(&self, signal: Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a foreground watcher with `args` and, as its PROGRAM, an env dumper into `out`.
pub fn watch_with_dumper(args: &[&str], out: &Path) -> Watcher {
    let program = env_dumper(out);
    let mut all: Vec<&str> = args.to_vec();
    all.extend(program.iter().map(String::as_str));
    Watcher::start(&all)
}

/// Kills and waits for a child the test started; returns whether it was still alive.
pub fn finish(child: &mut Child) -> bool {
    let was_alive = alive(child.id() as i32);
    let _ = child.kill();
    let _ = child.wait();
    was_alive
}

/// A PROGRAM for watch that writes its environment to `file` (atomically, once it is done).
pub fn env_dumper(file: &Path) -> Vec<String> {
    let file = file.display();
    vec!["/bin/sh".into(), "-c".into(), format!("env > {file}.tmp && mv {file}.tmp {file}")]
}

/// The value of NAME in a file written by `env`.
pub fn env_in(file: &Path, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| l.strip_prefix(&format!("{name}="))).map(str::to_string)
}

/// A hook directory made by the test (root-owned, 0755, in a root-owned 0755 directory in
/// /tmp, so xexit trusts it and every directory above it), and a place for the hooks to
/// write what they saw.
pub struct HookDir {
    pub temp: TempDir,
    /// The hook directory's parent: the test's TempDir is writable by all, so not this one.
    pub parent: TempDir,
    pub dir: PathBuf,
}

impl HookDir {
    pub fn new(label: &str) -> HookDir {
        let temp = TempDir::new(label);
        let parent = TempDir::new(&format!("{label}-trusted"));
        std::fs::set_permissions(&parent.0, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let dir = parent.path("Xexit.d");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        HookDir { temp, parent, dir }
    }

    /// Adds a hook; `body` may use OUT for the results directory.
    pub fn add(&self, name: &str, mode: u32, body: &str) -> PathBuf {
        let path = self.dir.join(name);
        let out = self.temp.0.display().to_string();
        std::fs::write(&path, body.replace("OUT", &out)).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
        path
    }

    pub fn out(&self, name: &str) -> PathBuf {
        self.temp.path(name)
    }

    pub fn arg(&self) -> String {
        format!("--hook-dir={}", self.dir.display())
    }
}

/// A `sleep 1000` of `user` tagged XEXIT_TEST_TAG=`tag`: a session of one process.
pub fn tagged_sleeper(user: &TestUser, tag: &str) -> Child {
    let child = user.command("sleep", &[("XEXIT_TEST_TAG", tag)]).arg("1000").spawn().unwrap();
    assert!(wait_exec(child.id() as i32, "sleep"), "the sleeper never ran sleep");
    child
}

/// `xexit end` as root on `user`'s processes tagged XEXIT_TEST_TAG=`tag`, with `args` added.
pub fn end_tagged(user: &TestUser, tag: &str, args: &[&str]) -> Output {
    let session = format!("env:XEXIT_TEST_TAG={tag}");
    run(xexit(&["end", "--user", &user.name, "--session", &session, "--grace", "1"]).args(args))
}

/// The lines of `log` that contain `text`.
pub fn lines_with<'a>(log: &'a str, text: &str) -> Vec<&'a str> {
    log.lines().filter(|l| l.contains(text)).collect()
}

/// Ends a one-sleeper session of `user` tagged `tag`, as root, with `--hook-dir=hook_dir`;
/// checks that the sleeper is gone and returns the exit status and the log.
pub fn end_one_sleeper(user: &TestUser, tag: &str, hook_dir: &Path) -> (Option<i32>, String) {
    let mut sleeper = tagged_sleeper(user, tag);
    let output = end_tagged(user, tag, &[&format!("--hook-dir={}", hook_dir.display())]);
    let log = stderr_of(&output);
    assert!(!finish(&mut sleeper), "the session survived, with hook directory {}\n{log}", hook_dir.display());
    (output.status.code(), log)
}

/// Checks that the hook directory was refused whole, in one log line that says `why`, that
/// its hook `good` (which writes OUT/good) did not run, and that the exit status is 1.
pub fn assert_refused_whole(hooks: &HookDir, (code, log): (Option<i32>, String), why: &str) {
    assert!(!hooks.out("good").exists(), "a hook ran from a refused directory: {log}");
    let lines = lines_with(&log, "hook directory");
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains(why), "no {why:?} in {log}");
    assert_eq!(code, Some(1), "{log}");
}

impl HookDir {
    /// A hook directory with one hook, 10good, that touches OUT/good.
    pub fn with_good(label: &str) -> HookDir {
        let hooks = HookDir::new(label);
        hooks.add("10good", 0o755, "#!/bin/sh\ntouch OUT/good\n");
        hooks
    }
}

/// Checks that the hook `good` (which writes OUT/good) ran and the exit status is 0; removes
/// OUT/good for the next run.
pub fn assert_good_ran(hooks: &HookDir, (code, log): (Option<i32>, String)) {
    assert!(std::fs::remove_file(hooks.out("good")).is_ok(), "the trusted hook did not run: {log}");
    assert_eq!(code, Some(0), "{log}");
}

/// Runs xexit with `args` followed by a PROGRAM that would leave a marker file.
pub fn refused(label: &str, args: &[&str], display: Option<&str>) -> (i32, String) {
    let dir = TempDir::new(label);
    let marker = dir.path("ran");
    let mut command = xexit(args);
    command.args(["/usr/bin/touch", marker.to_str().unwrap()]);
    match display {
        Some(d) => command.env("DISPLAY", d),
        None => command.env_remove("DISPLAY"),
    };
    let output = run(&mut command);
    std::thread::sleep(Duration::from_millis(100));
    assert!(!marker.exists(), "{label}: PROGRAM ran");
    (output.status.code().unwrap_or(-1), stderr_of(&output))
}

/// Whether PID has a handler for `signal` (xexit has once it has installed its own).
pub fn catches(pid: i32, signal: Signal) -> bool {
    let mask = status_field(pid, "SigCgt").and_then(|mask| u64::from_str_radix(&mask, 16).ok());
    mask.is_some_and(|mask| mask & (1 << (signal as i32 - 1)) != 0)
}

/// A C program built for the test (with the system's cc, which Rust links with), in a
/// directory every test user may read; removed with the returned TempDir.
pub fn compile_c(name: &str, source: &str) -> (TempDir, PathBuf) {
    compile_c_with(name, source, &[])
}

/// `compile_c` with more options for cc (`-static`, say).
pub fn compile_c_with(name: &str, source: &str, options: &[&str]) -> (TempDir, PathBuf) {
    static BUILT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let build = BUILT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = TempDir::new(&format!("c-{name}-{build}"));
    std::fs::set_permissions(&dir.0, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (c_file, program) = (dir.path(&format!("{name}.c")), dir.path(name));
    std::fs::write(&c_file, source).unwrap();
    let output = run(Command::new("cc").args(["-O1", "-pthread"]).args(options).arg("-o").arg(&program).arg(&c_file));
    assert!(output.status.success(), "cc {name}.c: {}", stderr_of(&output));
    (dir, program)
}
