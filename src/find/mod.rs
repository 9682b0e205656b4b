//! Which processes make up the session: the scope it resolves to, and the decision per
//! process (a member to end, one to spare, or none of the session's business).

mod census;
mod cgroup;
mod cgroup_tree;
mod instances;
mod member;
mod owner;
mod selector;
mod spare;
mod spare_tree;
mod spared;
mod starters;
mod tag;
mod unreadable;

use std::collections::HashMap;
use std::io;

pub use self::instances::Instances;
use self::member::Examined;
pub use self::member::{Detail, Member, Sweep, Verdict};
use self::owner::absent_or_outside;
pub use self::selector::{Scope, Selector};
use self::spare::SpareProgram;
pub use self::starters::Starters;
use self::tag::{OVERSIZED, Tag};
pub use self::unreadable::Policy as Unreadable;
use self::unreadable::{Kin, Rule};
use crate::error::Exit;
use crate::proc::{self, ProcReader, ReadError, Status};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Selector(#[from] selector::Error),
    #[error("--user {0}: no such user")]
    UnknownUser(String),
    #[error("--spare {0}: {1}: give the program's path, or a name found in PATH")]
    UnknownSpare(String, String),
    #[error("--user {0}: only root may name another user than itself")]
    NotRoot(String),
    #[error("running as root, --session {0} needs --user USER: root's own processes are never ended this way")]
    RootNeedsUser(Selector),
    #[error("--user {0}: uid 0 is never a target of the env, display or user selectors")]
    RootTarget(String),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("cannot open /proc: {0}")]
    Proc(io::Error),
    #[error(
        "cannot read /proc: {0}: xexit ran out of descriptors or memory, so what it did not read is unknown (raise the open-files limit, ulimit -n)"
    )]
    Exhausted(io::Error),
}

impl From<Error> for crate::error::Error {
    /// Everything but a failed read is a problem with the options or the setup.
    fn from(error: Error) -> Self {
        let exit = match &error {
            Error::Read(_) | Error::Proc(_) | Error::Exhausted(_) | Error::Selector(selector::Error::Read(_)) => {
                Exit::Failed
            }
            _ => Exit::Usage,
        };
        crate::error::Error::new(exit, error)
    }
}

/// `--session`, `--user`, `--display`, `--unreadable` and `--spare`, as given.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    pub selector: Selector,
    /// `--display`, or DISPLAY where it is not given.
    pub display: Option<String>,
    pub user: Option<String>,
    pub unreadable: Unreadable,
    pub spare: Vec<String>,
}

/// The session: its scope, its user, and what is never touched.
#[derive(Clone, Debug)]
pub struct Session {
    pub scope: Scope,
    /// The target user; `None` only for root with cgroup:PATH and no --user.
    pub uid: Option<u32>,
    /// The user's name, for XEXIT_USER (empty when any user).
    pub user_name: String,
    rule: Rule,
    spare: Vec<SpareProgram>,
    /// For the env and display scopes: xexit's audit login session, where it runs in a login
    /// of the target user (its loginuid), and the login session cgroup it runs in, if any.
    login_audit: Option<u32>,
    login_cgroup: Option<cgroup::Cgroup>,
    /// Whether xexit runs as root, and so may read every process's environment.
    reads_all: bool,
    /// The user's subordinate uids (/etc/subuid): a rootless container's processes.
    subordinate: Vec<std::ops::Range<u64>>,
    /// A watcher's ancestors when it started, left to finish on their own (see `Starters`).
    pub starters: Starters,
}

impl Session {
    /// Resolves the options into a session, or says what to fix.
    pub fn resolve(options: &SessionOptions) -> Result<Session, Error> {
        let spare = options.spare.iter().map(|given| SpareProgram::resolve(given)).collect::<Result<_, _>>()?;
        let is_root = rustix::process::geteuid().is_root();
        let user = options.user.as_deref().map(lookup_user).transpose()?;
        if let Some((uid, name)) = &user
            && !is_root
            && *uid != rustix::process::getuid().as_raw()
        {
            return Err(Error::NotRoot(name.clone()));
        }
        let scope = selector::resolve_scope(&options.selector, options.display.as_deref())?;
        let (uid, user_name) = match (is_root, user) {
            (false, _) => {
                let uid = rustix::process::getuid().as_raw();
                (Some(uid), user_name_of(uid))
            }
            (true, Some((uid, name))) => (Some(uid), name),
            (true, None) if matches!(options.selector, Selector::CgroupPath(_)) => (None, String::new()),
            (true, None) => return Err(Error::RootNeedsUser(options.selector.clone())),
        };
        if uid == Some(0) && !matches!(scope, Scope::Cgroup(_)) {
            return Err(Error::RootTarget(options.user.clone().unwrap_or_else(|| "root".into())));
        }
        let rule = Rule { policy: options.unreadable, uid, audit_session: proc::audit_session("self") };
        let (login_audit, login_cgroup) = match scope {
            Scope::Env { .. } | Scope::Display { .. } => {
                let own_login = uid.is_some() && proc::login_uid("self") == uid;
                (rule.audit_session.filter(|_| own_login), cgroup::login_cgroup()?)
            }
            Scope::Cgroup(_) | Scope::User => (None, None),
        };
        let subordinate = uid.map(|uid| spare::subordinate_uids(uid, &user_name)).unwrap_or_default();
        let reads_all = is_root;
        let starters = Starters::default();
        let session =
            Session { scope, uid, user_name, rule, spare, login_audit, login_cgroup, reads_all, subordinate, starters };
        log::debug!("session {} of {}", session.scope, session.user_label());
        Ok(session)
    }

    pub fn user_label(&self) -> String {
        match self.uid {
            Some(uid) => format!("{} (uid {uid})", self.user_name),
            None => "any user".to_string(),
        }
    }

    /// One full pass: every process of the session, with what is to be done with each.
    pub fn sweep(&self, reader: &mut ProcReader, detail: Detail) -> Result<Sweep, Error> {
        self.sweep_with(reader, detail, None)
    }

    /// A full pass of an end, which examines only the instances that the end's earlier
    /// passes (in `instances`) did not settle; the rest cost the listing of /proc alone.
    pub fn sweep_again(&self, reader: &mut ProcReader, instances: &mut Instances) -> Result<Sweep, Error> {
        self.sweep_with(reader, Detail::Plain, Some(instances))
    }

    fn sweep_with(
        &self,
        reader: &mut ProcReader,
        detail: Detail,
        mut instances: Option<&mut Instances>,
    ) -> Result<Sweep, Error> {
        let examine = |pid, reader: &mut ProcReader| self.examine(pid, reader, detail);
        // A sub-cgroup that could not be read may hold anything: not known to be empty, and
        // no cgroup.kill over it.
        let mut unread = false;
        let examined: Vec<(i32, Examined)> = match &self.scope {
            Scope::Cgroup(cgroup) => {
                let listing = cgroup.pids()?;
                if !listing.unread.is_empty() {
                    log::warn!("cannot read all of cgroup {}: {}", cgroup.path, listing.unread);
                    unread = true;
                }
                let examined = listing.pids.into_iter().map(|pid| (pid, examine(pid, reader))).collect();
                reader.take_exhausted().map_or(Ok(examined), Err).map_err(Error::Exhausted)?
            }
            _ => {
                let listing = Instances::list(instances.as_deref_mut());
                let (mut known, fresh) = listing.map_err(|e| ReadError::new("/proc", e))?;
                let pids = fresh.iter().map(|(pid, _)| *pid).collect();
                let examined = proc::scan(pids, reader, examine).map_err(Error::Exhausted)?;
                if let Some(instances) = instances {
                    instances.record(&fresh, &examined);
                }
                known.extend(examined);
                known
            }
        };
        let mut sweep = self.decide(examined, reader)?;
        sweep.missed |= unread;
        sweep.scope_has_others |= unread;
        Ok(sweep)
    }

    /// What a sweep of the processes `near` finds, and nothing else: for following a session
    /// already found. A cgroup is swept whole, which costs no more. An unreadable process is
    /// left undecided (no target) until a full sweep sees its relatives and the other logins.
    pub fn sweep_near(&self, reader: &mut ProcReader, near: Vec<i32>) -> Result<Sweep, Error> {
        if let Scope::Cgroup(_) = self.scope {
            return self.sweep(reader, Detail::Plain);
        }
        let mut sweep = Sweep::default();
        for pid in near {
            if let Examined::Member(m) = self.examine(pid, reader, Detail::Plain) {
                sweep.members.push(m);
            }
        }
        spare_tree::spare_descendants(&self.spare, &mut sweep.members, reader);
        reader.take_exhausted().map_or(Ok(sweep), Err).map_err(Error::Exhausted)
    }

    /// A sweep from what each process was found to be; unreadable ones are decided here.
    fn decide(&self, mut examined: Vec<(i32, Examined)>, reader: &mut ProcReader) -> Result<Sweep, Error> {
        spare_tree::spare_examined(&self.spare, &mut examined, reader).map_err(Error::Exhausted)?;
        let mut sweep =
            Sweep { missed: examined.is_empty() && matches!(self.scope, Scope::Cgroup(_)), ..Sweep::default() };
        let mut other_tags = Vec::new();
        let undecided =
            examined.iter().any(|(_, e)| matches!(e, Examined::Member(m) if m.verdict == Verdict::Unreadable));
        let mut kinds = HashMap::new();
        for (pid, examined) in examined {
            if undecided {
                kinds.insert(pid, Kin::of(&examined));
            }
            match examined {
                Examined::Member(m) => sweep.members.push(m),
                Examined::Foreign | Examined::OtherUser => {
                    sweep.scope_has_others = true;
                    if let Scope::Cgroup(_) = self.scope
                        && let Some(status) = reader.status(pid)
                        && self.subordinate.iter().any(|range| range.contains(&u64::from(status.real_uid)))
                    {
                        sweep.strangers.push(format!("{pid} (uid {})", status.real_uid));
                    }
                }
                Examined::OtherTag => other_tags.push(pid),
                // A PID the cgroup lists that cannot be examined (hidden by hidepid, or another
                // PID namespace's) is not known to be the session's: no cgroup.kill then.
                Examined::Outside | Examined::KernelThread if matches!(self.scope, Scope::Cgroup(_)) => {
                    sweep.scope_has_others = true
                }
                Examined::Gone => sweep.missed = true,
                Examined::InExec => sweep.in_exec.push(pid),
                Examined::Invisible => (sweep.missed, sweep.scope_has_others) = (true, true),
                Examined::Untagged | Examined::Outside | Examined::KernelThread => {}
            }
        }
        if undecided {
            self.rule.decide(&mut sweep.members, &other_tags, &kinds, reader);
        }
        sweep.scope_has_others |= sweep.members.iter().any(|m| !m.verdict.is_target());
        Ok(sweep)
    }

    /// Re-checks one process right before it is signalled (its pidfd already open): still in
    /// the session, still the user's, not spared. An unreadable one was decided by the sweep.
    pub fn confirm(&self, pid: i32, reader: &mut ProcReader) -> bool {
        match self.examine(pid, reader, Detail::Plain) {
            Examined::Member(m) if spare_tree::runs_under(&self.spare, m.pid, reader) => false,
            Examined::Member(m) => matches!(m.verdict, Verdict::Target | Verdict::Tied(_) | Verdict::Unreadable),
            _ => false,
        }
    }

    /// Whether a process of this owner may be ended: the user's (real and effective uid), and
    /// not running as root unless the scope is a cgroup named by root.
    fn may_end(&self, status: &Status) -> bool {
        let root_protected = status.effective_uid == 0 && !matches!(self.scope, Scope::Cgroup(_));
        status.is_owned_by(self.uid) && !root_protected
    }

    /// A process of the session, held and stopped, checked again: `None` when it is no
    /// longer the user's (a setuid program exec'd since `confirm`), else its ignored signals.
    pub fn recheck(&self, pid: i32, reader: &mut ProcReader) -> Option<u64> {
        // STOP is queued, not yet taken: an exec under way finishes first. A process that is
        // running (R) or in uninterruptible sleep (D) may be inside one, so it is given (a few
        // milliseconds) to show stopped; one asleep (S) has not run since STOP was sent, and
        // an interruptible wait inside exec is cut short by it.
        let waited = std::time::Instant::now();
        let mut status = reader.status(pid)?;
        while status.state.starts_with(['R', 'D']) && waited.elapsed() < STOP_TAKES {
            std::thread::yield_now();
            status = reader.status(pid)?;
        }
        self.may_end(&status).then_some(status.ignored)
    }

    /// KILL to the whole session at once through its cgroup's cgroup.kill, when the cgroup
    /// holds nothing but the session's targets (`sweep` says so); whether it was used.
    pub fn kill_all(&self, sweep: &Sweep) -> bool {
        let Scope::Cgroup(cgroup) = &self.scope else { return false };
        !sweep.scope_has_others && cgroup.kill_all()
    }

    /// Whether `pid` belongs to the session, and if so what is to be done with it.
    fn examine(&self, pid: i32, reader: &mut ProcReader, detail: Detail) -> Examined {
        let tag_first =
            !self.reads_all && matches!(self.scope, Scope::Env { .. } | Scope::Display { .. }) && reader.mostly_own();
        let mut status = match self.first_gate(pid, reader, tag_first) {
            Ok(found) => found,
            Err(examined) => return examined,
        };
        // Whether its real and effective uid are known to be the user's without its status:
        // then /proc/PID/stat, half the kernel's work, says the rest.
        let mut uids_known = false;
        let mut unreadable = false;
        let mut tie = None;
        match &self.scope {
            Scope::Env { .. } | Scope::Display { .. } => match self.read_tag(reader, pid, tag_first) {
                // Read as the user: the kernel let it be read only with real, effective and
                // saved uid all the user's (ptrace's read check), and dumpable. As root, its
                // status says (a privileged helper may be dumpable with the user's euid).
                Tag::Same => uids_known = !self.reads_all,
                Tag::Unreadable if tag_first => match self.owner_gate(pid, reader) {
                    Ok(found) => (status, unreadable) = (found, true),
                    Err(examined) => return examined,
                },
                Tag::Unreadable => unreadable = true,
                // Only its owner can have made it so, and what it hides is where to look: it is
                // the user's (checked below), and taken as the session's.
                Tag::Oversized => tie = Some(OVERSIZED.to_string()),
                Tag::Other => return Examined::OtherTag,
                found @ (Tag::Absent | Tag::Empty) => match self.login_tie(pid, reader) {
                    Some(why) => tie = Some(why),
                    // Not settled (see `Instances`): a process inside exec reads empty a moment.
                    None if matches!(found, Tag::Empty) && reader.inside_exec(pid) => return Examined::InExec,
                    None if matches!(found, Tag::Empty) => return Examined::Outside,
                    None => return Examined::Untagged,
                },
                Tag::Gone => return absent_or_outside(pid),
            },
            Scope::Cgroup(cgroup) => {
                let inside = reader
                    .read_string(pid, "cgroup")
                    .ok()
                    .and_then(|text| cgroup.path_in(&text))
                    .is_some_and(|path| cgroup.holds(&path));
                if !inside {
                    return absent_or_outside(pid);
                }
            }
            Scope::User => {}
        }
        let status = match (status, self.uid) {
            (Some(status), _) => Some(status),
            (None, Some(uid)) if uids_known => reader.status_of_own(pid, uid),
            (None, _) => reader.status(pid),
        };
        let Some(status) = status else { return absent_or_outside(pid) };
        if status.is_zombie() {
            return Examined::Gone;
        }
        if status.kernel_thread {
            return Examined::KernelThread;
        }
        if reader.is_self(pid) || pid == 1 || !self.may_end(&status) {
            return Examined::Foreign;
        }
        let verdict = match spare::spared_as(&self.spare, pid) {
            Some(name) => Verdict::Spared(name),
            None if self.starters.hold(pid, reader) => Verdict::Waited,
            None if unreadable => Verdict::Unreadable,
            None => tie.map_or(Verdict::Target, Verdict::Tied),
        };
        let command = (detail == Detail::Commands).then(|| reader.command_line(pid, &status.name));
        let (uid, rss_kib) = (status.real_uid, status.rss_kib);
        Examined::Member(Member { pid, uid, name: status.name, state: status.state, rss_kib, verdict, command })
    }
}

/// How long a process is given to take its STOP before it is checked all the same (one in
/// uninterruptible sleep takes it only when it wakes).
const STOP_TAKES: std::time::Duration = std::time::Duration::from_millis(5);

/// `--user NAME|UID`: a name must exist; a number is taken as it is.
fn lookup_user(user: &str) -> Result<(u32, String), Error> {
    if let Ok(uid) = user.parse::<u32>() {
        return Ok((uid, user_name_of(uid)));
    }
    match nix::unistd::User::from_name(user) {
        Ok(Some(found)) => Ok((found.uid.as_raw(), found.name)),
        _ => Err(Error::UnknownUser(user.to_string())),
    }
}

/// The user's name, or the uid as text where the user database has none.
pub fn user_name_of(uid: u32) -> String {
    match nix::unistd::User::from_uid(uid.into()) {
        Ok(Some(user)) => user.name,
        _ => uid.to_string(),
    }
}
