//! The subcommands on plain options: watch (then hooks and end, or PROGRAM), list and end.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use log::LevelFilter;

use crate::display::{self, Ended};
use crate::end::{self, Schedule};
use crate::error::{Error, Exit};
use crate::find::{self, Detail, Session, SessionOptions, Sweep};
use crate::hooks::{self, HookOptions};
use crate::listing::{self, ListFormat};
use crate::logging::{self, LogOptions};
use crate::proc::{ProcReader, printable};
use crate::summary;
use crate::watchdog::Reason;

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Watch(WatchOptions),
    List(ListOptions),
    End(EndOptions),
}

#[derive(Debug)]
pub struct WatchOptions {
    /// Ping the display this often.
    pub interval: Duration,
    /// A ping unanswered for this long means the display is lost.
    pub timeout: Duration,
    pub foreground: bool,
    /// What is done on loss without PROGRAM.
    pub end: EndOptions,
    /// Run this on loss instead (the classic xexit's interface); empty for none.
    pub program: Vec<OsString>,
}

#[derive(Debug)]
pub struct ListOptions {
    pub session: SessionOptions,
    pub format: ListFormat,
    pub log: LogOptions,
}

#[derive(Debug)]
pub struct EndOptions {
    pub session: SessionOptions,
    /// With `--grace` applied.
    pub schedule: Schedule,
    /// `None` for `--no-hooks`.
    pub hooks: Option<HookOptions>,
    pub dry_run: bool,
    pub log: LogOptions,
}

pub fn run(command: Command) -> Result<Exit, Error> {
    match command {
        Command::Watch(options) => watch(options),
        Command::List(options) => list(&options),
        Command::End(options) => {
            logging::init(&options.log, LevelFilter::Info, false);
            // Caught, and so ignored, while the schedule (bounded) runs: dying of TERM in a
            // round would leave the processes held stopped so.
            let _caught = crate::daemon::catch_signals()?;
            let session = Session::resolve(&options.session)?;
            let display = options.session.display.clone();
            end_session(&session, &options, Reason::Manual, display)
        }
    }
}

/// `xexit list`: one line per process of the session, like `pgrep -a` with the user added.
fn list(options: &ListOptions) -> Result<Exit, Error> {
    logging::init(&options.log, LevelFilter::Warn, false);
    let session = Session::resolve(&options.session)?;
    let mut sweep = SessionTargets::new(&session)?.sweep(Detail::Commands)?;
    sweep.members.sort_by_key(|m| m.pid);
    print!("{}", listing::render(&sweep.members, options.format, &session.scope.to_string()));
    Ok(if sweep.targets().next().is_some() { Exit::Ok } else { Exit::Failed })
}

/// What `xexit end` does, and watch on loss without PROGRAM: hooks, then the signal rounds.
fn end_session(
    session: &Session,
    options: &EndOptions,
    reason: Reason,
    display: Option<String>,
) -> Result<Exit, Error> {
    let started = Instant::now();
    let mut targets = SessionTargets::new(session)?;
    let pids = end::Targets::look(&mut targets)?;
    let rss_kib: u64 = targets.last.targets().map(|m| m.rss_kib).sum();
    log::info!("ending session {} of {} ({reason}): {} processes", session.scope, session.user_label(), pids.len());
    let context = hooks::Context {
        reason,
        display,
        session: session.scope.to_string(),
        user: session.user_name.clone(),
        pids: pids.clone(),
    };
    // Never an error: what went wrong with the hooks is logged, and the session still ends.
    let mut hooks = match &options.hooks {
        Some(hooks) => hooks::run_all(hooks, &context, options.dry_run),
        None => hooks::Outcome::default(),
    };
    let leftovers = std::mem::take(&mut hooks.leftovers);
    if options.dry_run {
        targets.dry_run = true;
        let mut pids = end::Targets::look(&mut targets)?;
        pids.extend(leftovers.iter().map(|l| l.pid()));
        end::dry_run(&options.schedule, &pids);
        return Ok(Exit::Ok);
    }
    let mut report = end::end(&mut targets, &options.schedule, pids, leftovers)?;
    // What started the session (a watcher's ancestors) finishes on its own, then the rest ends.
    let mut rest = session.clone();
    if rest.starters.wait(options.schedule.total(), &mut targets.reader) {
        let mut targets = SessionTargets::new(&rest)?;
        let pids = end::Targets::look(&mut targets)?;
        if !pids.is_empty() {
            report.absorb(end::end(&mut targets, &options.schedule, pids, Vec::new())?);
        }
    }
    let ok = report.survivors.is_empty() && !hooks.failed;
    let summary =
        summary::Summary { session, reason, report: &report, hooks: &hooks, rss_kib, elapsed: started.elapsed() };
    // A process left because whose it is could not be told may be the lost session's.
    if ok && !report.spared.iter().any(|s| s.unsure) {
        log::info!("{summary}");
    } else {
        log::warn!("{summary}");
    }
    Ok(if ok { Exit::Ok } else { Exit::Failed })
}

/// The session as the signal rounds see it: each look is a sweep, and what it decides
/// about spared and unreadable processes is logged once per process.
struct SessionTargets<'a> {
    session: &'a Session,
    reader: ProcReader,
    last: Sweep,
    /// The name of each process of the session seen so far, by PID.
    names: HashMap<i32, String>,
    announced: HashSet<i32>,
    /// What the end's looks settled about processes not the session's.
    instances: find::Instances,
    dry_run: bool,
}

impl<'a> SessionTargets<'a> {
    fn new(session: &'a Session) -> Result<Self, find::Error> {
        let reader = ProcReader::new().map_err(find::Error::Proc)?;
        // Said at the start of an end, where the kernel cannot list children.
        crate::proc::has_children_files();
        let (last, names, announced) = (Sweep::default(), HashMap::new(), HashSet::new());
        let instances = session.instances();
        Ok(SessionTargets { session, reader, last, names, announced, instances, dry_run: false })
    }

    fn sweep(&mut self, detail: Detail) -> Result<Sweep, find::Error> {
        self.session.sweep(&mut self.reader, detail)
    }

    /// Makes `sweep` the last one, its names known and what it decided logged; its targets.
    fn keep(&mut self, sweep: Sweep) -> Vec<i32> {
        sweep.announce(&mut self.announced, self.dry_run);
        self.names.extend(sweep.members.iter().map(|m| (m.pid, m.name.clone())));
        self.last = sweep;
        self.last.targets().map(|m| m.pid).collect()
    }
}

impl end::Targets for SessionTargets<'_> {
    type Error = find::Error;

    fn look(&mut self) -> Result<Vec<i32>, find::Error> {
        // What earlier looks of the end settled is not examined again.
        let sweep = self.session.sweep_again(&mut self.reader, &mut self.instances)?;
        Ok(self.keep(sweep))
    }

    fn look_near(&mut self, candidates: Vec<i32>) -> Result<Vec<i32>, find::Error> {
        let sweep = self.session.sweep_near(&mut self.reader, candidates)?;
        Ok(self.keep(sweep))
    }

    fn confirm(&mut self, pid: i32) -> bool {
        self.session.confirm(pid, &mut self.reader)
    }

    fn kill_all(&mut self) -> bool {
        self.session.kill_all(&self.last)
    }

    fn children(&mut self, parents: &[i32]) -> Vec<i32> {
        crate::proc::children_of(parents)
    }

    fn recheck(&mut self, pid: i32) -> Option<u64> {
        self.session.recheck(pid, &mut self.reader)
    }

    fn emptiness(&mut self) -> end::Emptiness {
        self.session.emptiness(&self.last, &mut self.reader)
    }

    fn is_surely_empty(&mut self) -> bool {
        self.session.is_surely_empty()
    }

    fn program(&mut self, pid: i32) -> String {
        let name = self.names.get(&pid).cloned();
        printable(&name.or_else(|| self.reader.status(pid).map(|s| s.name)).unwrap_or_else(|| "?".into()))
    }

    fn spared(&mut self) -> Vec<end::Spared> {
        self.last.spared()
    }

    fn is_exiting(&mut self, pid: i32) -> bool {
        crate::proc::is_exiting(pid)
    }

    fn describe(&mut self, pid: i32) -> String {
        let name = self.names.get(&pid).cloned().unwrap_or_default();
        let state = self.reader.state(pid);
        format!("{pid} {state} {}", self.reader.command_line(pid, &name))
    }
}

/// `xexit watch`: connect, detach, watch; on loss run PROGRAM or end the session.
fn watch(options: WatchOptions) -> Result<Exit, Error> {
    logging::init(&options.end.log, LevelFilter::Info, !options.foreground);
    let display = options.end.session.display.clone().ok_or(display::Error::NoDisplay)?;
    let program = find_program(options.program)?;
    // Checked before detaching, so a bad selector is reported to the caller; with a PROGRAM
    // the session only names XEXIT_SESSION, so a selector that does not resolve is no error.
    let mut session = match Session::resolve(&options.end.session) {
        Ok(session) => Some(session),
        Err(e) if program.is_none() => return Err(e.into()),
        Err(e) => {
            log::debug!("no session for XEXIT_SESSION: {e}");
            None
        }
    };
    // Before detaching, while xexit's parent is the process that started it.
    if let Some(session) = session.as_mut()
        && let (Some(uid), Ok(mut reader)) = (session.uid, ProcReader::new())
    {
        session.starters = find::Starters::record(uid, &mut reader);
    }
    let mut signals = crate::daemon::catch_signals()?;
    let Some(connection) = display::connect(&display, options.timeout, &mut signals)? else {
        log::info!("quit: terminated by signal while connecting to {display}; the session is left as it is");
        return Ok(Exit::Ok);
    };
    connection.tune_tcp(options.interval, options.timeout);
    if !options.foreground {
        crate::daemon::detach(logging::keeps_stderr())?;
        logging::detached();
    }
    log::info!(
        "started: display {display}, interval {:?}, timeout {:?}, session {}",
        options.interval,
        options.timeout,
        session.as_ref().map_or_else(|| "unresolved".to_string(), |s| s.scope.to_string())
    );
    let ended = connection.watch(signals, options.interval, options.timeout);
    match ended.map_err(|source| display::Error::Thread { display: display.clone(), source })? {
        Ended::Quit { why } => {
            log::info!("quit: {why}; the session is left as it is");
            Ok(Exit::Ok)
        }
        Ended::Lost { reason, silent_for } => {
            log::info!("lost display {display} ({reason}), {} ms since the last answered ping", silent_for.as_millis());
            session.iter_mut().for_each(|session| session.starters.lost(silent_for));
            // Without PROGRAM the session resolved above (or xexit stopped there).
            let code = match (&program, &session) {
                (Some(program), _) => run_program(program, session.as_ref(), reason, &display, options.end.dry_run),
                (None, Some(session)) => end_session(session, &options.end, reason, Some(display)),
                (None, None) => Ok(Exit::Failed),
            };
            log::info!("quit");
            code
        }
    }
}

/// PROGRAM as it will be run: the file found now, and its arguments (argv[0] as given).
struct Program {
    path: PathBuf,
    argv: Vec<OsString>,
}

/// Finds PROGRAM as execvp would, before connecting and detaching, so a typing error is the
/// caller's exit 2 and not a watcher that fails at logout: a name with a slash is taken from
/// the working directory, a bare name is looked up on PATH. The path is made absolute, since
/// detaching moves to `/`.
fn find_program(mut argv: Vec<OsString>) -> Result<Option<Program>, Error> {
    let Some(first) = argv.first_mut() else { return Ok(None) };
    let given = PathBuf::from(&*first);
    let shown = given.display().to_string();
    let refused = |why: String| Error::new(Exit::Usage, format!("PROGRAM '{shown}': {why}"));
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let path = if first.as_encoded_bytes().contains(&b'/') {
        let path = cwd.join(&given);
        executable(&path).map_err(refused)?;
        if given.is_relative() {
            *first = path.clone().into_os_string();
        }
        path
    } else {
        let search = std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin".into());
        let mut refusals = Vec::new();
        let found =
            std::env::split_paths(&search).map(|dir| cwd.join(dir).join(&given)).find(|path| match executable(path) {
                Ok(()) => true,
                Err(why) if path.exists() => {
                    refusals.push(format!("{}: {why}", path.display()));
                    false
                }
                Err(_) => false,
            });
        let path_text = search.to_string_lossy();
        match found {
            Some(path) => path,
            None if refusals.is_empty() => return Err(refused(format!("not found in PATH ({path_text})"))),
            None => return Err(refused(format!("not executable on PATH ({})", refusals.join("; ")))),
        }
    };
    Ok(Some(Program { path, argv }))
}

/// Whether `path` is a file that may be executed, and if not, why.
fn executable(path: &std::path::Path) -> Result<(), String> {
    let metadata = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        _ => e.to_string(),
    })?;
    if !metadata.is_file() {
        return Err("not a regular file (a directory?)".into());
    }
    rustix::fs::access(path, rustix::fs::Access::EXEC_OK).map_err(|_| {
        use std::os::unix::fs::PermissionsExt;
        format!("not executable (mode {:o})", metadata.permissions().mode() & 0o7777)
    })
}

/// The classic xexit's interface: run PROGRAM with ARGs and the XEXIT_* environment.
fn run_program(
    program: &Program,
    session: Option<&Session>,
    reason: Reason,
    display: &str,
    dry_run: bool,
) -> Result<Exit, Error> {
    let shown = program.argv.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ");
    if dry_run {
        log::info!("dry run: would run {shown}");
        return Ok(Exit::Ok);
    }
    let pids = session.map(|s| SessionTargets::new(s).and_then(|mut t| t.sweep(Detail::Plain)));
    let pids = match pids.transpose() {
        Ok(sweep) => sweep.map(|s| s.targets().map(|m| m.pid).collect()).unwrap_or_default(),
        Err(e) => {
            log::warn!("XEXIT_PIDS left empty: {e}");
            Vec::new()
        }
    };
    let context = hooks::Context {
        reason,
        display: Some(display.to_string()),
        session: session.map(|s| s.scope.to_string()).unwrap_or_default(),
        user: session
            .map(|s| s.user_name.clone())
            .unwrap_or_else(|| find::user_name_of(rustix::process::getuid().as_raw())),
        pids,
    };
    log::info!("running {shown}");
    // The PID file lives until PROGRAM has exited.
    let environment = context.environment();
    let vars = environment.vars.iter().map(|(k, v)| (k, v));
    let mut command = std::process::Command::new(&program.path);
    std::os::unix::process::CommandExt::arg0(&mut command, &program.argv[0]);
    match command.args(&program.argv[1..]).envs(vars).status() {
        Ok(status) if status.success() => Ok(Exit::Ok),
        Ok(status) => {
            log::warn!("{shown} failed: {status}");
            Ok(Exit::Failed)
        }
        Err(e) => {
            log::error!("cannot run {shown}: {e}");
            Ok(Exit::Failed)
        }
    }
}
