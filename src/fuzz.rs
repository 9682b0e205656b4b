//! Property tests of every parser of user input (durations, schedules, selectors, display
//! names, the whole command line): thousands of deterministic random strings and mutations of
//! valid ones. None may panic, and what is accepted must be consistent.

use std::ffi::OsString;
use std::time::Duration;

use crate::display_name::DisplayName;
use crate::duration::{MAX_DURATION, parse_duration, parse_positive_duration};
use crate::end::Schedule;
use crate::find::Selector;
use crate::process::signal_name;

const CASES: usize = 20_000;

/// xorshift64*: the same cases on every run, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A character, mostly from those the parsers give meaning to.
    fn char(&mut self) -> char {
        const MEANINGFUL: &str = "0123456789.eE+-_smhSM/:=[] \t\nTERMKILHUPSIGnaif\0é";
        match self.below(10) {
            0 => char::from_u32(self.next() as u32 % 0x11_0000).unwrap_or('\u{fffd}'),
            _ => MEANINGFUL.chars().nth(self.below(MEANINGFUL.chars().count())).unwrap(),
        }
    }

    fn string(&mut self, max: usize) -> String {
        (0..self.below(max + 1)).map(|_| self.char()).collect()
    }

    /// `valid` with a few characters inserted, removed, replaced or repeated, or cut short.
    fn mutate(&mut self, valid: &str) -> String {
        let mut chars: Vec<char> = valid.chars().collect();
        for _ in 0..=self.below(3) {
            let at = self.below(chars.len() + 1);
            match self.below(5) {
                0 => chars.insert(at, self.char()),
                1 if at < chars.len() => drop(chars.remove(at)),
                2 if at < chars.len() => chars[at] = self.char(),
                3 => chars.extend_from_within(at..),
                _ => chars.truncate(at),
            }
        }
        chars.into_iter().collect()
    }

    /// One of `seeds`, mutated.
    fn mutate_one(&mut self, seeds: &[&str]) -> String {
        let seed = seeds[self.below(seeds.len())];
        self.mutate(seed)
    }

    /// Random strings and mutations of `seeds`, in turn.
    fn inputs(&mut self, seeds: &[&str]) -> Vec<String> {
        (0..CASES).map(|i| if i % 2 == 0 { self.string(24) } else { self.mutate_one(seeds) }).collect()
    }
}

const DURATIONS: &[&str] = &["3", "1.5", "250ms", "3s", "2m", "0", "1e3", "31536000s", "525600m", "1e19", "-1"];

#[test]
fn durations_never_panic_and_stay_within_a_year() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for text in rng.inputs(DURATIONS) {
        match parse_duration(&text) {
            Ok(duration) => {
                assert!(duration <= MAX_DURATION, "{text:?} gave {duration:?}");
                assert_eq!(parse_positive_duration(&text).is_ok(), !duration.is_zero(), "{text:?}");
                assert_eq!(parse_duration(&format!(" {text} ")), Ok(duration), "{text:?} with blanks");
            }
            Err(message) => assert!(!message.is_empty() && parse_positive_duration(&text).is_err()),
        }
    }
}

#[test]
fn durations_round_trip_in_every_unit() {
    let mut rng = Rng(7);
    for _ in 0..CASES {
        let millis = rng.next() % (MAX_DURATION.as_millis() as u64 + 2);
        let expected = Duration::from_millis(millis);
        let within = (expected <= MAX_DURATION).then_some(expected);
        assert_eq!(parse_duration(&format!("{millis}ms")).ok(), within, "{millis}ms");
        let seconds = format!("{}.{:03}", millis / 1000, millis % 1000);
        assert_eq!(parse_duration(&format!("{seconds}s")).ok(), within, "{seconds}s");
        assert_eq!(parse_duration(&seconds).ok(), within, "{seconds}");
    }
    assert_eq!(parse_duration("525600m"), Ok(MAX_DURATION));
    assert!(parse_duration("525601m").unwrap_err().contains("more than a year"));
}

#[test]
fn schedules_never_panic_and_print_back_as_they_parse() {
    let seeds = ["TERM/3/KILL/5", "INT/0.5/TERM/1/KILL/2", "15/1/9/1", "SIGHUP/250ms", "TERM/1e19/KILL/1"];
    let mut rng = Rng(0x1234_5678);
    for text in rng.inputs(&seeds) {
        let Ok(schedule) = text.parse::<Schedule>() else { continue };
        assert_eq!(schedule.steps.len() * 2, text.split('/').count(), "{text:?}");
        assert!(schedule.steps.iter().all(|step| step.wait <= MAX_DURATION), "{text:?}");
        let printed: Vec<String> = schedule
            .steps
            .iter()
            .map(|step| format!("{}/{}ms", signal_name(step.signal), step.wait.as_millis()))
            .collect();
        let again: Schedule = printed.join("/").parse().unwrap_or_else(|e| panic!("{text:?} printed back: {e}"));
        assert_eq!(again.steps.len(), schedule.steps.len());
        for (a, b) in again.steps.iter().zip(&schedule.steps) {
            assert_eq!(a.signal, b.signal, "{text:?}");
            assert_eq!(a.wait.as_millis(), b.wait.as_millis(), "{text:?}");
        }
    }
}

#[test]
fn selectors_never_panic_and_print_as_they_parse() {
    let seeds = ["auto", "cgroup", "cgroup:/user.slice/a", "env:TAG", "env:TAG=ws01", "env:A=b=c", "display", "user"];
    let mut rng = Rng(42);
    for text in rng.inputs(&seeds) {
        let Ok(selector) = text.parse::<Selector>() else { continue };
        let printed = selector.to_string();
        assert_eq!(printed.parse::<Selector>().as_ref(), Ok(&selector), "{text:?} printed as {printed:?}");
    }
}

#[test]
fn display_names_never_panic_and_ignore_the_screen() {
    let seeds = [":0", ":5.0", "unix:5", "localhost/unix:5", "localhost:10.0", "[::1]:10", "tcp/ws01:3.1", "unix/:7"];
    let mut rng = Rng(0xdead_beef);
    for text in rng.inputs(&seeds) {
        let Some(name) = DisplayName::parse(&text) else { continue };
        if !text.rsplit(':').next().unwrap_or_default().contains('.') {
            assert_eq!(DisplayName::parse(&format!("{text}.0")).as_ref(), Some(&name), "{text:?}");
            assert_eq!(DisplayName::parse(&format!("{text}.7")).as_ref(), Some(&name), "{text:?}");
        }
    }
    for number in [0_u32, 1, 9, 10, 59535, u32::MAX] {
        assert_eq!(DisplayName::parse(&format!(":{number}")), DisplayName::parse(&format!("unix:{number}.0")));
    }
}

#[test]
fn the_command_line_never_panics_and_refuses_with_a_message() {
    const OPTIONS: &[&str] = &[
        "--interval",
        "--timeout",
        "--grace",
        "--schedule",
        "--hook-timeout",
        "--session",
        "--unreadable",
        "--log",
        "--user",
        "--display",
        "--spare",
        "--hook-dir",
    ];
    let mut rng = Rng(99);
    for _ in 0..CASES / 4 {
        let mut args: Vec<OsString> = vec!["xexit".into(), ["watch", "end", "list"][rng.below(3)].into()];
        for _ in 0..=rng.below(3) {
            let option = OPTIONS[rng.below(OPTIONS.len())];
            let seeds = [DURATIONS[rng.below(DURATIONS.len())], "TERM/3/KILL/5", "env:A=b", ":0", "auto"];
            let value = if rng.below(2) == 0 { rng.string(12) } else { rng.mutate_one(&seeds) };
            args.push(format!("{option}={value}").into());
        }
        if let Err(error) = crate::cli::parse(args.clone()) {
            assert_eq!(error.exit(), crate::error::Exit::Usage, "{args:?}");
            assert!(!error.to_string().is_empty(), "{args:?}");
        }
    }
}
