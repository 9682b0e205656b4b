//! The admin's exit hooks: run-parts style, trusted, one at a time, each bounded in time.
//! Nothing here stops the reap: what goes wrong is logged and counted as a failure.

mod pids;
mod run;
mod trust;

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rustix::fs::{FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::process::ProcessRef;
use crate::watchdog::Reason;
use pids::PidsFile;
use trust::{Problem, Trust};

/// `--hook-dir` and `--hook-timeout`.
#[derive(Clone, Debug)]
pub struct HookOptions {
    pub dir: PathBuf,
    /// How long one hook may run before its process group is stopped.
    pub timeout: Duration,
}

/// What the hooks (and watch's PROGRAM) are told, as environment variables.
#[derive(Clone, Debug)]
pub struct Context {
    pub reason: Reason,
    pub display: Option<String>,
    /// The resolved selector, e.g. env:LTSP_CLIENT_HOSTNAME=ws01.
    pub session: String,
    pub user: String,
    /// The session's PIDs found just before the hooks.
    pub pids: Vec<i32>,
}

/// The kernel's limit for one environment string, NAME=VALUE and its NUL (MAX_ARG_STRLEN):
/// an exec with a longer one fails with E2BIG.
const MAX_ARG_STRLEN: usize = 32 * 4096;

/// The variables for the hooks or PROGRAM, and the PID file they name while it lives.
pub struct Environment {
    pub vars: Vec<(&'static str, String)>,
    _pids_file: Option<PidsFile>,
}

impl Context {
    /// The variables, with XEXIT_PIDS_FILE naming `pids_file` ("" when there is none).
    /// XEXIT_PIDS is empty when the list is too long for one environment string.
    pub fn vars(&self, pids_file: &str) -> Vec<(&'static str, String)> {
        let pids: Vec<String> = self.pids.iter().map(i32::to_string).collect();
        let mut pids = pids.join(" ");
        if "XEXIT_PIDS=".len() + pids.len() + 1 > MAX_ARG_STRLEN {
            pids.clear();
        }
        let mut vars = vec![
            ("XEXIT_REASON", self.reason.to_string()),
            ("XEXIT_DISPLAY", self.display.clone().unwrap_or_default()),
            ("XEXIT_SESSION", self.session.clone()),
            ("XEXIT_USER", self.user.clone()),
            ("XEXIT_PIDS", pids),
            ("XEXIT_PIDS_FILE", pids_file.to_string()),
        ];
        if let Some(display) = &self.display {
            vars.push(("DISPLAY", display.clone()));
        }
        vars
    }

    /// Writes the PID file and returns the variables naming it; the file goes with them.
    pub fn environment(&self) -> Environment {
        let pids_file =
            PidsFile::create(&self.pids).inspect_err(|e| log::warn!("XEXIT_PIDS_FILE left empty: {e}")).ok();
        let path = pids_file.as_ref().map(|f| f.path().display().to_string()).unwrap_or_default();
        let vars = self.vars(&path);
        if vars.iter().any(|(name, value)| *name == "XEXIT_PIDS" && value.is_empty()) && !self.pids.is_empty() {
            log::info!(
                "XEXIT_PIDS left empty: {} PIDs are too long for one variable; see XEXIT_PIDS_FILE",
                self.pids.len()
            );
        }
        Environment { vars, _pids_file: pids_file }
    }
}

/// What the hooks came to: what they left running, and whether any could not run or failed.
#[derive(Debug, Default)]
pub struct Outcome {
    pub leftovers: Vec<ProcessRef>,
    pub failed: bool,
    /// How many hooks ran, and how many of those failed.
    pub ran: usize,
    pub ran_failed: usize,
}

/// What becomes of one entry of the hook directory.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Plan {
    Execute,
    WithShell,
    Skip(String),
    Refuse(String),
}

/// Package-manager and editor leftovers that run-parts would also pass over.
const LEFTOVER_SUFFIXES: &[&str] =
    &["~", ".swp", ".bak", ".dpkg-old", ".dpkg-dist", ".dpkg-new", ".dpkg-tmp", ".rpmnew", ".rpmsave", ".rpmorig"];

/// run-parts' LSB names (letters, digits, underscore, hyphen), plus `NAME.sh`.
fn name_plan(name: &OsStr) -> Option<String> {
    let bytes = name.as_bytes();
    let text = String::from_utf8_lossy(bytes);
    if bytes.starts_with(b".") {
        return Some("a dotfile".into());
    }
    if LEFTOVER_SUFFIXES.iter().any(|s| text.ends_with(s)) || text.contains(".ucf-") {
        return Some("an editor or package manager leftover".into());
    }
    let stem = text.strip_suffix(".sh").unwrap_or(&text);
    let lsb = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if stem.is_empty() || !stem.chars().all(lsb) {
        return Some("not a run-parts name (letters, digits, _ and -, or NAME.sh)".into());
    }
    None
}

/// Opens the entry `name` of the hook directory without following a link it may be; a
/// symbolic link is followed only through directories that pass the same trust checks.
fn open_hook(dir: &OwnedFd, dir_path: &Path, name: &OsStr, trust: Trust) -> Result<(OwnedFd, Stat), Problem> {
    let path = dir_path.join(name);
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
    let fd = match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::LOOP) => return trust.open_file(&path),
        Err(Errno::NOENT) => return Err(Problem::Missing(path)),
        Err(e) => return Err(Problem::Unusable(path, e.to_string())),
    };
    let stat = rustix::fs::fstat(&fd).map_err(|e| Problem::Unusable(path, e.to_string()))?;
    Ok((fd, stat))
}

/// The plan for an open hook, from its descriptor and status: what is checked is the file
/// that will run.
fn plan(fd: impl AsFd, stat: &Stat, trust: Trust) -> Plan {
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Plan::Skip("not a regular file".into());
    }
    let writers = trust.writers(fd, stat);
    if !writers.is_empty() {
        return Plan::Refuse(format!(
            "writable by others than root and xexit's user ({})",
            trust::describe(stat, &writers)
        ));
    }
    if stat.st_mode & 0o111 != 0 { Plan::Execute } else { Plan::WithShell }
}

/// Runs the hooks in `--hook-dir` in byte order of their names. Never fails: a directory
/// that cannot be used is logged, once, with its path and the reason.
pub fn run_all(options: &HookOptions, context: &Context, dry_run: bool) -> Outcome {
    let trust = Trust::of_this_process();
    let dir = &options.dir;
    let (dir_fd, dir_path) = match trust.open_dir(dir) {
        Ok(opened) => opened,
        Err(Problem::Missing(missing)) => {
            log::debug!("no hook directory {} ({} does not exist)", dir.display(), missing.display());
            return Outcome::default();
        }
        Err(problem) => {
            log::warn!("hook directory {} refused: {problem}; no hooks run", dir.display());
            return Outcome { failed: true, ..Outcome::default() };
        }
    };
    let names = match rustix::fs::Dir::read_from(&dir_fd) {
        Ok(entries) => {
            entries.filter_map(Result::ok).map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
        }
        Err(e) => {
            log::warn!("hook directory {} refused: cannot read it: {e}; no hooks run", dir.display());
            return Outcome { failed: true, ..Outcome::default() };
        }
    };
    let mut names: Vec<_> = names.filter(|n| n != "." && n != "..").collect();
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));

    let environment = (!dry_run).then(|| context.environment());
    let mut outcome = Outcome::default();
    for name in names {
        let shown = name.to_string_lossy();
        let path = dir.join(&name);
        let opened = match name_plan(&name) {
            Some(why) => Err(Plan::Skip(why)),
            None => open_hook(&dir_fd, &dir_path, &name, trust).map_err(|problem| match problem {
                // Gone since the directory was listed.
                Problem::Missing(_) => Plan::Skip(problem.to_string()),
                Problem::Untrusted(..) | Problem::Unusable(..) => Plan::Refuse(problem.to_string()),
            }),
        };
        let how = match &opened {
            Ok((fd, stat)) => plan(fd, stat, trust),
            Err(how) => how.clone(),
        };
        match how {
            Plan::Skip(why) if dry_run => log::info!("dry run: would skip hook {shown}: {why}"),
            Plan::Skip(why) => log::debug!("hook {shown} skipped: {why}"),
            Plan::Refuse(why) => {
                let verb = if dry_run { "dry run: would refuse" } else { "refused" };
                log::warn!("{verb} hook {}: {why}", path.display());
                outcome.failed |= !dry_run;
            }
            how if dry_run => {
                let how = if how == Plan::Execute { "execute" } else { "run with /bin/sh" };
                log::info!("dry run: would {how} hook {shown}");
            }
            how => {
                let (Ok((fd, _)), Some(environment)) = (&opened, &environment) else { continue };
                // The very file that was checked, through its descriptor: renaming or
                // replacing the path since cannot change what runs.
                let own = format!("/proc/self/fd/{}", fd.as_raw_fd());
                let mut command = if how == Plan::Execute {
                    let mut command = Command::new(&own);
                    std::os::unix::process::CommandExt::arg0(&mut command, &path);
                    command
                } else {
                    let mut shell = Command::new("/bin/sh");
                    shell.arg(&own);
                    shell
                };
                crate::sys::inherit_fd(&mut command, fd.as_fd());
                command.envs(environment.vars.iter().map(|(k, v)| (k, v)));
                let (leftovers, succeeded) = run::run_one(&shown, command, options.timeout);
                outcome.leftovers.extend(leftovers);
                outcome.failed |= !succeeded;
                outcome.ran += 1;
                outcome.ran_failed += usize::from(!succeeded);
            }
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_run_parts_rules() {
        for good in ["10foo", "20-bar_baz", "pulse.sh", "90-gpg-agent.sh"] {
            assert_eq!(name_plan(OsStr::new(good)), None, "{good} refused");
        }
        for bad in [
            ".hidden",
            "foo~",
            "foo.swp",
            "foo.bak",
            "foo.dpkg-old",
            "foo.dpkg-dist",
            "foo.dpkg-new",
            "foo.ucf-old",
            "foo.rpmnew",
            "foo.rpmsave",
            "foo.conf",
            "a b",
            ".sh",
            "x.sh.bak",
        ] {
            assert!(name_plan(OsStr::new(bad)).is_some(), "{bad} accepted");
        }
    }

    #[test]
    fn the_context_becomes_the_documented_variables() {
        let context = Context {
            reason: Reason::Closed,
            display: Some(":7".into()),
            session: "env:LTSP_CLIENT_HOSTNAME=ws01".into(),
            user: "alice".into(),
            pids: vec![12, 34],
        };
        let vars = context.vars("/tmp/xexit-pids.1/pids");
        let get = |k: &str| vars.iter().find(|(name, _)| *name == k).map(|(_, v)| v.as_str());
        assert_eq!(get("XEXIT_REASON"), Some("closed"));
        assert_eq!(get("XEXIT_DISPLAY"), Some(":7"));
        assert_eq!(get("DISPLAY"), Some(":7"));
        assert_eq!(get("XEXIT_SESSION"), Some("env:LTSP_CLIENT_HOSTNAME=ws01"));
        assert_eq!(get("XEXIT_USER"), Some("alice"));
        assert_eq!(get("XEXIT_PIDS"), Some("12 34"));
        assert_eq!(get("XEXIT_PIDS_FILE"), Some("/tmp/xexit-pids.1/pids"));
    }

    #[test]
    fn xexit_pids_is_empty_when_too_long_for_one_variable() {
        let mut context = Context {
            reason: Reason::Closed,
            display: None,
            session: String::new(),
            user: String::new(),
            pids: vec![12345; 21_843],
        };
        let pids = |context: &Context| context.vars("f").into_iter().find(|(k, _)| *k == "XEXIT_PIDS").unwrap().1;
        // "XEXIT_PIDS=" (11), 21,843 PIDs of 5 digits and 21,842 spaces, NUL: 131,069 bytes.
        assert_eq!(pids(&context).len(), 21_843 * 6 - 1);
        context.pids.push(12345);
        assert_eq!(pids(&context), "");
    }
}
