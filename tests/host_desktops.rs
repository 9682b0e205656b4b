//! LTSP5 with full desktops: thin clients (an Xvfb each) log in with `ssh -Y` to a private
//! sshd and run the server's /etc/X11/Xsession with `startxfce4` or `mate-session`, as ldm
//! does, with the README's XEXIT_OPTIONS (doc/hosts/ltsp5-xexit-options). An unplugged XFCE
//! client (its ssh stopped) ends its whole session within interval + timeout + grace while a
//! short hiccup ends nothing; without xexit the whole session stays; a MATE client whose ssh
//! is killed ends within the grace, a tmux started with the desktop too. The same user's
//! plain ssh login and second session, and another user's session, go on. Each test prints
//! the session's processes (comm<parent) and the time from the loss to an empty login.
mod common;
use common::desktop::*;
use common::sshd::*;
use common::*;
use nix::sys::signal::Signal;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const OPTIONS_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/doc/hosts/ltsp5-xexit-options");
/// xexit's default interval (5 s), the snippet's timeout (30 s), the default grace (3 s), 2 s.
const UNPLUGGED_BOUND: Duration = Duration::from_secs(5 + 30 + 3 + 2);
/// A closed connection is seen at once: the grace and 2 s.
const CLOSED_BOUND: Duration = Duration::from_secs(3 + 2);
/// What runs once each desktop is up (comm names, cut at 15 bytes).
const XFCE: &[&str] = &["xfce4-session", "xfwm4", "xfce4-panel", "xfdesktop", "xfsettingsd", "xfconfd"];
const MATE: &[&str] = &["mate-session", "marco", "mate-panel", "mate-settings-d"];
/// A plain X session, for the bystanders: an X client and a sleeper.
const PLAIN: &[&str] = &["xprop", "sleep"];
const PLAIN_SCRIPT: &str = "#!/bin/sh\nxprop -root -spy >/dev/null &\nexec sleep 1000\n";

/// The snippet's options, read by sh as 90xexit reads /etc/default/xexit, plus `--log stderr`
/// so that xexit's lines (the summary too) reach ~/.xsession-errors.
fn snippet_options() -> String {
    let read = run(Command::new("sh").args(["-c", ". \"$1\" && printf %s \"$XEXIT_OPTIONS\"", "sh", OPTIONS_FILE]));
    assert!(read.status.success(), "{OPTIONS_FILE}: {}", stderr_of(&read));
    let options = stdout_of(&read);
    assert!(options.contains("--timeout 30s"), "UNPLUGGED_BOUND assumes the snippet's timeout: {options}");
    format!("{options} --log stderr")
}

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string()
}

fn comms(pids: &[i32]) -> Vec<String> {
    pids.iter().map(|pid| comm(*pid)).collect()
}

fn xsession_errors(user: &TestUser) -> String {
    std::fs::read_to_string(user.home.join(".xsession-errors")).unwrap_or_default()
}

/// The audit login session of `user`'s processes tagged LTSP_CLIENT_HOSTNAME=`hostname`.
fn login_of(user: &TestUser, hostname: &str) -> Option<u32> {
    let tag = format!("LTSP_CLIENT_HOSTNAME={hostname}");
    user.processes().into_iter().find_map(|pid| {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        environ.split(|b| *b == 0).any(|var| var == tag.as_bytes()).then(|| audit_session_of(pid)).flatten()
    })
}

/// An LTSP5 application server for one user: a private sshd, with or without xexit installed.
struct Server {
    sshd: Sshd,
    installed: Installed,
}

impl Server {
    fn start(label: &str, with_xexit: bool, user: &TestUser) -> Option<Server> {
        let installed = Installed::new(label, with_xexit)?;
        let sshd = start_sshd(&installed, user);
        Some(Server { sshd, installed })
    }

    fn ssh(&self, user: &TestUser) -> Command {
        ssh(&self.installed, &self.sshd, user)
    }

    /// A plain ssh login of `user` (no X, no tag) kept open as a master connection; returns
    /// it and its control socket, for a later command through the same connection.
    fn plain_login(&self, user: &TestUser) -> (Child, PathBuf) {
        let control = self.installed.dir.path("control");
        let mut command = self.ssh(user);
        command.args(["-T", "-M", "-S"]).arg(&control).args(["127.0.0.1", "sleep 1000"]).stdout(Stdio::null());
        let login = command.spawn().unwrap();
        assert!(wait_for(Duration::from_secs(20), || control.exists()), "the plain login did not come up");
        (login, control)
    }

    /// The plain X session's program, as a file `user` may run.
    fn plain_program(&self) -> String {
        let path = self.installed.dir.path("plain-session");
        std::fs::write(&path, PLAIN_SCRIPT).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        path.display().to_string()
    }

    /// A new thin client named `hostname` logs `user` in as ldm does: `ssh -Y` running the
    /// server's Xsession with `program`, the client's name in the environment.
    fn thin_client(&self, user: &TestUser, hostname: &str, program: &str) -> Option<ThinClient> {
        let x = Xvfb::start()?;
        let remote = format!(
            "LTSP_CLIENT_HOSTNAME={hostname} XEXIT_OPTIONS='{}' /etc/X11/Xsession {program}",
            snippet_options()
        );
        let mut command = self.ssh(user);
        command.args(["-Y", "-T", "127.0.0.1", &remote]).env("DISPLAY", &x.display);
        let ssh = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let mut login = None;
        let started = wait_for(Duration::from_secs(30), || {
            login = login_of(user, hostname);
            login.is_some()
        });
        let sshd_log = std::fs::read_to_string(self.installed.dir.path("sshd.log")).unwrap_or_default();
        assert!(started, "{hostname} never logged in\n{sshd_log}\n{}", xsession_errors(user));
        Some(ThinClient { ssh, _x: x, login: login.unwrap(), hostname: hostname.into() })
    }
}

/// One thin client's X server and its ssh -Y login, killed on drop.
struct ThinClient {
    ssh: Child,
    _x: Xvfb,
    login: u32,
    hostname: String,
}

impl ThinClient {
    /// Every live process of the login, on the server: sshd's, Xsession's, the desktop's, xexit.
    fn pids(&self, user: &TestUser) -> Vec<i32> {
        processes_in_audit_session(user, self.login)
    }

    /// Signals the client's ssh: STOP is a client unplugged (its display stops answering),
    /// KILL one whose connection closed.
    fn signal(&self, signal: Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.ssh.id() as i32), signal).unwrap();
    }

    /// Waits until every one of `programs` runs in the login and no process has come or gone
    /// for 5 s; returns the login's processes then.
    fn wait_up(&self, user: &TestUser, programs: &[&str]) -> Vec<i32> {
        let running = || comms(&self.pids(user));
        let up = wait_for(Duration::from_secs(120), || programs.iter().all(|p| running().iter().any(|c| c == p)));
        assert!(up, "{}: {programs:?} not up, only {:?}\n{}", self.hostname, running(), xsession_errors(user));
        let (mut last, mut since) = (self.pids(user), Instant::now());
        let deadline = Instant::now() + Duration::from_secs(30);
        while since.elapsed() < Duration::from_secs(5) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(250));
            let now = self.pids(user);
            if now != last {
                (last, since) = (now, Instant::now());
            }
        }
        last
    }
}

impl Drop for ThinClient {
    fn drop(&mut self) {
        finish(&mut self.ssh);
    }
}

/// Whether this machine has what the tests need: OpenSSH, xauth, xprop, audit sessions and
/// the desktop's `programs`.
fn prerequisites(programs: &[&str]) -> bool {
    if !Path::new("/usr/sbin/sshd").exists() && !need_program("sshd") {
        return false;
    }
    ["ssh", "xauth", "xprop"].iter().chain(programs).all(|p| need_program(p)) && need_audit()
}

/// The summary line xexit logged for `hostname`'s session.
fn summary_of<'a>(log: &'a str, hostname: &str) -> &'a str {
    let scope = format!("ended session env:LTSP_CLIENT_HOSTNAME={hostname} ");
    log.lines().find(|line| line.contains(&scope)).unwrap_or_else(|| panic!("no summary for {hostname}\n{log}"))
}

fn report(label: &str, pids: &[i32]) {
    let parent = |pid: i32| status_field(pid, "PPid").and_then(|p| p.parse().ok()).map(comm).unwrap_or_default();
    let tree: Vec<String> = pids.iter().map(|pid| format!("{}<{}", comm(*pid), parent(*pid))).collect();
    eprintln!("{label}: {} processes: {}", pids.len(), tree.join(" "));
}

#[test]
fn an_unplugged_xfce_client_ends_its_whole_session_and_nothing_else() {
    if !prerequisites(&["startxfce4", "xfce4-session"]) {
        return;
    }
    let (user, other) = (TestUser::get("xxdsk1"), TestUser::get("xxdsk2"));
    let Some(server) = Server::start("desktops-xfce", true, &user) else { return };
    let Some(other_server) = Server::start("desktops-xfce-other", true, &other) else { return };
    let (mut plain, control) = server.plain_login(&user);
    let Some(second) = server.thin_client(&user, "ws02", &server.plain_program()) else { return };
    let Some(others) = other_server.thin_client(&other, "ws03", &other_server.plain_program()) else { return };
    let Some(desktop) = server.thin_client(&user, "ws01", "startxfce4") else { return };
    let pids = desktop.wait_up(&user, XFCE);
    let bystanders = [second.wait_up(&user, PLAIN), others.wait_up(&other, PLAIN)].concat();
    report("XFCE session over ssh -Y", &pids);

    // A network hiccup shorter than the timeout: xexit stays quiet and the desktop's own
    // programs (not a helper that may have been on its way out) go on.
    let programs: Vec<i32> = pids.iter().copied().filter(|pid| XFCE.contains(&comm(*pid).as_str())).collect();
    desktop.signal(Signal::SIGSTOP);
    std::thread::sleep(Duration::from_secs(10));
    desktop.signal(Signal::SIGCONT);
    std::thread::sleep(Duration::from_secs(1));
    let ended: Vec<String> = programs.iter().filter(|pid| !alive(**pid)).map(|pid| describe(*pid)).collect();
    let log = xsession_errors(&user);
    assert!(ended.is_empty() && !log.contains("lost display"), "a 10 s hiccup ended {ended:?}\n{log}");

    let unplugged = Instant::now();
    desktop.signal(Signal::SIGSTOP);
    let empty = wait_for(UNPLUGGED_BOUND, || desktop.pids(&user).is_empty());
    let elapsed = unplugged.elapsed();
    let left: Vec<String> = desktop.pids(&user).into_iter().map(describe).collect();
    let still_here = run(server.ssh(&user).arg("-S").arg(&control).args(["127.0.0.1", "echo still-here"]));
    let bystanders_lost: Vec<String> = bystanders.iter().filter(|pid| !alive(**pid)).map(|p| p.to_string()).collect();
    let log = xsession_errors(&user);
    let plain_alive = finish(&mut plain);
    eprintln!("{log}\nXFCE client unplugged to an empty session: {} ms", elapsed.as_millis());
    assert!(empty, "left of the XFCE session after {elapsed:?}: {left:?}\n{log}");
    assert!(bystanders_lost.is_empty(), "the second session or the other user's lost {bystanders_lost:?}\n{log}");
    assert!(plain_alive, "the plain ssh login was cut\n{log}");
    assert_eq!(stdout_of(&still_here), "still-here\n", "{}", stderr_of(&still_here));
    let summary = summary_of(&log, "ws01");
    assert!(summary.contains("(timeout)") && summary.contains(", 0 survived, "), "{summary}");
}

#[test]
fn without_xexit_an_unplugged_xfce_session_stays_whole() {
    if !prerequisites(&["startxfce4", "xfce4-session"]) {
        return;
    }
    let user = TestUser::get("xxdsk3");
    let Some(server) = Server::start("desktops-bare", false, &user) else { return };
    let Some(desktop) = server.thin_client(&user, "ws04", "startxfce4") else { return };
    let pids = desktop.wait_up(&user, XFCE);
    report("XFCE session without xexit", &pids);

    desktop.signal(Signal::SIGSTOP);
    std::thread::sleep(UNPLUGGED_BOUND);
    let stayed: Vec<i32> = pids.iter().copied().filter(|pid| alive(*pid)).collect();
    report(&format!("without xexit, {} s after the unplugging", UNPLUGGED_BOUND.as_secs()), &stayed);
    // What a closed connection leaves without xexit, for comparison with the MATE test.
    desktop.signal(Signal::SIGKILL);
    std::thread::sleep(CLOSED_BOUND);
    report(
        &format!("without xexit, {} s after the ssh client was killed", CLOSED_BOUND.as_secs()),
        &desktop.pids(&user),
    );
    assert_eq!(stayed, pids, "without xexit, processes ended on their own: {:?}", comms(&pids));
}

#[test]
fn a_killed_mate_client_ends_its_session_with_a_summary() {
    if !prerequisites(&["mate-session", "mate-panel", "marco", "tmux"]) {
        return;
    }
    let user = TestUser::get("xxdsk4");
    // The user's tmux, started with the desktop: its panes are the session's, so it ends too.
    let autostart = "mkdir -p ~/.config/autostart && printf '[Desktop Entry]\\nType=Application\\nName=tmux\\n\
                     Exec=tmux -L work new-session -d \"sleep 1000\"\\n' > ~/.config/autostart/tmux.desktop";
    assert!(run(user.command("sh", &[]).args(["-c", autostart])).status.success());
    let Some(server) = Server::start("desktops-mate", true, &user) else { return };
    let Some(desktop) = server.thin_client(&user, "ws05", "mate-session") else { return };
    let pids = desktop.wait_up(&user, &[MATE, &["tmux: server"]].concat());
    report("MATE session over ssh -Y", &pids);

    let killed = Instant::now();
    desktop.signal(Signal::SIGKILL);
    let empty = wait_for(CLOSED_BOUND, || desktop.pids(&user).is_empty());
    let elapsed = killed.elapsed();
    let left: Vec<String> = desktop.pids(&user).into_iter().map(describe).collect();
    let log = xsession_errors(&user);
    eprintln!("{log}\nMATE client killed to an empty session: {} ms", elapsed.as_millis());
    assert!(empty, "left of the MATE session after {elapsed:?}: {left:?}\n{log}");
    let summary = summary_of(&log, "ws05");
    assert!(summary.contains("(closed)") && summary.contains(", 0 survived, "), "{summary}");
}
