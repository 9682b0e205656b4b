//! A real systemd-logind host: Debian 12 booted with systemd as its PID 1 in a container,
//! the repo's 90xexit and the built xexit bound in, its own sshd on a private port. The user
//! logs in with `ssh -Y` from the test's Xvfb, and Debian's Xsession starts xexit, whose
//! `auto` picks the login's session-N.scope. The display is lost (the ssh client killed, or
//! its X server stopped): the scope is emptied, while the user's second ssh login,
//! user@UID.service and a `systemd-run --user --scope` program go on; the summary line is
//! in the journal. With doc/hosts/logind.conf (KillUserProcesses=yes), logind stops the
//! scope at logout too, and xexit's hook must still run to its end.
mod common;
use common::container::*;
use common::desktop::describe;
use common::sshd::{free_port, keygen};
use common::*;
use nix::sys::signal::Signal;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const OPTIONS: &str = "--interval 1 --timeout 2 --grace 1";
/// The README's logind.conf lines, as the admin installs them.
const SNIPPET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/doc/hosts/logind.conf");
const SNIPPET_AT: &str = "/etc/systemd/logind.conf.d/xexit.conf";
const XSESSION_SNIPPET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/Xsession.d/90xexit");
/// --grace, and the slack the README promises beyond it.
const GRACE: Duration = Duration::from_secs(1);
const SLACK: Duration = Duration::from_secs(2);
/// The first X display number of the next test's sshd (see `Host::boot`).
static NEXT_DISPLAY_OFFSET: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(70);
/// How long the hook of the KillUserProcesses test takes.
const HOOK_TIME: Duration = Duration::from_secs(2);

/// The session program: an X client, a sleeper, a TERM-ignorer, a recorder of the TERM and
/// HUP it gets (with the time), then OUT/ready with the logind session ID.
const SESSION: &str = r#"#!/bin/sh
xprop -root -spy >/dev/null &
sleep 1000 &
sh -c 'trap "" TERM; while :; do sleep 0.1; done' &
sh -c 'for s in TERM HUP; do trap "echo \"$s \$(date +%s.%N)\" >> OUT/signals" $s; done
       while :; do sleep 0.1; done' &
echo "$XDG_SESSION_ID" > OUT/ready.tmp && mv OUT/ready.tmp OUT/ready
wait
"#;

/// The other login: a program moved out of the session into user@UID.service with
/// `systemd-run --user --scope`, and a sleeper of its own.
const SECOND_LOGIN: &str = "systemd-run --user --scope --unit=xxbystander sleep 1000 >/dev/null 2>&1 & \
     echo \"$XDG_SESSION_ID\" > OUT/second.tmp && mv OUT/second.tmp OUT/second; exec sleep 1000";

/// A root-owned hook that takes HOOK_TIME and writes what it was told at its very end.
const HOOK: &str = "#!/bin/sh\nsleep 2\necho \"$XEXIT_REASON $XEXIT_USER $XEXIT_SESSION\" > OUT/hook.tmp && \
     mv OUT/hook.tmp OUT/hook\n";

struct Setup {
    with_xexit: bool,
    kill_user_processes: bool,
    with_hook: bool,
}

/// The booted host, its test user and its sshd's port.
struct Host {
    container: Container,
    user: String,
    uid: u32,
    port: u16,
    _hooks: Option<HookDir>,
}

fn shared(text: &str) -> String {
    text.replace("OUT", SHARED)
}

impl Host {
    fn boot(name: &str, setup: &Setup) -> Option<Host> {
        if !need_program("ssh") || !need_program("ssh-keygen") {
            return None;
        }
        let hooks = setup.with_hook.then(|| HookDir::new(name));
        let mut binds: Vec<(&Path, &str)> = Vec::new();
        if setup.with_xexit {
            binds.push((Path::new(XEXIT), "/usr/local/bin/xexit"));
            binds.push((Path::new(XSESSION_SNIPPET), "/etc/X11/Xsession.d/90xexit"));
        }
        if setup.kill_user_processes {
            binds.push((Path::new(SNIPPET), SNIPPET_AT));
        }
        if let Some(hooks) = &hooks {
            hooks.add("50slow", 0o755, &shared(HOOK));
            binds.push((&hooks.dir, "/etc/Xexit.d"));
        }
        let container = Container::boot(name, &binds, &["ssh.service", "ssh.socket"])?;
        let user = format!("xx{name}");
        let uid = container.must(&format!("useradd -m -s /bin/sh -p '*' {user} && id -u {user}"));
        let port = free_port();
        // The containers share the host's network, and sshd binds its X display port with
        // SO_REUSEADDR: two sshds trying the same display at once can both bind it, and the
        // second then fails to listen and gives up X forwarding ("listen: Address already in
        // use"). Each test's sshd starts at displays of its own.
        let display_offset = NEXT_DISPLAY_OFFSET.fetch_add(10, std::sync::atomic::Ordering::Relaxed);
        keygen(&container.path("host_key"));
        keygen(&container.path("client_key"));
        std::fs::copy(container.path("client_key.pub"), container.path("authorized_keys")).unwrap();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {SHARED}/host_key\nPidFile none\nUsePAM yes\n\
             X11Forwarding yes\nX11UseLocalhost yes\nX11DisplayOffset {display_offset}\nXAuthLocation /usr/bin/xauth\n\
             AuthorizedKeysFile {SHARED}/authorized_keys\nStrictModes no\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nAllowUsers {user}\n"
        );
        std::fs::write(container.path("sshd_config"), config).unwrap();
        let session = container.path("session");
        std::fs::write(&session, shared(SESSION)).unwrap();
        std::fs::set_permissions(&session, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        // A transient unit of the container's systemd: sshd's logins then get their scopes.
        container.must(&format!(
            "systemd-run -q --unit=xexit-test-sshd -p RuntimeDirectory=sshd /usr/sbin/sshd -D -e -f {SHARED}/sshd_config"
        ));
        let listening = wait_for(Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        assert!(listening, "sshd did not listen:\n{}", container.must("journalctl -q --no-pager -u xexit-test-sshd"));
        let uid = uid.trim().parse().unwrap();
        Some(Host { container, user, uid, port, _hooks: hooks })
    }

    /// The ssh client on the test's side, logging in as the test user with `remote`.
    fn ssh(&self, options: &[&str], remote: &str) -> Command {
        let mut command = clean_command("ssh");
        command
            .args(["-p", &self.port.to_string(), "-i"])
            .arg(self.container.path("client_key"))
            .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"])
            .args(["-o", "LogLevel=ERROR", "-l", &self.user])
            .args(options)
            .args(["127.0.0.1", &shared(remote)])
            .env("PATH", "/usr/bin:/bin")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    /// The logind session ID that a login wrote to OUT/`name`.
    fn session_written(&self, name: &str, what: &str) -> String {
        let file = self.container.path(name);
        if !wait_for(Duration::from_secs(20), || file.exists()) {
            let errors = self.container.sh(&format!("cat /home/{}/.xsession-errors", self.user));
            let journal = self.container.sh("journalctl -q --no-pager -n 30");
            panic!("{what} never came up\n{}\n{}", stdout_of(&errors), stdout_of(&journal));
        }
        format!("session-{}.scope", std::fs::read_to_string(file).unwrap().trim())
    }

    /// xexit's lines in the container's journal.
    fn xexit_log(&self) -> String {
        stdout_of(&self.container.sh("journalctl -q --no-pager -o cat SYSLOG_IDENTIFIER=xexit"))
    }
}

/// The processes (host PIDs) of each unit that must outlive the session.
fn bystanders(host: &Host, second: &str) -> Vec<(String, Vec<i32>)> {
    let units = [second.to_string(), "xxbystander.scope".into(), format!("user@{}.service", host.uid)];
    units.into_iter().map(|unit| (unit.clone(), host.container.unit_pids(&unit))).collect()
}

enum Loss {
    /// SIGKILL to the ssh client: the connection, and the forwarded display, close.
    ClientKilled,
    /// SIGSTOP to the client's X server: the forwarded display stops answering.
    DisplayHung,
}

/// What one run saw, from the display's loss on.
struct Outcome {
    host: Host,
    scope: String,
    gone: bool,
    elapsed: Duration,
    left: Vec<String>,
    /// The bystanders' processes that did not survive, by unit.
    hurt: Vec<String>,
    /// Seconds since the epoch when the display was lost, for OUT/signals.
    lost_at: f64,
}

/// Logs in twice (the second login first), loses the X login's display and waits up to
/// `limit` for its scope to empty.
fn lose_display(name: &str, setup: Setup, loss: Loss, limit: Duration) -> Option<Outcome> {
    let host = Host::boot(name, &setup)?;
    let client_x = Xvfb::start()?;
    let mut second = host.ssh(&["-T"], SECOND_LOGIN).spawn().unwrap();
    let second_scope = host.session_written("second", "the second login");
    let moved = wait_for(Duration::from_secs(10), || !host.container.unit_pids("xxbystander.scope").is_empty());
    assert!(moved, "systemd-run --user --scope never ran\n{}", stdout_of(&host.container.sh("journalctl -q -n 20")));
    let remote = format!("XEXIT_OPTIONS='{OPTIONS}' exec /etc/X11/Xsession OUT/session");
    let mut client = host.ssh(&["-Y", "-T"], &remote).env("DISPLAY", &client_x.display).spawn().unwrap();
    let scope = host.session_written("ready", "the X session");
    if setup.with_xexit {
        // Generous: five containers run side by side on a small CI machine.
        let watching = wait_for(Duration::from_secs(20), || host.xexit_log().contains("started: display localhost:"));
        if !watching {
            let scope_now = host.container.unit_pids(&scope).into_iter().map(describe).collect::<Vec<_>>();
            let errors = host.container.sh(&format!("cat /home/{}/.xsession-errors", host.user));
            let journal = host.container.sh("journalctl -q --no-pager -n 40");
            panic!(
                "xexit does not watch the forwarded display\nxexit's log: {}\n{scope}: {scope_now:?}\n\
                 .xsession-errors:\n{}\njournal:\n{}",
                host.xexit_log(),
                stdout_of(&errors),
                stdout_of(&journal)
            );
        }
    }
    let processes = host.container.unit_pids(&scope).len();
    let stop = host.container.must(&format!("systemctl show {scope} -p KillMode -p SendSIGHUP -p TimeoutStopUSec"));
    eprintln!("[{name}] {scope} is stopped with {}", stop.trim().replace('\n', ", "));
    let before = bystanders(&host, &second_scope);
    for (unit, pids) in &before {
        assert!(!pids.is_empty(), "{unit} has no processes before the loss");
    }

    let off = Instant::now();
    let lost_at = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64();
    match loss {
        Loss::ClientKilled => nix::sys::signal::kill(nix::unistd::Pid::from_raw(client.id() as i32), Signal::SIGKILL),
        Loss::DisplayHung => nix::sys::signal::kill(nix::unistd::Pid::from_raw(client_x.pid()), Signal::SIGSTOP),
    }
    .unwrap();
    let gone = wait_for(limit, || host.container.unit_pids(&scope).is_empty());
    let elapsed = off.elapsed();
    let left = host.container.unit_pids(&scope).into_iter().map(describe).collect();
    let hurt = before
        .iter()
        .flat_map(|(unit, pids)| pids.iter().filter(|pid| !alive(**pid)).map(move |pid| format!("{unit}: {pid}")))
        .collect();
    finish(&mut client);
    finish(&mut second);
    eprintln!("[{name}] {processes} processes in {scope}; display lost to empty: {} ms", elapsed.as_millis());
    Some(Outcome { host, scope, gone, elapsed, left, hurt, lost_at })
}

impl Outcome {
    /// Checks that the scope emptied within `bound` and no bystander was touched; returns
    /// the summary line from the journal.
    fn assert_ended(&self, bound: Duration, reason: &str) -> String {
        let log = self.host.xexit_log();
        assert!(self.gone, "left in {} after {:?}: {:?}\n{log}", self.scope, self.elapsed, self.left);
        assert!(self.elapsed <= bound, "{} took {:?}, more than {bound:?}\n{log}", self.scope, self.elapsed);
        assert!(self.hurt.is_empty(), "bystanders ended: {:?}\n{log}", self.hurt);
        let mut summary = None;
        wait_for(Duration::from_secs(5), || {
            summary = self.host.xexit_log().lines().find(|l| l.starts_with("ended session")).map(str::to_string);
            summary.is_some()
        });
        let summary = summary.unwrap_or_else(|| panic!("no summary line in the journal\n{log}"));
        eprintln!("[summary] {summary}");
        assert!(
            summary.contains(&format!("{}/{} of {}", self.host.uid_slice(), self.scope, self.host.user)),
            "{summary}"
        );
        assert!(summary.contains(&format!("({reason})")) && summary.contains(", 0 survived"), "{summary}");
        summary
    }
}

impl Host {
    fn uid_slice(&self) -> String {
        format!("user-{}.slice", self.uid)
    }
}

fn plain() -> Setup {
    Setup { with_xexit: true, kill_user_processes: false, with_hook: false }
}

#[test]
fn a_killed_ssh_client_ends_its_session_scope_and_nothing_else() {
    let Some(outcome) = lose_display("lgd1", plain(), Loss::ClientKilled, GRACE + SLACK) else { return };
    let summary = outcome.assert_ended(GRACE + SLACK, "closed");
    // The TERM-ignorer and the recorder of signals outlive TERM.
    let killed = summary.split_once("needed KILL (").and_then(|(_, rest)| rest.split_once(')')).map(|(list, _)| list);
    let names_sh = killed.is_some_and(|list| list.split(", ").any(|name| name == "sh" || name.starts_with("sh x")));
    assert!(names_sh, "{summary}");
}

#[test]
fn a_hung_client_display_ends_its_session_scope_and_nothing_else() {
    let limit = Duration::from_secs(3) + GRACE + SLACK;
    let Some(outcome) = lose_display("lgd2", plain(), Loss::DisplayHung, limit) else { return };
    outcome.assert_ended(limit, "timeout");
}

#[test]
fn without_xexit_a_killed_ssh_client_leaves_its_programs_running() {
    let setup = Setup { with_xexit: false, ..plain() };
    let Some(outcome) = lose_display("lgd3", setup, Loss::ClientKilled, GRACE + SLACK) else { return };
    eprintln!(
        "[lgd3] without xexit, left running {:?} after the client was killed: {:?}",
        outcome.elapsed, outcome.left
    );
    assert!(!outcome.gone, "the session ended without xexit: this test shows nothing");
    assert!(outcome.left.iter().any(|p| p.ends_with("sleep 1000")), "{:?}", outcome.left);
}

#[test]
fn without_xexit_kill_user_processes_leaves_a_term_and_hup_catcher_running() {
    let setup = Setup { with_xexit: false, kill_user_processes: true, with_hook: false };
    let Some(outcome) = lose_display("lgd5", setup, Loss::ClientKilled, GRACE + SLACK) else { return };
    eprintln!("[lgd5] KillUserProcesses=yes without xexit, left after {:?}: {:?}", outcome.elapsed, outcome.left);
    // logind's TERM and HUP ended the rest; KILL waits for the scope's stop timeout.
    let left = |text: &str| outcome.left.iter().any(|p| p.contains(text));
    assert!(left("for s in TERM HUP"), "the TERM and HUP catcher ended: {:?}", outcome.left);
    assert!(!left("sleep 1000") && !left("trap \"\" TERM"), "{:?}", outcome.left);
}

#[test]
fn with_kill_user_processes_the_hook_still_runs_to_its_end_before_the_scope_is_emptied() {
    let setup = Setup { with_xexit: true, kill_user_processes: true, with_hook: true };
    let limit = HOOK_TIME + GRACE + SLACK;
    let Some(outcome) = lose_display("lgd4", setup, Loss::ClientKilled, limit) else { return };
    let host = &outcome.host;
    // Waits for the summary line: the journal then holds logind's part too.
    let summary = outcome.assert_ended(limit, "closed");
    let signals = std::fs::read_to_string(host.container.path("signals")).unwrap_or_default();
    for line in signals.lines() {
        let (name, at) = line.split_once(' ').unwrap_or((line, "0"));
        let after = at.parse::<f64>().unwrap_or(0.0) - outcome.lost_at;
        eprintln!("[lgd4] the recorder got {name} {:.0} ms after the client was killed", after * 1000.0);
    }
    let journal = host.container.must("journalctl -q --no-pager -o short-precise");
    let stop: Vec<&str> = journal.lines().filter(|l| l.contains(&outcome.scope) || l.contains("xexit[")).collect();
    eprintln!("[lgd4] journal:\n{}", stop.join("\n"));
    let hook = std::fs::read_to_string(host.container.path("hook")).unwrap_or_default();
    let expected = format!("closed {} cgroup:/user.slice/{}/{}\n", host.user, host.uid_slice(), outcome.scope);
    assert_eq!(hook, expected, "the hook did not run to its end\n{}", host.xexit_log());
    assert!(summary.contains("hooks: 1 run, 0 failed"), "{summary}");
}
