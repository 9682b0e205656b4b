//! The X display: its names, the connection, and the threads that feed the watchdog.
//!
//! Display names are `[PROTOCOL/][HOST]:NUMBER[.SCREEN]`, compared by the server they name:
//! `:5`, `:5.0`, `unix:5`, `unix/:5` and `localhost/unix:5` all name the local server 5;
//! `localhost:10.0` (what ssh X forwarding sets) is TCP port 6010, another server than `:10`.
//!
//! x11rb has no reply timeout and its blocking calls ignore EINTR, so no X call is made on the
//! main thread once watching: one thread waits for events (and sees end-of-file at once), one
//! sends the pings, one forwards signals, and the main thread only reads their channel.

use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use signal_hook::consts::SIGHUP;
use signal_hook::iterator::Signals;
use x11rb::connection::Connection;
use x11rb::errors::{ConnectError, ConnectionError, ReplyError};
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{Atom, AtomEnum, ChangeWindowAttributesAux, ConnectionExt, EventMask, Property, Window};
use x11rb::rust_connection::RustConnection;

use crate::error::Exit;
use crate::watchdog::{Action, Input, Reason, Watchdog};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no display: give --display DISPLAY or set DISPLAY")]
    NoDisplay,
    #[error("cannot connect to display {display}: {source}")]
    Connect { display: String, source: Failure },
    #[error("cannot connect to display {display}: not a usable display name (the number is at most 59535)")]
    Unusable { display: String },
    #[error("display {display} did not answer within {timeout:?} (--timeout)")]
    ConnectTimeout { display: String, timeout: Duration },
}

/// What x11rb reported, kind kept.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    #[error(transparent)]
    Reply(#[from] ReplyError),
}

impl From<Error> for crate::error::Error {
    fn from(error: Error) -> Self {
        let exit = if matches!(error, Error::NoDisplay) { Exit::Usage } else { Exit::Unreachable };
        crate::error::Error::new(exit, error)
    }
}

/// The LTSP control property on the root window.
const CONTROL_PROPERTY: &[u8] = b"LTSP_XEXIT";

/// A connected display, ready to be watched.
pub struct Display {
    conn: RustConnection,
    root: Window,
    control: Atom,
}

/// How watching ended.
#[derive(Debug)]
pub enum Ended {
    Lost { reason: Reason, silent_for: Duration },
    Quit { why: &'static str },
}

/// Connects and subscribes to the root window's property changes, giving up after `bound`
/// (a stopped server accepts the connection but never answers).
pub fn connect(display: &str, bound: Duration) -> Result<Display, Error> {
    // x11rb adds 6000 to the number for the TCP port it may try, and panics past 65535.
    if DisplayName::parse(display).is_some_and(|name| name.number > u32::from(u16::MAX - 6000)) {
        return Err(Error::Unusable { display: display.to_string() });
    }
    let (tx, rx) = mpsc::channel();
    let name = display.to_string();
    let opener = thread::spawn(move || {
        let _ = tx.send(open(&name));
    });
    match rx.recv_timeout(bound) {
        Ok(result) => {
            // Joined so that no other thread exists when detaching forks.
            let _ = opener.join();
            result
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Err(Error::ConnectTimeout { display: display.to_string(), timeout: bound })
        }
        // x11rb panics on some malformed names (a display number past the TCP port range).
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(Error::Unusable { display: display.to_string() }),
    }
}

fn open(display: &str) -> Result<Display, Error> {
    open_as(display).map_err(|source| Error::Connect { display: display.to_string(), source })
}

fn open_as(display: &str) -> Result<Display, Failure> {
    let (conn, screen) = x11rb::connect(Some(display))?;
    let root = conn.setup().roots[screen].root;
    let control = conn.intern_atom(false, CONTROL_PROPERTY)?.reply()?.atom;
    let events = ChangeWindowAttributesAux::new().event_mask(EventMask::PROPERTY_CHANGE);
    conn.change_window_attributes(root, &events)?.check()?;
    Ok(Display { conn, root, control })
}

impl Display {
    /// On a TCP display, lets the kernel give up on a silent peer within the same bound.
    pub fn tune_tcp(&self, interval: Duration, timeout: Duration) {
        use nix::sys::socket::{AddressFamily, SockaddrLike, SockaddrStorage, getsockname, setsockopt, sockopt};
        let fd = self.conn.stream().as_fd();
        let Ok(address) = getsockname::<SockaddrStorage>(fd.as_raw_fd()) else { return };
        if !matches!(address.family(), Some(AddressFamily::Inet | AddressFamily::Inet6)) {
            return;
        }
        let seconds = |d: Duration| d.as_secs().clamp(1, u64::from(u32::MAX)) as u32;
        let results = [
            setsockopt(&fd, sockopt::TcpUserTimeout, &(timeout.as_millis().min(u128::from(u32::MAX)) as u32)),
            setsockopt(&fd, sockopt::KeepAlive, &true),
            setsockopt(&fd, sockopt::TcpKeepIdle, &seconds(interval)),
            setsockopt(&fd, sockopt::TcpKeepInterval, &seconds(timeout / 3)),
            setsockopt(&fd, sockopt::TcpKeepCount, &3),
        ];
        match results.iter().find_map(|r| r.err()) {
            Some(e) => log::warn!("cannot set TCP keepalive and user timeout: {e}"),
            None => log::debug!("TCP display: keepalive and TCP_USER_TIMEOUT set to {timeout:?}"),
        }
    }

    /// Watches until the display is lost or xexit is told to quit.
    pub fn watch(self, signals: Signals, interval: Duration, timeout: Duration) -> Ended {
        let (tx, rx) = mpsc::channel();
        let conn = Arc::new(self.conn);
        spawn_event_reader(Arc::clone(&conn), self.root, self.control, tx.clone());
        let pings = spawn_pinger(conn, tx.clone());
        spawn_signal_forwarder(signals, tx.clone());
        // `tx` stays alive here, so the channel never disconnects while we wait on it.
        run_watchdog(&rx, &pings, Watchdog::new(Instant::now(), interval, timeout))
    }
}

fn run_watchdog(inputs: &Receiver<Input>, pings: &Sender<()>, mut dog: Watchdog) -> Ended {
    let mut pending = None;
    loop {
        let now = Instant::now();
        let action = match pending.take() {
            Some(input) => dog.input(now, input),
            None => dog.poll(now),
        };
        match action {
            Action::Ping => {
                log::trace!("ping");
                let _ = pings.send(());
            }
            Action::WaitUntil(when) => pending = inputs.recv_timeout(when.saturating_duration_since(now)).ok(),
            Action::Note(text) => log::info!("{text}"),
            Action::Lose { reason, silent_for } => return Ended::Lost { reason, silent_for },
            Action::Quit { why } => return Ended::Quit { why },
        }
    }
}

/// Waits for events: end-of-file wakes it at once, and LTSP_XEXIT changes are read here.
fn spawn_event_reader(conn: Arc<RustConnection>, root: Window, control: Atom, tx: Sender<Input>) {
    thread::spawn(move || {
        loop {
            match conn.wait_for_event() {
                Ok(Event::PropertyNotify(event))
                    if event.atom == control && event.window == root && event.state == Property::NEW_VALUE =>
                {
                    let value = conn
                        .get_property(false, root, control, AtomEnum::ANY, 0, 64)
                        .map_err(|e| e.to_string())
                        .and_then(|cookie| cookie.reply().map_err(|e| e.to_string()));
                    match value {
                        Ok(reply) => {
                            let _ = tx.send(Input::Control(reply.value));
                        }
                        Err(e) => return closed(&tx, &e),
                    }
                }
                Ok(_) => {}
                Err(e) => return closed(&tx, &e.to_string()),
            }
        }
    });
}

fn closed(tx: &Sender<Input>, why: &str) {
    log::debug!("display connection: {why}");
    let _ = tx.send(Input::Closed);
}

/// Sends a round-trip request each time it is asked, and reports the answer.
fn spawn_pinger(conn: Arc<RustConnection>, tx: Sender<Input>) -> Sender<()> {
    let (ping_tx, ping_rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        for () in ping_rx {
            let answer = conn
                .get_input_focus()
                .map_err(|e| e.to_string())
                .and_then(|cookie| cookie.reply().map_err(|e| e.to_string()));
            match answer {
                Ok(_) => {
                    let _ = tx.send(Input::Answer);
                }
                Err(e) => return closed(&tx, &e),
            }
        }
    });
    ping_tx
}

fn spawn_signal_forwarder(mut signals: Signals, tx: Sender<Input>) {
    thread::spawn(move || {
        for signal in signals.forever() {
            let input = if signal == SIGHUP { Input::Hangup } else { Input::Terminate };
            if tx.send(input).is_err() {
                return;
            }
        }
    });
}

/// The server a display name points at; the screen number is not part of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName {
    /// Lower-case host for TCP displays; `None` for the local (Unix socket) server.
    host: Option<String>,
    number: u32,
}

impl DisplayName {
    /// Parses a DISPLAY value; `None` when it is not one.
    pub fn parse(text: &str) -> Option<DisplayName> {
        let (protocol, rest) = match text.split_once('/') {
            Some((protocol, rest)) => (Some(protocol.to_ascii_lowercase()), rest),
            None => (None, text),
        };
        let colon = rest.rfind(':')?;
        let (host, after) = (&rest[..colon], &rest[colon + 1..]);
        let number_text = after.split_once('.').map_or(after, |(number, _screen)| number);
        if number_text.is_empty() || !number_text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let number = number_text.parse().ok()?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let local = host.is_empty() || host == "unix" || matches!(protocol.as_deref(), Some("unix" | "local"));
        let host = (!local).then(|| if is_loopback(&host) { "localhost".to_string() } else { host });
        Some(DisplayName { host, number })
    }
}

/// Loopback spellings name the same TCP listener (ssh's X11 forwarding port).
fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1" | "ip6-localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &str, b: &str) -> bool {
        DisplayName::parse(a).unwrap() == DisplayName::parse(b).unwrap()
    }

    #[test]
    fn every_spelling_of_a_local_display_is_the_same_display() {
        for spelling in [":5", ":5.0", ":5.1", "unix:5", "unix:5.0", "localhost/unix:5", "unix/:5", "local/:5"] {
            assert!(same(":5", spelling), "{spelling} is not :5");
        }
    }

    #[test]
    fn other_numbers_and_tcp_displays_are_other_displays() {
        for other in [":50", ":55", ":0", "localhost:5", "host:5", "tcp/localhost:5"] {
            assert!(!same(":5", other), "{other} taken for :5");
        }
        assert!(!same(":55", ":5"));
    }

    #[test]
    fn tcp_displays_compare_host_and_number() {
        assert!(same("localhost:10.0", "localhost:10"));
        assert!(same("localhost:10", "127.0.0.1:10.0"));
        assert!(same("tcp/localhost:10", "localhost:10"));
        assert!(same("WS01:3", "ws01:3.0"));
        assert!(same("[::1]:10", "localhost:10"));
        assert!(!same("localhost:10", "localhost:11"));
        assert!(!same("ws01:3", "ws02:3"));
    }

    #[test]
    fn garbage_is_not_a_display() {
        for bad in ["", "5", ":", ":x", ":5x", "host:", ":-1", ":5 ", ":99999999999"] {
            assert_eq!(DisplayName::parse(bad), None, "{bad:?} parsed");
        }
    }
}
