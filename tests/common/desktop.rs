//! The deployed path: Debian's real /etc/X11/Xsession and its Xsession.d snippets, with the
//! repo's 90xexit and the built xexit installed where 90xexit finds it, in a private mount
//! namespace of the test's own (so nothing is installed on the machine itself).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::*;

const SNIPPET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/Xsession.d/90xexit");
/// Where the test installs xexit inside its mount namespace: on every login's PATH.
const INSTALL_DIR: &str = "/usr/local/bin";

/// A private /etc/X11/Xsession.d (the machine's snippets, plus 90xexit when installed) and
/// a private /usr/local/bin holding xexit, made visible by `Installed::command`; with
/// `with_defaults`, a private /etc/default holding an /etc/default/xexit too.
pub struct Installed {
    pub dir: TempDir,
    with_xexit: bool,
    with_defaults: bool,
}

impl Installed {
    /// Prepares the files; `with_xexit` false is the same machine without xexit installed.
    pub fn new(label: &str, with_xexit: bool) -> Option<Installed> {
        if !need_root() || !need_program("unshare") || !Path::new("/etc/X11/Xsession").exists() {
            available(Some("needs root, unshare and /etc/X11/Xsession (package x11-common)".into()));
            return None;
        }
        let dir = TempDir::new(label);
        let snippets = dir.path("Xsession.d");
        std::fs::create_dir(&snippets).unwrap();
        for entry in std::fs::read_dir("/etc/X11/Xsession.d").unwrap().flatten() {
            if entry.file_name() != "90xexit" {
                std::fs::copy(entry.path(), snippets.join(entry.file_name())).unwrap();
            }
        }
        let bin = dir.path("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        if with_xexit {
            std::fs::copy(SNIPPET, snippets.join("90xexit")).unwrap();
            std::fs::copy(XEXIT, bin.join("xexit")).unwrap();
        }
        Some(Installed { dir, with_xexit, with_defaults: false })
    }

    /// Installs `text` as /etc/default/xexit (beside a copy of the machine's /etc/default).
    pub fn with_defaults(mut self, text: &str) -> Installed {
        let defaults = self.dir.path("default");
        std::fs::create_dir(&defaults).unwrap();
        assert!(run(Command::new("cp").arg("-a").arg("/etc/default/.").arg(&defaults)).status.success());
        std::fs::write(defaults.join("xexit"), text).unwrap();
        std::fs::set_permissions(&defaults, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(defaults.join("xexit"), std::fs::Permissions::from_mode(0o644)).unwrap();
        self.with_defaults = true;
        self
    }

    /// `program ARGS` as root inside a new mount namespace where the private files are bound
    /// over /etc/X11/Xsession.d, /usr/local/bin and /etc/default. With `login_uid`, the
    /// process first starts an audit login session for that uid, as pam_loginuid does.
    pub fn command(&self, login_uid: Option<u32>, program: &str) -> Command {
        let mut command = Command::new("unshare");
        let login = login_uid.map(|uid| format!("echo {uid} > /proc/self/loginuid || exit 97;")).unwrap_or_default();
        let bind_bin =
            if self.with_xexit { format!("mount --bind \"$2\" {INSTALL_DIR} || exit 98;") } else { String::new() };
        let bind_defaults = if self.with_defaults { "mount --bind \"$3\" /etc/default || exit 98;" } else { "" };
        let script = format!(
            "mount --bind \"$1\" /etc/X11/Xsession.d || exit 98; {bind_bin} {bind_defaults} {login} shift 3; exec \"$@\""
        );
        command
            .args(["--mount", "--propagation", "private", "sh", "-c", &script, "sh"])
            .arg(self.dir.path("Xsession.d"))
            .arg(self.dir.path("bin"))
            .arg(self.dir.path("default"))
            .arg(program)
            .stdin(Stdio::null());
        command
    }
}

/// The last line of a session script: OUT/ready holds the session's audit session ID.
pub const READY: &str = "cat /proc/self/sessionid > OUT/ready.tmp && mv OUT/ready.tmp OUT/ready\n";

/// The audit login session of a process (None where unset or unknown).
pub fn audit_session_of(pid: i32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/sessionid")).ok()?;
    text.trim().parse().ok().filter(|id| *id != u32::MAX)
}

/// Whether this kernel gives logins audit session IDs (pam_loginuid's /proc/self/loginuid).
pub fn need_audit() -> bool {
    let output =
        Command::new("sh").args(["-c", "echo 65534 > /proc/self/loginuid && cat /proc/self/sessionid"]).output().ok();
    let id = output.and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u32>().ok());
    available(
        (id.is_none_or(|id| id == u32::MAX))
            .then(|| "needs audit login sessions (/proc/self/loginuid, as pam_loginuid uses)".into()),
    )
}

/// One X session started as a display manager would: Debian's /etc/X11/Xsession with a
/// session program, for a test user on a display, in its own audit login session.
pub struct XSession {
    pub child: Child,
    pub installed: Installed,
    pub home: PathBuf,
}

/// What to start: see `XSession::start`.
pub struct SessionSpec<'a> {
    pub user: &'a TestUser,
    pub display: &'a str,
    /// The session program's shell script; `OUT` is replaced by the test's directory.
    pub script: &'a str,
    /// XEXIT_OPTIONS, as an admin or ~/.xsessionrc sets it.
    pub options: &'a str,
    pub env: &'a [(&'a str, &'a str)],
    pub cgroup: Option<&'a TestCgroup>,
}

impl<'a> SessionSpec<'a> {
    /// A session with the default options, no extra environment and no cgroup.
    pub fn new(user: &'a TestUser, display: &'a str, script: &'a str) -> SessionSpec<'a> {
        SessionSpec { user, display, script, options: "", env: &[], cgroup: None }
    }
}

impl XSession {
    pub fn start(installed: Installed, spec: SessionSpec) -> XSession {
        let user = spec.user;
        let out = installed.dir.0.display().to_string();
        let program = installed.dir.path("session");
        std::fs::write(&program, format!("#!/bin/sh\n{}", spec.script.replace("OUT", &out))).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut command = installed.command(Some(user.uid), "setpriv");
        command
            .args(user.setpriv_args())
            .arg("/etc/X11/Xsession")
            .arg(&program)
            .env_clear()
            .envs(user.login_env())
            .env("DISPLAY", spec.display)
            .envs(spec.env.iter().copied())
            .current_dir(&user.home)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if !spec.options.is_empty() {
            command.env("XEXIT_OPTIONS", spec.options);
        }
        if let Some(cgroup) = spec.cgroup {
            cgroup.place(&mut command);
        }
        let child = command.spawn().expect("start Xsession");
        XSession { child, installed, home: user.home.clone() }
    }

    pub fn out(&self, name: &str) -> PathBuf {
        self.installed.dir.path(name)
    }

    /// Waits for the session program to write OUT/ready (so every snippet has run).
    pub fn wait_ready(&mut self) {
        let ready = self.out("ready");
        let started = wait_for(Duration::from_secs(20), || ready.exists());
        if !started {
            panic!("the session never got ready; ~/.xsession-errors:\n{}", self.errors());
        }
    }

    /// The user's ~/.xsession-errors, where Xsession sends the session's stderr.
    pub fn errors(&self) -> String {
        std::fs::read_to_string(self.home.join(".xsession-errors")).unwrap_or_default()
    }

    /// The audit session the session program runs in, which it wrote to OUT/ready.
    pub fn audit_session(&self) -> Option<u32> {
        std::fs::read_to_string(self.out("ready")).ok()?.trim().parse().ok().filter(|id| *id != u32::MAX)
    }
}

impl Drop for XSession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The live processes of `user` in audit session `id`.
pub fn processes_in_audit_session(user: &TestUser, id: u32) -> Vec<i32> {
    user.processes().into_iter().filter(|pid| audit_session_of(*pid) == Some(id)).collect()
}

/// A process line for failure messages: PID and command line.
pub fn describe(pid: i32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    format!("{pid} {}", String::from_utf8_lossy(&cmdline).replace('\0', " ").trim())
}

/// Starts `script` with /bin/sh as `user` in a login of its own (a new audit session and
/// process session), as a console or ssh login would be; not an X session. Returns once the
/// login runs as the user, so its audit session is set (root sets it before setpriv).
pub fn other_login(user: &TestUser, script: &str) -> Child {
    let login = format!("echo {} > /proc/self/loginuid || exit 97; exec setsid \"$@\"", user.uid);
    let child = Command::new("sh")
        .args(["-c", &login, "sh", "setpriv"])
        .args(user.setpriv_args())
        .args(["/bin/sh", "-c", script])
        .env_clear()
        .envs(user.login_env())
        .current_dir(&user.home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the other login");
    assert!(wait_uid(child.id() as i32, user.uid), "the other login never ran as {}", user.name);
    child
}
