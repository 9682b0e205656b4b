//! TigerVNC as Debian 12 runs it (tigervnc-standalone-server's Perl `tigervncserver`, its
//! Xtigervnc, /etc/X11/Xtigervnc-session starting Debian's Xsession, so 90xexit), with the
//! README's /etc/tigervnc/vncserver-config-mandatory (doc/hosts/...) and /etc/default/xexit.
//! A viewer that goes leaves the session alone; Xtigervnc ending after MaxDisconnectionTime,
//! crashing, killed under a full XFCE desktop, or hanging ends the session within grace + 2 s
//! (interval + timeout more when hung), in an audit login or in a systemd session scope, while
//! the user's other login, the user's second VNC session and another user's are untouched.
mod common;
use common::desktop::*;
use common::tigervnc::*;
use common::*;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

/// A session as users leave them behind: gpg-agent, a background job, a setsid daemon, a
/// loop that ignores TERM and HUP, and as the session leader an X client (a window manager's
/// stand-in) that ends with the display.
const SCRIPTED: &str = r#"mkdir -m 700 -p "$HOME/.gnupg"
gpgconf --launch gpg-agent
sleep 1000 &
setsid sh -c 'sleep 1000' &
sh -c 'trap "" TERM HUP; while :; do sleep 1000; done' &
READY_LINE
exec xprop -root -spy >/dev/null
"#;
/// The admin's MaxDisconnectionTime, 3600 s in the doc file.
const DOC_LINE: &str = "$MaxDisconnectionTime = 3600;";
/// The README's snippet before it was tested.
const FORMER: &str = "# /etc/tigervnc/vncserver-config-mandatory (users cannot override it in their config)
MaxDisconnectionTime=3600
";
/// The MaxDisconnectionTime the test gives the mandatory file instead of the doc's hour.
const SHORT: Duration = Duration::from_secs(8);
/// --grace 1 from DEFAULTS, plus the 2 s an admin may expect.
const GRACE_AND_SLACK: Duration = Duration::from_secs(3);
/// --interval 1 + --timeout 2 from DEFAULTS: how long a hung display may go unnoticed.
const HUNG_UNNOTICED: Duration = Duration::from_secs(3);

/// Starts the scripted session of `user` in a TigerVNC server with `mandatory` as
/// vncserver-config-mandatory, xexit installed or not.
fn start_scripted(label: &str, user: &TestUser, with_xexit: bool, login: Login, mandatory: &str) -> Option<Vnc> {
    let installed = Installed::new(label, with_xexit)?.with_defaults(DEFAULTS);
    let program = session_program(&installed, &SCRIPTED.replace("READY_LINE", READY.trim_end()));
    Some(Vnc::start(installed, user, login, mandatory, &[&program]))
}

/// Waits until the scripted session has started everything (gpg-agent aside: the user's
/// first session starts it, later ones use it) (and xexit watches, if installed);
/// returns its audit session and its processes.
fn wait_scripted(vnc: &Vnc, user: &TestUser, with_xexit: bool) -> (u32, Vec<i32>) {
    let ready = vnc.installed.dir.path("ready");
    assert!(wait_for(Duration::from_secs(30), || ready.exists()), "the session never got ready\n{}", vnc.logs());
    if with_xexit {
        vnc.wait_watching();
    }
    let id = vnc.audit_session();
    let up = wait_for(Duration::from_secs(10), || {
        let names = comms(&processes_in_audit_session(user, id));
        ["xprop", "sleep"].iter().all(|c| names.iter().any(|n| n == c))
    });
    assert!(up, "the session lacks a process: {:?}\n{}", comms(&processes_in_audit_session(user, id)), vnc.logs());
    (id, processes_in_audit_session(user, id))
}

/// Waits up to `limit` for `user`'s audit session `id` to be empty; how long after `since`
/// that was, or what is left.
fn wait_empty(user: &TestUser, id: u32, since: Instant, limit: Duration) -> Result<Duration, Vec<String>> {
    let empty = wait_for(limit, || processes_in_audit_session(user, id).is_empty());
    let left = processes_in_audit_session(user, id);
    if empty { Ok(since.elapsed()) } else { Err(left.into_iter().map(describe).collect()) }
}

/// What is left of a session without xexit, GRACE_AND_SLACK after its display went at `lost`.
fn left_without_xexit(user: &TestUser, id: u32, lost: Instant) -> Vec<String> {
    std::thread::sleep(GRACE_AND_SLACK.saturating_sub(lost.elapsed()));
    let left = processes_in_audit_session(user, id);
    comms(&left)
}

/// Waits until `pid` (an Xtigervnc) has ended; when that was seen.
fn wait_gone(pid: i32, limit: Duration) -> Option<Instant> {
    wait_for(limit, || !alive(pid)).then(Instant::now)
}

/// Checks that xexit's summary of this display's session names the reason and that nothing
/// survived.
fn assert_summary(vnc: &Vnc, reason: &str) {
    assert_summary_of(vnc, &format!("display={}", vnc.display), reason);
}

fn assert_summary_of(vnc: &Vnc, scope: &str, reason: &str) {
    let summary = vnc.summary(scope).unwrap_or_else(|| panic!("no summary line\n{}", vnc.logs()));
    eprintln!("summary: {summary}");
    assert!(summary.contains(&format!("({reason})")) && summary.contains(" 0 survived"), "{summary}");
}

fn lost(pids: &[i32]) -> Vec<i32> {
    pids.iter().copied().filter(|pid| !alive(*pid)).collect()
}

/// The README's former snippet, `MaxDisconnectionTime=3600`, is no Perl: the wrapper stops.
#[test]
fn the_readmes_former_line_stops_the_server() {
    if !need_tigervnc() {
        return;
    }
    let Some(installed) = Installed::new("vnc-former", true) else { return };
    let user = TestUser::get("xxvnc1");
    let mut vnc = Vnc::start(installed, &user, Login::Audit, FORMER, &["/usr/bin/xprop"]);
    let ended = wait_for(Duration::from_secs(20), || vnc.child.try_wait().unwrap().is_some());
    assert!(ended, "the wrapper still runs\n{}", vnc.logs());
    let code = vnc.child.wait().unwrap().code();
    let output = vnc.wrapper_output();
    eprintln!("former line: exit status {code:?}: {output}");
    assert_eq!(code, Some(255), "{output}");
    assert!(output.contains("Error parsing config file /etc/tigervnc/vncserver-config-mandatory"), "{output}");
    assert!(vnc.xvnc().is_none() && user.processes().is_empty(), "a server started: {:?}", user.processes());
}

/// The doc file as it is reaches Xtigervnc; a viewer that goes leaves Xtigervnc and the
/// session running, and xexit quiet.
#[test]
fn a_viewer_that_goes_leaves_the_session_running() {
    if !need_tigervnc() {
        return;
    }
    let Some(client_x) = Xvfb::start() else { return };
    let user = TestUser::get("xxvnc2");
    let Some(vnc) = start_scripted("vnc-viewer", &user, true, Login::Audit, &mandatory()) else { return };
    let xvnc = vnc.wait_listening();
    let cmdline = std::fs::read(format!("/proc/{xvnc}/cmdline")).unwrap();
    let argument = b"\0-MaxDisconnectionTime\x003600\0";
    assert!(cmdline.windows(argument.len()).any(|w| w == argument), "{}", describe(xvnc));
    let mut viewer = vnc.connect_viewer(&client_x);
    let (_, pids) = wait_scripted(&vnc, &user, true);

    vnc.drop_viewer(&mut viewer);
    std::thread::sleep(HUNG_UNNOTICED + Duration::from_secs(2));
    let lost = lost(&pids);
    eprintln!("viewer gone: {} session processes, {} ended", pids.len(), lost.len());
    assert!(lost.is_empty(), "the disconnected session lost {lost:?}\n{}", vnc.logs());
    assert!(!vnc.lost_display(), "{}", vnc.logs());
}

/// Xtigervnc exits MaxDisconnectionTime after the viewer went (the mandatory file's value);
/// xexit ends what Xsession's session left, which without xexit stays. The user's other
/// login and another user's VNC session go on.
#[test]
fn max_disconnection_time_ends_xvnc_and_xexit_ends_the_rest() {
    if !need_tigervnc() {
        return;
    }
    let Some(client_x) = Xvfb::start() else { return };
    // The doc file with only the hour made SHORT: the value is mandatory, nothing overrides it.
    assert_eq!(mandatory().matches(DOC_LINE).count(), 1, "the doc file must set {DOC_LINE} once");
    let short = mandatory().replace(DOC_LINE, &format!("$MaxDisconnectionTime = {};", SHORT.as_secs()));
    let (user, bare_user, other_user) = (TestUser::get("xxvnc3"), TestUser::get("xxvnc4"), TestUser::get("xxvnc5"));
    let Some(vnc) = start_scripted("vnc-maxdisc", &user, true, Login::Audit, &short) else { return };
    let Some(bare) = start_scripted("vnc-maxdisc-bare", &bare_user, false, Login::Audit, &short) else { return };
    let Some(other) = start_scripted("vnc-maxdisc-other", &other_user, true, Login::Audit, &mandatory()) else {
        return;
    };
    // A viewer at once, before the server's MaxDisconnectionTime since its start runs out.
    let (xvnc, bare_xvnc) = (vnc.wait_listening(), bare.wait_listening());
    let mut viewers = [vnc.connect_viewer(&client_x), bare.connect_viewer(&client_x)];
    let mut login = other_login(&user, "sleep 1000");
    let (id, pids) = wait_scripted(&vnc, &user, true);
    let (bare_id, _) = wait_scripted(&bare, &bare_user, false);
    let (_, other_pids) = wait_scripted(&other, &other_user, true);
    let login_id = audit_session_of(login.id() as i32).expect("the login's audit session");
    let login_pids = processes_in_audit_session(&user, login_id);

    vnc.drop_viewer(&mut viewers[0]);
    bare.drop_viewer(&mut viewers[1]);
    let disconnected = Instant::now();
    let limit = SHORT + Duration::from_secs(10);
    let Some(xvnc_gone) = wait_gone(xvnc, limit) else { panic!("Xtigervnc never exited\n{}", vnc.logs()) };
    let waited = disconnected.elapsed();
    let emptied = wait_empty(&user, id, xvnc_gone, GRACE_AND_SLACK);
    let bare_gone = wait_gone(bare_xvnc, limit).expect("the bare Xtigervnc never exited");
    let left = left_without_xexit(&bare_user, bare_id, bare_gone);
    let (login_lost, other_lost) = (lost(&login_pids), lost(&other_pids));
    finish(&mut login);

    eprintln!("MaxDisconnectionTime {SHORT:?}: Xtigervnc exited {} ms after the viewer went", waited.as_millis());
    eprintln!("{} session processes; Xtigervnc's exit to empty: {emptied:?}", pids.len());
    eprintln!("without xexit, {GRACE_AND_SLACK:?} after Xtigervnc's exit: {} left: {left:?}", left.len());
    assert!(vnc.vnc_log().contains("MaxDisconnectionTime reached"), "{}", vnc.logs());
    assert!(waited + Duration::from_secs(1) >= SHORT, "Xtigervnc exited after {waited:?}\n{}", vnc.logs());
    assert!(emptied.is_ok(), "left after Xtigervnc's exit: {emptied:?}\n{}", vnc.logs());
    assert_summary(&vnc, "closed");
    assert!(["gpg-agent", "sleep"].iter().all(|c| left.iter().any(|l| l == c)), "without xexit: {left:?}");
    assert!(login_lost.is_empty(), "the user's other login lost {login_lost:?}");
    assert!(other_lost.is_empty(), "the other user's session lost {other_lost:?}\n{}", other.logs());
}

/// A hung Xtigervnc (stopped) is noticed within interval + timeout and the session, the
/// server included, ends; the same user's second VNC session goes on.
#[test]
fn a_hung_xvnc_ends_the_session_and_spares_the_users_second_one() {
    if !need_tigervnc() {
        return;
    }
    let user = TestUser::get("xxvnc6");
    let Some(vnc) = start_scripted("vnc-hung", &user, true, Login::Audit, &mandatory()) else { return };
    let Some(second) = start_scripted("vnc-hung-second", &user, true, Login::Audit, &mandatory()) else { return };
    let xvnc = vnc.wait_listening();
    let (id, pids) = wait_scripted(&vnc, &user, true);
    let (_, second_pids) = wait_scripted(&second, &user, true);

    let stopped = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(xvnc), Signal::SIGSTOP).unwrap();
    let emptied = wait_empty(&user, id, stopped, HUNG_UNNOTICED + GRACE_AND_SLACK);
    let second_lost = lost(&second_pids);
    eprintln!("hung: {} session processes; stop to empty: {emptied:?}", pids.len());
    assert!(emptied.is_ok(), "left after the hang: {emptied:?}\n{}", vnc.logs());
    assert_summary(&vnc, "timeout");
    assert!(second_lost.is_empty(), "the second session lost {second_lost:?}\n{}", second.logs());
    assert!(!second.lost_display(), "{}", second.logs());
}

/// XFCE's processes, once its desktop is up.
const XFCE: [&str; 6] = ["xfce4-session", "xfwm4", "xfce4-panel", "xfdesktop", "xfsettingsd", "xfconfd"];

/// Starts XFCE (the `xfce` session of /usr/share/xsessions, startxfce4) in TigerVNC and
/// waits until its desktop is up and its process count settled; returns its audit session.
fn start_xfce(vnc: &Vnc, user: &TestUser, with_xexit: bool) -> u32 {
    vnc.wait_listening();
    if with_xexit {
        vnc.wait_watching();
    }
    let id = vnc.audit_session();
    let names = || comms(&processes_in_audit_session(user, id));
    let up = wait_for(Duration::from_secs(90), || XFCE.iter().all(|c| names().iter().any(|n| n == c)));
    assert!(up, "XFCE did not come up: {:?}\n{}", names(), vnc.logs());
    let mut count = 0;
    wait_for(Duration::from_secs(20), || {
        std::thread::sleep(Duration::from_secs(2));
        let now = processes_in_audit_session(user, id).len();
        std::mem::replace(&mut count, now) == now
    });
    id
}

/// Xtigervnc killed under a full XFCE desktop: xexit ends all of XFCE; without xexit part of it
/// stays.
#[test]
fn a_killed_xvnc_ends_the_whole_xfce_desktop() {
    if !need_tigervnc() || !need_program("xfce4-session") || !need_program("startxfce4") {
        return;
    }
    let (user, bare_user) = (TestUser::get("xxvnc7"), TestUser::get("xxvnc8"));
    let Some(installed) = Installed::new("vnc-xfce", true) else { return };
    let Some(bare_installed) = Installed::new("vnc-xfce-bare", false) else { return };
    let vnc = Vnc::start(installed.with_defaults(DEFAULTS), &user, Login::Audit, &mandatory(), &["xfce"]);
    let bare = Vnc::start(bare_installed.with_defaults(DEFAULTS), &bare_user, Login::Audit, &mandatory(), &["xfce"]);
    let (id, bare_id) = (start_xfce(&vnc, &user, true), start_xfce(&bare, &bare_user, false));
    let names = comms(&processes_in_audit_session(&user, id));
    let bare_count = processes_in_audit_session(&bare_user, bare_id).len();

    let killed = Instant::now();
    for server in [&vnc, &bare] {
        let xvnc = server.xvnc().expect("Xtigervnc runs");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(xvnc), Signal::SIGKILL).unwrap();
    }
    let emptied = wait_empty(&user, id, killed, GRACE_AND_SLACK);
    let left = left_without_xexit(&bare_user, bare_id, killed);
    eprintln!("XFCE: {} session processes {names:?}; kill to empty: {emptied:?}", names.len());
    eprintln!("XFCE without xexit: {bare_count} processes, {} left after {GRACE_AND_SLACK:?}: {left:?}", left.len());
    assert!(emptied.is_ok(), "left of XFCE: {emptied:?}\n{}", vnc.logs());
    assert_summary(&vnc, "closed");
    assert!(!left.is_empty(), "without xexit nothing stayed, so this test shows nothing");
}

/// On a systemd host tigervncsession's PAM session puts the whole server in pam_systemd's
/// session scope, with no audit login: `auto` picks the scope, and a crashed Xtigervnc ends
/// it whole, the wrapper and the server included.
#[test]
fn on_a_systemd_host_a_crashed_xvnc_ends_the_session_scope_whole() {
    if !need_tigervnc() {
        return;
    }
    let Some(parent) = TestCgroup::create("vnc-scope") else { return };
    let scope = parent.child("session-80.scope");
    let user = TestUser::get("xxvnc9");
    let Some(vnc) = start_scripted("vnc-scope", &user, true, Login::Scope(&scope, "80"), &mandatory()) else { return };
    let xvnc = vnc.wait_listening();
    let ready = vnc.installed.dir.path("ready");
    assert!(wait_for(Duration::from_secs(30), || ready.exists()), "the session never got ready\n{}", vnc.logs());
    vnc.wait_watching();
    let picked = format!("so cgroup:{}", scope.path);
    assert!(vnc.errors().contains(&picked), "auto did not pick the scope\n{}", vnc.logs());
    let names = comms(&scope.pids());

    let crashed = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(xvnc), Signal::SIGKILL).unwrap();
    let empty = wait_for(GRACE_AND_SLACK, || scope.pids().is_empty());
    let elapsed = crashed.elapsed();
    eprintln!("scope: {} processes {names:?}; crash to empty: {} ms", names.len(), elapsed.as_millis());
    assert!(empty, "left in the scope: {:?}\n{}", comms(&scope.pids()), vnc.logs());
    assert_summary_of(&vnc, &format!("cgroup:{}", scope.path), "closed");
}
