//! The X display: its names, the connection, and the threads that feed the watchdog.
//!
//! Display names are `[PROTOCOL/][HOST]:NUMBER[.SCREEN]`, compared by the server they name:
//! `:5`, `:5.0`, `unix:5`, `unix/:5` and `localhost/unix:5` all name the local server 5;
//! `localhost:10.0` (what ssh X forwarding sets) is TCP port 6010, another server than `:10`.
//!
//! x11rb has no reply timeout and its blocking calls ignore EINTR, so no X call is made on the
//! main thread once watching: one thread waits for events (and sees end-of-file at once), one
//! sends the pings, one forwards signals, and the main thread only reads their channel.
//! Two connections: one only ever read (events, through a fixed buffer), one for the round
//! trips, so no event is ever queued in xexit's memory, whatever a client floods the server with.

use std::os::fd::{AsFd, AsRawFd};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use signal_hook::consts::SIGHUP;
use signal_hook::iterator::Signals;
use x11rb::connection::Connection;
use x11rb::errors::{ConnectError, ConnectionError, ReplyError};
use x11rb::protocol::xproto::{Atom, AtomEnum, ChangeWindowAttributesAux, ConnectionExt, EventMask, Window};
use x11rb::rust_connection::RustConnection;

use crate::display_name::DisplayName;
use crate::error::Exit;
use crate::watchdog::{Action, Input, Reason, Watchdog, is_decisive};
use crate::xevents::EventStream;

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
    #[error("cannot watch display {display}: no thread could be started ({source})")]
    Thread { display: String, source: std::io::Error },
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
    #[error(transparent)]
    Read(#[from] std::io::Error),
    #[error("the server refused to report the root window's property changes (X error {0})")]
    Refused(u8),
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
    /// For the pings and LTSP_XEXIT reads: their round trips take no events in, so events
    /// the server sent meanwhile wait in the socket and the server, never in xexit's memory.
    requests: RustConnection,
    reader: EventReader,
}

/// How watching ended.
#[derive(Debug)]
pub enum Ended {
    Lost { reason: Reason, silent_for: Duration },
    Quit { why: &'static str },
}

/// How often a connection under way looks at xexit's own signals.
const SIGNAL_CHECK: Duration = Duration::from_millis(20);

/// Connects and subscribes to the root window's property changes, giving up after `bound`
/// (a stopped server accepts the connection but never answers). `None` when SIGTERM or
/// SIGINT came first: they are honoured while connecting too.
pub fn connect(display: &str, bound: Duration, signals: &mut Signals) -> Result<Option<Display>, Error> {
    // x11rb adds 6000 to the number for the TCP port it may try, and panics past 65535.
    if DisplayName::parse(display).is_some_and(|name| name.number > u32::from(u16::MAX - 6000)) {
        return Err(Error::Unusable { display: display.to_string() });
    }
    let (tx, rx) = mpsc::channel();
    let name = display.to_string();
    let opener = thread::Builder::new().spawn(move || {
        let _ = tx.send(open(&name));
    });
    let opener = opener.map_err(|source| Error::Thread { display: display.to_string(), source })?;
    let deadline = Instant::now() + bound;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left.min(SIGNAL_CHECK)) {
            Ok(result) => {
                // Joined so that no other thread exists when detaching forks.
                let _ = opener.join();
                return result.map(Some);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let signals: Vec<i32> = signals.pending().collect();
                if signals.iter().any(|s| *s != SIGHUP) {
                    return Ok(None);
                }
                if !signals.is_empty() {
                    log::info!("SIGHUP ignored");
                }
                if left.is_zero() {
                    return Err(Error::ConnectTimeout { display: display.to_string(), timeout: bound });
                }
            }
            // x11rb panics on some malformed names (a display number past the TCP port range).
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::Unusable { display: display.to_string() });
            }
        }
    }
}

fn open(display: &str) -> Result<Display, Error> {
    open_as(display).map_err(|source| Error::Connect { display: display.to_string(), source })
}

fn open_as(display: &str) -> Result<Display, Failure> {
    let (requests, screen) = x11rb::connect(Some(display))?;
    let (events, _) = x11rb::connect(Some(display))?;
    let root = requests.setup().roots[screen].root;
    let control = requests.intern_atom(false, CONTROL_PROPERTY)?.reply()?.atom;
    let mask = ChangeWindowAttributesAux::new().event_mask(EventMask::PROPERTY_CHANGE);
    // Sent through x11rb, answered through `stream`: x11rb never reads this connection.
    let subscribed = events.change_window_attributes(root, &mask)?.sequence_number() as u16;
    let synced = events.get_input_focus()?.sequence_number() as u16;
    events.flush()?;
    let mut stream = EventStream::new(root, control);
    let mut changed = false;
    loop {
        let seen = stream.next(events.stream().as_fd())?;
        changed |= seen.changed;
        match seen.error {
            Some((sequence, code)) if sequence == subscribed => return Err(Failure::Refused(code)),
            _ if seen.reply == Some(synced) => break,
            _ => {}
        }
    }
    Ok(Display { requests, reader: EventReader { events, stream, changed, root, atom: control } })
}

impl Display {
    /// On a TCP display, lets the kernel give up on a silent peer within the same bound.
    pub fn tune_tcp(&self, interval: Duration, timeout: Duration) {
        use nix::sys::socket::{AddressFamily, SockaddrLike, SockaddrStorage, getsockname, setsockopt, sockopt};
        let fd = self.requests.stream().as_fd();
        let Ok(address) = getsockname::<SockaddrStorage>(fd.as_raw_fd()) else { return };
        if !matches!(address.family(), Some(AddressFamily::Inet | AddressFamily::Inet6)) {
            return;
        }
        let seconds = |d: Duration| d.as_secs().clamp(1, u64::from(u32::MAX)) as u32;
        let user_timeout = timeout.as_millis().min(u128::from(u32::MAX)) as u32;
        let results = [&self.requests, &self.reader.events].map(|conn| {
            let fd = conn.stream().as_fd();
            [
                setsockopt(&fd, sockopt::TcpUserTimeout, &user_timeout),
                setsockopt(&fd, sockopt::KeepAlive, &true),
                setsockopt(&fd, sockopt::TcpKeepIdle, &seconds(interval)),
                setsockopt(&fd, sockopt::TcpKeepInterval, &seconds(timeout / 3)),
                setsockopt(&fd, sockopt::TcpKeepCount, &3),
            ]
        });
        match results.iter().flatten().find_map(|r| r.err()) {
            Some(e) => log::warn!("cannot set TCP keepalive and user timeout: {e}"),
            None => log::debug!("TCP display: keepalive and TCP_USER_TIMEOUT set to {timeout:?}"),
        }
    }

    /// Watches until the display is lost or xexit is told to quit; an error when a thread it
    /// needs cannot be started (threads are tasks, which the user's processes can use up).
    pub fn watch(self, signals: Signals, interval: Duration, timeout: Duration) -> std::io::Result<Ended> {
        // Bounded: at most one ping is outstanding, LTSP_XEXIT values wait in `control` (one
        // wake-up for any number of changes), the event thread sends Closed once and ends,
        // and the signal thread may block (the kernel keeps one of each pending signal).
        let (tx, rx) = mpsc::sync_channel(INPUTS);
        let requests = Arc::new(self.requests);
        let control = Arc::new(Mutex::new(None));
        spawn_event_reader(self.reader, Arc::clone(&requests), Arc::clone(&control), tx.clone())?;
        let pings = spawn_pinger(requests, tx.clone())?;
        spawn_signal_forwarder(signals, tx.clone())?;
        // `tx` stays alive here, so the channel never disconnects while we wait on it.
        Ok(run_watchdog(&rx, &control, &pings, Watchdog::new(Instant::now(), interval, timeout)))
    }
}

/// How many inputs may wait for the main thread before their senders wait for it.
const INPUTS: usize = 16;

/// Where the threads send what they saw, and whether one could be started.
type Inputs = SyncSender<Wake>;
type Spawned = std::io::Result<()>;

/// What the threads send to the main thread.
enum Wake {
    Input(Input),
    /// LTSP_XEXIT changed: its value waits in the shared slot.
    Control,
}

/// The LTSP_XEXIT value read last and not yet taken by the main thread.
type ControlSlot = Arc<Mutex<Option<Vec<u8>>>>;

fn run_watchdog(inputs: &Receiver<Wake>, control: &ControlSlot, pings: &SyncSender<()>, mut dog: Watchdog) -> Ended {
    let mut pending = None;
    loop {
        let now = Instant::now();
        let action = match pending.take() {
            Some(Wake::Input(input)) => dog.input(now, input),
            Some(Wake::Control) => match control.lock().unwrap_or_else(PoisonError::into_inner).take() {
                Some(value) => dog.input(now, Input::Control(value)),
                None => dog.poll(now),
            },
            None => dog.poll(now),
        };
        match action {
            Action::Ping => {
                log::trace!("ping");
                let _ = pings.try_send(());
            }
            Action::WaitUntil(when) => pending = inputs.recv_timeout(when.saturating_duration_since(now)).ok(),
            Action::Note(text) => log::info!("{text}"),
            Action::Lose { reason, silent_for } => return Ended::Lost { reason, silent_for },
            Action::Quit { why } => return Ended::Quit { why },
        }
    }
}

/// The event connection: subscribed to the root window's property changes, then only read,
/// through `stream`.
struct EventReader {
    events: RustConnection,
    stream: EventStream,
    /// LTSP_XEXIT changed while subscribing.
    changed: bool,
    root: Window,
    atom: Atom,
}

/// Waits for events: end-of-file wakes it at once. LTSP_XEXIT is read (on the other
/// connection) once for everything that arrived together, so a flood of property changes
/// costs neither memory nor a round trip each, and reaches the main thread as one value.
fn spawn_event_reader(reader: EventReader, conn: Arc<RustConnection>, slot: ControlSlot, tx: Inputs) -> Spawned {
    let EventReader { events, mut stream, mut changed, root, atom } = reader;
    spawn(move || {
        loop {
            if changed {
                let value = conn
                    .get_property(false, root, atom, AtomEnum::ANY, 0, 64)
                    .map_err(|e| e.to_string())
                    .and_then(|cookie| cookie.reply().map_err(|e| e.to_string()));
                let value = match value {
                    Ok(reply) => reply.value,
                    Err(e) => return closed(&tx, &e),
                };
                let mut pending = slot.lock().unwrap_or_else(PoisonError::into_inner);
                let wake = pending.is_none();
                // DIE or EXIT waiting to be taken is not overwritten by a later value.
                if !pending.as_deref().is_some_and(is_decisive) {
                    *pending = Some(value);
                }
                drop(pending);
                if wake && tx.send(Wake::Control).is_err() {
                    return;
                }
            }
            changed = match stream.next(events.stream().as_fd()) {
                Ok(seen) => seen.changed,
                Err(e) => return closed(&tx, &e.to_string()),
            };
        }
    })
}

fn closed(tx: &Inputs, why: &str) {
    log::debug!("display connection: {why}");
    let _ = tx.send(Wake::Input(Input::Closed));
}

/// Sends a round-trip request each time it is asked, and reports the answer.
fn spawn_pinger(conn: Arc<RustConnection>, tx: Inputs) -> std::io::Result<SyncSender<()>> {
    let (ping_tx, ping_rx) = mpsc::sync_channel::<()>(1);
    spawn(move || {
        for () in ping_rx {
            let answer = conn
                .get_input_focus()
                .map_err(|e| e.to_string())
                .and_then(|cookie| cookie.reply().map_err(|e| e.to_string()));
            match answer {
                Ok(_) => {
                    let _ = tx.send(Wake::Input(Input::Answer));
                }
                Err(e) => return closed(&tx, &e),
            }
        }
    })?;
    Ok(ping_tx)
}

fn spawn_signal_forwarder(mut signals: Signals, tx: Inputs) -> Spawned {
    spawn(move || {
        for signal in signals.forever() {
            let input = if signal == SIGHUP { Input::Hangup } else { Input::Terminate };
            if tx.send(Wake::Input(input)).is_err() {
                return;
            }
        }
    })
}

/// Starts a thread of the watcher.
fn spawn(work: impl FnOnce() + Send + 'static) -> Spawned {
    thread::Builder::new().spawn(work).map(drop)
}
