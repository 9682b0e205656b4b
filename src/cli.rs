//! The command line: `xexit [watch] ...`, `xexit list ...`, `xexit end ...`. The only module
//! that knows clap: `parse` turns the arguments into the plain options of `commands`.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, StringValueParser, TypedValueParser};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum, ValueHint};

use crate::commands::{Command, EndOptions, ListOptions, WatchOptions};
use crate::duration::{parse_duration, parse_positive_duration};
use crate::end::Schedule;
use crate::error::{Error, Exit};
use crate::find::{Selector, SessionOptions};
use crate::hooks::HookOptions;
use crate::logging::LogOptions;

/// End an X session's processes when its display goes away.
///
/// Without a subcommand, xexit watches the display (`xexit watch`); `xexit PROGRAM`
/// runs PROGRAM on loss, as the classic xexit did.
#[derive(Parser, Debug)]
#[command(name = "xexit", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<CliCommand>,

    /// `xexit [OPTIONS] [PROGRAM]`, the implicit watch: here so that the help and the shell
    /// completions show its options; `parse` names `watch` itself, so these stay unused.
    #[command(flatten)]
    watch: WatchArgs,
}

/// The usage lines: the implicit watch first, as it is used most.
const USAGE: &str = "xexit [OPTIONS] [PROGRAM [ARG]...]
       xexit watch [OPTIONS] [PROGRAM [ARG]...]
       xexit list [OPTIONS]
       xexit end [OPTIONS]";

#[derive(Subcommand, Debug)]
enum CliCommand {
    /// Watch the display; when it is lost, run PROGRAM or end the session (the default).
    Watch(WatchArgs),
    /// List the session's processes, one line each (exit 1 when there are none).
    List(ListArgs),
    /// End the session now: run the exit hooks, then signal its processes until none is left.
    End(EndArgs),
}

#[derive(Args, Debug)]
struct WatchArgs {
    /// Ping the display this often.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_positive_duration)]
    interval: Duration,

    /// A ping unanswered for this long means the display is lost.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_positive_duration)]
    timeout: Duration,

    /// Stay in the foreground instead of detaching after connecting.
    #[arg(long)]
    foreground: bool,

    #[command(flatten)]
    end: EndArgs,

    /// Run this on loss instead of ending the session (the classic xexit's interface).
    #[arg(value_name = "PROGRAM", trailing_var_arg = true, value_hint = ValueHint::CommandWithArguments)]
    program: Vec<OsString>,
}

#[derive(Args, Debug)]
struct ListArgs {
    #[command(flatten)]
    session: SessionArgs,

    /// Output: text (one line per process, like pgrep -a) or json (an array of objects, for
    /// monitoring scripts).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = ListFormat::Text)]
    format: ListFormat,

    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args, Debug)]
struct EndArgs {
    #[command(flatten)]
    session: SessionArgs,

    /// The first wait of the schedule: how long processes get to exit after TERM.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    grace: Option<Duration>,

    /// Signals and waits, start-stop-daemon style: SIGNAL/SECONDS/SIGNAL/SECONDS...
    #[arg(long, value_name = "SCHEDULE", default_value = "TERM/3/KILL/5")]
    schedule: Schedule,

    #[command(flatten)]
    hooks: HookArgs,

    /// Say what would be run and signalled; do neither.
    #[arg(long)]
    dry_run: bool,

    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args, Debug)]
struct SessionArgs {
    /// The X display [default: $DISPLAY].
    #[arg(short, long, value_name = "DISPLAY")]
    display: Option<String>,

    /// Which processes make up the session: auto, cgroup, cgroup:PATH, env:NAME, env:NAME=VALUE, display or user.
    #[arg(long, value_name = "SELECTOR", default_value = "auto", value_parser = SelectorParser, hide_possible_values = true)]
    session: Selector,

    /// The session's user (NAME or UID); only root may name another user than itself.
    #[arg(long, value_name = "USER", value_hint = ValueHint::Username)]
    user: Option<String>,

    /// What to do with the user's processes whose environment cannot be read.
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = Unreadable::Auto)]
    unreadable: Unreadable,

    /// Never signal processes running this program, nor what they run: a path, or a name in
    /// PATH (repeatable).
    #[arg(long, value_name = "PROGRAM", value_hint = ValueHint::CommandName)]
    spare: Vec<String>,
}

#[derive(Args, Debug)]
struct HookArgs {
    /// Run the exit hooks in this directory before ending the session.
    #[arg(long, value_name = "DIR", default_value = "/etc/Xexit.d", value_hint = ValueHint::DirPath)]
    hook_dir: PathBuf,

    /// Run no exit hooks.
    #[arg(long)]
    no_hooks: bool,

    /// How long one hook may run before its process group is stopped.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_positive_duration)]
    hook_timeout: Duration,
}

#[derive(Args, Debug)]
struct OutputArgs {
    /// Log more (repeat for more still).
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Log only warnings and errors.
    #[arg(short, long)]
    quiet: bool,

    /// Where log lines go: stderr, syslog, or auto (stderr in the foreground, syslog when detached).
    #[arg(long, value_enum, value_name = "TARGET", default_value_t = LogTarget::Auto)]
    log: LogTarget,
}

/// `--session` values, parsed by `Selector`; its forms are what the shell completions offer.
#[derive(Clone)]
struct SelectorParser;

/// The selector forms offered to the shell completions (PATH and NAME left to type).
const SELECTOR_FORMS: &[(&str, &str)] = &[
    ("auto", "cgroup in a login session's cgroup, else env:LTSP_CLIENT_HOSTNAME, else display"),
    ("cgroup", "xexit's own cgroup and its descendants"),
    ("cgroup:", "cgroup:PATH: that cgroup v2 group and its descendants"),
    ("env:", "env:NAME or env:NAME=VALUE: processes with that environment variable"),
    ("env:LTSP_CLIENT_HOSTNAME", "processes of this LTSP thin client's session"),
    ("display", "processes whose DISPLAY names the watched display"),
    ("user", "every process of the user"),
];

impl TypedValueParser for SelectorParser {
    type Value = Selector;

    fn parse_ref(&self, cmd: &clap::Command, arg: Option<&clap::Arg>, value: &OsStr) -> Result<Selector, clap::Error> {
        StringValueParser::new().try_map(|text| text.parse::<Selector>()).parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(SELECTOR_FORMS.iter().map(|(form, help)| PossibleValue::new(*form).help(*help))))
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Unreadable {
    /// Kill them only when no other session of the user is visible.
    Auto,
    /// Leave them running, and log each.
    Spare,
    /// Treat them as session processes.
    Kill,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ListFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogTarget {
    Stderr,
    Syslog,
    Auto,
}

/// The subcommand names; anything else in first place means `watch`.
const SUBCOMMANDS: &[&str] = &["watch", "list", "end", "help"];
const TOP_LEVEL_FLAGS: &[&str] = &["-h", "--help", "-V", "--version"];

/// The clap definition, for parsing, the man page test and the shell completions: with the
/// usage lines, and the exit statuses after each help.
pub fn command() -> clap::Command {
    let command = Cli::command().override_usage(USAGE);
    let exit_status = exit_status_help(&command);
    command
        .after_help(exit_status.clone())
        .mut_subcommand("watch", |sub| sub.after_help(exit_status.clone()))
        .mut_subcommand("list", |sub| sub.after_help(exit_status.clone()))
        .mut_subcommand("end", |sub| sub.after_help(exit_status.clone()))
}

/// The exit-status table (the rows of `Exit`), styled as clap styles its headings.
fn exit_status_help(command: &clap::Command) -> String {
    let header = command.get_styles().get_header();
    let rows = [
        (Exit::Ok, "done: the session was ended, or left alone on SIGTERM, SIGINT or EXIT; list found processes"),
        (
            Exit::Failed,
            "the session was ended but processes survived, a hook could not be run or failed, PROGRAM\n     \
             failed, or an error came up while ending it; list found none",
        ),
        (Exit::Usage, "usage or configuration error; nothing was run or signalled"),
        (Exit::Unreachable, "the display could not be reached at start, or not watched"),
    ];
    let rows: Vec<String> = rows.iter().map(|(exit, meaning)| format!("  {}  {meaning}", exit.code())).collect();
    format!("{header}Exit status:{header:#}\n{}", rows.join("\n"))
}

/// Parses the arguments (argv[0] first) into options; `None` when clap printed help or the
/// version, which is all there is to do.
pub fn parse(args: Vec<OsString>) -> Result<Option<Command>, Error> {
    let matches = command().try_get_matches_from(with_default_subcommand(args));
    let cli = match matches.and_then(|matches| Cli::from_arg_matches(&matches)) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return Ok(None);
        }
        Err(e) => {
            let text = e.render().to_string();
            return Err(Error::new(Exit::Usage, text.trim().trim_start_matches("error: ").to_string()));
        }
    };
    Ok(Some(construct(cli.command.unwrap_or(CliCommand::Watch(cli.watch)))))
}

/// The one place where arguments become options; DISPLAY is read here, once.
fn construct(command: CliCommand) -> Command {
    match command {
        CliCommand::Watch(args) => Command::Watch(WatchOptions {
            interval: args.interval,
            timeout: args.timeout,
            foreground: args.foreground,
            end: end_options(args.end),
            program: args.program,
        }),
        CliCommand::List(args) => {
            let (session, log) = (session_options(args.session), log_options(&args.output));
            let format = match args.format {
                ListFormat::Text => crate::listing::ListFormat::Text,
                ListFormat::Json => crate::listing::ListFormat::Json,
            };
            Command::List(ListOptions { session, format, log })
        }
        CliCommand::End(args) => Command::End(end_options(args)),
    }
}

fn end_options(args: EndArgs) -> EndOptions {
    EndOptions {
        schedule: args.schedule.with_grace(args.grace),
        hooks: (!args.hooks.no_hooks)
            .then_some(HookOptions { dir: args.hooks.hook_dir, timeout: args.hooks.hook_timeout }),
        dry_run: args.dry_run,
        log: log_options(&args.output),
        session: session_options(args.session),
    }
}

fn session_options(args: SessionArgs) -> SessionOptions {
    SessionOptions {
        selector: args.session,
        display: args.display.or_else(|| std::env::var("DISPLAY").ok()).filter(|d| !d.is_empty()),
        user: args.user,
        unreadable: match args.unreadable {
            Unreadable::Auto => crate::find::Unreadable::Auto,
            Unreadable::Spare => crate::find::Unreadable::Spare,
            Unreadable::Kill => crate::find::Unreadable::Kill,
        },
        spare: args.spare,
    }
}

fn log_options(args: &OutputArgs) -> LogOptions {
    let target = match args.log {
        LogTarget::Stderr => crate::logging::LogTarget::Stderr,
        LogTarget::Syslog => crate::logging::LogTarget::Syslog,
        LogTarget::Auto => crate::logging::LogTarget::Auto,
    };
    LogOptions { verbose: args.verbose, quiet: args.quiet, target }
}

/// Inserts the default subcommand, so `xexit PROGRAM` and `xexit -d :0` mean `xexit watch ...`.
fn with_default_subcommand(mut args: Vec<OsString>) -> Vec<OsString> {
    let first = args.get(1).and_then(|arg| arg.to_str());
    let explicit = first.is_some_and(|arg| SUBCOMMANDS.contains(&arg) || TOP_LEVEL_FLAGS.contains(&arg));
    if !explicit {
        args.insert(1.min(args.len()), OsString::from("watch"));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> Vec<OsString> {
        line.iter().map(OsString::from).collect()
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
        let Some(CliCommand::Watch(watch)) = cli.command else { panic!("not watch") };
        assert!(watch.foreground);
        assert_eq!(watch.program, args(&["/bin/echo", "-n", "--interval"]));
    }

    #[test]
    fn grace_replaces_the_first_wait_of_the_schedule() {
        let options = parse(args(&["xexit", "end", "--grace", "1s", "--schedule", "INT/2/KILL/4"])).unwrap();
        let Some(Command::End(end)) = options else { panic!("not end") };
        assert_eq!(end.schedule.steps[0].wait, Duration::from_secs(1));
        assert_eq!(end.schedule.steps[1].wait, Duration::from_secs(4));
    }

    #[test]
    fn the_definition_is_consistent() {
        command().debug_assert();
    }
}
