//! A real light desktop through Debian's Xsession: openbox-session, an xterm running tmux,
//! gpg-agent, and the ssh-agent that Xsession wraps the session in, with xexit and the
//! shipped hooks. When the X server dies nothing of that session is left, while the same
//! user's other login (its own ssh-agent and tmux) and another user's desktop go on.
mod common;
use common::desktop::*;
use common::*;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

const HOOKS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/Xexit.d");

/// The session program: openbox's autostart starts the terminal and gpg-agent, then says ready.
const DESKTOP: &str = r#"mkdir -p "$HOME/.config/openbox"
cat > "$HOME/.config/openbox/autostart" <<'AUTOSTART'
xterm -e tmux -L desk new-session 'sleep 1000' &
gpgconf --launch gpg-agent
READY_LINE
AUTOSTART
mkdir -m 700 -p "$HOME/.gnupg"
exec openbox-session
"#;

fn comms(pids: &[i32]) -> Vec<String> {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
        .map(|c| c.trim().into())
        .collect()
}

#[test]
fn a_desktop_session_ends_whole_and_alone() {
    for program in ["openbox-session", "xterm", "tmux", "gpgconf", "ssh-agent"] {
        if !need_program(program) {
            return;
        }
    }
    if !need_audit() {
        return;
    }
    let Some(installed) = Installed::new("desktop", true) else { return };
    let Some(other_installed) = Installed::new("desktop-other", true) else { return };
    let (Some(x), Some(other_x)) = (Xvfb::start(), Xvfb::start()) else { return };
    let (user, other_user) = (TestUser::get("xxdesk1"), TestUser::get("xxdesk2"));

    // The same user's other login, with an agent (unreadable to the user) and a tmux server.
    let mut login =
        other_login(&user, "ssh-agent -D >/dev/null & tmux -L other new-session -d 'sleep 1000'; sleep 1000");
    // Another user's desktop session on another display, with its own xexit.
    let other_script = format!("sleep 1000 &\n{READY}wait\n");
    let other_spec = SessionSpec::new(&other_user, &other_x.display, &other_script);
    let mut other_session = XSession::start(other_installed, other_spec);

    let script = DESKTOP.replace("READY_LINE", READY.trim_end());
    let options = format!("--hook-dir {HOOKS} --log stderr");
    let spec = SessionSpec { options: &options, ..SessionSpec::new(&user, &x.display, &script) };
    let mut session = XSession::start(installed, spec);
    session.wait_ready();
    other_session.wait_ready();
    let id = session.audit_session().expect("the session's audit session");
    let login_id = audit_session_of(login.id() as i32).expect("the login's audit session");
    let other_id = other_session.audit_session().expect("the other user's audit session");
    let up = wait_for(Duration::from_secs(10), || {
        let running = comms(&processes_in_audit_session(&user, id));
        ["xterm", "tmux: server", "gpg-agent", "ssh-agent", "openbox"].iter().all(|c| running.iter().any(|r| r == c))
            && comms(&processes_in_audit_session(&user, login_id)).iter().any(|c| c == "tmux: server")
    });
    assert!(
        up,
        "the desktop did not come up: {:?}\n{}",
        comms(&processes_in_audit_session(&user, id)),
        session.errors()
    );
    let login_pids = processes_in_audit_session(&user, login_id);
    let other_pids = processes_in_audit_session(&other_user, other_id);

    let killed = Instant::now();
    x.signal(Signal::SIGKILL);
    let empty = wait_for(Duration::from_secs(10), || processes_in_audit_session(&user, id).is_empty());
    let elapsed = killed.elapsed();
    let left: Vec<String> = processes_in_audit_session(&user, id).into_iter().map(describe).collect();
    let log = session.errors();
    eprintln!("{log}\ndesktop: X loss to an empty session (xexit gone too): {} ms", elapsed.as_millis());
    let login_left: Vec<i32> = login_pids.iter().copied().filter(|pid| !alive(*pid)).collect();
    let other_left: Vec<i32> = other_pids.iter().copied().filter(|pid| !alive(*pid)).collect();
    finish(&mut login);
    assert!(empty, "left of the desktop after {elapsed:?}: {left:?}\n{log}");
    assert!(login_left.is_empty(), "the user's other login lost {login_left:?}\n{log}");
    assert!(other_left.is_empty(), "the other user's session lost {other_left:?}");
    assert!(log.contains("hook 20gpg-agent done"), "{log}");
}
