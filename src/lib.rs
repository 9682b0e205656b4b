//! xexit: a per-session watchdog that ends an X session's processes when its display is lost.

pub mod cli;
pub mod display;
pub mod error;
pub mod hooks;
pub mod logging;
pub mod reap;
pub mod session;
pub mod watch;
pub mod watchdog;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;
use log::LevelFilter;

use crate::cli::{Cli, Command, EndArgs, ListArgs, WatchArgs};
pub use crate::error::Error;
use crate::error::{EXIT_FAILED, EXIT_OK};
use crate::session::{Detail, ProcReader, Session, Sweep};
use crate::watch::Ended;
use crate::watchdog::Reason;

/// Runs xexit with `args` (argv[0] first) and returns the exit status, having reported any error.
pub fn main_with_args(args: Vec<OsString>) -> u8 {
    match run(args) {
        Ok(code) => code,
        Err(error) => {
            if logging::stderr_is_seen() {
                eprintln!("xexit: error: {error:#}");
            } else {
                log::error!("{error:#}");
            }
            error.exit_code()
        }
    }
}

pub fn run(args: Vec<OsString>) -> Result<u8, Error> {
    let cli = match Cli::try_parse_from(cli::with_default_subcommand(args)) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return Ok(EXIT_OK);
        }
        Err(e) => {
            let text = e.render().to_string();
            return Err(Error::Usage(text.trim().trim_start_matches("error: ").to_string()));
        }
    };
    match cli.command {
        Command::Watch(args) => watch(args),
        Command::List(args) => list(&args),
        Command::End(args) => {
            logging::init(&args.output, LevelFilter::Info, false);
            let session = Session::resolve(&args.session)?;
            let display = display_of(&args);
            end_session(&session, &args, Reason::Manual, display)
        }
    }
}

fn display_of(args: &EndArgs) -> Option<String> {
    args.session.display.clone().or_else(|| std::env::var("DISPLAY").ok()).filter(|d| !d.is_empty())
}

/// `xexit list`: one line per process of the session, like `pgrep -a` with the user added.
fn list(args: &ListArgs) -> Result<u8, Error> {
    logging::init(&args.output, LevelFilter::Warn, false);
    let session = Session::resolve(&args.session)?;
    let mut sweep = sweep_now(&session, Detail::Commands)?;
    sweep.members.sort_by_key(|m| m.pid);
    let mut names: HashMap<u32, String> = HashMap::new();
    let mut out = String::new();
    for member in &sweep.members {
        let user = names.entry(member.uid).or_insert_with(|| session::user_name_of(member.uid));
        let command = member.command.as_deref().unwrap_or_default();
        out.push_str(&format!("{} {user} {command}{}\n", member.pid, member.verdict.mark()));
    }
    print!("{out}");
    Ok(if sweep.targets().next().is_some() { EXIT_OK } else { EXIT_FAILED })
}

/// What `xexit end` does, and watch on loss without PROGRAM: hooks, then the signal rounds.
fn end_session(session: &Session, args: &EndArgs, reason: Reason, display: Option<String>) -> Result<u8, Error> {
    let sweep = sweep_now(session, Detail::Plain)?;
    let pids: Vec<i32> = sweep.targets().map(|m| m.pid).collect();
    log::info!(
        "ending session {} of {} ({reason}): {} processes",
        session.describe(),
        session.user_label(),
        pids.len()
    );
    let context =
        hooks::Context { reason, display, session: session.describe(), user: session.user_name.clone(), pids };
    let leftovers = if args.hooks.no_hooks { Vec::new() } else { hooks::run_all(&args.hooks, &context, args.dry_run)? };
    let report = reap::end(session, &args.effective_schedule(), leftovers, args.dry_run)?;
    Ok(if report.survivors.is_empty() { EXIT_OK } else { EXIT_FAILED })
}

/// One sweep of the session as it is now.
fn sweep_now(session: &Session, detail: Detail) -> Result<Sweep, Error> {
    let mut reader = ProcReader::new().map_err(reap::Error::Proc)?;
    Ok(session.sweep(&mut reader, detail)?)
}

/// The PIDs the session's processes have now, for XEXIT_PIDS.
fn session_pids(session: &Session) -> Result<Vec<i32>, Error> {
    Ok(sweep_now(session, Detail::Plain)?.targets().map(|m| m.pid).collect())
}

/// `xexit watch`: connect, detach, watch; on loss run PROGRAM or end the session.
fn watch(args: WatchArgs) -> Result<u8, Error> {
    logging::init(&args.end.output, LevelFilter::Info, !args.foreground);
    let display = display_of(&args.end).ok_or(watch::Error::NoDisplay)?;
    // Checked before detaching, so a bad selector is reported to the caller; with a PROGRAM
    // the session only names XEXIT_SESSION, so a selector that does not resolve is no error.
    let session = match Session::resolve(&args.end.session) {
        Ok(session) => Some(session),
        Err(e) if args.program.is_empty() => return Err(e.into()),
        Err(e) => {
            log::debug!("no session for XEXIT_SESSION: {e}");
            None
        }
    };
    let program = absolute_program(args.program.clone());
    let signals = watch::catch_signals()?;
    let connection = watch::connect(&display, args.timeout)?;
    connection.tune_tcp(args.interval, args.timeout);
    if !args.foreground {
        watch::detach(logging::keeps_stderr())?;
        logging::detached();
    }
    log::info!(
        "started: display {display}, interval {:?}, timeout {:?}, session {}",
        args.interval,
        args.timeout,
        session.as_ref().map_or_else(|| "unresolved".to_string(), Session::describe)
    );
    match connection.watch(signals, args.interval, args.timeout) {
        Ended::Quit { why } => {
            log::info!("quit: {why}; the session is left as it is");
            Ok(EXIT_OK)
        }
        Ended::Lost { reason, silent_for } => {
            log::info!("lost display {display} ({reason}), {} ms since the last answered ping", silent_for.as_millis());
            let code = match (&session, program.is_empty()) {
                (Some(session), true) => end_session(session, &args.end, reason, Some(display)),
                _ => run_program(&program, session.as_ref(), reason, &display, args.end.dry_run),
            };
            log::info!("quit");
            code
        }
    }
}

/// A relative PROGRAM path is made absolute before detaching moves to `/`.
fn absolute_program(mut program: Vec<OsString>) -> Vec<OsString> {
    if let Some(first) = program.first_mut() {
        let path = PathBuf::from(&*first);
        if path.is_relative()
            && path.components().count() > 1
            && let Ok(cwd) = std::env::current_dir()
        {
            *first = cwd.join(path).into_os_string();
        }
    }
    program
}

/// The classic xexit's interface: run PROGRAM with ARGs and the XEXIT_* environment.
fn run_program(
    program: &[OsString],
    session: Option<&Session>,
    reason: Reason,
    display: &str,
    dry_run: bool,
) -> Result<u8, Error> {
    let shown = program.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ");
    if dry_run {
        log::info!("dry run: would run {shown}");
        return Ok(EXIT_OK);
    }
    let pids = match session.map(session_pids).transpose() {
        Ok(pids) => pids.unwrap_or_default(),
        Err(e) => {
            log::warn!("XEXIT_PIDS left empty: {e}");
            Vec::new()
        }
    };
    let context = hooks::Context {
        reason,
        display: Some(display.to_string()),
        session: session.map(Session::describe).unwrap_or_default(),
        user: session
            .map(|s| s.user_name.clone())
            .unwrap_or_else(|| session::user_name_of(rustix::process::getuid().as_raw())),
        pids,
    };
    log::info!("running {shown}");
    match std::process::Command::new(&program[0]).args(&program[1..]).envs(context.vars()).status() {
        Ok(status) if status.success() => Ok(EXIT_OK),
        Ok(status) => {
            log::warn!("{shown} failed: {status}");
            Ok(EXIT_FAILED)
        }
        Err(e) => {
            log::error!("cannot run {shown}: {e}");
            Ok(EXIT_FAILED)
        }
    }
}
