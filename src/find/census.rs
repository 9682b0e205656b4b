//! What a look that found no process of the session is worth. A cgroup says it exactly. A
//! look by tag or display is checked against the count of the user's tasks the kernel keeps
//! for RLIMIT_NPROC: a process that forks its successor and exits at once (a PID hopper)
//! can run where no read of /proc ever finds it, but not outside that count.

use super::member::Examined;
use super::{Detail, Scope, Session, Sweep, Verdict};
use crate::end::Emptiness;
use std::collections::{HashMap, HashSet};

use crate::proc::{self, ProcReader};

/// How many counts must all agree with /proc before an empty look is believed: a hopper's
/// live process is in every count, but a count may happen to match where a thread of
/// another process of the user ended just then.
const SAMPLES: u32 = 3;
/// How many times the kernel's count is read for one comparison.
const COUNTS: u32 = 3;
/// The pause between two counts.
const BETWEEN: std::time::Duration = std::time::Duration::from_millis(20);
/// More tasks than any host has: PID_MAX_LIMIT, 2^22.
const MAX_TASKS: u64 = 1 << 22;
/// The group a probe runs as for a uid the user database does not know.
const NO_GROUP: u32 = 65534;

impl Session {
    /// What a sweep that found no target is worth. Only a cgroup can say the session is
    /// empty for sure (see `Cgroup::is_empty`); and while it still holds a process the sweep
    /// missed, no look that sees nothing is to be believed. A look by tag or display is not
    /// believed while the kernel counts tasks of the user that /proc does not account for.
    pub fn emptiness(&self, sweep: &Sweep, reader: &mut ProcReader) -> Emptiness {
        if self.is_surely_empty() {
            return Emptiness::Sure;
        }
        match &self.scope {
            Scope::Cgroup(cgroup) if !sweep.strangers.is_empty() => Emptiness::Unseen(format!(
                "cgroup {} still holds processes of the user's subordinate uids (a rootless container), which xexit does not end: {}",
                cgroup.path,
                sweep.strangers.join(", ")
            )),
            Scope::Cgroup(cgroup) if sweep.missed => Emptiness::Unseen(format!(
                "cgroup {} still holds processes xexit could not examine (they exited or moved while \
                 it looked, or run in a PID namespace it cannot see)",
                cgroup.path
            )),
            Scope::Cgroup(_) | Scope::User => Emptiness::Unproven,
            Scope::Env { .. } | Scope::Display { .. } if !sweep.in_exec.is_empty() => Emptiness::Unseen(format!(
                "processes of {} are inside exec, with no environment to tell whose they are yet: {}",
                self.user_label(),
                sweep.in_exec.iter().map(i32::to_string).collect::<Vec<_>>().join(", ")
            )),
            Scope::Env { .. } | Scope::Display { .. } => match self.count(reader) {
                Count::Agrees => Emptiness::Unproven,
                Count::Unaccounted { count, others } => Emptiness::Uncounted(format!(
                    "the kernel counts {count} more tasks of {} than /proc accounts for: a process that \
                     forks its successor and exits faster than /proc can be read (a PID hopper), or one \
                     in a PID namespace xexit cannot see{}",
                    self.user_label(),
                    match others {
                        0 => String::new(),
                        n => format!(", or a short one started by one of the {n} other processes of the user"),
                    }
                )),
                Count::Failed(why) => Emptiness::Uncounted(format!(
                    "the tasks of {} could not be counted ({why}), so a look that found none is not proof",
                    self.user_label()
                )),
            },
        }
    }

    /// Whether the session is surely empty: a cgroup with nothing in it.
    pub fn is_surely_empty(&self) -> bool {
        matches!(&self.scope, Scope::Cgroup(cgroup) if cgroup.is_empty())
    }

    /// The kernel's count of the user's tasks against what /proc shows outside the session:
    /// agreeing only when every one of SAMPLES counts does. Root is not counted (the limit
    /// does not apply to root): as agreeing. Nor is a user's own end: there exit 0 is no
    /// boundary (the user owns xexit and may end it), while each end's probes are the user's
    /// short processes, which would make the counts of the user's other ends disagree.
    fn count(&self, reader: &mut ProcReader) -> Count {
        if !self.reads_all {
            return Count::Agrees;
        }
        let Some(uid) = self.uid.filter(|uid| *uid != 0) else { return Count::Agrees };
        let gid = nix::unistd::User::from_uid(uid.into()).ok().flatten().map_or(NO_GROUP, |user| user.gid.as_raw());
        let Some(mut before) = self.outside_tasks(uid, reader) else { return Count::Failed("cannot list /proc") };
        // Another login of the user (or a spared program) may start short processes, which
        // the kernel counts and /proc cannot show. A count that disagrees is then no proof of
        // a hopper, but neither is the look proof of an empty session: never exit 0 on it.
        let others = before.values().filter(|entry| entry.other).count();
        for _ in 0..SAMPLES {
            std::thread::sleep(BETWEEN);
            // The most of a few counts: on this kernel the count was seen to dip below the
            // tasks the user has, for a moment, while PIDs wrapped under a fork loop.
            let mut counted = 0;
            for _ in 0..COUNTS {
                match count_tasks(uid, gid) {
                    Ok(one) => counted = counted.max(one),
                    Err(why) => return Count::Failed(why),
                }
            }
            let Some(now) = self.outside_tasks(uid, reader) else { return Count::Failed("cannot list /proc") };
            let accounted = accounted(&before, &now);
            log::debug!("the kernel counts {counted} tasks of uid {uid}, /proc accounts for {accounted}");
            if counted > accounted {
                return Count::Unaccounted { count: counted - accounted, others };
            }
            before = now;
        }
        Count::Agrees
    }

    /// The processes of the user, or of a subordinate uid, that /proc shows and that are no
    /// target of the session (without its tag or with another, spared, a setuid program's,
    /// zombies, xexit itself), by PID, /proc inode and start time, with their threads. A
    /// target is left out: the look that found none missed it. One exiting (a process of the
    /// session ended, its memory being freed) counts: it is still in the kernel's count, and
    /// its environment may read as empty or not at all. A hopper's processes do too, when
    /// caught so, but they are not there at the next read.
    fn outside_tasks(&self, uid: u32, reader: &mut ProcReader) -> Option<HashMap<Instance, Outside>> {
        let ours = |id: u32| id == uid || self.subordinate.iter().any(|r| r.contains(&u64::from(id)));
        let mut found = HashMap::new();
        // What ended while it was listed has no identity to be found again by (NO_INODE).
        for (pid, inode) in proc::list_instances().ok()?.into_iter().filter(|(_, inode)| *inode != proc::NO_INODE) {
            // A stat of /proc/PID passes over another user's process; root's (setuid, or the
            // user's made non-dumpable) needs its status.
            match reader.owner(pid) {
                Ok(owner) if owner == 0 || ours(owner) => {}
                _ => continue,
            }
            let Some(status) = reader.status(pid).filter(|s| ours(s.real_uid)) else { continue };
            let Some((start, exiting)) = reader.start_and_exiting(pid) else { continue };
            // xexit itself (with the threads that wait on the display; its /proc scan threads
            // have ended) counts whatever its tag. Neither it, nor a zombie, nor a process
            // exiting (one of the session ended) starts anything.
            let quiet = reader.is_self(pid) || status.is_zombie() || exiting;
            if !quiet && self.is_plain_target(pid, reader) {
                continue;
            }
            let tasks = match proc::list_tasks(pid) {
                Ok(tasks) => tasks.into_iter().filter(|(_, inode)| *inode != proc::NO_INODE).collect(),
                Err(e) if proc::is_exhaustion(&e) => return None,
                Err(_) => continue,
            };
            found.insert((pid, inode, start), Outside { tasks, other: !quiet });
        }
        Some(found)
    }

    /// Whether `pid` is a target by its own environment (not spared, not unreadable: the sweep
    /// decided those, and left them where they are not ended), or may be one (inside exec).
    fn is_plain_target(&self, pid: i32, reader: &mut ProcReader) -> bool {
        match self.examine(pid, reader, Detail::Plain) {
            Examined::InExec => true,
            Examined::Member(m) if super::spare_tree::runs_under(&self.spare, m.pid, reader) => false,
            Examined::Member(m) => matches!(m.verdict, Verdict::Target | Verdict::Tied(_)),
            _ => false,
        }
    }
}

/// How many tasks `uid` has, the probe not counted: the smallest limit a fork as the user
/// succeeds within, less the probe and its fork, found by doubling then halving (up to
/// xexit's own hard limit, which the probe keeps).
fn count_tasks(uid: u32, gid: u32) -> Result<u64, &'static str> {
    let hard = rustix::process::getrlimit(rustix::process::Resource::Nproc).maximum.unwrap_or(u64::MAX);
    let (mut low, mut high) = (1, 2.min(hard));
    while !crate::sys::fork_as_user_within(uid, gid, high).inspect(|ok| log::trace!("probe: within {high}: {ok}"))? {
        // No host has more tasks than PIDs (at most 2^22): a fork refused beyond that, or at
        // xexit's own hard limit, may have been refused for another reason.
        if high >= hard || high > MAX_TASKS {
            return Err("a fork as the user was refused whatever the limit: the user has as many tasks as xexit's \
                 RLIMIT_NPROC allows, no PID is free, or a pids cgroup is full");
        }
        (low, high) = (high, high.saturating_mul(2).min(hard));
    }
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        log::trace!("probe: fork as uid {uid} within {middle}");
        if crate::sys::fork_as_user_within(uid, gid, middle)? {
            high = middle;
        } else {
            low = middle;
        }
    }
    Ok(high - 2)
}

/// What the kernel's count can be sure to hold of what two reads of /proc saw outside the
/// session: the processes there at both reads (by PID, /proc inode and start time; a
/// hopper's and its zombies live far shorter), each with its threads there at both (by
/// thread ID and inode), and at least its main thread, which stays counted until the
/// process is reaped. A thread count alone would not do: a process of the user can end its
/// threads while the kernel counts and make them anew before the next read.
fn accounted(before: &HashMap<Instance, Outside>, now: &HashMap<Instance, Outside>) -> u64 {
    let common = |earlier: &Outside, later: &Outside| earlier.tasks.intersection(&later.tasks).count().max(1);
    now.iter().filter_map(|(id, later)| before.get(id).map(|earlier| common(earlier, later) as u64)).sum()
}

/// A process as /proc shows it: PID, the inode of /proc/PID, start time.
type Instance = (i32, u64, u64);

/// A process of the user outside the session, as a read of /proc saw it.
struct Outside {
    /// Its threads, by thread ID and the inode of /proc/PID/task/TID.
    tasks: HashSet<(i32, u64)>,
    /// Whether it may start processes: not xexit, not a zombie, not exiting.
    other: bool,
}

/// What the kernel's count says of an empty look.
enum Count {
    Agrees,
    /// Tasks the kernel counts beyond what /proc accounts for, and how many other processes
    /// of the user ran that may have started short ones.
    Unaccounted {
        count: u64,
        others: usize,
    },
    Failed(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outside(tasks: &[(i32, u64)]) -> Outside {
        Outside { tasks: tasks.iter().copied().collect(), other: true }
    }

    #[test]
    fn only_what_was_there_at_both_reads_is_accounted_for() {
        let before = HashMap::from([
            ((10, 1, 5), outside(&[(10, 1), (11, 2), (12, 3)])),
            ((20, 4, 5), outside(&[(20, 4)])),
            ((30, 6, 5), outside(&[(30, 6)])),
        ]);
        let now = HashMap::from([
            // Two of its threads ended and two others took their place, under the same IDs
            // even: only the main thread is sure to have been there throughout.
            ((10, 1, 5), outside(&[(10, 1), (11, 7), (13, 8)])),
            // Its main thread ended, others run on: it still counts once.
            ((20, 4, 5), outside(&[(21, 9)])),
            // The PID reused by another process: not accounted for.
            ((30, 10, 5), outside(&[(30, 10)])),
        ]);
        assert_eq!(accounted(&before, &now), 2);
    }
}
