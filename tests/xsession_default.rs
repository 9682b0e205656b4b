//! /etc/default/xexit, as an administrator configures xexit: Debian's real /etc/X11/Xsession
//! sources 90xexit, which reads the file. Its XEXIT_OPTIONS reach the detached watcher, a
//! user's own ~/.xsessionrc value wins, XEXIT_ENABLE=no starts no watcher, a file sh cannot
//! parse is passed over with one line in ~/.xsession-errors, and the shipped file (every
//! option commented) changes nothing.
mod common;
use common::desktop::*;
use common::*;

const SHIPPED: &str = include_str!("../debian/xexit.default");

/// Starts a session that only waits, for a new user `user_name`, under the real Xsession
/// with `defaults` as /etc/default/xexit and `xsessionrc` as the user's ~/.xsessionrc;
/// returns once every snippet has run (so 90xexit's xexit has detached, or never started).
fn start_session(label: &str, user_name: &str, defaults: &str, xsessionrc: Option<&str>) -> Option<Session> {
    let installed = Installed::new(label, true)?.with_defaults(defaults);
    let x = Xvfb::start()?;
    let user = TestUser::get(user_name);
    if let Some(text) = xsessionrc {
        std::fs::write(user.home.join(".xsessionrc"), text).unwrap();
    }
    let script = format!("{READY}sleep 1000\n");
    let mut session = XSession::start(installed, SessionSpec::new(&user, &x.display, &script));
    session.wait_ready();
    Some(Session { watchers: watchers(&user), errors: session.errors(), _session: session, _x: x, _user: user })
}

/// What a test looks at, with what keeps the session alive until the test is done.
struct Session {
    /// The command lines of the user's xexit processes once the session runs.
    watchers: Vec<Vec<String>>,
    /// ~/.xsession-errors at that moment.
    errors: String,
    _session: XSession,
    _x: Xvfb,
    _user: TestUser,
}

/// The command line of every process of `user` started as `xexit`, as 90xexit starts it.
fn watchers(user: &TestUser) -> Vec<Vec<String>> {
    let cmdlines = user.processes().into_iter().filter_map(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok());
    let args = cmdlines.map(|raw| raw.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect());
    args.map(|mut args: Vec<String>| {
        args.pop_if(|last| last.is_empty());
        args
    })
    .filter(|args| args.first().is_some_and(|first| first == "xexit"))
    .collect()
}

/// Whether ~/.xsession-errors holds nothing from xexit or 90xexit.
fn silent(errors: &str) -> bool {
    !errors.contains("xexit:") && !errors.contains("90xexit")
}

fn args(line: &[&str]) -> Vec<String> {
    line.iter().map(|arg| arg.to_string()).collect()
}

#[test]
fn the_admins_options_reach_the_watcher() {
    let defaults = "XEXIT_OPTIONS=\"--interval 7s --hook-timeout 4s\"\n";
    let Some(session) = start_session("default-options", "xxdflt1", defaults, None) else { return };
    assert_eq!(session.watchers, [args(&["xexit", "--interval", "7s", "--hook-timeout", "4s"])], "{}", session.errors);
    assert!(silent(&session.errors), "a healthy start is silent:\n{}", session.errors);
}

#[test]
fn the_users_own_options_win_over_the_admins() {
    let defaults = "XEXIT_OPTIONS=\"--interval 7s\"\n";
    let xsessionrc = "XEXIT_OPTIONS=\"--interval 9s\"\n";
    let Some(session) = start_session("default-user", "xxdflt2", defaults, Some(xsessionrc)) else { return };
    assert_eq!(session.watchers, [args(&["xexit", "--interval", "9s"])], "{}", session.errors);
}

#[test]
fn the_admin_can_disable_xexit() {
    let defaults = "XEXIT_ENABLE=no\nXEXIT_OPTIONS=\"--interval 7s\"\n";
    let Some(session) = start_session("default-disabled", "xxdflt3", defaults, None) else { return };
    // 90xexit runs before the session program, and xexit detaches before 90xexit goes on:
    // a watcher that was started runs by now.
    assert_eq!(session.watchers, Vec::<Vec<String>>::new(), "{}", session.errors);
    assert!(silent(&session.errors), "{}", session.errors);
}

#[test]
fn a_defaults_file_sh_cannot_parse_is_passed_over_and_the_session_starts() {
    let defaults = "XEXIT_OPTIONS=\"--interval 7s\nif then\n";
    let Some(session) = start_session("default-broken", "xxdflt4", defaults, None) else { return };
    assert!(
        session.errors.contains("90xexit: /etc/default/xexit is not valid sh; it is ignored"),
        "{}",
        session.errors
    );
    assert_eq!(session.watchers, [args(&["xexit"])], "{}", session.errors);
}

#[test]
fn the_shipped_defaults_file_changes_nothing() {
    let Some(session) = start_session("default-shipped", "xxdflt5", SHIPPED, None) else { return };
    assert_eq!(session.watchers, [args(&["xexit"])], "{}", session.errors);
    assert!(silent(&session.errors), "{}", session.errors);
}

#[test]
fn the_shipped_defaults_file_names_every_watch_option() {
    let command = xexit::command();
    let watch = command.get_subcommands().find(|sub| sub.get_name() == "watch").expect("a watch subcommand");
    let missing: Vec<_> = watch
        .get_arguments()
        .filter_map(|arg| arg.get_long())
        .filter(|long| *long != "help" && !SHIPPED.contains(&format!("--{long}")))
        .collect();
    assert!(missing.is_empty(), "not in debian/xexit.default: {missing:?}");
}
