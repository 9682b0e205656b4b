//! The xrdp host of the README: Debian 12's xrdp and xrdp-sesman with xorgxrdp, started by
//! the test in the foreground on ports of their own, users logging in with xfreerdp; each
//! session runs startwm.sh, Debian's Xsession and the repo's 90xexit (with `--log stderr
//! --grace 1` from /etc/default/xexit, so xexit's lines land in ~/.xsession-errors).
//! A disconnect keeps the session and xexit quiet; an Xorg crash, a logout and
//! KillDisconnected (the README's sesman.ini lines, doc/hosts/xrdp-sesman.ini) end it whole
//! within the grace time plus 2 s, a hung Xorg within interval + timeout more, and nothing
//! else: not the user's second session, other login, nor another user's session. Each test
//! prints the session's process count, the time from the display's loss to an empty session
//! and xexit's summary line; the crash test prints what sesman logs and what stays where no
//! xexit runs.
mod common;
use common::desktop::{describe, other_login};
use common::xrdp::*;
use common::*;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

/// --grace 1 plus the 2 s every deployed test allows.
const WITHIN: Duration = Duration::from_secs(3);

fn kill(pid: i32, signal: Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).unwrap();
}

/// The user's ~/.xsession-errors, where xexit logs (both sessions of a user write there).
fn xsession_errors(user: &TestUser) -> String {
    std::fs::read_to_string(user.home.join(".xsession-errors")).unwrap_or_default()
}

/// The session's long-lived processes (its loops' `sleep 0.1` come and go): Xorg and the
/// session program's own.
fn lasting(session: &RdpSession) -> Vec<i32> {
    let program = ["program", "wm", "ignorer", "daemon"].iter().map(|name| session.pid(name));
    program.chain(session.xorg()).collect()
}

/// How the display was lost, and the bound on the session's end.
struct Loss<'a> {
    what: &'a str,
    at: Instant,
    within: Duration,
    reason: &'a str,
}

impl<'a> Loss<'a> {
    /// The X server went away: xexit's connection closed.
    fn closed(what: &'a str, at: Instant) -> Loss<'a> {
        Loss { what, at, within: WITHIN, reason: "closed" }
    }
}

/// Asserts that the session, but `except`, is gone within the loss's bound and that xexit's
/// summary line gives its reason and that nothing survived; prints the figures; returns
/// ~/.xsession-errors.
fn assert_ended(session: &RdpSession, user: &TestUser, loss: Loss, except: &[i32]) -> String {
    let left = || session.processes().into_iter().filter(|pid| !except.contains(pid)).collect::<Vec<i32>>();
    wait_for((loss.within + Duration::from_secs(5)).saturating_sub(loss.at.elapsed()), || left().is_empty());
    let elapsed = loss.at.elapsed();
    let left: Vec<String> = left().into_iter().map(describe).collect();
    let log = xsession_errors(user);
    eprintln!("xrdp {}: empty {} ms after the display's loss", loss.what, elapsed.as_millis());
    assert!(left.is_empty() && elapsed <= loss.within, "left after {elapsed:?}: {left:?}\n{log}");
    let line = summary(&log, session.display).unwrap_or_else(|| panic!("no summary line\n{log}"));
    assert!(line.contains(&format!("({})", loss.reason)) && line.contains(", 0 survived"), "{line}");
    eprintln!("summary: {line}");
    log
}

/// The summary line xexit logged for display :N, if any.
fn summary(log: &str, display: u32) -> Option<String> {
    let display = format!(":{display}");
    log.lines().find(|l| l.contains("ended session") && l.contains(&display)).map(str::to_string)
}

/// Asserts that xexit watched the session's display and logged nothing of a loss.
fn assert_quiet(session: &RdpSession, log: &str) {
    let display = format!("display :{}", session.display);
    assert!(log.lines().any(|l| l.contains("started:") && l.contains(&display)), "xexit never watched it\n{log}");
    let lost = format!("lost display :{}", session.display);
    assert!(!log.contains(&lost), "xexit acted on a mere disconnect\n{log}");
}

/// Waits up to `limit` for the display's loss: Xorg's end or, first, xexit's line (Xorg
/// closes its clients before it exits, which can take longer than the grace time).
fn wait_lost(session: &RdpSession, user: &TestUser, xorg: i32, limit: Duration) -> bool {
    let line = format!("lost display :{}", session.display);
    wait_for(limit, || !alive(xorg) || xsession_errors(user).contains(&line))
}

/// Waits until sesman has logged `text` for one more time than in `before`.
fn sesman_logs(xrdp: &Xrdp, before: &str, text: &str, limit: Duration) -> bool {
    let count = before.matches(text).count();
    wait_for(limit, || xrdp.sesman_log().matches(text).count() > count)
}

/// An xrdp host with `sessions` added to sesman.ini, and `user` logged in: one session.
fn one_session(label: &str, display_offset: u32, sessions: &str, user: &str) -> Option<(Xrdp, TestUser, RdpSession)> {
    let xrdp = Xrdp::start(label, display_offset, sessions)?;
    let user = TestUser::get(user);
    xrdp.add_user(&user);
    let session = xrdp.log_in(&user, "304x224");
    eprintln!("{label}: {} processes in the session", session.processes().len());
    Some((xrdp, user, session))
}

#[test]
fn a_disconnect_keeps_the_session_and_a_reconnect_finds_it() {
    let Some((xrdp, user, mut session)) = one_session("xrdp-disconnect", 76, "", "xxrdp1") else { return };
    let xorg = session.xorg().unwrap();
    let before = lasting(&session);

    session.disconnect();
    let log = xrdp.sesman_log();
    // Longer than xexit's default interval (5 s): a ping went unanswered if any would.
    std::thread::sleep(Duration::from_secs(6));
    let gone: Vec<i32> = before.iter().copied().filter(|pid| !alive(*pid)).collect();
    assert!(gone.is_empty(), "the disconnect ended {gone:?}\n{}", xrdp.logs());
    assert_quiet(&session, &xsession_errors(&user));

    session.client = xrdp.connect(&user, "304x224");
    let reconnected = sesman_logs(&xrdp, &log, "session reconnection script", Duration::from_secs(30));
    assert!(reconnected, "no reconnection\n{}", xrdp.logs());
    let sesman = xrdp.sesman_log();
    let reconnect_line = sesman.lines().rfind(|l| l.contains("reconnection script")).unwrap();
    assert!(reconnect_line.contains(&format!("display {}", session.display)), "{reconnect_line}");
    assert_eq!(session.xorg(), Some(xorg), "the reconnect did not find the same Xorg");
    let gone: Vec<i32> = before.iter().copied().filter(|pid| !alive(*pid)).collect();
    assert!(gone.is_empty(), "the reconnect lost {gone:?}\n{}", xrdp.logs());
    assert_quiet(&session, &xsession_errors(&user));
}

#[test]
fn an_xorg_crash_ends_that_session_alone() {
    let Some(xrdp) = Xrdp::start("xrdp-crash", 70, "") else { return };
    let (user, other_user, bare_user) = (TestUser::get("xxrdp2"), TestUser::get("xxrdp2b"), TestUser::get("xxrdp2c"));
    for u in [&user, &other_user, &bare_user] {
        xrdp.add_user(u);
    }
    // The same user's other login (not X), and a user whose sessions start no xexit.
    let mut login = other_login(&user, "sleep 1000");
    std::fs::write(bare_user.home.join(".xsessionrc"), "XEXIT_ENABLE=no\n").unwrap();
    let session = xrdp.log_in(&user, "304x224");
    // Policy=UBD: another screen size is another session of the same user.
    let second = xrdp.log_in(&user, "256x192");
    let other = xrdp.log_in(&other_user, "304x224");
    let bare = xrdp.log_in(&bare_user, "304x224");
    assert_ne!(session.display, second.display, "one session for both screen sizes");
    let bystanders: Vec<i32> = [lasting(&second), lasting(&other), vec![login.id() as i32]].concat();
    let before: Vec<String> = session.processes().into_iter().map(describe).collect();
    eprintln!("xrdp Xorg crash: {} processes in the session: {before:#?}", before.len());
    let sesman_before = xrdp.sesman_log();

    let agent = session.processes().into_iter().find(|pid| exe_of(*pid).is_some_and(|e| e.ends_with("ssh-agent")));
    let agent = agent.expect("Xsession's ssh-agent");

    let (crashed, xorg) = (Instant::now(), session.xorg().unwrap());
    kill(xorg, Signal::SIGSEGV);
    let log = assert_ended(&session, &user, Loss::closed("Xorg crash", crashed), &[]);
    // Without an audit session (xrdp-sesman's PAM stack has no pam_loginuid) or a logind
    // cgroup, the agent (unreadable to the user) is the session's by the SSH_AGENT_PID its
    // processes carry, although the user's other session is visible.
    assert!(!alive(agent), "the session's ssh-agent stays\n{log}");
    assert!(!log.contains(&format!("sparing {agent} ")), "the session's ssh-agent was spared\n{log}");
    let hurt: Vec<String> = bystanders.iter().filter(|pid| !alive(**pid)).map(|pid| describe(*pid)).collect();
    assert!(hurt.is_empty(), "bystanders ended: {hurt:?}\n{log}");
    let xexit_lines: Vec<&str> = log.lines().filter(|l| l.starts_with("xexit:")).collect();
    eprintln!("~/.xsession-errors, xexit's lines:\n{}", xexit_lines.join("\n"));
    // What sesman does when Xorg goes first: nothing until the window manager (which here
    // dies with its display) exits; then it TERMs Xorg and chansrv and logs their end.
    let sesman = xrdp.sesman_log();
    let new: Vec<&str> = sesman.lines().skip(sesman_before.lines().count()).collect();
    eprintln!("sesman after the crash:\n{}", new.join("\n"));
    let first = new.iter().find(|l| l.contains(&format!("display {}", session.display))).unwrap_or(&"");
    assert!(first.contains("Window manager"), "sesman's first word after the crash: {first}");
    let xorg_end = format!("X server on display {} (pid {xorg}) returned exit code", session.display);
    assert!(new.iter().any(|l| l.contains(&xorg_end)), "{}", new.join("\n"));

    // The same crash where no xexit runs: what stays.
    let bare_count = bare.processes().len();
    kill(bare.xorg().unwrap(), Signal::SIGSEGV);
    for wait in [WITHIN, Duration::from_secs(12)] {
        std::thread::sleep(wait);
        let stayed: Vec<String> = bare.processes().into_iter().map(describe).collect();
        eprintln!("without xexit, {} of {bare_count} processes left after {wait:?} more: {stayed:?}", stayed.len());
    }
    assert!(finish(&mut login), "the user's other login ended");
}

#[test]
fn logging_out_ends_what_outlives_the_window_manager() {
    let Some((xrdp, user, session)) = one_session("xrdp-logout", 82, "", "xxrdp3") else { return };
    let xorg = session.xorg().unwrap();
    // startwm.sh execs Xsession, which execs the session program: sesman's window manager.
    let waiting = format!("waiting until the window manager (pid {}) exits", session.pid("program"));
    assert!(xrdp.sesman_log().contains(&waiting), "sesman waits for another process\n{}", xrdp.sesman_log());

    kill(session.pid("wm"), Signal::SIGTERM);
    assert!(wait_lost(&session, &user, xorg, Duration::from_secs(10)), "Xorg still runs\n{}", xrdp.logs());
    assert_ended(&session, &user, Loss::closed("logout", Instant::now()), &[]);
}

#[test]
fn kill_disconnected_ends_xorg_and_xexit_ends_the_rest() {
    let snippet = std::fs::read_to_string(SESMAN_SNIPPET).unwrap();
    let Some((xrdp, user, mut session)) = one_session("xrdp-killdisc", 88, &snippet, "xxrdp4") else { return };
    let limit: u64 = snippet.lines().find_map(|l| l.strip_prefix("DisconnectedTimeLimit=")?.parse().ok()).unwrap();
    let (xorg, pids) = (session.xorg().unwrap(), lasting(&session));

    let disconnected = Instant::now();
    session.disconnect();
    // Disconnected, the session stays whole until the limit.
    let early = wait_lost(&session, &user, xorg, Duration::from_secs(limit - 5));
    let gone: Vec<i32> = pids.iter().copied().filter(|pid| !alive(*pid)).collect();
    assert!(!early && gone.is_empty(), "ended before {limit} s: Xorg {early}, {gone:?}\n{}", xrdp.logs());
    assert_quiet(&session, &xsession_errors(&user));
    let ended = wait_lost(&session, &user, xorg, Duration::from_secs(60));
    assert!(ended, "Xorg still runs {:?} after the disconnect\n{}", disconnected.elapsed(), xrdp.logs());
    let lost = Instant::now();
    eprintln!("KillDisconnected: display lost {} ms after the disconnect", disconnected.elapsed().as_millis());
    assert_ended(&session, &user, Loss::closed("KillDisconnected", lost), &[]);
    // xorgxrdp's own timer ends the X server (sesman hands it the limit).
    let xorg_log = std::fs::read_to_string(user.home.join(format!(".xorgxrdp.{}.log", session.display)));
    assert!(xorg_log.unwrap_or_default().contains("disconnect timeout exceeded, exiting"), "{}", xrdp.logs());
}

#[test]
fn a_hung_xorg_ends_the_session_after_interval_and_timeout() {
    let Some((_xrdp, user, session)) = one_session("xrdp-hung", 94, "", "xxrdp5") else { return };
    let hung = Instant::now();
    kill(session.xorg().unwrap(), Signal::SIGSTOP);
    // xexit's defaults: a ping every 5 s, the display lost once one is 15 s unanswered. The
    // stopped Xorg is the session's too: nothing else would end it (sesman waits for the
    // window manager, which waits for Xorg).
    let within = Duration::from_secs(5 + 15) + WITHIN;
    assert_ended(&session, &user, Loss { what: "hung Xorg", at: hung, within, reason: "timeout" }, &[]);
}
