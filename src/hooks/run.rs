//! Running one hook: its own process group, its output logged, bounded in time, and what it
//! leaves running found before it is reaped.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::process::Pid;

use crate::proc::{self, ProcReader};
use crate::process::{ProcessRef, Signal};

/// After TERM, a timed-out hook's process group gets this long before KILL.
const KILL_AFTER: Duration = Duration::from_secs(1);
/// How long to wait for a finished hook's last output lines.
const OUTPUT_LINGER: Duration = Duration::from_millis(200);

/// Runs one hook in its own process group, logging its output, within `timeout`. It starts
/// with HUP and TERM ignored, so the signals that stop the session's scope, sent to every
/// process in it, do not cut it short; past `timeout`, KILL follows TERM all the same.
pub fn run_one(name: &str, mut command: Command, timeout: Duration) -> (Vec<ProcessRef>, bool) {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    crate::sys::ignore_hangup_and_terminate(&mut command);
    let started = Instant::now();
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            log::warn!("hook {name} could not start: {e}");
            return (Vec::new(), false);
        }
    };
    let pgid = child.id() as i32;
    let output_done = forward_output(name, &mut child);
    // Held before it is reaped, so its PID, and with it the process group's ID, stays ours.
    let hook = ProcessRef::open_verified(pgid, || true).ok().flatten();
    let exited = |limit| hook.as_ref().is_none_or(|hook| hook.wait_exit(limit));
    let mut done = exited(timeout);
    let timed_out = !done;
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
        return (leftovers, false);
    }
    let succeeded = match child.wait() {
        Ok(status) if status.success() => {
            log::info!("hook {name} done in {elapsed} ms");
            true
        }
        Ok(status) => {
            log::warn!("hook {name} failed ({status}) after {elapsed} ms");
            false
        }
        Err(e) => {
            log::warn!("hook {name}: cannot wait for it: {e}");
            false
        }
    };
    if !leftovers.is_empty() {
        let pids: Vec<String> = leftovers.iter().map(|l| l.pid().to_string()).collect();
        log::info!("hook {name} left {} running, ended with the session: {}", pids.len(), pids.join(" "));
    }
    (leftovers, succeeded && !timed_out)
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
        let (thread_name, done) = (name.to_string(), done_tx.clone());
        let reader = std::thread::Builder::new().spawn(move || {
            for line in BufReader::new(stream).split(b'\n').map_while(Result::ok) {
                log::info!("hook {thread_name}: {}", String::from_utf8_lossy(&line));
            }
            let _ = done.send(());
        });
        // Threads are tasks, which the user's processes can use up: the hook still runs, its
        // stream closed (what it writes there then fails).
        if let Err(e) = reader {
            log::warn!("hook {name}: its output is not logged, no thread could be started ({e})");
            let _ = done_tx.send(());
        }
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
