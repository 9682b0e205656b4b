//! A private xrdp host for the tests: Debian's xrdp and xrdp-sesman in the foreground, on
//! ports of their own, with private copies of /etc/xrdp and /run/xrdp bound over the real
//! ones inside the test's mount namespace (beside the installed xexit), every server-side
//! process in a cgroup of the test's own; and xfreerdp clients on a client-side Xvfb.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::desktop::Installed;
use super::*;

/// What the admin adds to /etc/xrdp/sesman.ini: the README's snippet.
pub const SESMAN_SNIPPET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/doc/hosts/xrdp-sesman.ini");

/// The session program each test user runs (~/.xsession, started by Debian's Xsession from
/// startwm.sh): a window manager's stand-in that lives as long as the display, a shell that
/// ignores TERM, a setsid daemon; its PIDs under ~/sessions/:N/, then `ready`. It ends when
/// the "window manager" does, as a desktop session ends at logout.
const SESSION_PROGRAM: &str = r#"#!/bin/sh
out="$HOME/sessions/${DISPLAY%.*}"
mkdir -p "$out"
xprop -root -spy >/dev/null & wm=$!
echo $wm > "$out/wm"
sh -c 'trap "" TERM; while :; do sleep 0.1; done' & echo $! > "$out/ignorer"
setsid sh -c 'echo $$ > "$1/daemon"; exec sleep 1000' sh "$out" &
echo $$ > "$out/program"
while [ ! -s "$out/daemon" ]; do sleep 0.05; done
touch "$out/ready"
wait $wm
"#;

/// Binds the private /etc/xrdp and /run/xrdp ($1, $2), then runs the rest.
const BIND_XRDP: &str =
    "mount --bind \"$1\" /etc/xrdp && mount --bind \"$2\" /run/xrdp || exit 98; shift 2; exec \"$@\"";

/// A running xrdp host. Dropped, it kills every process it started (sesman's sessions
/// included, through its cgroup) and removes the X lock files its killed Xorgs left.
pub struct Xrdp {
    pub dir: TempDir,
    pub port: u16,
    sesman: Child,
    server: Child,
    cgroup: Option<TestCgroup>,
    client_x: Xvfb,
    _installed: Installed,
    /// Each session's display, Xorg PID and user, to clean up after.
    xorgs: std::sync::Mutex<Vec<(u32, i32, u32)>>,
}

/// Replaces (or adds) each `key=value` of `overrides` in its `[section]` of the ini text `base`.
pub fn merge_ini(base: &str, overrides: &str) -> String {
    let mut lines: Vec<String> = base.lines().map(str::to_string).collect();
    let mut section = String::new();
    for line in overrides.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        let Some((key, _)) = line.split_once('=').filter(|_| !line.starts_with([';', '#'])) else { continue };
        let start = lines.iter().position(|l| l.trim() == section).unwrap_or_else(|| panic!("no {section}"));
        let end = lines[start + 1..].iter().position(|l| l.starts_with('[')).map_or(lines.len(), |n| start + 1 + n);
        match lines[start + 1..end].iter().position(|l| l.split_once('=').is_some_and(|(k, _)| k.trim() == key)) {
            Some(n) => lines[start + 1 + n] = line.to_string(),
            None => lines.insert(start + 1, line.to_string()),
        }
    }
    lines.join("\n") + "\n"
}

/// Whether the machine has what an xrdp host test needs (a skip, or a failure under CI).
pub fn need_xrdp() -> bool {
    let missing = ["/usr/sbin/xrdp", "/usr/sbin/xrdp-sesman", "/usr/lib/xorg/Xorg", "/usr/bin/xfreerdp"]
        .into_iter()
        .find(|path| !std::path::Path::new(path).exists());
    available(missing.map(|path| format!("needs {path} (packages xrdp, xorgxrdp, freerdp2-x11)")))
        && need_program("xprop")
        && need_program("nsenter")
}

impl Xrdp {
    /// Starts sesman and xrdp with the machine's configuration plus `sessions` (more lines
    /// for sesman.ini) and the test's own: ports, Xorg displays from `display_offset` up, a
    /// session per user and screen size (so a user can have two), private log files.
    pub fn start(label: &str, display_offset: u32, sessions: &str) -> Option<Xrdp> {
        if !need_xrdp() {
            return None;
        }
        let installed = Installed::new(label, true)?.with_defaults("XEXIT_OPTIONS=\"--log stderr --grace 1\"\n");
        let client_x = Xvfb::start()?;
        let cgroup = TestCgroup::create(label)?;
        let dir = TempDir::new(&format!("{label}-xrdp"));
        let (etc, run_dir) = (dir.path("etc"), dir.path("run"));
        assert!(run(Command::new("cp").arg("-a").arg("/etc/xrdp").arg(&etc)).status.success());
        std::fs::create_dir(&run_dir).unwrap();
        std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        // The mount point; Debian's xrdp service makes it at every start (RuntimeDirectory).
        std::fs::create_dir_all("/run/xrdp").unwrap();
        let (port, sesman_port) = (free_port(), free_port());
        let logs = dir.0.display();
        let ours = format!(
            "[Globals]\nListenPort={sesman_port}\n[Sessions]\nX11DisplayOffset={display_offset}\nPolicy=UBD\n\
             {sessions}\n[Logging]\nLogFile={logs}/sesman.log\nEnableSyslog=false\n"
        );
        let sesman_ini = std::fs::read_to_string(etc.join("sesman.ini")).unwrap();
        std::fs::write(etc.join("sesman.ini"), merge_ini(&sesman_ini, &ours)).unwrap();
        let xrdp_ini = std::fs::read_to_string(etc.join("xrdp.ini")).unwrap();
        let ours = format!("[Globals]\nport={port}\n[Logging]\nLogFile={logs}/xrdp.log\nEnableSyslog=false\n");
        std::fs::write(etc.join("xrdp.ini"), merge_ini(&xrdp_ini, &ours)).unwrap();

        let mut command = installed.command(None, "sh");
        command.args(["-c", BIND_XRDP, "sh"]).arg(&etc).arg(&run_dir).args(["/usr/sbin/xrdp-sesman", "--nodaemon"]);
        let sesman = spawn_logged(command, &cgroup, dir.path("sesman.out"));
        // sesman listens on ::1 although ListenAddress says 127.0.0.1; xrdp finds it.
        let listening = wait_for(Duration::from_secs(10), || {
            ["127.0.0.1", "::1"].iter().any(|host| std::net::TcpStream::connect((*host, sesman_port)).is_ok())
        });
        let sesman_log = || std::fs::read_to_string(dir.path("sesman.log")).unwrap_or_default();
        assert!(listening, "sesman did not listen: {}", sesman_log());
        // xrdp in sesman's mount namespace: the same /etc/xrdp and socket directory.
        let mut command = Command::new("nsenter");
        command.arg(format!("--mount=/proc/{}/ns/mnt", sesman.id())).args(["/usr/sbin/xrdp", "--nodaemon"]);
        let server = spawn_logged(command, &cgroup, dir.path("xrdp.out"));
        let listening = wait_for(Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        assert!(listening, "xrdp did not listen: {}", std::fs::read_to_string(dir.path("xrdp.out")).unwrap());
        Some(Xrdp {
            dir,
            port,
            sesman,
            server,
            cgroup: Some(cgroup),
            client_x,
            _installed: installed,
            xorgs: Default::default(),
        })
    }

    /// Gives `user` a password (gone with the user) and the session program. A private copy
    /// of /etc/shadow would not do: another test's useradd renames a new one over it, which
    /// detaches the bind mount.
    pub fn add_user(&self, user: &TestUser) {
        let line = format!("{}:{}\n", user.name, password(user));
        // chpasswd fails while another test's useradd or userdel holds the lock.
        let set = (0..50).any(|_| {
            let mut chpasswd = Command::new("chpasswd").stdin(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
            std::io::Write::write_all(&mut chpasswd.stdin.take().unwrap(), line.as_bytes()).unwrap();
            chpasswd.wait().unwrap().success() || {
                std::thread::sleep(Duration::from_millis(100));
                false
            }
        });
        assert!(set, "chpasswd never set {}'s password", user.name);
        let program = user.home.join(".xsession");
        std::fs::write(&program, SESSION_PROGRAM).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        nix::unistd::chown(&program, Some(user.uid.into()), Some(user.gid.into())).unwrap();
    }

    /// An RDP client (xfreerdp on the client's Xvfb) logged in as `user` with screen `size`
    /// (at most 320x240, the client's screen: a larger one is cut to it).
    pub fn connect(&self, user: &TestUser, size: &str) -> Child {
        let log = std::fs::File::create(self.dir.path(&format!("xfreerdp-{}-{size}.log", user.name))).unwrap();
        Command::new("xfreerdp")
            .args([format!("/v:127.0.0.1:{}", self.port), format!("/u:{}", user.name)])
            .args([format!("/p:{}", password(user)), format!("/size:{size}")])
            .args(["/cert:ignore", "/log-level:WARN"])
            .env("DISPLAY", &self.client_x.display)
            .env("HOME", &self.dir.0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start xfreerdp")
    }

    /// Logs `user` in and waits for a new session's program to be ready.
    pub fn log_in(&self, user: &TestUser, size: &str) -> RdpSession {
        let sessions = user.home.join("sessions");
        let known = session_dirs(&sessions);
        let client = self.connect(user, size);
        let mut fresh = None;
        let ready = wait_for(Duration::from_secs(40), || {
            fresh = session_dirs(&sessions).into_iter().find(|d| !known.contains(d) && d.join("ready").exists());
            fresh.is_some()
        });
        assert!(ready, "{}'s session never got ready\n{}", user.name, self.logs());
        let dir = fresh.unwrap();
        let display = dir.file_name().unwrap().to_str().unwrap().trim_start_matches(':').parse().unwrap();
        let session = RdpSession { client, display, dir, uid: user.uid };
        let xorg = session.xorg().expect("the session's Xorg");
        self.xorgs.lock().unwrap().push((display, xorg, user.uid));
        session
    }

    /// sesman's log, from the start.
    pub fn sesman_log(&self) -> String {
        std::fs::read_to_string(self.dir.path("sesman.log")).unwrap_or_default()
    }

    /// Everything logged server and client side, for failure messages.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(&self.dir.0).unwrap().flatten().filter(|e| e.path().is_file()) {
            let body = std::fs::read_to_string(entry.path()).unwrap_or_default();
            text += &format!("--- {}\n{body}", entry.file_name().to_string_lossy());
        }
        text
    }
}

impl Drop for Xrdp {
    fn drop(&mut self) {
        finish(&mut self.server);
        finish(&mut self.sesman);
        // Kills what is left of the sessions and sesman's session processes: all the test's.
        drop(self.cgroup.take());
        // A killed Xorg leaves its lock file and socket behind (one that exits on TERM may
        // leave the socket); another X server may have taken the display since, so only
        // the files of our own Xorg go.
        for (display, xorg, uid) in self.xorgs.lock().unwrap().iter() {
            let lock = format!("/tmp/.X{display}-lock");
            let socket = format!("/tmp/.X11-unix/X{display}");
            // None: no lock file.
            let our_lock = std::fs::read_to_string(&lock).ok().map(|pid| pid.trim() == xorg.to_string());
            let our_socket = std::fs::metadata(&socket).is_ok_and(|m| m.uid() == *uid);
            if our_lock == Some(true) {
                let _ = std::fs::remove_file(lock);
            }
            if our_socket && our_lock != Some(false) {
                let _ = std::fs::remove_file(socket);
            }
        }
    }
}

/// Starts a server inside `cgroup`, with the environment an init system gives a service.
fn spawn_logged(mut command: Command, cgroup: &TestCgroup, log: PathBuf) -> Child {
    let log = std::fs::File::create(log).unwrap();
    cgroup.place(&mut command);
    command
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start a server")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn password(user: &TestUser) -> String {
    format!("{}-rdp-password", user.name)
}

fn session_dirs(sessions: &std::path::Path) -> Vec<PathBuf> {
    std::fs::read_dir(sessions).into_iter().flatten().flatten().map(|e| e.path()).collect()
}

/// One xrdp session: its client, its Xorg display, the PIDs its program wrote.
pub struct RdpSession {
    pub client: Child,
    pub display: u32,
    pub dir: PathBuf,
    uid: u32,
}

impl RdpSession {
    /// A PID the session program wrote: "wm", "ignorer", "daemon" or "program".
    pub fn pid(&self, name: &str) -> i32 {
        read_pid(&self.dir.join(name))
    }

    /// The session's Xorg.
    pub fn xorg(&self) -> Option<i32> {
        let display = format!(":{}", self.display);
        self.user_pids().into_iter().find(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            exe_of(*pid).is_some_and(|exe| exe.ends_with("Xorg"))
                && cmdline.split(|b| *b == 0).any(|arg| arg == display.as_bytes())
        })
    }

    /// The user's live processes of this session: Xorg, and those whose DISPLAY is this one.
    pub fn processes(&self) -> Vec<i32> {
        let xorg = self.xorg();
        let values = [format!("DISPLAY=:{}", self.display), format!("DISPLAY=:{}.0", self.display)];
        self.user_pids()
            .into_iter()
            .filter(|pid| {
                let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                Some(*pid) == xorg || environ.split(|b| *b == 0).any(|var| values.iter().any(|v| v.as_bytes() == var))
            })
            .collect()
    }

    fn user_pids(&self) -> Vec<i32> {
        let pids = std::fs::read_dir("/proc").unwrap().flatten().filter_map(|e| e.file_name().to_str()?.parse().ok());
        pids.filter(|pid| uid_of(*pid) == Some(self.uid) && alive(*pid)).collect()
    }

    /// The client goes away (a laptop closed, a network lost): the session stays.
    pub fn disconnect(&mut self) {
        finish(&mut self.client);
    }
}

impl Drop for RdpSession {
    fn drop(&mut self) {
        finish(&mut self.client);
    }
}
