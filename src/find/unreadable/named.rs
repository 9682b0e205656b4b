//! Unreadable processes the session names in its environment: the ssh-agent and D-Bus bus
//! an Xsession starts (`eval "$(ssh-agent -s)"`, dbus-launch) daemonize away from it, and
//! where no audit login or login cgroup tells two sessions of one user apart (xrdp, TigerVNC)
//! the PID the session keeps in SSH_AGENT_PID or DBUS_SESSION_BUS_PID is what ties them.

use std::collections::HashMap;

use crate::find::member::{Member, Verdict};
use crate::proc::{self, ProcReader};

/// The variables whose value is the PID of a process the session started.
const NAMING: [&str; 2] = ["SSH_AGENT_PID", "DBUS_SESSION_BUS_PID"];

/// The unreadable members the session names, each with why.
#[derive(Default)]
pub struct Named(HashMap<i32, String>);

impl Named {
    /// Which of the members still `Verdict::Unreadable` a session process names. One also
    /// named by a process of user `uid` outside the session (`outsiders`: readable, without
    /// the session's tag), or by a spared one, is not decided here; nor is one older than the
    /// session's oldest process (a stale PID, since reused).
    pub fn find(
        members: &[Member],
        outsiders: impl Iterator<Item = i32>,
        uid: Option<u32>,
        reader: &mut ProcReader,
    ) -> Named {
        let unreadable = |pid: i32| members.iter().any(|m| m.pid == pid && m.verdict == Verdict::Unreadable);
        let mut named = HashMap::new();
        let mut oldest = None;
        for member in members.iter().filter(|m| m.verdict.is_target() || m.verdict == Verdict::Waited) {
            // A member that exited meanwhile says nothing of how old the session is.
            if let Ok(Some(start)) = proc::start_time(member.pid) {
                oldest = Some(oldest.map_or(start, |o: u64| o.min(start)));
            }
            for (variable, pid) in names(member.pid, reader) {
                if unreadable(pid) {
                    named.entry(pid).or_insert_with(|| format!("named by {member} in its {variable}"));
                }
            }
        }
        if named.is_empty() {
            return Named::default();
        }
        // What the spare keeps, or another login of the user, may use the same process.
        let spared = members.iter().filter(|m| matches!(m.verdict, Verdict::Spared(_))).map(|m| m.pid);
        for other in spared.chain(outsiders).collect::<Vec<_>>() {
            if named.is_empty() {
                break;
            }
            let shared: Vec<i32> = names(other, reader).into_iter().map(|(_, pid)| pid).collect();
            let users = shared.iter().any(|pid| named.contains_key(pid))
                && reader.status(other).is_some_and(|status| status.is_owned_by(uid));
            if users {
                named.retain(|pid, _| !shared.contains(pid));
            }
        }
        // No start time known for the session: nothing to tell a reused PID by.
        let Some(oldest) = oldest else { return Named::default() };
        named.retain(|pid, _| proc::start_time(*pid).ok().flatten().is_some_and(|start| start >= oldest));
        Named(named)
    }

    /// Why the session names `pid`, if it does.
    pub fn why(&self, pid: i32) -> Option<String> {
        self.0.get(&pid).cloned()
    }
}

/// The PIDs a process names in its environment (read once), with the variable naming each.
fn names(pid: i32, reader: &mut ProcReader) -> Vec<(&'static str, i32)> {
    let parse = |value: &[u8]| std::str::from_utf8(value).ok()?.trim().parse::<i32>().ok().filter(|pid| *pid > 1);
    let judge = |_, value: Option<&[u8]>| value.and_then(parse).map_or(0, i64::from);
    let Ok(named) = reader.env_judge(pid, &NAMING, judge) else { return Vec::new() };
    NAMING
        .into_iter()
        .zip(named)
        .filter_map(|(variable, pid)| Some((variable, i32::try_from(pid).ok().filter(|pid| *pid > 1)?)))
        .collect()
}
