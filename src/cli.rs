//! The command line: `xexit [watch] ...`, `xexit list ...`, `xexit end ...`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::reap::Schedule;
use crate::session::Selector;

/// End an X session's processes when its display goes away.
///
/// Without a subcommand, xexit watches the display (`xexit watch`); `xexit PROGRAM`
/// runs PROGRAM on loss, as the classic xexit did.
#[derive(Parser, Debug)]
#[command(name = "xexit", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Watch the display; when it is lost, run PROGRAM or end the session (the default).
    Watch(WatchArgs),
    /// List the session's processes, one line each (exit 1 when there are none).
    List(ListArgs),
    /// End the session now: run the exit hooks, then signal its processes until none is left.
    End(EndArgs),
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Ping the display this often.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_positive_duration)]
    pub interval: Duration,

    /// A ping unanswered for this long means the display is lost.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_positive_duration)]
    pub timeout: Duration,

    /// Stay in the foreground instead of detaching after connecting.
    #[arg(long)]
    pub foreground: bool,

    #[command(flatten)]
    pub end: EndArgs,

    /// Run this on loss instead of ending the session (the classic xexit's interface).
    #[arg(value_name = "PROGRAM", trailing_var_arg = true)]
    pub program: Vec<OsString>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub session: SessionArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct EndArgs {
    #[command(flatten)]
    pub session: SessionArgs,

    /// The first wait of the schedule: how long processes get to exit after TERM.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub grace: Option<Duration>,

    /// Signals and waits, start-stop-daemon style: SIGNAL/SECONDS/SIGNAL/SECONDS...
    #[arg(long, value_name = "SCHEDULE", default_value = "TERM/3/KILL/5")]
    pub schedule: Schedule,

    #[command(flatten)]
    pub hooks: HookArgs,

    /// Say what would be run and signalled; do neither.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub output: OutputArgs,
}

impl EndArgs {
    /// The schedule with `--grace` applied to its first wait.
    pub fn effective_schedule(&self) -> Schedule {
        let mut schedule = self.schedule.clone();
        if let (Some(grace), Some(first)) = (self.grace, schedule.steps.first_mut()) {
            first.wait = grace;
        }
        schedule
    }
}

#[derive(Args, Debug)]
pub struct SessionArgs {
    /// The X display [default: $DISPLAY].
    #[arg(short, long, value_name = "DISPLAY")]
    pub display: Option<String>,

    /// Which processes make up the session: auto, cgroup, cgroup:PATH, env:NAME, env:NAME=VALUE, display or user.
    #[arg(long, value_name = "SELECTOR", default_value = "auto")]
    pub session: Selector,

    /// The session's user (NAME or UID); only root may name another user than itself.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// What to do with the user's processes whose environment cannot be read.
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = Unreadable::Auto)]
    pub unreadable: Unreadable,

    /// Never signal processes with this name or executable path (repeatable).
    #[arg(long, value_name = "NAME")]
    pub spare: Vec<String>,
}

#[derive(Args, Debug)]
pub struct HookArgs {
    /// Run the exit hooks in this directory before ending the session.
    #[arg(long, value_name = "DIR", default_value = "/etc/Xexit.d")]
    pub hook_dir: PathBuf,

    /// Run no exit hooks.
    #[arg(long)]
    pub no_hooks: bool,

    /// How long one hook may run before its process group is stopped.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_positive_duration)]
    pub hook_timeout: Duration,
}

#[derive(Args, Debug)]
pub struct OutputArgs {
    /// Log more (repeat for more still).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log only warnings and errors.
    #[arg(short, long)]
    pub quiet: bool,

    /// Where log lines go: stderr, syslog, or auto (stderr in the foreground, syslog when detached).
    #[arg(long, value_enum, value_name = "TARGET", default_value_t = LogTarget::Auto)]
    pub log: LogTarget,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Kill them only when no other session of the user is visible.
    Auto,
    /// Leave them running, and log each.
    Spare,
    /// Treat them as session processes.
    Kill,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogTarget {
    Stderr,
    Syslog,
    Auto,
}

/// The subcommand names; anything else in first place means `watch`.
const SUBCOMMANDS: &[&str] = &["watch", "list", "end", "help"];
const TOP_LEVEL_FLAGS: &[&str] = &["-h", "--help", "-V", "--version"];

/// Inserts the default subcommand, so `xexit PROGRAM` and `xexit -d :0` mean `xexit watch ...`.
pub fn with_default_subcommand(mut args: Vec<OsString>) -> Vec<OsString> {
    let first = args.get(1).and_then(|arg| arg.to_str());
    let explicit = first.is_some_and(|arg| SUBCOMMANDS.contains(&arg) || TOP_LEVEL_FLAGS.contains(&arg));
    if !explicit {
        args.insert(1.min(args.len()), OsString::from("watch"));
    }
    args
}

/// Parses a DURATION: seconds with optional fraction, and an optional suffix ms, s or m.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let (number, scale) = if let Some(n) = trimmed.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = trimmed.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = trimmed.strip_suffix('m') {
        (n, 60.0)
    } else {
        (trimmed, 1.0)
    };
    let invalid = || format!("'{text}' is not a duration: use seconds, e.g. 3, 1.5, 250ms, 3s or 2m");
    let value: f64 = number.trim().parse().map_err(|_| invalid())?;
    if !value.is_finite() {
        return Err(invalid());
    }
    if value < 0.0 {
        return Err(format!("'{text}' is negative: a duration must be 0 or more"));
    }
    Duration::try_from_secs_f64(value * scale).map_err(|_| invalid())
}

/// A DURATION that must be more than zero (intervals and timeouts).
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(format!("'{text}' is zero: this duration must be more than 0"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> Vec<OsString> {
        line.iter().map(OsString::from).collect()
    }

    #[test]
    fn durations_accept_the_documented_forms() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn durations_reject_garbage_negative_and_zero_where_positive() {
        for bad in ["", "s", "abc", "3h", "1e400", "nan", "inf", "5 sec"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse_duration("-1").unwrap_err().contains("negative"));
        assert!(parse_positive_duration("0s").unwrap_err().contains("zero"));
        assert!(parse_positive_duration("0.0").is_err());
    }

    #[test]
    fn watch_is_the_default_subcommand() {
        assert_eq!(
            with_default_subcommand(args(&["xexit", "/usr/bin/EndXSession"])),
            args(&["xexit", "watch", "/usr/bin/EndXSession"])
        );
        assert_eq!(with_default_subcommand(args(&["xexit"])), args(&["xexit", "watch"]));
        assert_eq!(with_default_subcommand(args(&["xexit", "-d", ":3"])), args(&["xexit", "watch", "-d", ":3"]));
        assert_eq!(with_default_subcommand(args(&["xexit", "list"])), args(&["xexit", "list"]));
        assert_eq!(with_default_subcommand(args(&["xexit", "--version"])), args(&["xexit", "--version"]));
    }

    #[test]
    fn program_arguments_are_passed_through_untouched() {
        let cli = Cli::try_parse_from(with_default_subcommand(args(&[
            "xexit",
            "--foreground",
            "/bin/echo",
            "-n",
            "--interval",
        ])))
        .unwrap();
        let Command::Watch(watch) = cli.command else { panic!("not watch") };
        assert!(watch.foreground);
        assert_eq!(watch.program, args(&["/bin/echo", "-n", "--interval"]));
    }

    #[test]
    fn grace_replaces_the_first_wait() {
        let cli = Cli::try_parse_from(args(&["xexit", "end", "--grace", "1s", "--schedule", "INT/2/KILL/4"])).unwrap();
        let Command::End(end) = cli.command else { panic!("not end") };
        let schedule = end.effective_schedule();
        assert_eq!(schedule.steps[0].wait, Duration::from_secs(1));
        assert_eq!(schedule.steps[1].wait, Duration::from_secs(4));
    }

    #[test]
    fn the_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
