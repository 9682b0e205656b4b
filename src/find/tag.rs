//! The session's tag in a process's environment, and the login ties of one without it.

use std::io;

use super::Session;
use crate::proc::{self, ProcReader};

pub const OVERSIZED: &str =
    "its environment is larger than exec ever makes (rewritten with prctl PR_SET_MM): taken as the session's";

/// What reading the tag from a process's environment tells.
pub enum Tag {
    Same,
    Other,
    Absent,
    /// No variables at all: see `ProcReader::environ_was_empty`.
    Empty,
    Unreadable,
    /// Larger than exec makes (see MAX_ENVIRON in proc/environ.rs): rewritten on purpose.
    Oversized,
    Gone,
}

impl Session {
    /// What ties a process without the tag to the session's login: the audit login session
    /// xexit runs in (a login of the target user), or the login session cgroup it runs in.
    /// A process that cleared or overwrote its environment is still the login's; one with
    /// another tag value is not.
    pub(super) fn login_tie(&self, pid: i32, reader: &mut ProcReader) -> Option<String> {
        if let Some(own) = self.login_audit
            && reader.read(pid, "sessionid").ok().and_then(proc::parse_audit_id) == Some(own)
        {
            return Some(format!("same login session as xexit (audit session {own})"));
        }
        let cgroup = self.login_cgroup.as_ref()?;
        let text = reader.read_string(pid, "cgroup").ok()?;
        cgroup
            .path_in(&text)
            .is_some_and(|path| cgroup.holds(&path))
            .then(|| format!("in xexit's login session cgroup {}", cgroup.path))
    }

    /// What the process's environment says of the tag.
    /// `counted`: the environment was read before the owner, so a readable one counts as the
    /// user's for `ProcReader::mostly_own`.
    pub(super) fn read_tag(&self, reader: &mut ProcReader, pid: i32, counted: bool) -> Tag {
        let Some(name) = self.scope.tag_name() else { return Tag::Absent };
        let (absent, same, other) = (0, 1, 2);
        let judge = |_, found: Option<&[u8]>| match found {
            Some(found) if self.scope.tag_matches(found) => same,
            Some(_) => other,
            None => absent,
        };
        let tag = match reader.env_judge(pid, &[name], judge).as_deref() {
            Ok([judged]) if *judged == same => Tag::Same,
            Ok([judged]) if *judged == other => Tag::Other,
            Ok(_) if reader.environ_was_empty() => Tag::Empty,
            Ok(_) => Tag::Absent,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Tag::Unreadable,
            Err(e) if e.kind() == io::ErrorKind::FileTooLarge => Tag::Oversized,
            Err(_) => Tag::Gone,
        };
        if counted && matches!(tag, Tag::Same | Tag::Other | Tag::Absent | Tag::Empty) {
            reader.count_owner(true);
        }
        tag
    }
}
