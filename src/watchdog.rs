//! The watcher's decisions, free of X and of the clock: every input carries its time, so the
//! rules are tested with made-up instants.

use std::fmt;
use std::time::{Duration, Instant};

/// Why the session is being ended (XEXIT_REASON).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The connection to the display closed.
    Closed,
    /// A ping stayed unanswered past the timeout.
    Timeout,
    /// The root window's LTSP_XEXIT property said DIE.
    Requested,
    /// `xexit end` was run by hand.
    Manual,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Closed => "closed",
            Reason::Timeout => "timeout",
            Reason::Requested => "requested",
            Reason::Manual => "manual",
        })
    }
}

/// What reaches the watcher from the display and from its own signals.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    /// The outstanding ping was answered.
    Answer,
    /// The connection reached end-of-file or failed.
    Closed,
    /// LTSP_XEXIT got a new value.
    Control(Vec<u8>),
    /// SIGHUP, ignored so xexit outlives the session's terminal.
    Hangup,
    /// SIGTERM or SIGINT.
    Terminate,
}

/// What the main loop does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Send a ping now.
    Ping,
    /// Nothing to do until this instant, unless an input comes first.
    WaitUntil(Instant),
    /// End the session.
    Lose { reason: Reason, silent_for: Duration },
    /// Stop watching without ending the session.
    Quit { why: &'static str },
    /// Log this and carry on.
    Note(String),
}

/// How long a SIGTERM or SIGINT waits for the display to answer before xexit quits: logind
/// stops a session's scope (TERM to all of it, xexit included) a moment after the login's
/// connection, and with it a forwarded display, closed. A display lost meanwhile is a loss.
pub const TERMINATE_CHECK: Duration = Duration::from_secs(1);

/// The ping timers: at most one ping outstanding, the next one `interval` after the last was sent.
#[derive(Debug)]
pub struct Watchdog {
    interval: Duration,
    timeout: Duration,
    next_ping: Instant,
    outstanding: Option<Instant>,
    last_answer: Instant,
    /// Told to quit: the display is checked once, until this instant.
    quitting_by: Option<Instant>,
}

impl Watchdog {
    /// The first ping goes out at once, so a server that hangs right after connecting is caught.
    pub fn new(now: Instant, interval: Duration, timeout: Duration) -> Self {
        Watchdog { interval, timeout, next_ping: now, outstanding: None, last_answer: now, quitting_by: None }
    }

    /// Called when nothing arrived: ping, wait, or declare the display lost.
    pub fn poll(&mut self, now: Instant) -> Action {
        if let Some(by) = self.quitting_by {
            let Some(sent) = self.outstanding else { return Action::Quit { why: "terminated by signal" } };
            if now >= sent + self.timeout {
                return Action::Lose { reason: Reason::Timeout, silent_for: self.silent_for(now) };
            }
            if now >= by {
                return Action::Quit { why: "terminated by signal" };
            }
            return Action::WaitUntil(by.min(sent + self.timeout));
        }
        if let Some(sent) = self.outstanding {
            let deadline = sent + self.timeout;
            if now >= deadline {
                return Action::Lose { reason: Reason::Timeout, silent_for: self.silent_for(now) };
            }
            return Action::WaitUntil(deadline);
        }
        if now >= self.next_ping {
            self.outstanding = Some(now);
            self.next_ping = now + self.interval;
            return Action::Ping;
        }
        Action::WaitUntil(self.next_ping)
    }

    /// Called for each input as it arrives.
    pub fn input(&mut self, now: Instant, input: Input) -> Action {
        match input {
            Input::Answer => {
                self.outstanding = None;
                self.last_answer = now;
                self.poll(now)
            }
            Input::Closed => Action::Lose { reason: Reason::Closed, silent_for: self.silent_for(now) },
            Input::Control(value) => match control_word(&value) {
                Some("DIE") => Action::Lose { reason: Reason::Requested, silent_for: self.silent_for(now) },
                Some("EXIT") => Action::Quit { why: "LTSP_XEXIT is EXIT" },
                _ => Action::Note(format!(
                    "LTSP_XEXIT set to {:?}, neither DIE nor EXIT: ignored",
                    String::from_utf8_lossy(&value)
                )),
            },
            Input::Hangup => Action::Note("SIGHUP ignored".to_string()),
            Input::Terminate => self.terminate(now),
        }
    }

    /// Quits once the display has answered a ping sent after the signal, or after
    /// `TERMINATE_CHECK` at most; a closed connection meanwhile is a loss.
    fn terminate(&mut self, now: Instant) -> Action {
        if self.quitting_by.is_some() {
            return self.poll(now);
        }
        self.quitting_by = Some(now + TERMINATE_CHECK);
        if self.outstanding.is_some() {
            // A ping is in flight: its answer, arriving after the signal, will do.
            return self.poll(now);
        }
        self.outstanding = Some(now);
        Action::Ping
    }

    /// How long the display has gone without answering.
    pub fn silent_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_answer)
    }
}

/// Whether an LTSP_XEXIT value is one the watcher acts on (DIE or EXIT), not one it ignores.
pub fn is_decisive(value: &[u8]) -> bool {
    matches!(control_word(value), Some("DIE" | "EXIT"))
}

/// The property's text without the NULs and blanks that xprop and C clients may leave on it.
fn control_word(value: &[u8]) -> Option<&str> {
    std::str::from_utf8(value).ok().map(|s| s.trim_matches(|c: char| c == '\0' || c.is_whitespace()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_secs(5);
    const TIMEOUT: Duration = Duration::from_secs(15);

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn pings_at_once_then_every_interval_while_answered() {
        let t0 = Instant::now();
        let mut dog = Watchdog::new(t0, INTERVAL, TIMEOUT);
        assert_eq!(dog.poll(t0), Action::Ping);
        assert_eq!(dog.input(t0 + secs(0.01), Input::Answer), Action::WaitUntil(t0 + INTERVAL));
        assert_eq!(dog.poll(t0 + secs(4.9)), Action::WaitUntil(t0 + INTERVAL));
        assert_eq!(dog.poll(t0 + INTERVAL), Action::Ping);
    }

    #[test]
    fn one_ping_at_a_time_and_loss_exactly_at_timeout() {
        let t0 = Instant::now();
        let mut dog = Watchdog::new(t0, INTERVAL, TIMEOUT);
        assert_eq!(dog.poll(t0), Action::Ping);
        // Past the interval with no answer: wait for the timeout, no second ping.
        assert_eq!(dog.poll(t0 + secs(6.0)), Action::WaitUntil(t0 + TIMEOUT));
        assert_eq!(dog.poll(t0 + secs(14.999)), Action::WaitUntil(t0 + TIMEOUT));
        assert_eq!(dog.poll(t0 + TIMEOUT), Action::Lose { reason: Reason::Timeout, silent_for: TIMEOUT });
    }

    #[test]
    fn a_server_that_hangs_after_an_answer_is_lost_within_interval_plus_timeout() {
        let t0 = Instant::now();
        let mut dog = Watchdog::new(t0, INTERVAL, TIMEOUT);
        dog.poll(t0);
        dog.input(t0 + secs(0.001), Input::Answer);
        // The server hangs now; the next ping goes at t0+5s and is never answered.
        assert_eq!(dog.poll(t0 + INTERVAL), Action::Ping);
        let lost_at = t0 + INTERVAL + TIMEOUT;
        assert_eq!(dog.poll(lost_at - secs(0.001)), Action::WaitUntil(lost_at));
        let Action::Lose { reason, silent_for } = dog.poll(lost_at) else { panic!("not lost") };
        assert_eq!(reason, Reason::Timeout);
        assert!(silent_for <= INTERVAL + TIMEOUT);
    }

    #[test]
    fn a_slow_answer_before_the_timeout_is_not_a_loss() {
        let t0 = Instant::now();
        let mut dog = Watchdog::new(t0, INTERVAL, TIMEOUT);
        dog.poll(t0);
        // Server stopped for 14 s, then resumed and answered.
        assert_eq!(dog.input(t0 + secs(14.0), Input::Answer), Action::Ping);
        assert_eq!(dog.input(t0 + secs(14.01), Input::Answer), Action::WaitUntil(t0 + secs(19.0)));
    }

    #[test]
    fn a_closed_connection_is_lost_at_once_whatever_the_timers() {
        let t0 = Instant::now();
        let mut dog = Watchdog::new(t0, INTERVAL, TIMEOUT);
        dog.poll(t0);
        dog.input(t0 + secs(1.0), Input::Answer);
        assert_eq!(
            dog.input(t0 + secs(2.0), Input::Closed),
            Action::Lose { reason: Reason::Closed, silent_for: secs(1.0) }
        );
    }

    #[test]
    fn the_control_property_says_die_or_exit() {
        let t0 = Instant::now();
        let mut dog = Watchdog::new(t0, INTERVAL, TIMEOUT);
        assert!(matches!(
            dog.input(t0, Input::Control(b"DIE".to_vec())),
            Action::Lose { reason: Reason::Requested, .. }
        ));
        assert!(matches!(dog.input(t0, Input::Control(b"EXIT\0".to_vec())), Action::Quit { .. }));
        assert!(matches!(dog.input(t0, Input::Control(b"die".to_vec())), Action::Note(_)));
        assert!(matches!(dog.input(t0, Input::Control(b"DIED".to_vec())), Action::Note(_)));
        assert!(is_decisive(b"DIE\0") && is_decisive(b" EXIT\n"));
        assert!(!is_decisive(b"die") && !is_decisive(b"NOPE") && !is_decisive(b"\xff"));
    }

    #[test]
    fn hangup_is_only_noted_and_terminate_quits_once_the_display_answers() {
        let t0 = Instant::now();
        let mut dog = Watchdog::new(t0, INTERVAL, TIMEOUT);
        dog.poll(t0);
        dog.input(t0, Input::Answer);
        assert!(matches!(dog.input(t0, Input::Hangup), Action::Note(_)));
        assert_eq!(dog.input(t0 + secs(1.0), Input::Terminate), Action::Ping);
        assert_eq!(dog.poll(t0 + secs(1.5)), Action::WaitUntil(t0 + secs(1.0) + TERMINATE_CHECK));
        assert!(matches!(dog.input(t0 + secs(1.1), Input::Answer), Action::Quit { .. }));
    }

    #[test]
    fn a_display_closed_just_after_terminate_is_a_loss() {
        // logind stops the scope (TERM to xexit) a moment after the login's connection closed.
        let t0 = Instant::now();
        let mut dog = Watchdog::new(t0, INTERVAL, TIMEOUT);
        dog.poll(t0);
        dog.input(t0, Input::Answer);
        assert_eq!(dog.input(t0 + secs(1.0), Input::Terminate), Action::Ping);
        assert!(matches!(dog.input(t0 + secs(1.1), Input::Closed), Action::Lose { reason: Reason::Closed, .. }));
    }

    #[test]
    fn terminate_quits_when_the_display_is_silent_past_the_check() {
        let t0 = Instant::now();
        let mut dog = Watchdog::new(t0, INTERVAL, TIMEOUT);
        // A ping in flight when the signal comes: no second one.
        assert_eq!(dog.poll(t0), Action::Ping);
        assert_eq!(dog.input(t0 + secs(0.5), Input::Terminate), Action::WaitUntil(t0 + secs(0.5) + TERMINATE_CHECK));
        assert!(matches!(dog.input(t0 + secs(0.6), Input::Terminate), Action::WaitUntil(_)));
        assert!(matches!(dog.poll(t0 + secs(0.5) + TERMINATE_CHECK), Action::Quit { .. }));
        // One already silent for the whole timeout is lost, signal or not.
        let mut dog = Watchdog::new(t0, INTERVAL, TIMEOUT);
        dog.poll(t0);
        dog.input(t0 + TIMEOUT - secs(0.5), Input::Terminate);
        assert!(matches!(dog.poll(t0 + TIMEOUT), Action::Lose { reason: Reason::Timeout, .. }));
    }
}
