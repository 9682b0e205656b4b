//! The admin's exit hooks: run-parts style, trusted, one at a time, each bounded in time.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::process::Pid;

use crate::error::Exit;
use crate::proc::{self, ProcReader};
use crate::process::{ProcessRef, Signal};
use crate::watchdog::Reason;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the hook directory {dir}: {source}")]
    ReadDir { dir: PathBuf, source: std::io::Error },
}

impl From<Error> for crate::error::Error {
    fn from(error: Error) -> Self {
        crate::error::Error::new(Exit::Failed, error)
    }
}

/// `--hook-dir` and `--hook-timeout`.
#[derive(Clone, Debug)]
pub struct HookOptions {
    pub dir: PathBuf,
    /// How long one hook may run before its process group is stopped.
    pub timeout: Duration,
}

/// After TERM, a timed-out hook's process group gets this long before KILL.
const KILL_AFTER: Duration = Duration::from_secs(1);
/// How long to wait for a finished hook's last output lines.
const OUTPUT_LINGER: Duration = Duration::from_millis(200);

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

impl Context {
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        let pids: Vec<String> = self.pids.iter().map(i32::to_string).collect();
        let mut vars = vec![
            ("XEXIT_REASON", self.reason.to_string()),
            ("XEXIT_DISPLAY", self.display.clone().unwrap_or_default()),
            ("XEXIT_SESSION", self.session.clone()),
            ("XEXIT_USER", self.user.clone()),
            ("XEXIT_PIDS", pids.join(" ")),
        ];
        if let Some(display) = &self.display {
            vars.push(("DISPLAY", display.clone()));
        }
        vars
    }
}

/// What becomes of one entry of the hook directory.
#[derive(Debug, PartialEq, Eq)]
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

/// A file or directory is trusted when only root and xexit's own user can write it: hooks run
/// with xexit's privileges, and a session user's file must not run as root.
fn distrust(meta: &std::fs::Metadata) -> Option<String> {
    let own_uid = rustix::process::geteuid().as_raw();
    let mode = meta.mode();
    let owner_ok = meta.uid() == 0 || meta.uid() == own_uid;
    let group_writes = mode & 0o020 != 0 && meta.gid() != 0;
    let others_write = mode & 0o002 != 0;
    (!owner_ok || group_writes || others_write)
        .then(|| format!("owner uid {}, group {}, mode {:04o}", meta.uid(), meta.gid(), mode & 0o7777))
}

fn plan(path: &Path, name: &OsStr) -> Plan {
    if let Some(why) = name_plan(name) {
        return Plan::Skip(why);
    }
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => return Plan::Skip(format!("unreadable: {e}")),
    };
    if !meta.is_file() {
        return Plan::Skip("not a regular file".into());
    }
    if let Some(why) = distrust(&meta) {
        return Plan::Refuse(format!("writable by others than root and xexit's user ({why})"));
    }
    if meta.permissions().mode() & 0o111 != 0 { Plan::Execute } else { Plan::WithShell }
}

/// Runs the hooks in `--hook-dir` in byte order of their names; returns what they left running.
pub fn run_all(options: &HookOptions, context: &Context, dry_run: bool) -> Result<Vec<ProcessRef>, Error> {
    let dir = &options.dir;
    let meta = match std::fs::metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            log::debug!("no hook directory {}", dir.display());
            return Ok(Vec::new());
        }
        Err(source) => return Err(Error::ReadDir { dir: dir.clone(), source }),
    };
    if let Some(why) = distrust(&meta) {
        log::warn!("hook directory {} refused: writable by others than root and xexit's user ({why})", dir.display());
        return Ok(Vec::new());
    }
    let read_error = |source| Error::ReadDir { dir: dir.clone(), source };
    let mut names: Vec<_> = std::fs::read_dir(dir).map_err(read_error)?.flatten().map(|e| e.file_name()).collect();
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));

    let mut leftovers = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let shown = name.to_string_lossy();
        match plan(&path, &name) {
            Plan::Skip(why) if dry_run => log::info!("dry run: would skip hook {shown}: {why}"),
            Plan::Skip(why) => log::debug!("hook {shown} skipped: {why}"),
            Plan::Refuse(why) => {
                let verb = if dry_run { "dry run: would refuse" } else { "refused" };
                log::warn!("{verb} hook {}: {why}", path.display());
            }
            how if dry_run => {
                let how = if how == Plan::Execute { "execute" } else { "run with /bin/sh" };
                log::info!("dry run: would {how} hook {shown}");
            }
            how => {
                let mut command = if how == Plan::Execute {
                    Command::new(&path)
                } else {
                    let mut shell = Command::new("/bin/sh");
                    shell.arg(&path);
                    shell
                };
                command.envs(context.vars());
                leftovers.extend(run_one(&shown, command, options.timeout));
            }
        }
    }
    Ok(leftovers)
}

/// Runs one hook in its own process group, logging its output, within `timeout`.
fn run_one(name: &str, mut command: Command, timeout: Duration) -> Vec<ProcessRef> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let started = Instant::now();
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            log::warn!("hook {name} could not start: {e}");
            return Vec::new();
        }
    };
    let pgid = child.id() as i32;
    let output_done = forward_output(name, &mut child);
    // Held before it is reaped, so its PID, and with it the process group's ID, stays ours.
    let hook = ProcessRef::open_verified(pgid, || true).ok().flatten();
    let exited = |limit| hook.as_ref().is_none_or(|hook| hook.wait_exit(limit));
    let mut done = exited(timeout);
    if !done {
        log::warn!("hook {name} still running after {timeout:?} (--hook-timeout): TERM to its process group");
        signal_group(pgid, Signal::TERM);
        done = exited(KILL_AFTER);
        if !done {
            log::warn!("hook {name}: KILL to its process group");
            signal_group(pgid, Signal::KILL);
            done = exited(KILL_AFTER);
        }
    }
    // Looked for before the hook is reaped: its zombie keeps its PID, and so the process
    // group's ID, from being reused by an unrelated process meanwhile.
    let leftovers = group_members(pgid);
    // The pipes may stay open in a child the hook left behind, so wait for them only briefly.
    for _ in 0..2 {
        let _ = output_done.recv_timeout(OUTPUT_LINGER);
    }
    let elapsed = started.elapsed().as_millis();
    if !done {
        // Stuck in the kernel (uninterruptible sleep): waiting would block the session's end.
        log::warn!("hook {name} does not die even of KILL; going on without it");
        return leftovers;
    }
    match child.wait() {
        Ok(status) if status.success() => log::info!("hook {name} done in {elapsed} ms"),
        Ok(status) => log::warn!("hook {name} failed ({status}) after {elapsed} ms"),
        Err(e) => log::warn!("hook {name}: cannot wait for it: {e}"),
    }
    if !leftovers.is_empty() {
        let pids: Vec<String> = leftovers.iter().map(|l| l.pid().to_string()).collect();
        log::info!("hook {name} left {} running, ended with the session: {}", pids.len(), pids.join(" "));
    }
    leftovers
}

fn signal_group(pgid: i32, signal: Signal) {
    if let Some(pgid) = Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(pgid, signal);
    }
}

/// Logs each line of the hook's stdout and stderr under its name; signals when each closes.
fn forward_output(name: &str, child: &mut Child) -> mpsc::Receiver<()> {
    let (done_tx, done_rx) = mpsc::channel();
    let streams: [Option<Box<dyn Read + Send>>; 2] = [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
    ];
    for stream in streams.into_iter().flatten() {
        let name = name.to_string();
        let done = done_tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).split(b'\n').map_while(Result::ok) {
                log::info!("hook {name}: {}", String::from_utf8_lossy(&line));
            }
            let _ = done.send(());
        });
    }
    done_rx
}

/// The live processes still in process group `pgid`, each held by a pidfd and checked again
/// once held, so the PID cannot have changed hands unseen.
fn group_members(pgid: i32) -> Vec<ProcessRef> {
    let Ok(mut reader) = ProcReader::new() else { return Vec::new() };
    let Ok(pids) = proc::list_pids() else { return Vec::new() };
    let mut in_group = |pid| reader.stat_ids(pid).is_some_and(|ids| ids.pgrp == pgid);
    let mut members = Vec::new();
    for pid in pids {
        if in_group(pid)
            && let Ok(Some(member)) = ProcessRef::open_verified(pid, || in_group(pid))
        {
            members.push(member);
        }
    }
    members
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
        let vars = context.vars();
        let get = |k: &str| vars.iter().find(|(name, _)| *name == k).map(|(_, v)| v.as_str());
        assert_eq!(get("XEXIT_REASON"), Some("closed"));
        assert_eq!(get("XEXIT_DISPLAY"), Some(":7"));
        assert_eq!(get("DISPLAY"), Some(":7"));
        assert_eq!(get("XEXIT_SESSION"), Some("env:LTSP_CLIENT_HOSTNAME=ws01"));
        assert_eq!(get("XEXIT_USER"), Some("alice"));
        assert_eq!(get("XEXIT_PIDS"), Some("12 34"));
    }
}
