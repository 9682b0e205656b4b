//! Processes of the user whose environment cannot be read (non-dumpable ones such as
//! ssh-agent, or an sshd of a plain login): each is decided one by one, by its audit login
//! session where the kernel has one, else by its relatives. One tied to another login is
//! never ended; what stays undecided follows `--unreadable`.

mod named;

use std::collections::HashMap;

use self::named::Named;
use crate::find::member::{Examined, Member, Verdict};
use crate::proc::{self, ProcReader};

/// `--unreadable`: what becomes of the processes nothing ties to a login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Kill them only when no other session of the user is visible.
    Auto,
    /// Leave them running, and log each.
    Spare,
    /// Treat them as session processes.
    Kill,
}

/// What a relative of an unreadable process says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kin {
    /// A member of the session (ended or spared by name).
    Session,
    /// Readable, and without the session's tag: another login's, if it is the user's.
    Outsider,
    /// Tells nothing: itself unreadable, another user's, or gone.
    Neutral,
}

impl Kin {
    pub fn of(examined: &Examined) -> Kin {
        match examined {
            Examined::Member(m) if m.verdict != Verdict::Unreadable => Kin::Session,
            Examined::OtherTag | Examined::Untagged => Kin::Outsider,
            _ => Kin::Neutral,
        }
    }
}

/// Which login an unreadable process belongs to, and why.
enum Belonging {
    Session(String),
    OtherLogin(String),
    Unknown,
}

/// What the decision knows of the session.
#[derive(Clone, Debug)]
pub struct Rule {
    pub policy: Policy,
    /// The target user; `None` for any user.
    pub uid: Option<u32>,
    /// xexit's audit login session (pam_loginuid), which its session's processes share.
    pub audit_session: Option<u32>,
}

impl Rule {
    /// Decides every member still `Verdict::Unreadable`. `other_tags`: the processes seen with
    /// the tag's other value; `kinds`: what each process of the sweep is to the session.
    pub fn decide(
        &self,
        members: &mut [Member],
        other_tags: &[i32],
        kinds: &HashMap<i32, Kin>,
        reader: &mut ProcReader,
    ) {
        let named = match self.audit_session {
            // Where xexit has an audit login, that decides (see `belonging`).
            Some(_) => Named::default(),
            None => {
                let outsiders = kinds.iter().filter(|(_, kin)| **kin == Kin::Outsider).map(|(pid, _)| *pid);
                Named::find(members, outsiders, self.uid, reader)
            }
        };
        let mut found: Vec<(usize, Belonging)> = Vec::new();
        for (index, member) in members.iter().enumerate() {
            if member.verdict == Verdict::Unreadable {
                found.push((index, self.belonging(member.pid, kinds, &named, reader)));
            }
        }
        // Another session is visible: an unreadable process of another login, or a readable
        // process of the user with the tag's other value.
        let other_session_seen = found.iter().any(|(_, b)| matches!(b, Belonging::OtherLogin(_)))
            || other_tags.iter().any(|pid| self.users_own(*pid, reader));
        for (index, belonging) in found {
            members[index].verdict = match belonging {
                Belonging::Session(why) if self.policy != Policy::Spare => Verdict::UnreadableTarget(why),
                Belonging::Session(why) => Verdict::UnreadableSpared(format!("{why}, but --unreadable spare")),
                Belonging::OtherLogin(why) => Verdict::UnreadableSpared(why),
                Belonging::Unknown => match self.policy {
                    Policy::Kill => Verdict::UnreadableTarget("no tie to any login; --unreadable kill".into()),
                    Policy::Spare => Verdict::UnreadableSpared("--unreadable spare".into()),
                    Policy::Auto if other_session_seen => Verdict::UnreadableSpared(
                        "no tie to any login, and another session of the user is visible".into(),
                    ),
                    Policy::Auto => Verdict::UnreadableTarget(
                        "no tie to any login, and no other session of the user is visible".into(),
                    ),
                },
            };
        }
    }

    /// Which login an unreadable process belongs to.
    fn belonging(&self, pid: i32, kinds: &HashMap<i32, Kin>, named: &Named, reader: &mut ProcReader) -> Belonging {
        // A process that exited while it was examined tells nothing (it is gone): not another
        // login, which would spare the session's other unreadable processes with it.
        let Ok(sessionid) = reader.read(pid, "sessionid").map(proc::parse_audit_id) else {
            return Belonging::Unknown;
        };
        match (self.audit_session, sessionid) {
            (Some(own), Some(theirs)) if own == theirs => {
                return Belonging::Session(format!("same login session as xexit (audit session {own})"));
            }
            (Some(own), theirs) => {
                let theirs = theirs.map_or_else(|| "none".to_string(), |id| id.to_string());
                return Belonging::OtherLogin(format!("another login (audit session {theirs}, xexit's is {own})"));
            }
            (None, Some(theirs)) => {
                return Belonging::OtherLogin(format!("another login (audit session {theirs}; xexit is in none)"));
            }
            (None, None) => {}
        }
        let Some(ids) = reader.stat_ids(pid) else { return Belonging::Unknown };
        let mut relatives = vec![("parent", ids.ppid), ("process group leader", ids.pgrp), ("session leader", ids.sid)];
        relatives.extend(proc::children(pid).into_iter().map(|child| ("child", child)));
        let mut session_tie = None;
        for (relation, relative) in relatives {
            if relative == pid || relative <= 1 {
                continue;
            }
            match kinds.get(&relative) {
                Some(Kin::Session) => {
                    session_tie = session_tie.or(Some(format!("its {relation} {relative} is in the session")))
                }
                Some(Kin::Outsider) if self.users_own(relative, reader) => {
                    return Belonging::OtherLogin(format!(
                        "its {relation} {relative} is the user's, outside the session"
                    ));
                }
                _ => {}
            }
        }
        // What the session names in its environment is its own (see `Named`).
        session_tie.or_else(|| named.why(pid)).map_or(Belonging::Unknown, Belonging::Session)
    }

    /// Whether `pid` is a process of the target user (real and effective uid).
    pub fn users_own(&self, pid: i32, reader: &mut ProcReader) -> bool {
        reader.status(pid).is_some_and(|status| status.is_owned_by(self.uid))
    }
}
