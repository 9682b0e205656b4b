//! A private X2Go server for the host tests: x2goserver's own scripts behind a private sshd,
//! in the test's mount namespace with a private session database, extension directories,
//! x2go_logout.d and /usr/local/bin; the client is the real pyhoca-cli (python-x2go) with
//! nxproxy on a private Xvfb, run as root with a private HOME.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::desktop::Installed;
use super::sshd::{Sshd, start_sshd};
use super::*;

pub const SNIPPET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/doc/hosts/89xexit-x2go");
pub const EXTENSION: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/doc/hosts/090_xexit");

/// x2gostartagent takes the first free display from :50, looking at its own database and
/// /tmp's lock files: sessions of parallel tests (each with its own database) start one
/// at a time, until the agent holds its display's lock file.
static STARTING: Mutex<()> = Mutex::new(());

pub struct X2GoServer {
    pub installed: Installed,
    pub sshd: Sshd,
    pub client_x: Xvfb,
    /// Each user's /tmp/.x2go-USER, where X2Go keeps its session directories.
    session_dirs: Vec<PathBuf>,
}

impl X2GoServer {
    /// The server for `users`, xexit installed or not, with `defaults` as /etc/default/xexit,
    /// `sessions` (name, script) as programs on PATH, and the rootless extension if asked.
    pub fn start(installed: Installed, users: &[&TestUser], sessions: &[(&str, &str)], extension: bool) -> X2GoServer {
        let client_x = Xvfb::start().expect("the client's Xvfb");
        let dir = &installed.dir;
        let (bin, lib) = (dir.path("bin"), dir.path("lib"));
        std::fs::create_dir(&lib).unwrap();
        std::fs::copy(SNIPPET, dir.path("Xsession.d/89xexit-x2go")).unwrap();
        for (name, script) in sessions {
            write_program(&bin.join(name), &script.replace("OUT", &dir.0.display().to_string()));
        }
        let extensions = dir.path("extensions");
        assert!(run(Command::new("cp").arg("-a").arg("/usr/lib/x2go/extensions").arg(&extensions)).status.success());
        // X2Go's own cleanup after the session command, seen from outside: the
        // post-runcommand extensions and x2go_logout.d.
        write_program(&extensions.join("post-runcommand.d/999_mark"), "#!/bin/sh\ntouch \"$HOME/post-runcommand\"\n");
        if extension {
            std::fs::copy(EXTENSION, extensions.join("pre-runcommand.d/090_xexit")).unwrap();
        }
        let logout = dir.path("x2go_logout.d");
        assert!(run(Command::new("cp").arg("-a").arg("/etc/x2go/x2go_logout.d").arg(&logout)).status.success());
        std::fs::write(logout.join("999_mark"), "touch \"$HOME/x2go_logout\"\n").unwrap();
        for dir in [&bin, &extensions, &logout] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let sshd = start_sshd(&installed, users[0]);
        let sshd = allow(sshd, &installed, users);
        let binds = [
            (lib.as_path(), "/var/lib/x2go"),
            (bin.as_path(), "/usr/local/bin"),
            (extensions.as_path(), "/usr/lib/x2go/extensions"),
            (logout.as_path(), "/etc/x2go/x2go_logout.d"),
        ];
        for (from, to) in binds {
            let output = run(enter(&sshd).args(["mount", "--bind"]).arg(from).arg(to));
            assert!(output.status.success(), "bind {to}: {}", stderr_of(&output));
        }
        let created = run(Command::new("nsenter")
            .args(["-t", &sshd.child.id().to_string(), "-m", "x2godbadmin"])
            .arg("--createdb"));
        assert!(created.status.success(), "x2godbadmin: {}", stderr_of(&created));
        // One left by an earlier test user of the same name but another uid cannot be used.
        let session_dirs: Vec<PathBuf> =
            users.iter().map(|u| PathBuf::from(format!("/tmp/.x2go-{}", u.name))).collect();
        session_dirs.iter().for_each(|dir| drop(std::fs::remove_dir_all(dir)));
        X2GoServer { installed, sshd, client_x, session_dirs }
    }

    /// The session database's rows: (session name, status), R running, S suspended, F finished.
    pub fn rows(&self) -> Vec<(String, String)> {
        let db = self.installed.dir.path("lib/x2go_sessions");
        let output = run(Command::new("sqlite3").arg(db).arg("select session_id, status from sessions"));
        let text = stdout_of(&output);
        text.lines().filter_map(|l| l.split_once('|')).map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    pub fn status_of(&self, session: &str) -> Option<String> {
        self.rows().into_iter().find(|(name, _)| name == session).map(|(_, status)| status)
    }

    /// pyhoca-cli for `user` with `args`, its output in the client's log `label`.
    pub fn client(&self, user: &TestUser, label: &str, args: &[&str]) -> Client {
        let home = self.installed.dir.path(&format!("client-{label}"));
        let key = home.join(".ssh/id_rsa");
        if !key.exists() {
            std::fs::create_dir_all(home.join(".ssh")).unwrap();
            let made = Command::new("ssh-keygen").args(["-q", "-t", "rsa", "-N", "", "-f"]).arg(&key).status();
            assert!(made.unwrap().success(), "ssh-keygen -t rsa");
            let public = std::fs::read_to_string(home.join(".ssh/id_rsa.pub")).unwrap();
            let keys = self.installed.dir.path("authorized_keys");
            let all = std::fs::read_to_string(&keys).unwrap_or_default() + &public;
            std::fs::write(keys, all).unwrap();
        }
        let log = self.installed.dir.path(&format!("client-{label}.log"));
        let port = self.sshd.port.to_string();
        let child = Command::new("pyhoca-cli")
            .args(["--server", "127.0.0.1", "-p", &port, "-l", &user.name, "--add-to-known-hosts"])
            .args(args)
            .env("HOME", &home)
            .env("DISPLAY", &self.client_x.display)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::from(std::fs::File::options().append(true).open(&log).unwrap()))
            .process_group(0)
            .spawn()
            .expect("start pyhoca-cli");
        Client { child, log }
    }

    /// pyhoca-cli for `user` with `args` (-T or -S NAME), to its end; its output.
    pub fn run_client(&self, user: &TestUser, label: &str, args: &[&str]) -> String {
        let mut client = self.client(user, label, args);
        let ended = wait_for(Duration::from_secs(60), || client.child.try_wait().unwrap().is_some());
        assert!(ended, "pyhoca-cli {args:?} did not end:\n{}", client.log());
        client.log()
    }

    /// A new session of `user` running `command` (`desktop` or `application`); the client
    /// and the session's name, once the client says it runs.
    pub fn new_session(&self, user: &TestUser, label: &str, command: &str, kind: &str) -> (Client, String) {
        let _starting = STARTING.lock().unwrap_or_else(|p| p.into_inner());
        // python-x2go gives the agent a fixed time to come up, which a loaded machine can
        // miss ("session startup ... failed"): a user would try again, and so does the test.
        let mut logs = Vec::new();
        for attempt in 0..3 {
            let mut client = self.client(user, &format!("{label}{attempt}"), &["-c", command, "-t", kind]);
            let up = wait_for(Duration::from_secs(60), || {
                let log = client.log();
                log.contains("Press CTRL+C") || log.contains("startup failed") || log.contains("Traceback")
            });
            let log = client.log();
            let name = log.split("Using session ").nth(1).and_then(|rest| rest.split(' ').next());
            if let (true, Some(name)) = (up, name)
                && log.contains("Press CTRL+C")
            {
                return (client, name.to_string());
            }
            client.kill();
            logs.push(log);
        }
        panic!("the X2Go session never came up:\n{}", logs.join("\n"));
    }

    /// The agent of the session `name` crashes (SIGKILL). It leaves its display's lock file
    /// and socket, which x2gostartagent does not look at (it asks ss what listens), so they
    /// are removed before another test's session may start.
    /// Returns when it was killed.
    pub fn crash_agent(&self, agent: i32, name: &str) -> Instant {
        let _starting = STARTING.lock().unwrap_or_else(|p| p.into_inner());
        let killed = Instant::now();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(agent), nix::sys::signal::Signal::SIGKILL).unwrap();
        assert!(wait_for(Duration::from_secs(10), || !alive(agent)), "the agent {agent} outlived KILL");
        let display = name.split('-').nth(1).unwrap();
        let _ = std::fs::remove_file(format!("/tmp/.X11-unix/X{display}"));
        let _ = std::fs::remove_file(format!("/tmp/.X{display}-lock"));
        killed
    }

    /// The agent (x2goagent, the X server) of the session `name`, as X2Go's database has it.
    pub fn agent(&self, name: &str) -> i32 {
        self.running_agent(name).unwrap_or_else(|| panic!("no agent runs for {name}: {:?}", self.rows()))
    }

    /// The agent the database names for `name`, while that PID is still this session's agent
    /// (its window name carries the session's name).
    fn running_agent(&self, name: &str) -> Option<i32> {
        let db = self.installed.dir.path("lib/x2go_sessions");
        let query = format!("select agent_pid from sessions where session_id = '{name}'");
        let pid: i32 = stdout_of(&run(Command::new("sqlite3").arg(db).arg(query))).trim().parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let window = format!("X2GO-{name}");
        (alive(pid) && cmdline.split(|b| *b == 0).any(|arg| arg == window.as_bytes())).then_some(pid)
    }
}

impl Drop for X2GoServer {
    /// Agents still running (bystanders, a start python-x2go gave up on) go as if crashed, so
    /// that their lock files go too; the test users' drop would KILL them and leave those.
    fn drop(&mut self) {
        for (name, _) in self.rows() {
            if let Some(agent) = self.running_agent(&name) {
                self.crash_agent(agent, &name);
            }
        }
        self.session_dirs.iter().for_each(|dir| drop(std::fs::remove_dir_all(dir)));
    }
}

/// Lets every one of `users` in and adds the sftp subsystem python-x2go needs, then makes
/// sshd read its configuration again (SIGHUP re-executes it with the same PID).
fn allow(sshd: Sshd, installed: &Installed, users: &[&TestUser]) -> Sshd {
    let config = installed.dir.path("sshd_config");
    let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(&format!("AllowUsers {}\n", names[0]), &format!("AllowUsers {}\n", names.join(" ")));
    std::fs::write(&config, text + "Subsystem sftp internal-sftp\n").unwrap();
    let log = installed.dir.path("sshd.log");
    let listening = || std::fs::read_to_string(&log).unwrap_or_default().matches("Server listening").count();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(sshd.child.id() as i32), nix::sys::signal::Signal::SIGHUP)
        .unwrap();
    assert!(wait_for(Duration::from_secs(10), || listening() >= 2), "sshd did not restart");
    sshd
}

/// A command in sshd's mount namespace, where the logins run.
fn enter(sshd: &Sshd) -> Command {
    let mut command = Command::new("nsenter");
    command.args(["-m", "-t", &sshd.child.id().to_string()]);
    command
}

fn write_program(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A pyhoca-cli run (with its nxproxy), in a process group of its own.
pub struct Client {
    pub child: Child,
    pub log: PathBuf,
}

impl Client {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The client closed, as a user closing the window or losing the network: pyhoca-cli
    /// and its nxproxy killed.
    pub fn kill(&mut self) {
        let group = nix::unistd::Pid::from_raw(-(self.child.id() as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Every X2Go program this file needs, or why it cannot run.
pub fn need_x2go() -> bool {
    for program in ["pyhoca-cli", "nxproxy", "x2goruncommand", "sqlite3", "nsenter", "ssh-keygen", "xprop"] {
        if !need_program(program) {
            return false;
        }
    }
    let missing =
        ["/usr/sbin/sshd", "/usr/sbin/x2godbadmin", "/etc/x2go/Xsession"].into_iter().find(|p| !Path::new(p).exists());
    available(missing.map(|path| format!("needs {path} (x2goserver, x2goserver-xsession, openssh-server)")))
}
