//! Log lines go to stderr (through env_logger) or to syslog as `xexit[PID]`.
//!
//! `log` takes one logger per process, so a small dispatcher picks the target per line. A
//! watcher that will detach (`--log auto`) logs to syslog from the start, so a healthy start
//! writes nothing into the session's ~/.xsession-errors; until it has detached, warnings and
//! errors are also shown on stderr, where the one who started it looks.

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use log::{Level, LevelFilter, Log, Metadata, Record};

/// `-v`, `-q` and `--log`.
#[derive(Clone, Copy, Debug)]
pub struct LogOptions {
    /// How many `-v`: each logs one level more.
    pub verbose: u8,
    /// Only warnings and errors.
    pub quiet: bool,
    pub target: LogTarget,
}

/// Where log lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogTarget {
    Stderr,
    Syslog,
    /// stderr in the foreground, syslog when detached.
    Auto,
}

const SYSLOG_SOCKET: &str = "/dev/log";
/// LOG_USER: xexit runs as a user's program, not a system daemon.
const FACILITY_USER: u8 = 1;

struct Dispatch {
    stderr: env_logger::Logger,
    route: AtomicU8,
    syslog: Mutex<Option<UnixDatagram>>,
}

/// Where lines go (the values of `Dispatch::route`).
const TO_STDERR: u8 = 0;
const TO_SYSLOG: u8 = 1;
/// Syslog, and warnings and errors on stderr as well: a watcher that has not detached yet.
const TO_SYSLOG_WARN_STDERR: u8 = 2;

/// Set once xexit runs in the background, where its stderr is no longer seen.
static DETACHED: AtomicBool = AtomicBool::new(false);

static LOGGER: std::sync::OnceLock<Dispatch> = std::sync::OnceLock::new();

impl Log for Dispatch {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let route = self.route.load(Ordering::Relaxed);
        if route != TO_STDERR {
            self.send_to_syslog(record);
        }
        if route == TO_STDERR || (route == TO_SYSLOG_WARN_STDERR && record.level() <= Level::Warn) {
            self.stderr.log(record);
        }
    }

    fn flush(&self) {
        self.stderr.flush();
    }
}

impl Dispatch {
    fn send_to_syslog(&self, record: &Record) {
        let severity = match record.level() {
            Level::Error => 3,
            Level::Warn => 4,
            Level::Info => 6,
            Level::Debug | Level::Trace => 7,
        };
        let line = format!("<{}>xexit[{}]: {}", FACILITY_USER * 8 + severity, std::process::id(), record.args());
        let mut socket = self.syslog.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if socket.is_none() {
            *socket = UnixDatagram::unbound().ok();
        }
        // No syslog daemon is no reason to fail: the line is dropped.
        if let Some(socket) = socket.as_ref() {
            let _ = socket.send_to(line.as_bytes(), SYSLOG_SOCKET);
        }
    }
}

/// The level for `-v`/`-q`, starting from `base` (info for watch and end, warn for list).
fn level(output: &LogOptions, base: LevelFilter) -> LevelFilter {
    if output.quiet {
        return LevelFilter::Warn;
    }
    let levels = [LevelFilter::Warn, LevelFilter::Info, LevelFilter::Debug, LevelFilter::Trace];
    let start = levels.iter().position(|l| *l == base).unwrap_or(1);
    levels[(start + usize::from(output.verbose)).min(levels.len() - 1)]
}

/// Installs the logger. `will_detach`: a watcher going into the background, which under
/// `--log auto` logs to syslog from the start.
pub fn init(output: &LogOptions, base: LevelFilter, will_detach: bool) {
    let level = level(output, base);
    let route = match output.target {
        LogTarget::Stderr => TO_STDERR,
        LogTarget::Syslog => TO_SYSLOG,
        LogTarget::Auto if will_detach => TO_SYSLOG_WARN_STDERR,
        LogTarget::Auto => TO_STDERR,
    };
    let dispatch = LOGGER.get_or_init(|| {
        let stderr = env_logger::Builder::new()
            .filter_level(LevelFilter::Trace)
            .format(|buf, record| match record.level() {
                Level::Error => writeln!(buf, "xexit: error: {}", record.args()),
                Level::Warn => writeln!(buf, "xexit: warning: {}", record.args()),
                _ => writeln!(buf, "xexit: {}", record.args()),
            })
            .build();
        Dispatch { stderr, route: AtomicU8::new(route), syslog: Mutex::new(None) }
    });
    dispatch.route.store(route, Ordering::Relaxed);
    if log::set_logger(dispatch).is_ok() {
        log::set_max_level(level);
    }
}

/// xexit now runs in the background: stderr is no longer seen, unless `--log stderr` kept it.
pub fn detached() {
    DETACHED.store(true, Ordering::Relaxed);
    if let Some(dispatch) = LOGGER.get() {
        let _ = dispatch.route.compare_exchange(TO_SYSLOG_WARN_STDERR, TO_SYSLOG, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// Whether lines go to stderr only, which detaching then keeps open (`--log stderr`).
pub fn keeps_stderr() -> bool {
    LOGGER.get().is_none_or(|d| d.route.load(Ordering::Relaxed) == TO_STDERR)
}

/// Whether someone sees xexit's stderr: before detaching, or with `--log stderr`.
pub fn stderr_is_seen() -> bool {
    !DETACHED.load(Ordering::Relaxed) || keeps_stderr()
}
