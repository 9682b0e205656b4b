//! Whose a process is, at the least cost: one stat of /proc/PID, and its status only where
//! that cannot tell.

use super::{Examined, Session};
use crate::proc::{ProcReader, Status};

impl Session {
    /// The owner of `pid` from one stat of /proc/PID: `Err` with what it is when that settles
    /// it (another user's, root's, a kernel thread, gone), else its status where it was read.
    pub(super) fn owner_gate(&self, pid: i32, reader: &mut ProcReader) -> Result<Option<Status>, Examined> {
        let Some(uid) = self.uid else { return Ok(None) };
        let owner = reader.owner(pid);
        reader.count_owner(matches!(owner, Ok(found) if found == uid));
        match owner {
            // Not the user's: its effective uid is another's.
            Ok(owner) if owner != uid && owner != 0 => Err(Examined::OtherUser),
            // Root's, or the user's made non-dumpable: its status tells.
            Ok(0) if uid != 0 => match reader.status(pid) {
                Some(found) if found.kernel_thread => Err(Examined::KernelThread),
                Some(found) if !found.is_owned_by(Some(uid)) => Err(Examined::Foreign),
                Some(found) => Ok(Some(found)),
                None => Err(absent_or_outside(pid)),
            },
            Ok(_) => Ok(None),
            Err(_) => Err(absent_or_outside(pid)),
        }
    }

    /// What is read of `pid` before its environment, if anything: `Err` with what it is when
    /// that settles it, else its status where it was read. Which is read first is which
    /// costs least: a stat of /proc/PID passes over another user's process without opening a
    /// file, but is wasted on the user's own, whose environment and status are read anyway.
    /// So where most processes seen so far were the user's, root reads the status first, and
    /// the user (`tag_first`) the environment (a readable one is counted as the user's).
    pub(super) fn first_gate(
        &self,
        pid: i32,
        reader: &mut ProcReader,
        tag_first: bool,
    ) -> Result<Option<Status>, Examined> {
        match (tag_first, self.reads_all && reader.mostly_own()) {
            (true, _) => Ok(None),
            (false, true) => self.status_gate(pid, reader).map(Some),
            (false, false) => self.owner_gate(pid, reader),
        }
    }

    /// The owner of `pid` from its status, read first where most processes are the user's
    /// (as root, whose reads are all allowed: a stat of /proc/PID first would be wasted on
    /// them, and the status is read for every member anyway): `Err` with what it is when it
    /// is not the user's.
    pub(super) fn status_gate(&self, pid: i32, reader: &mut ProcReader) -> Result<Status, Examined> {
        let Some(status) = reader.status(pid) else { return Err(absent_or_outside(pid)) };
        reader.count_owner(status.is_owned_by(self.uid));
        match status {
            found if found.kernel_thread => Err(Examined::KernelThread),
            found if !self.may_end(&found) => Err(Examined::Foreign),
            found => Ok(found),
        }
    }
}

/// A process whose files could not be read: gone, or there but hidden from xexit (hidepid,
/// another PID namespace), or in another cgroup. Gone only when the kernel says it is.
pub(super) fn absent_or_outside(pid: i32) -> Examined {
    match rustix::process::Pid::from_raw(pid).map(rustix::process::test_kill_process) {
        None => Examined::Invisible,
        Some(Err(rustix::io::Errno::SRCH)) => Examined::Gone,
        Some(_) => Examined::Outside,
    }
}
