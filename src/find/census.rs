//! What a look that found no process of the session is worth. A cgroup says it exactly. A
//! look by tag or display is checked against the count of the user's tasks the kernel keeps
//! for RLIMIT_NPROC: a process that forks its successor and exits at once (a PID hopper)
//! can run where no read of /proc ever finds it, but not outside that count.

use super::tag::Tag;
use super::{Scope, Session, Sweep};
use crate::end::Emptiness;
use crate::proc::{self, ProcReader};

/// How many counts are made before the user's tasks are taken as all accounted for: each
/// finds the hopper's live process, but a zombie of its chain (waiting to be reaped) that the
/// read of /proc counted and the kernel no longer does can make up for it in one.
const SAMPLES: u32 = 3;
/// The group a probe runs as for a uid the user database does not know.
const NO_GROUP: u32 = 65534;

impl Session {
    /// What a sweep that found no target is worth. Only a cgroup can say the session is
    /// empty for sure (see `Cgroup::is_empty`); and while it still holds a process the sweep
    /// missed, no look that sees nothing is to be believed. A look by tag or display is not
    /// believed while the kernel counts tasks of the user that /proc does not account for.
    pub fn emptiness(&self, sweep: &Sweep, reader: &mut ProcReader) -> Emptiness {
        match &self.scope {
            Scope::Cgroup(cgroup) if cgroup.is_empty() => Emptiness::Sure,
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
            Scope::Env { .. } | Scope::Display { .. } => match self.unaccounted_tasks(reader) {
                Some(count) => Emptiness::Unseen(format!(
                    "the kernel counts {count} more tasks of {} than /proc accounts for: a process that \
                     forks its successor and exits faster than /proc can be read (a PID hopper), or one \
                     in a PID namespace xexit cannot see",
                    self.user_label()
                )),
                None => Emptiness::Unproven,
            },
        }
    }

    /// How many tasks of the user the kernel counts beyond those of the processes /proc shows
    /// outside the session, when a count finds some; `None` when every count agrees, or none
    /// can be made (root, whom the limit does not count; a probe that failed).
    fn unaccounted_tasks(&self, reader: &mut ProcReader) -> Option<u64> {
        let uid = self.uid.filter(|uid| *uid != 0)?;
        let gid = nix::unistd::User::from_uid(uid.into()).ok().flatten().map_or(NO_GROUP, |user| user.gid.as_raw());
        for _ in 0..SAMPLES {
            let accounted = self.accounted_tasks(uid, reader)?;
            log::debug!("{accounted} tasks of uid {uid} accounted for in /proc");
            // The probe is one task more; a fork within accounted + 2 means there is no other.
            if !crate::sys::fork_as_user_within(uid, gid, accounted + 2)? {
                return Some(excess(uid, gid, accounted).unwrap_or(1));
            }
        }
        None
    }

    /// The tasks (threads) of the processes of the user, or of a subordinate uid, that /proc
    /// shows outside the session: without its tag or with another, zombies, xexit itself. One
    /// with the session's tag is not counted: the look that found nothing missed it.
    fn accounted_tasks(&self, uid: u32, reader: &mut ProcReader) -> Option<u64> {
        let ours = |id: u32| id == uid || self.subordinate.iter().any(|r| r.contains(&u64::from(id)));
        let mut tasks = 0;
        for pid in proc::list_pids().ok()? {
            // A stat of /proc/PID passes over another user's process; root's (setuid, or the
            // user's made non-dumpable) needs its status.
            match reader.owner(pid) {
                Ok(owner) if owner == 0 || ours(owner) => {}
                _ => continue,
            }
            let Some(status) = reader.status(pid).filter(|s| ours(s.real_uid)) else { continue };
            let counted = if crate::process::is_self(pid) {
                // Its /proc scan threads have ended by the time of the probe.
                1
            } else if status.is_zombie() || !matches!(self.read_tag(reader, pid, false), Tag::Same | Tag::Gone) {
                status.threads.max(1)
            } else {
                0
            };
            tasks += u64::from(counted);
        }
        Some(tasks)
    }
}

/// The tasks of `uid` beyond `accounted`: the smallest limit a fork succeeds within, found by
/// doubling then halving (a few forks).
fn excess(uid: u32, gid: u32, accounted: u64) -> Option<u64> {
    let floor = accounted + 2;
    let (mut low, mut high) = (floor, floor + 2);
    while !crate::sys::fork_as_user_within(uid, gid, high)? {
        (low, high) = (high, floor + (high - floor) * 2);
    }
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if crate::sys::fork_as_user_within(uid, gid, middle)? {
            high = middle;
        } else {
            low = middle;
        }
    }
    Some(high - floor)
}
