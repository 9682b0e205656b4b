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
