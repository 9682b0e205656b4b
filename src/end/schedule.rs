//! `--schedule`: which signals the rounds send, and how long each waits.

use std::str::FromStr;
use std::time::Duration;

use crate::duration::parse_duration;
use crate::process::{Signal, parse_signal};

/// One signal and how long to wait after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub signal: Signal,
    pub wait: Duration,
}

/// `--schedule`: SIGNAL/SECONDS pairs, as start-stop-daemon's --retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub steps: Vec<Step>,
}

impl Schedule {
    /// How long the whole schedule may take: the sum of its waits.
    pub fn total(&self) -> Duration {
        self.steps.iter().map(|step| step.wait).sum()
    }

    /// The schedule with `--grace` as its first wait.
    pub fn with_grace(mut self, grace: Option<Duration>) -> Schedule {
        if let (Some(grace), Some(first)) = (grace, self.steps.first_mut()) {
            first.wait = grace;
        }
        self
    }
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split('/').collect();
        if !parts.len().is_multiple_of(2) || parts.iter().any(|p| p.trim().is_empty()) {
            return Err(format!("'{text}' is not a schedule: give SIGNAL/SECONDS pairs, e.g. TERM/3/KILL/5"));
        }
        let steps = parts
            .chunks(2)
            .map(|pair| {
                let signal = parse_signal(pair[0])?;
                let wait = parse_duration(pair[1]).map_err(|e| format!("in schedule '{text}': {e}"))?;
                Ok(Step { signal, wait })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Schedule { steps })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse_like_start_stop_daemon() {
        let schedule: Schedule = "TERM/3/KILL/5".parse().unwrap();
        assert_eq!(
            schedule.steps,
            vec![
                Step { signal: Signal::TERM, wait: Duration::from_secs(3) },
                Step { signal: Signal::KILL, wait: Duration::from_secs(5) },
            ]
        );
        let schedule: Schedule = "sighup/250ms/15/1.5/9/2".parse().unwrap();
        let signals: Vec<Signal> = schedule.steps.iter().map(|s| s.signal).collect();
        assert_eq!(signals, [Signal::HUP, Signal::TERM, Signal::KILL]);
        assert_eq!(schedule.steps[1].wait, Duration::from_millis(1500));
    }

    #[test]
    fn malformed_schedules_and_unknown_signals_are_refused() {
        for bad in ["", "TERM", "TERM/3/KILL", "TERM//KILL/5", "/3", "TERM/x"] {
            assert!(bad.parse::<Schedule>().is_err(), "{bad:?} was accepted");
        }
        assert!("BOGUS/3".parse::<Schedule>().unwrap_err().contains("unknown signal 'BOGUS'"));
    }

    #[test]
    fn grace_replaces_the_first_wait() {
        let schedule: Schedule = "INT/2/KILL/4".parse().unwrap();
        let schedule = schedule.with_grace(Some(Duration::from_secs(1)));
        assert_eq!(schedule.steps[0].wait, Duration::from_secs(1));
        assert_eq!(schedule.steps[1].wait, Duration::from_secs(4));
    }
}
