//! One reference to a process xexit acts on: its PID and a pidfd, verified once, then used for
//! every signal and every wait, so a PID that changes hands is never hit. And one `Signal`.

use std::io;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Pid, PidfdFlags};

pub use rustix::process::Signal;

/// A process held by pidfd. Signals reach the process that was checked, or nothing.
#[derive(Debug)]
pub struct ProcessRef {
    pid: i32,
    pidfd: OwnedFd,
}

impl ProcessRef {
    /// Opens `pid` and verifies it with `check`: the pidfd is opened first, then `check` looks
    /// at /proc/PID, then the pidfd must still be live. So what `check` saw is the held
    /// process: while it lives its PID cannot be reused. `Ok(None)`: gone, or `check` said no.
    pub fn open_verified(pid: i32, check: impl FnOnce() -> bool) -> io::Result<Option<ProcessRef>> {
        let Some(raw) = Pid::from_raw(pid) else { return Ok(None) };
        let pidfd = match rustix::process::pidfd_open(raw, PidfdFlags::empty()) {
            Ok(pidfd) => pidfd,
            Err(rustix::io::Errno::SRCH) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let process = ProcessRef { pid, pidfd };
        Ok((check() && !process.has_exited()).then_some(process))
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sends `signal`, and CONT after it where a stopped process would not act on it.
    /// Returns whether the process was there to receive it.
    pub fn signal(&self, signal: Signal) -> bool {
        let delivered = self.send(signal);
        if delivered && needs_cont(signal) {
            self.send(Signal::CONT);
        }
        delivered
    }

    /// Sends `signal` alone: a stopped process stays stopped.
    pub fn send(&self, signal: Signal) -> bool {
        match rustix::process::pidfd_send_signal(&self.pidfd, signal) {
            Ok(()) => true,
            Err(rustix::io::Errno::SRCH) => false,
            Err(e) => {
                log::warn!("cannot signal {}: {e}", self.pid);
                false
            }
        }
    }

    /// Stops the process (STOP cannot be caught or ignored); whether it was there.
    pub fn stop(&self) -> bool {
        self.send(Signal::STOP)
    }

    /// A pidfd turns readable when its process has exited.
    pub fn has_exited(&self) -> bool {
        self.wait_exit(Duration::ZERO)
    }

    /// Waits up to `limit` for the process to exit; whether it did. Does not reap it.
    pub fn wait_exit(&self, limit: Duration) -> bool {
        !wait_any(std::slice::from_ref(self), Instant::now() + limit).is_empty()
    }
}

/// A signalled process let go of to free its descriptor (a session larger than the budget
/// of pidfds held at once): known by PID and start time, followed until it ends. It is
/// signalled again only once held and checked anew, as a `ProcessRef`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LetGo {
    pid: i32,
    start: u64,
}

impl LetGo {
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Whether `pid` is still this process, read now (false when that cannot be read).
    pub fn is_same(&self) -> bool {
        matches!(crate::proc::start_time(self.pid), Ok(Some(start)) if start == self.start)
    }

    /// Whether the process still runs (a zombie has ended); when that cannot be read (no
    /// descriptor left), it is taken as running.
    pub fn is_running(&self) -> bool {
        crate::proc::start_time(self.pid).map_or(true, |start| start == Some(self.start))
    }
}

impl ProcessRef {
    /// Closes the pidfd, keeping what tells whether the process still runs; None when it has
    /// ended.
    pub fn let_go(self) -> Option<LetGo> {
        let pid = self.pid;
        match crate::proc::start_time(pid) {
            // Read while held and then still live: the start time is this process's.
            Ok(Some(start)) => (!self.has_exited()).then_some(LetGo { pid, start }),
            Ok(None) => None,
            // No descriptor to spare: the pidfd is closed first. Only a PID reused in between
            // could be taken for this one: followed, and signalled only if it is checked anew
            // as the session's.
            Err(_) => {
                drop(self);
                match crate::proc::start_time(pid) {
                    Ok(start) => start.map(|start| LetGo { pid, start }),
                    Err(e) => {
                        log::warn!("cannot follow process {pid} any more: {e}");
                        None
                    }
                }
            }
        }
    }
}

/// Raises the soft limit of open files to the hard one (one pidfd per process held), and
/// returns the limit now in force (None: unlimited).
pub fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = rustix::process::Rlimit { current: limit.maximum, maximum: limit.maximum };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return limit.maximum;
        }
    }
    limit.current
}

/// Waits until at least one of `processes` has exited or `until` comes; the indices of those
/// that have exited (none when the time ran out). A signal that reaches xexit meanwhile
/// (logind's TERM and HUP to a stopping scope, say) only resumes the wait.
pub fn wait_any(processes: &[ProcessRef], until: Instant) -> Vec<usize> {
    let mut fds: Vec<PollFd> = processes.iter().map(|p| PollFd::new(&p.pidfd, PollFlags::IN)).collect();
    loop {
        let timeout = Timespec::try_from(until.saturating_duration_since(Instant::now())).ok();
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(0) => return Vec::new(),
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                log::warn!("cannot wait for {} processes: {e}", processes.len());
                return Vec::new();
            }
        }
    }
    fds.iter().enumerate().filter(|(_, fd)| !fd.revents().is_empty()).map(|(index, _)| index).collect()
}

/// Stopped processes only act on a signal once continued.
pub fn needs_cont(signal: Signal) -> bool {
    signal != Signal::KILL && signal != Signal::CONT
}

/// The standard signals by name, as kill(1) spells them.
const SIGNAL_NAMES: &[(&str, Signal)] = &[
    ("HUP", Signal::HUP),
    ("INT", Signal::INT),
    ("QUIT", Signal::QUIT),
    ("ILL", Signal::ILL),
    ("TRAP", Signal::TRAP),
    ("ABRT", Signal::ABORT),
    ("IOT", Signal::ABORT),
    ("BUS", Signal::BUS),
    ("FPE", Signal::FPE),
    ("KILL", Signal::KILL),
    ("USR1", Signal::USR1),
    ("SEGV", Signal::SEGV),
    ("USR2", Signal::USR2),
    ("PIPE", Signal::PIPE),
    ("ALRM", Signal::ALARM),
    ("TERM", Signal::TERM),
    ("STKFLT", Signal::STKFLT),
    ("CHLD", Signal::CHILD),
    ("CONT", Signal::CONT),
    ("STOP", Signal::STOP),
    ("TSTP", Signal::TSTP),
    ("TTIN", Signal::TTIN),
    ("TTOU", Signal::TTOU),
    ("URG", Signal::URG),
    ("XCPU", Signal::XCPU),
    ("XFSZ", Signal::XFSZ),
    ("VTALRM", Signal::VTALARM),
    ("PROF", Signal::PROF),
    ("WINCH", Signal::WINCH),
    ("IO", Signal::IO),
    ("POLL", Signal::IO),
    ("PWR", Signal::POWER),
    ("SYS", Signal::SYS),
];

/// A signal by name, with or without SIG, or by number: TERM, SIGTERM, 15.
pub fn parse_signal(text: &str) -> Result<Signal, String> {
    let text = text.trim();
    let unknown = || format!("unknown signal '{text}': use a name such as TERM, HUP, KILL, or a number");
    if let Ok(number) = text.parse::<i32>() {
        return Signal::from_named_raw(number).ok_or_else(unknown);
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNAL_NAMES.iter().find(|(n, _)| *n == name).map(|(_, signal)| *signal).ok_or_else(unknown)
}

/// The short name for logs: TERM, KILL.
pub fn signal_name(signal: Signal) -> String {
    SIGNAL_NAMES
        .iter()
        .find(|(_, s)| *s == signal)
        .map_or_else(|| signal.as_raw().to_string(), |(name, _)| (*name).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(child: &std::process::Child) -> ProcessRef {
        ProcessRef::open_verified(child.id() as i32, || true).unwrap().unwrap()
    }

    #[test]
    fn signals_parse_by_name_and_number_and_print_short() {
        assert_eq!(parse_signal("SIGINT"), Ok(Signal::INT));
        assert_eq!(parse_signal("int"), Ok(Signal::INT));
        assert_eq!(parse_signal("15"), Ok(Signal::TERM));
        assert_eq!(parse_signal("sigkill"), Ok(Signal::KILL));
        for bad in ["99", "0", "-1", "BOGUS", "SIG", ""] {
            assert!(parse_signal(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(signal_name(Signal::TERM), "TERM");
        assert_eq!(signal_name(Signal::ALARM), "ALRM");
        for number in 1..32 {
            if let Some(signal) = Signal::from_named_raw(number) {
                assert_eq!(parse_signal(&signal_name(signal)), Ok(signal), "signal {number} has no name");
            }
        }
    }

    #[test]
    fn cont_follows_all_but_kill_and_cont() {
        assert!(needs_cont(Signal::TERM));
        assert!(needs_cont(Signal::HUP));
        assert!(!needs_cont(Signal::KILL));
        assert!(!needs_cont(Signal::CONT));
    }

    #[test]
    fn a_held_process_that_exited_is_signalled_no_more() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let process = held(&child);
        child.kill().unwrap();
        child.wait().unwrap();
        // The PID is free now and may be reused; the pidfd still names the dead process.
        assert!(process.has_exited());
        assert!(!process.signal(Signal::KILL));
    }

    #[test]
    fn a_held_live_process_is_reached() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let process = held(&child);
        assert!(!process.has_exited());
        assert!(process.signal(Signal::TERM));
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(Signal::TERM.as_raw()));
        assert!(process.has_exited());
        assert!(process.wait_exit(Duration::from_secs(1)));
    }

    #[test]
    fn a_signal_during_a_wait_is_no_timeout() {
        use signal_hook::consts::SIGUSR2;
        let _caught = signal_hook::flag::register(SIGUSR2, Default::default()).unwrap();
        let mut child = std::process::Command::new("sleep").arg("0.6").spawn().unwrap();
        let process = held(&child);
        // Sent to the waiting thread itself, so its poll is the call interrupted.
        let waiter = nix::sys::pthread::pthread_self();
        let signaller = std::thread::spawn(move || {
            for _ in 0..5 {
                std::thread::sleep(Duration::from_millis(50));
                nix::sys::pthread::pthread_kill(waiter, nix::sys::signal::Signal::SIGUSR2).unwrap();
            }
        });
        assert!(process.wait_exit(Duration::from_secs(5)), "a signal ended the wait early");
        signaller.join().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn a_refused_check_holds_nothing() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        assert!(ProcessRef::open_verified(child.id() as i32, || false).unwrap().is_none());
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
