//! What earlier looks of one end settled about processes that are not the session's, by
//! process instance, so that a later look examines only what is new.
//!
//! An instance is a PID with the inode number of its /proc/PID directory, which the listing
//! of /proc gives with no read: procfs makes a new inode for each new process (checked on
//! this project's kernel: a PID reused after 18,662 forks had another inode), so a reused PID
//! is a new instance. The same process may get a new inode too (procfs drops unused inodes
//! under memory pressure): it is then examined again, which costs a read and changes nothing.
//!
//! Only what a process cannot leave on its own is kept: a kernel thread, and a process of the
//! user whose environment was read with no tag, or another value of it (not one that read
//! empty, as a process inside exec does for a moment). Such a process becomes the session's
//! only by exec'ing with the session's tag (or writing it into its own memory): then it
//! chose to join, as a process started with the tag after the end would have. As the user, another user's process too (by the owner of /proc/PID, neither the user
//! nor root); not as root, where a program of another user, setuid and made dumpable, shows
//! that user as its owner while it runs for the user, who gets it back by dropping the
//! effective uid. Whatever may change is examined at every look: a member, a root process (a
//! setuid program may drop to the user), one unreadable, gone or hidden.

use std::collections::HashMap;
use std::io;

use super::member::Examined;
use crate::proc::pid_alloc::Mark;

/// A settled verdict: one that a later look need not examine again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Settled {
    OtherUser,
    KernelThread,
    OtherTag,
    Untagged,
}

impl Settled {
    fn of(examined: &Examined) -> Option<Settled> {
        match examined {
            Examined::OtherUser => Some(Settled::OtherUser),
            Examined::KernelThread => Some(Settled::KernelThread),
            Examined::OtherTag => Some(Settled::OtherTag),
            Examined::Untagged => Some(Settled::Untagged),
            _ => None,
        }
    }

    fn examined(self) -> Examined {
        match self {
            Settled::OtherUser => Examined::OtherUser,
            Settled::KernelThread => Examined::KernelThread,
            Settled::OtherTag => Examined::OtherTag,
            Settled::Untagged => Examined::Untagged,
        }
    }
}

impl super::Session {
    /// What an end's looks keep of each other: by the PIDs allocated between them as the
    /// user, by listing /proc as root.
    pub fn instances(&self) -> Instances {
        Instances::new(!self.reads_all)
    }
}

/// Processes by PID, each with the inode of its /proc/PID.
type Listing = Vec<(i32, u64)>;
/// Processes by PID, each with what it is to the session.
type Decided = Vec<(i32, Examined)>;

/// The most PIDs a look examines by their allocation (see `Instances::since`) before it
/// lists /proc instead.
const MAX_ALLOCATED: usize = 2048;

/// The settled instances of the looks so far, by PID: (inode, verdict).
#[derive(Debug, Default)]
pub struct Instances {
    settled: HashMap<i32, (u64, Settled)>,
    /// What the last look examined and did not settle: examined again at every look.
    unsettled: Vec<(i32, u64)>,
    /// The kernel's PID counters before the last look.
    mark: Option<Mark>,
    /// Whether the end runs as the user, not as root: then a look examines only the PIDs
    /// allocated since the last instead of listing /proc (see `Instances::since`), and
    /// another user's process is settled.
    as_user: bool,
}

impl Instances {
    /// For the looks of one end, as the user or as root.
    pub fn new(as_user: bool) -> Instances {
        Instances { as_user, ..Instances::default() }
    }

    /// What the looks before settled (none without `instances`), and the instances to
    /// examine, newest first (a process that lives a few milliseconds, a PID hopper's
    /// latest, is read right after the listing, before it is gone).
    pub fn list(instances: Option<&mut Instances>) -> io::Result<(Decided, Listing)> {
        let (known, mut fresh) = match instances {
            Some(instances) => {
                let (earlier, now) = (instances.mark, instances.as_user.then(Mark::now).flatten());
                instances.mark = now;
                let allocated = earlier.zip(now);
                match allocated.and_then(|(earlier, now)| earlier.allocated_until(&now, MAX_ALLOCATED)) {
                    Some(pids) => {
                        log::trace!("look: by the {} PIDs allocated since the last", pids.len());
                        instances.since(pids)?
                    }
                    None => instances.split(crate::proc::list_instances()?),
                }
            }
            None => (Vec::new(), crate::proc::list_instances()?),
        };
        fresh.sort_unstable_by_key(|(pid, _)| std::cmp::Reverse(*pid));
        log::trace!("look: {} instances to examine, {} settled before", fresh.len(), known.len());
        Ok((known, fresh))
    }

    /// Splits a listing of /proc into what earlier looks settled (with its verdict) and the
    /// PIDs to examine; instances no longer listed are forgotten.
    fn split(&mut self, listed: Listing) -> (Decided, Listing) {
        let mut kept = HashMap::with_capacity(self.settled.len());
        let (mut known, mut fresh) = (Vec::new(), Vec::new());
        for (pid, inode) in listed {
            match self.settled.get(&pid) {
                Some(&(same, settled)) if same == inode => {
                    known.push((pid, settled.examined()));
                    kept.insert(pid, (inode, settled));
                }
                _ => fresh.push((pid, inode)),
            }
        }
        self.settled = kept;
        (known, fresh)
    }

    /// The look without a listing of /proc: the PIDs allocated since the last look (each
    /// that is a process now, with its inode), and what the last look did not settle.
    /// Every process now was either there before the last look's mark, and so listed or
    /// examined by that look, or created since, with a PID allocated since. Used as the user
    /// only: PIDs that a full pids cgroup allocates and frees at once are not counted as
    /// forks, so a user could make the PIDs go round unseen between two looks; the user's
    /// own watcher is no boundary against the user, root's end is.
    fn since(&mut self, allocated: Vec<i32>) -> io::Result<(Decided, Listing)> {
        let mut fresh = Vec::new();
        for pid in allocated {
            // Whatever was settled under that PID has ended: the PID was handed out anew.
            self.settled.remove(&pid);
            if let Some(inode) = crate::proc::pid_alloc::inode_of(pid)?
                && crate::proc::pid_alloc::is_process(pid)?
            {
                fresh.push((pid, inode));
            }
        }
        let new: std::collections::HashSet<i32> = fresh.iter().map(|(pid, _)| *pid).collect();
        fresh.extend(self.unsettled.iter().filter(|(pid, _)| !new.contains(pid)));
        // Some of these may have ended: each use of a settled process reads it again.
        let known = self.settled.iter().map(|(pid, (_, settled))| (*pid, settled.examined())).collect();
        Ok((known, fresh))
    }

    /// Keeps what a look settled about the instances it examined, and what it did not.
    pub fn record(&mut self, fresh: &[(i32, u64)], examined: &[(i32, Examined)]) {
        let inodes: HashMap<i32, u64> = fresh.iter().copied().collect();
        self.unsettled.clear();
        for (pid, examined) in examined {
            let Some(&inode) = inodes.get(pid) else { continue };
            // A process that ended while it was listed has no inode of its own to know it by.
            let settled = Settled::of(examined)
                .filter(|s| inode != crate::proc::NO_INODE && (self.as_user || *s != Settled::OtherUser));
            match settled {
                Some(settled) => _ = self.settled.insert(*pid, (inode, settled)),
                None if !matches!(examined, Examined::Gone) => self.unsettled.push((*pid, inode)),
                None => {}
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.settled.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settled_instance_is_not_examined_again_but_a_reused_pid_is() {
        let mut instances = Instances::new(true);
        let (known, fresh) = instances.split(vec![(10, 100), (11, 110), (12, 120)]);
        assert!(known.is_empty());
        assert_eq!(fresh.len(), 3);
        instances.record(&fresh, &[(10, Examined::OtherUser), (11, Examined::Untagged), (12, Examined::Gone)]);
        // PID 11 reused (another inode), 12 never settled, 13 new.
        let (known, fresh) = instances.split(vec![(10, 100), (11, 999), (12, 120), (13, 130)]);
        assert_eq!(known.iter().map(|(pid, _)| *pid).collect::<Vec<_>>(), vec![10]);
        assert_eq!(fresh, vec![(11, 999), (12, 120), (13, 130)]);
    }

    #[test]
    fn members_and_root_processes_are_never_settled() {
        let mut instances = Instances::default();
        let (_, fresh) = instances.split(vec![(20, 200), (21, 210), (22, 220)]);
        instances.record(&fresh, &[(20, Examined::Foreign), (21, Examined::Outside), (22, Examined::OtherTag)]);
        assert_eq!(instances.len(), 1);
        // An instance not listed any more is forgotten.
        let (known, _) = instances.split(vec![(20, 200)]);
        assert!(known.is_empty() && instances.len() == 0);
    }

    #[test]
    fn as_root_another_users_process_is_examined_again() {
        let (mut as_root, mut as_user) = (Instances::new(false), Instances::new(true));
        for instances in [&mut as_root, &mut as_user] {
            let (_, fresh) = instances.split(vec![(30, 300)]);
            instances.record(&fresh, &[(30, Examined::OtherUser)]);
        }
        assert_eq!((as_root.len(), as_user.len()), (0, 1));
    }
}
