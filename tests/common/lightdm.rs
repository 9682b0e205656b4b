//! A real LightDM (Debian 12's 1.26) in the foreground, inside the test's mount namespace
//! beside the installed xexit: its own system bus, Xvfb as its X server, private state, logs
//! and login records, the test's own session and greeter, and doc/hosts/lightdm-xexit.conf
//! installed where the admin puts it. Everything it starts runs in a cgroup of the test's own.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use super::desktop::Installed;
use super::*;

/// The admin's drop-in, as the README shows it.
pub const SNIPPET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/doc/hosts/lightdm-xexit.conf");
/// Where the README says it goes.
const SNIPPET_PATH: &str = "lightdm.conf.d/50-xexit.conf";

/// LightDM's PATH, as systemd gives services: /usr/local/sbin first, sbin directories too.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// LightDM's X server: Xvfb with LightDM's arguments, less the VT ones it has no use for.
const XSERVER: &str = r#"#!/bin/sh
for arg; do
    shift
    case $arg in vt[0-9]* | -novtswitch) ;; *) set -- "$@" "$arg" ;; esac
done
exec Xvfb "$@" -screen 0 320x240x16
"#;

/// A greeter that does what Debian's (users hidden) does first: connect, then start a login
/// with no user name, so PAM asks for one. It lives until LightDM closes its pipe.
const GREETER: &str = r#"#!/usr/bin/perl
open(my $to, ">&=", $ENV{LIGHTDM_TO_SERVER_FD}) or die;
open(my $from, "<&=", $ENV{LIGHTDM_FROM_SERVER_FD}) or die;
sub send_message { syswrite($to, pack("NN", $_[0], length $_[1]) . $_[1]) }
send_message(0, pack("N/a*", "1.26.0") . pack("NN", 0, 1));
send_message(1, pack("N", 1) . pack("N/a*", ""));
open(my $mark, ">", "OUT/greeter-started"); close $mark;
1 while sysread($from, my $buffer, 4096);
"#;

/// Root's PATH under systemd puts /usr/local/sbin first: this `xexit` there records the
/// environment LightDM gives its cleanup script, then runs the installed xexit.
const ENV_RECORDER: &str = "#!/bin/sh\nenv > OUT/cleanup-env\nexec /usr/local/bin/xexit \"$@\"\n";

/// The binds over the system paths ($1 is the test's directory), a private system bus, then
/// LightDM in the foreground. A path the machine lacks is left alone.
const START: &str = r#"D=$1
bind() { [ ! -e "$2" ] || mount --bind "$1" "$2" || exit 98; }
bind "$D/etc-lightdm" /etc/lightdm
bind "$D/xsessions" /usr/share/xsessions
bind "$D/xgreeters" /usr/share/xgreeters
bind "$D/var-lib-lightdm" /var/lib/lightdm
bind "$D/lightdm-data" /var/lib/lightdm-data
bind "$D/sbin" /usr/local/sbin
bind "$D/run-dbus" /run/dbus
bind "$D/no-services" /usr/share/dbus-1/system-services
bind /dev/null /dev/tty0
for f in /var/log/wtmp /var/log/btmp /var/log/lastlog /run/utmp; do bind "$D/empty-${f##*/}" "$f"; done
dbus-daemon --system --nofork --nopidfile &
tries=0
while [ ! -S /run/dbus/system_bus_socket ] && [ $((tries += 1)) -lt 200 ]; do sleep 0.05; done
exec lightdm -d --run-dir "$D/run" --log-dir "$D/log" --cache-dir "$D/cache" 2>"$D/lightdm.out"
"#;

/// What LightDM is to do: log `autologin` in (or show the greeter only) with `session`.
pub struct LightDmSpec<'a> {
    pub autologin: Option<&'a TestUser>,
    /// The session program's shell script; `OUT` is replaced by the test's directory.
    pub session: &'a str,
    /// Display numbers from here up: each test its own range, above the other hosts' tests.
    pub minimum_display: u32,
}

pub struct LightDm {
    child: Child,
    installed: Installed,
    cgroup: TestCgroup,
}

fn write_file(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

impl LightDm {
    /// Starts LightDM; None (after `available`) when the machine lacks what it needs.
    pub fn start(installed: Installed, spec: LightDmSpec) -> Option<LightDm> {
        let on_path = |program: &&str| std::env::split_paths(PATH).any(|dir| dir.join(program).is_file());
        let missing = ["lightdm", "dbus-daemon", "Xvfb", "perl"].iter().find(|program| !on_path(program));
        available(missing.map(|program| format!("needs {program} (packages lightdm, dbus, xvfb)"))).then_some(())?;
        let lightdm_user = nix::unistd::User::from_name("lightdm").ok().flatten();
        available(lightdm_user.is_none().then(|| "needs the lightdm user (package lightdm)".into())).then_some(())?;
        let cgroup = TestCgroup::create(&format!("lightdm{}", spec.minimum_display))?;
        let dir = &installed.dir;
        let out = dir.0.display().to_string();
        let path = |name: &str| dir.path(name);
        for name in [
            "xsessions",
            "xgreeters",
            "var-lib-lightdm",
            "lightdm-data",
            "sbin",
            "run-dbus",
            "no-services",
            "run",
            "log",
            "cache",
        ] {
            std::fs::create_dir(path(name)).unwrap();
        }
        for name in ["wtmp", "btmp", "lastlog", "utmp"] {
            std::fs::File::create(path(&format!("empty-{name}"))).unwrap();
        }
        let lightdm_user = lightdm_user.unwrap();
        nix::unistd::chown(&path("var-lib-lightdm"), Some(lightdm_user.uid), Some(lightdm_user.gid)).unwrap();
        assert!(run(Command::new("cp").arg("-a").arg("/etc/lightdm/.").arg(path("etc-lightdm"))).status.success());
        std::fs::create_dir_all(path("etc-lightdm/lightdm.conf.d")).unwrap();
        std::fs::copy(SNIPPET, path("etc-lightdm").join(SNIPPET_PATH)).unwrap();
        // The test's settings: lightdm.conf, read after lightdm.conf.d (on the machine it is
        // all comments), so the drop-in is read as an admin installs it.
        let autologin = spec.autologin.map(|user| format!("autologin-user={}\n", user.name)).unwrap_or_default();
        let config = format!(
            "[LightDM]\nminimum-display-number={}\nlogind-check-graphical=false\n[Seat:*]\n\
             xserver-command={out}/xserver\ngreeter-session=xexit-test-greeter\n{autologin}\
             autologin-session=xexit-test\n",
            spec.minimum_display
        );
        std::fs::write(path("etc-lightdm/lightdm.conf"), config).unwrap();
        let desktop = |name: &str| format!("[Desktop Entry]\nName={name}\nExec={out}/{name}\nType=Application\n");
        std::fs::write(path("xsessions/xexit-test.desktop"), desktop("session")).unwrap();
        std::fs::write(path("xgreeters/xexit-test-greeter.desktop"), desktop("greeter")).unwrap();
        write_file(&path("session"), &format!("#!/bin/sh\n{}", spec.session.replace("OUT", &out)), 0o755);
        write_file(&path("greeter"), &GREETER.replace("OUT", &out), 0o755);
        write_file(&path("xserver"), XSERVER, 0o755);
        write_file(&path("sbin/xexit"), &ENV_RECORDER.replace("OUT", &out), 0o755);
        let mut command = installed.command(None, "sh");
        command
            .args(["-c", START, "sh"])
            .arg(&dir.0)
            .env_clear()
            .env("PATH", PATH)
            .current_dir("/")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cgroup.place(&mut command);
        let child = command.spawn().expect("start lightdm");
        Some(LightDm { child, installed, cgroup })
    }

    pub fn out(&self, name: &str) -> PathBuf {
        self.installed.dir.path(name)
    }

    /// LightDM's debug log, with the stderr of the scripts it ran.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.out("lightdm.out")).unwrap_or_default()
    }

    /// Waits up to `limit` for a log line holding `text`; returns it.
    pub fn wait_log(&self, text: &str, limit: Duration) -> Option<String> {
        let line = || self.log().lines().find(|line| line.contains(text)).map(str::to_string);
        wait_for(limit, || line().is_some());
        line()
    }

    /// The display number and PID of the X server LightDM started first.
    pub fn x_server(&self) -> (String, i32) {
        let line = self.wait_log("/xserver :", Duration::from_secs(20));
        let line = line.unwrap_or_else(|| panic!("LightDM started no X server:\n{}", self.log()));
        let (_, launch) = line.split_once("Launching process ").unwrap();
        let (pid, rest) = launch.split_once(':').unwrap();
        let display = rest.split_whitespace().nth(1).unwrap().to_string();
        (display, pid.parse().unwrap())
    }

    /// Stops LightDM as its init script does (SIGTERM) and waits for it; whether it exited.
    pub fn stop(&mut self) -> bool {
        // Once reaped, its PID may be another process's.
        if self.child.try_wait().unwrap().is_some() {
            return true;
        }
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
        wait_for(Duration::from_secs(10), || self.child.try_wait().unwrap().is_some())
    }
}

impl Drop for LightDm {
    fn drop(&mut self) {
        if !self.stop() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Then the cgroup's drop ends what LightDM left (its bus, X servers, greeter).
    }
}

/// The time LightDM's debug log gives the first line holding `text` (seconds since start).
pub fn log_time(log: &str, text: &str) -> Option<f64> {
    let line = log.lines().find(|line| line.contains(text))?;
    line.strip_prefix("[+")?.split_once("s]")?.0.parse().ok()
}
