//! Log lines go to stderr (through env_logger) or, once detached, to syslog as `xexit[PID]`.
//!
//! `log` takes one logger per process, so a small dispatcher picks the target per line and can
//! switch to syslog after the fork.

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::cli::{LogTarget, OutputArgs};

const SYSLOG_SOCKET: &str = "/dev/log";
/// LOG_USER: xexit runs as a user's program, not a system daemon.
const FACILITY_USER: u8 = 1;

struct Dispatch {
    stderr: env_logger::Logger,
    to_syslog: AtomicBool,
    syslog: Mutex<Option<UnixDatagram>>,
}

static LOGGER: std::sync::OnceLock<Dispatch> = std::sync::OnceLock::new();

impl Log for Dispatch {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        if self.to_syslog.load(Ordering::Relaxed) {
            self.send_to_syslog(record);
        } else {
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
pub fn level(output: &OutputArgs, base: LevelFilter) -> LevelFilter {
    if output.quiet {
        return LevelFilter::Warn;
    }
    let levels = [LevelFilter::Warn, LevelFilter::Info, LevelFilter::Debug, LevelFilter::Trace];
    let start = levels.iter().position(|l| *l == base).unwrap_or(1);
    levels[(start + usize::from(output.verbose)).min(levels.len() - 1)]
}

/// Installs the logger; the target is syslog only when asked for outright.
pub fn init(output: &OutputArgs, base: LevelFilter) {
    let level = level(output, base);
    let dispatch = LOGGER.get_or_init(|| {
        let stderr = env_logger::Builder::new()
            .filter_level(LevelFilter::Trace)
            .format(|buf, record| match record.level() {
                Level::Error => writeln!(buf, "xexit: error: {}", record.args()),
                Level::Warn => writeln!(buf, "xexit: warning: {}", record.args()),
                _ => writeln!(buf, "xexit: {}", record.args()),
            })
            .build();
        Dispatch { stderr, to_syslog: AtomicBool::new(false), syslog: Mutex::new(None) }
    });
    if log::set_logger(dispatch).is_ok() {
        log::set_max_level(level);
    }
    if output.log == LogTarget::Syslog {
        use_syslog();
    }
}

/// Sends every later line to syslog (after detaching, when `--log auto`).
pub fn use_syslog() {
    if let Some(dispatch) = LOGGER.get() {
        dispatch.to_syslog.store(true, Ordering::Relaxed);
    }
}

/// Whether lines go to syslog, where stderr is no longer seen.
pub fn is_syslog() -> bool {
    LOGGER.get().is_some_and(|d| d.to_syslog.load(Ordering::Relaxed))
}
