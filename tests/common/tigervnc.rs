//! TigerVNC as Debian 12 runs it: the Perl `tigervncserver` wrapper (what tigervncsession and
//! `tigervncserver@.service` run), here in the foreground as a test user in an audit login of
//! its own, with its Xtigervnc on a display from :80 up and a private RFB port, and
//! /etc/X11/Xtigervnc-session running Debian's Xsession. It runs in the test's mount namespace,
//! where a private /etc/tigervnc holds the test's vncserver-config-mandatory.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use nix::sys::signal::Signal;

use super::desktop::*;
use super::sshd::free_port;
use super::*;

/// The admin's /etc/tigervnc/vncserver-config-mandatory, as the README shows it.
pub const MANDATORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/doc/hosts/tigervnc-vncserver-config-mandatory");
/// The /etc/default/xexit of these hosts: short times, and the log in ~/.xsession-errors.
pub const DEFAULTS: &str = "XEXIT_OPTIONS=\"--interval 1 --timeout 2 --grace 1 --log stderr\"\n";
const XTIGERVNC: &str = "/usr/bin/Xtigervnc";

pub fn need_tigervnc() -> bool {
    ["tigervncserver", "Xtigervnc", "vncpasswd", "xtigervncviewer", "xprop", "gpgconf"].iter().all(|p| need_program(p))
        && need_audit()
}

/// The admin's mandatory file, its value read at run time from the doc file.
pub fn mandatory() -> String {
    std::fs::read_to_string(MANDATORY).expect("read the doc's vncserver-config-mandatory")
}

/// A display number from :80 up that no X server holds: no socket and no lock file.
fn free_display() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(80);
    loop {
        let number = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(number < 100, "no free display in :80 to :99");
        let socket = format!("/tmp/.X11-unix/X{number}");
        if !Path::new(&socket).exists() && !Path::new(&format!("/tmp/.X{number}-lock")).exists() {
            return number;
        }
    }
}

/// How the wrapper's login is made.
pub enum Login<'a> {
    /// An audit login session, as pam_loginuid gives a display manager's or an ssh login.
    Audit,
    /// What tigervncsession gives on a systemd host: pam_systemd's session scope (a cgroup
    /// named session-ID.scope) and XDG_SESSION_ID=ID, but no audit login (Debian's
    /// /etc/pam.d/tigervnc includes common-session, which has no pam_loginuid).
    Scope(&'a TestCgroup, &'a str),
}

/// One TigerVNC server and its X session; on drop its Xtigervnc is killed and, if it left
/// them, its lock file and socket are removed (the user's other processes go with the user).
pub struct Vnc {
    pub child: Child,
    pub installed: Installed,
    pub display: String,
    pub port: u16,
    pub home: PathBuf,
    uid: u32,
}

impl Vnc {
    /// Starts `tigervncserver :N -fg ... -- SESSION` as `user`, `mandatory` being the text of
    /// /etc/tigervnc/vncserver-config-mandatory; returns at once (see `wait_listening`).
    pub fn start(installed: Installed, user: &TestUser, login: Login, mandatory: &str, session: &[&str]) -> Vnc {
        let etc = installed.dir.path("tigervnc");
        assert!(run(Command::new("cp").arg("-a").arg("/etc/tigervnc/.").arg(&etc)).status.success());
        std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(etc.join("vncserver-config-mandatory"), mandatory).unwrap();
        let password = installed.dir.path("passwd");
        let write = "echo xexit-vnc | vncpasswd -f > \"$1\"";
        assert!(run(Command::new("sh").args(["-c", write, "sh"]).arg(&password)).status.success(), "vncpasswd -f");
        std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o644)).unwrap();

        let (number, port) = (free_display(), free_port());
        let log = std::fs::File::create(installed.dir.path("wrapper.log")).unwrap();
        let mut command = installed.command(matches!(login, Login::Audit).then_some(user.uid), "sh");
        command
            .args(["-c", "mount --bind \"$1\" /etc/tigervnc || exit 96; shift; exec \"$@\"", "sh"])
            .arg(&etc)
            .arg("setpriv")
            .args(user.setpriv_args())
            .args(["tigervncserver", &format!(":{number}"), "-fg", "-localhost", "yes", "-geometry", "800x600"])
            .args(["-rfbport", &port.to_string(), "-SecurityTypes", "VncAuth", "-PasswordFile"])
            .arg(&password)
            .args(["-xstartup", "/etc/X11/Xtigervnc-session", "--"])
            .args(session)
            .env_clear()
            .envs(user.login_env())
            .current_dir(&user.home)
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Login::Scope(cgroup, id) = login {
            cgroup.place(&mut command);
            command.env("XDG_SESSION_ID", id);
        }
        let child = command.spawn().expect("start tigervncserver");
        Vnc { child, installed, display: format!(":{number}"), port, home: user.home.clone(), uid: user.uid }
    }

    /// What the wrapper printed.
    pub fn wrapper_output(&self) -> String {
        std::fs::read_to_string(self.installed.dir.path("wrapper.log")).unwrap_or_default()
    }

    /// The user's ~/.xsession-errors, where xexit logs.
    pub fn errors(&self) -> String {
        std::fs::read_to_string(self.home.join(".xsession-errors")).unwrap_or_default()
    }

    /// Xtigervnc's log, ~/.vnc/HOST:N.log.
    pub fn vnc_log(&self) -> String {
        let suffix = format!("{}.log", self.display);
        let entries = std::fs::read_dir(self.home.join(".vnc")).into_iter().flatten().flatten();
        let file = entries.map(|e| e.path()).find(|p| p.to_string_lossy().ends_with(&suffix));
        file.and_then(|f| std::fs::read_to_string(f).ok()).unwrap_or_default()
    }

    /// Everything a failure message needs.
    pub fn logs(&self) -> String {
        format!(
            "wrapper:\n{}\nXtigervnc:\n{}\n.xsession-errors:\n{}",
            self.wrapper_output(),
            self.vnc_log(),
            self.errors()
        )
    }

    /// The Xtigervnc of this display, once it runs.
    pub fn xvnc(&self) -> Option<i32> {
        let pids = std::fs::read_dir("/proc").unwrap().flatten().filter_map(|e| e.file_name().to_str()?.parse().ok());
        let mut ours =
            pids.filter(|pid| uid_of(*pid) == Some(self.uid) && exe_of(*pid).as_deref() == Some(XTIGERVNC.as_ref()));
        ours.find(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            cmdline.split(|b| *b == 0).nth(1) == Some(self.display.as_bytes())
        })
    }

    /// Waits until Xtigervnc listens for viewers; returns its PID.
    pub fn wait_listening(&self) -> i32 {
        let up = wait_for(Duration::from_secs(20), || self.vnc_log().contains("Listening for VNC connections"));
        assert!(up, "Xtigervnc never listened\n{}", self.logs());
        self.xvnc().unwrap_or_else(|| panic!("no Xtigervnc on {}\n{}", self.display, self.logs()))
    }

    /// The wrapper's audit login session, which the whole VNC session shares.
    pub fn audit_session(&self) -> u32 {
        let pid = self.child.id() as i32;
        assert!(wait_uid(pid, self.uid), "the wrapper never ran as the user\n{}", self.logs());
        audit_session_of(pid).expect("the wrapper's audit session")
    }

    /// Waits until xexit, started by 90xexit, watches this display.
    pub fn wait_watching(&self) {
        let line = format!("started: display {}", self.display);
        let watching = wait_for(Duration::from_secs(30), || self.errors().contains(&line));
        assert!(watching, "xexit never watched {}\n{}", self.display, self.logs());
    }

    /// The summary line of the session `scope` ("display=:N", "cgroup:PATH"), once xexit
    /// logged it (the user's sessions share ~/.xsession-errors).
    pub fn summary(&self, scope: &str) -> Option<String> {
        let start = format!("ended session {scope} of");
        self.errors().lines().find(|l| l.contains(&start)).map(str::to_string)
    }

    /// Whether this session's xexit logged the loss of its display.
    pub fn lost_display(&self) -> bool {
        self.errors().contains(&format!("lost display {} ", self.display))
    }

    /// Connects a viewer from `client_x`, a stand-in for the user's desktop, and waits until
    /// Xtigervnc has accepted it.
    pub fn connect_viewer(&self, client_x: &Xvfb) -> Child {
        let accepted = self.vnc_log().matches("Connections: accepted").count();
        let home = self.installed.dir.path("viewer-home");
        std::fs::create_dir_all(&home).unwrap();
        let viewer = Command::new("xtigervncviewer")
            .args(["-SecurityTypes", "VncAuth", "-passwd"])
            .arg(self.installed.dir.path("passwd"))
            .arg(format!("127.0.0.1::{}", self.port))
            .env_clear()
            .env("HOME", &home)
            .env("DISPLAY", &client_x.display)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start xtigervncviewer");
        let up =
            wait_for(Duration::from_secs(20), || self.vnc_log().matches("Connections: accepted").count() > accepted);
        assert!(up, "the viewer never connected\n{}", self.logs());
        viewer
    }

    /// Kills the viewer (a client that just goes) and waits until Xtigervnc saw it go.
    pub fn drop_viewer(&self, viewer: &mut Child) {
        finish(viewer);
        let closed = wait_for(Duration::from_secs(10), || self.vnc_log().contains("Connections: closed"));
        assert!(closed, "Xtigervnc never saw the viewer go\n{}", self.logs());
    }
}

impl Drop for Vnc {
    fn drop(&mut self) {
        if let Some(xvnc) = self.xvnc() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(xvnc), Signal::SIGKILL);
            wait_for(Duration::from_secs(5), || !alive(xvnc));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A killed Xtigervnc leaves its lock and socket: remove them once no server holds them.
        let number = self.display.trim_start_matches(':');
        let lock = format!("/tmp/.X{number}-lock");
        let holder = std::fs::read_to_string(&lock).ok().and_then(|t| t.trim().parse::<i32>().ok());
        let owned = |path: &str| std::fs::metadata(path).is_ok_and(|m| MetadataExt::uid(&m) == self.uid);
        if holder.is_some_and(|pid| !alive(pid)) && owned(&lock) {
            let _ = std::fs::remove_file(lock);
        }
        let socket = format!("/tmp/.X11-unix/X{number}");
        if owned(&socket) && std::os::unix::net::UnixStream::connect(&socket).is_err() {
            let _ = std::fs::remove_file(socket);
        }
    }
}

/// Writes `script` (OUT replaced by the test's directory) as the session program; returns its path.
pub fn session_program(installed: &Installed, script: &str) -> String {
    let out = installed.dir.0.display().to_string();
    let program = installed.dir.path("session");
    std::fs::write(&program, format!("#!/bin/sh\n{}", script.replace("OUT", &out))).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    program.display().to_string()
}

/// The names of `pids`, for the figures and failure messages.
pub fn comms(pids: &[i32]) -> Vec<String> {
    let comm = |pid: &i32| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok();
    pids.iter().filter_map(comm).map(|c| c.trim().to_string()).collect()
}
