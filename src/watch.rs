//! The display connection: connect within a bound, detach, then feed the watchdog from threads.
//!
//! x11rb has no reply timeout and its blocking calls ignore EINTR, so no X call is made on the
//! main thread once watching: one thread waits for events (and sees end-of-file at once), one
//! sends the pings, one forwards signals, and the main thread only reads their channel.

use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{Atom, AtomEnum, ChangeWindowAttributesAux, ConnectionExt, EventMask, Property, Window};
use x11rb::rust_connection::RustConnection;

use crate::watchdog::{Action, Input, Reason, Watchdog};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no display: give --display DISPLAY or set DISPLAY")]
    NoDisplay,
    #[error("cannot connect to display {display}: {reason}")]
    Connect { display: String, reason: String },
    #[error("display {display} did not answer within {timeout:?} (--timeout)")]
    ConnectTimeout { display: String, timeout: Duration },
    #[error("cannot detach into the background: {0}")]
    Detach(nix::Error),
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NoDisplay => crate::error::EXIT_USAGE,
            Error::Connect { .. } | Error::ConnectTimeout { .. } => crate::error::EXIT_UNREACHABLE,
            Error::Detach(_) | Error::Signals(_) => crate::error::EXIT_FAILED,
        }
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

/// xexit's own signals, caught from the start so a hangup while starting does no harm.
pub fn catch_signals() -> Result<Signals, Error> {
    Signals::new([SIGHUP, SIGTERM, SIGINT]).map_err(Error::Signals)
}

/// Connects and subscribes to the root window's property changes, giving up after `bound`
/// (a stopped server accepts the connection but never answers).
pub fn connect(display: &str, bound: Duration) -> Result<Display, Error> {
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
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(Error::Connect { display: display.to_string(), reason: "not a usable display name".into() })
        }
    }
}

fn open(display: &str) -> Result<Display, Error> {
    let failed = |reason: String| Error::Connect { display: display.to_string(), reason };
    let (conn, screen) = x11rb::connect(Some(display)).map_err(|e| failed(e.to_string()))?;
    let root = conn.setup().roots[screen].root;
    let control = conn
        .intern_atom(false, CONTROL_PROPERTY)
        .map_err(|e| failed(e.to_string()))?
        .reply()
        .map_err(|e| failed(e.to_string()))?
        .atom;
    let events = ChangeWindowAttributesAux::new().event_mask(EventMask::PROPERTY_CHANGE);
    conn.change_window_attributes(root, &events)
        .map_err(|e| failed(e.to_string()))?
        .check()
        .map_err(|e| failed(e.to_string()))?;
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

/// Forks into the background: the parent returns 0 to the X session at once, the child
/// leaves the session's terminal, the working directory and stdio behind (stderr stays
/// where it was with `keep_stderr`, for `--log stderr`: ~/.xsession-errors under Xsession).
pub fn detach(keep_stderr: bool) -> Result<(), Error> {
    use nix::unistd::{ForkResult, chdir, dup2_stderr, dup2_stdin, dup2_stdout, fork, setsid};
    // SAFETY: single-threaded here (the connect thread was joined); the child only goes on
    // with ordinary Rust code.
    match unsafe { fork() }.map_err(Error::Detach)? {
        ForkResult::Parent { .. } => std::process::exit(0),
        ForkResult::Child => {}
    }
    setsid().map_err(Error::Detach)?;
    // Holding no directory keeps home directories unmountable after logout.
    chdir("/").map_err(Error::Detach)?;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| Error::Detach(nix::Error::from_raw(e.raw_os_error().unwrap_or(0))))?;
    dup2_stdin(&null).map_err(Error::Detach)?;
    dup2_stdout(&null).map_err(Error::Detach)?;
    if !keep_stderr {
        dup2_stderr(&null).map_err(Error::Detach)?;
    }
    Ok(())
}
