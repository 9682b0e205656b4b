//! What a sweep finds: each process of the session and what is to be done with it.

use std::fmt;

use crate::proc::printable;

/// Why a process of the session is, or is not, to be signalled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Target,
    /// Without the session's tag (its environment cleared or overwritten), but tied to the
    /// session's login: why.
    Tied(String),
    /// Matched by `--spare`.
    Spared(String),
    /// Its environment could not be read; decided once the whole sweep is known.
    Unreadable,
    /// Its environment could not be read, and it is ended: why.
    UnreadableTarget(String),
    /// Its environment could not be read, and it is left: why.
    UnreadableSpared(String),
    /// It started the session, or was started by such a process since the display was lost:
    /// left to finish on its own for a while (see `Starters`).
    Waited,
}

impl Verdict {
    pub fn is_target(&self) -> bool {
        matches!(self, Verdict::Target | Verdict::Tied(_) | Verdict::UnreadableTarget(_))
    }

    /// How `list` marks it; empty for plain targets.
    pub fn mark(&self) -> String {
        match self {
            Verdict::Target => String::new(),
            Verdict::Tied(_) => " [no tag: same login]".into(),
            Verdict::Spared(name) => format!(" [spared: --spare {name}]"),
            Verdict::Unreadable | Verdict::UnreadableTarget(_) => " [environment unreadable: ended]".into(),
            Verdict::UnreadableSpared(_) => " [environment unreadable: spared]".into(),
            Verdict::Waited => " [started the session: left to finish]".into(),
        }
    }

    /// For `list --format json`: "end" or "spare", and why it belongs to the session (or is
    /// spared); `scope` is the session's selector, the reason of a plain target.
    pub fn action_and_reason(&self, scope: &str) -> (&'static str, String) {
        let action = if self.is_target() { "end" } else { "spare" };
        (action, self.notable_reason().unwrap_or_else(|| format!("in the session: {scope}")))
    }

    /// Why a process is spared, or ended although its environment is unreadable; None for a
    /// plain target.
    pub fn notable_reason(&self) -> Option<String> {
        match self {
            Verdict::Spared(name) => Some(format!("--spare {name}")),
            Verdict::Tied(why) => Some(format!("no tag in its environment, but {why}")),
            Verdict::UnreadableTarget(why) | Verdict::UnreadableSpared(why) => {
                Some(format!("environment unreadable, {why}"))
            }
            Verdict::Waited => Some(
                "it started the session (or started since the loss by what did): left to finish on its own first"
                    .into(),
            ),
            Verdict::Target | Verdict::Unreadable => None,
        }
    }
}

/// One process of the session.
#[derive(Clone, Debug)]
pub struct Member {
    pub pid: i32,
    pub uid: u32,
    pub name: String,
    /// The State: line of its status, e.g. "S (sleeping)".
    pub state: String,
    /// Its resident memory (VmRSS), in KiB.
    pub rss_kib: u64,
    pub verdict: Verdict,
    /// The command line, when the sweep was asked for it (`Detail::Commands`).
    pub command: Option<String>,
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The name is the process's own choice (prctl PR_SET_NAME): one line, no escapes.
        if self.name.is_empty() {
            write!(f, "{}", self.pid)
        } else {
            write!(f, "{} ({})", self.pid, printable(&self.name))
        }
    }
}

/// How much a sweep finds out about each member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Enough to decide.
    Plain,
    /// As Plain, and the command line, for `list`.
    Commands,
}

/// One pass over the session's processes.
#[derive(Debug, Default)]
pub struct Sweep {
    pub members: Vec<Member>,
    /// Something in the scope is not a target (another user, spared, xexit itself), so
    /// cgroup.kill would hit more than the session.
    pub scope_has_others: bool,
    /// A process listed in the scope exited or moved before it could be examined (one that
    /// forks and exits, or hops between sub-cgroups), or a cgroup listed none: what the sweep
    /// saw is not all there is.
    pub missed: bool,
    /// In a cgroup scope: processes of the user's subordinate uids (/etc/subuid, a rootless
    /// container), PID and uid. The session is not empty while they run, and they are not
    /// xexit's to end.
    pub strangers: Vec<String>,
    /// Processes of the user inside exec: the session's or not, it cannot be told yet, and
    /// while there is one no look that found nothing is to be believed.
    pub in_exec: Vec<i32>,
}

impl Sweep {
    pub fn targets(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.verdict.is_target())
    }
}

/// What one process is to the session.
pub enum Examined {
    Member(Member),
    /// In the scope, but not to be touched: another user, root, PID 1, xexit itself.
    Foreign,
    /// Another user's, by the owner of /proc/PID (neither the user nor root): it cannot
    /// become the user's without privilege.
    OtherUser,
    /// A kernel thread.
    KernelThread,
    /// Not in the scope at all, or there but hidden from xexit (hidepid, another PID namespace).
    Outside,
    /// Gone before it could be examined, or exiting (a zombie).
    Gone,
    /// Listed by the cgroup as PID 0: in a PID namespace xexit cannot see into.
    Invisible,
    /// Has the tag with another value: maybe the user's other session.
    OtherTag,
    /// Its environment was read and has no tag.
    Untagged,
    /// Inside exec: its old memory is gone and the new one has no environment in place yet
    /// (`ProcReader::inside_exec`). It may be the session's a moment later, and a user can
    /// hold it there (an exec from a FUSE file the user serves and stalls).
    InExec,
}
