//! Which processes make up the session: the selectors, and the /proc and cgroup scans.

use std::collections::{BTreeSet, HashMap};
use std::fmt::{self, Write as _};
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rustix::fs::{Mode, OFlags};

use crate::cli::{SessionArgs, Unreadable};
use crate::display::DisplayName;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("--session display needs a display: give --display or set DISPLAY")]
    NoDisplay,
    #[error("--session display: '{0}' is not a display name (e.g. :0, :5.0, localhost:10.0)")]
    BadDisplay(String),
    #[error("--session env:{0}: xexit's own environment has no {0} (or it is empty); give env:{0}=VALUE")]
    EnvUnset(String),
    #[error("--user {0}: no such user")]
    UnknownUser(String),
    #[error("--user {0}: only root may name another user than itself")]
    NotRoot(String),
    #[error("running as root, --session {0} needs --user USER: root's own processes are never ended this way")]
    RootNeedsUser(String),
    #[error("--user {0}: uid 0 is never a target of the env, display or user selectors")]
    RootTarget(String),
    #[error("--session {0}: no cgroup v2 hierarchy is mounted (no cgroup2 line in /proc/mounts)")]
    NoHierarchy(String),
    #[error("--session {selector}: no such cgroup: {dir} does not exist")]
    NoSuchCgroup { selector: String, dir: PathBuf },
    #[error("--session {selector}: {path} is the root cgroup, which holds the whole system")]
    RootCgroup { selector: String, path: String },
    #[error("--session cgroup: xexit's own cgroup could not be found in /proc/self/cgroup")]
    NoOwnCgroup,
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
}

impl Error {
    /// Everything but a failed read is a problem with the options or the setup (exit 2).
    pub fn is_usage(&self) -> bool {
        !matches!(self, Error::Read { .. })
    }
}

/// `--session`: how the session is told apart, as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    Auto,
    Cgroup,
    CgroupPath(String),
    Env { name: String, value: Option<String> },
    Display,
    User,
}

impl FromStr for Selector {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "auto" => Selector::Auto,
            "cgroup" => Selector::Cgroup,
            "display" => Selector::Display,
            "user" => Selector::User,
            _ => {
                if let Some(path) = text.strip_prefix("cgroup:") {
                    if path.is_empty() {
                        return Err("'cgroup:' needs a PATH, e.g. cgroup:/user.slice/user-1000.slice".into());
                    }
                    Selector::CgroupPath(format!("/{}", path.trim_matches('/')))
                } else if let Some(spec) = text.strip_prefix("env:") {
                    let (name, value) = match spec.split_once('=') {
                        Some((name, value)) => (name, Some(value)),
                        None => (spec, None),
                    };
                    if name.is_empty() {
                        return Err("'env:' needs a variable name, e.g. env:LTSP_CLIENT_HOSTNAME".into());
                    }
                    if value == Some("") {
                        return Err(format!("'{text}' has an empty value: give env:{name}=VALUE or env:{name}"));
                    }
                    Selector::Env { name: name.to_string(), value: value.map(str::to_string) }
                } else {
                    return Err(format!(
                        "unknown selector '{text}': use auto, cgroup, cgroup:PATH, env:NAME, env:NAME=VALUE, display or user"
                    ));
                }
            }
        })
    }
}

/// Which line of /proc/PID/cgroup names the hierarchy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HierarchyKind {
    /// The cgroup v2 line, `0::PATH`.
    Unified,
    /// A named v1 hierarchy of hybrid systems: `name=systemd`, or `name=elogind`.
    Named(&'static str),
}

/// A cgroup and, implied, all its descendants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cgroup {
    kind: HierarchyKind,
    mount: PathBuf,
    /// Relative to the hierarchy's root, starting with `/`.
    pub path: String,
}

impl Cgroup {
    pub fn dir(&self) -> PathBuf {
        self.mount.join(self.path.trim_start_matches('/'))
    }

    /// Whether a process in cgroup `other` is inside this one.
    fn holds(&self, other: &str) -> bool {
        other == self.path || other.strip_prefix(self.path.as_str()).is_some_and(|rest| rest.starts_with('/'))
    }

    /// The process's path in this hierarchy, from the text of /proc/PID/cgroup.
    fn path_in(&self, proc_cgroup: &str) -> Option<String> {
        proc_cgroup.lines().find_map(|line| {
            let (_, rest) = line.split_once(':')?;
            let (controllers, path) = rest.split_once(':')?;
            let matches = match self.kind {
                HierarchyKind::Unified => line.starts_with("0::"),
                HierarchyKind::Named(name) => controllers == name,
            };
            matches.then(|| path.to_string())
        })
    }

    /// Whether cgroup.kill may be used: a v2 cgroup whose kill file this process may write.
    pub fn kill_file(&self) -> Option<PathBuf> {
        let file = self.dir().join("cgroup.kill");
        let writable =
            self.kind == HierarchyKind::Unified && rustix::fs::access(&file, rustix::fs::Access::WRITE_OK).is_ok();
        writable.then_some(file)
    }

    /// Every PID listed in this cgroup and its descendants.
    fn pids(&self) -> io::Result<BTreeSet<i32>> {
        let mut pids = BTreeSet::new();
        let mut dirs = vec![self.dir()];
        while let Some(dir) = dirs.pop() {
            match std::fs::read_to_string(dir.join("cgroup.procs")) {
                Ok(text) => pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok())),
                // A child cgroup removed while we walk is no error.
                Err(e) if e.kind() == io::ErrorKind::NotFound && dir != self.dir() => continue,
                Err(e) => return Err(e),
            }
            for entry in std::fs::read_dir(&dir)?.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push(entry.path());
                }
            }
        }
        Ok(pids)
    }
}

/// Where the cgroup hierarchies are mounted, from /proc/mounts.
struct Mounts {
    unified: Option<PathBuf>,
    /// The named v1 hierarchy that tracks login sessions, and its name.
    named: Option<(PathBuf, &'static str)>,
}

/// The named v1 hierarchies that systemd and elogind keep login sessions in.
const SESSION_HIERARCHIES: [&str; 2] = ["name=systemd", "name=elogind"];

impl Mounts {
    fn read() -> Result<Self, Error> {
        let text = read_text("/proc/mounts")?;
        let mut mounts = Mounts { unified: None, named: None };
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [_, target, fstype, options, ..] = fields[..] else { continue };
            if fstype == "cgroup2" && mounts.unified.is_none() {
                mounts.unified = Some(PathBuf::from(unescape_mount(target)));
            } else if fstype == "cgroup"
                && let Some(name) = SESSION_HIERARCHIES.into_iter().find(|n| options.split(',').any(|o| o == *n))
            {
                mounts.named = Some((PathBuf::from(unescape_mount(target)), name));
            }
        }
        Ok(mounts)
    }
}

/// /proc/mounts writes spaces and the like as octal escapes.
fn unescape_mount(field: &str) -> String {
    let mut out = String::new();
    let mut rest = field;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let code = rest.get(pos + 1..pos + 4).and_then(|oct| u8::from_str_radix(oct, 8).ok());
        match code {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[pos + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[pos + 1..];
            }
        }
    }
    out + rest
}

fn read_text(path: &str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_string(), source })
}

/// xexit's own cgroup: the v2 line, or the named v1 line (systemd's or elogind's) where the
/// v2 one is the root.
fn own_cgroup(mounts: &Mounts) -> Result<Option<Cgroup>, Error> {
    let text = read_text("/proc/self/cgroup")?;
    let mut unified = None;
    let mut named = None;
    for line in text.lines() {
        if let Some(path) = line.strip_prefix("0::") {
            unified = Some(path.to_string());
        } else if let Some((_, rest)) = line.split_once(':')
            && let Some((mount, name)) = &mounts.named
            && let Some(path) = rest.strip_prefix(name).and_then(|p| p.strip_prefix(':'))
        {
            named = Some(Cgroup { kind: HierarchyKind::Named(name), mount: mount.clone(), path: path.to_string() });
        }
    }
    let unified = unified.zip(mounts.unified.clone());
    Ok(match (unified, named) {
        (Some((path, _)), Some(v1)) if path == "/" && v1.path != "/" => Some(v1),
        (Some((path, mount)), _) => Some(Cgroup { kind: HierarchyKind::Unified, mount, path }),
        (None, v1) => v1,
    })
}

/// Whether the cgroup is a login session's: systemd's `session-N.scope`, or one whose last
/// component names the session ID that pam_systemd or pam_elogind set in XDG_SESSION_ID
/// (`/c1` under elogind, `/user/alice/3` under early pam_systemd).
fn is_login_scope(cgroup: &Cgroup, session_id: Option<&str>) -> bool {
    let leaf = cgroup.path.rsplit('/').next().unwrap_or("");
    if cgroup.path == "/" || leaf.is_empty() {
        return false;
    }
    let systemd_scope = |id: &str| leaf.strip_prefix("session-").and_then(|l| l.strip_suffix(".scope")) == Some(id);
    match session_id.filter(|id| !id.is_empty()) {
        Some(id) => leaf == id || systemd_scope(id),
        None => leaf.starts_with("session-") && leaf.ends_with(".scope"),
    }
}

/// The session as resolved: what its processes have in common.
#[derive(Clone, Debug)]
pub enum Scope {
    Cgroup(Cgroup),
    Env {
        name: String,
        value: String,
    },
    /// DISPLAY names the same server as `display`, however it is spelt.
    Display {
        display: DisplayName,
        given: String,
    },
    User,
}

impl Scope {
    /// The environment variable that tells the session apart, for env and display scopes.
    fn tag_name(&self) -> Option<&str> {
        match self {
            Scope::Env { name, .. } => Some(name),
            Scope::Display { .. } => Some("DISPLAY"),
            Scope::Cgroup(_) | Scope::User => None,
        }
    }

    fn tag_matches(&self, found: &[u8]) -> bool {
        match self {
            Scope::Env { value, .. } => found == value.as_bytes(),
            Scope::Display { display, .. } => {
                std::str::from_utf8(found).ok().and_then(DisplayName::parse).as_ref() == Some(display)
            }
            Scope::Cgroup(_) | Scope::User => false,
        }
    }
}

/// Why a process of the session is, or is not, to be signalled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Target,
    /// Matched by `--spare`.
    Spared(String),
    /// Its environment could not be read; decided once the whole sweep is known.
    Unreadable,
    /// Its environment could not be read, and it is ended: why.
    UnreadableTarget(String),
    /// Its environment could not be read, and it is left: why.
    UnreadableSpared(String),
}

impl Verdict {
    pub fn is_target(&self) -> bool {
        matches!(self, Verdict::Target | Verdict::UnreadableTarget(_))
    }

    /// How `list` marks it; empty for plain targets.
    pub fn mark(&self) -> String {
        match self {
            Verdict::Target => String::new(),
            Verdict::Spared(name) => format!(" [spared: --spare {name}]"),
            Verdict::Unreadable | Verdict::UnreadableTarget(_) => " [environment unreadable: ended]".into(),
            Verdict::UnreadableSpared(_) => " [environment unreadable: spared]".into(),
        }
    }

    /// Why an unreadable process is ended or spared; None for the others.
    pub fn unreadable_reason(&self) -> Option<&str> {
        match self {
            Verdict::UnreadableTarget(why) | Verdict::UnreadableSpared(why) => Some(why),
            _ => None,
        }
    }
}

/// One process of the session.
#[derive(Clone, Debug)]
pub struct Member {
    pub pid: i32,
    pub uid: u32,
    pub name: String,
    pub verdict: Verdict,
    /// The command line, when the sweep was asked for it (`Detail::Commands`).
    pub command: Option<String>,
}

/// How much a sweep finds out about each member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Enough to decide: a tagged process's owner may come from its environ file's owner.
    Plain,
    /// As Plain, and the command line, for `list`.
    Commands,
    /// Every check from /proc/PID/status (real and effective uid), right before a signal.
    Confirm,
}

/// One pass over the session's processes.
#[derive(Debug, Default)]
pub struct Sweep {
    pub members: Vec<Member>,
    /// Something in the scope is not a target (another user, spared, xexit itself), so
    /// cgroup.kill would hit more than the session.
    pub scope_has_others: bool,
}

impl Sweep {
    pub fn targets(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.verdict.is_target())
    }
}

/// The parsed fields of /proc/PID/status that matter here.
#[derive(Debug)]
struct Status {
    name: String,
    state: String,
    real_uid: u32,
    effective_uid: u32,
    kernel_thread: bool,
}

impl Status {
    fn parse(pid: i32, text: &str) -> Option<Status> {
        let mut name = None;
        let mut state = None;
        let mut uids = None;
        let mut ppid = None;
        let mut kthread = None;
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            match key {
                "Name" => name = Some(value.to_string()),
                "State" => state = Some(value.to_string()),
                "PPid" => ppid = value.parse::<i32>().ok(),
                "Kthread" => kthread = Some(value == "1"),
                "Uid" => {
                    let mut ids = value.split_whitespace().filter_map(|v| v.parse::<u32>().ok());
                    uids = ids.next().zip(ids.next());
                }
                _ => {}
            }
        }
        let (real_uid, effective_uid) = uids?;
        // Kernels before 6.x have no Kthread: line; their kernel threads are kthreadd's children.
        let kernel_thread = kthread.unwrap_or(pid == 2 || ppid == Some(2));
        Some(Status { name: name?, state: state?, real_uid, effective_uid, kernel_thread })
    }

    fn is_zombie(&self) -> bool {
        self.state.starts_with('Z') || self.state.starts_with('X')
    }
}

/// Reads /proc/PID/FILE through one directory fd and one buffer. A scan of 10,000 processes
/// is bound by syscalls, so each file costs an openat and one read, and the closes are
/// batched into close_range calls.
pub struct ProcReader {
    proc: OwnedFd,
    path: String,
    buf: Vec<u8>,
    /// How much of `buf` the last read filled.
    len: usize,
    /// Files read and not closed yet.
    to_close: Vec<OwnedFd>,
}

/// How many files stay open before they are closed together.
const CLOSE_BATCH: usize = 256;

impl ProcReader {
    pub fn new() -> io::Result<Self> {
        let proc = rustix::fs::open("/proc", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(ProcReader { proc, path: String::new(), buf: vec![0; 64 * 1024], len: 0, to_close: Vec::new() })
    }

    pub fn read(&mut self, pid: i32, file: &str) -> io::Result<&[u8]> {
        if self.to_close.len() >= CLOSE_BATCH {
            self.close_batch();
        }
        self.path.clear();
        let _ = write!(self.path, "{pid}/{file}");
        let fd = rustix::fs::openat(&self.proc, self.path.as_str(), OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
        let mut filled = 0;
        let result = loop {
            let room = self.buf.len() - filled;
            match rustix::io::read(&fd, &mut self.buf[filled..]) {
                // procfs hands over all it has when the buffer has room, so a short read is the end.
                Ok(count) if count < room => break Ok(filled + count),
                Ok(count) => {
                    filled += count;
                    self.buf.resize(self.buf.len() * 2, 0);
                }
                Err(e) => break Err(io::Error::from(e)),
            }
        };
        self.to_close.push(fd);
        self.len = result?;
        Ok(&self.buf[..self.len])
    }

    fn close_batch(&mut self) {
        use std::os::fd::IntoRawFd;
        let mut fds: Vec<i32> = self.to_close.drain(..).map(IntoRawFd::into_raw_fd).collect();
        fds.sort_unstable();
        let mut rest = &fds[..];
        while let Some(&first) = rest.first() {
            let run = rest.iter().enumerate().take_while(|(i, fd)| **fd == first + *i as i32).count();
            let last = rest[run - 1];
            // SAFETY: every fd from first to last is one this reader opened and still owns.
            let closed = run > 1 && unsafe { libc::close_range(first as u32, last as u32, 0) } == 0;
            if !closed {
                for fd in &rest[..run] {
                    // SAFETY: as above; each is closed once.
                    unsafe { libc::close(*fd) };
                }
            }
            rest = &rest[run..];
        }
    }

    /// The owner of the file last read: for a dumpable process's environ, its effective uid;
    /// for a non-dumpable one, root. One fstat on a file already open.
    fn last_owner(&self) -> Option<u32> {
        self.to_close.last().and_then(|fd| rustix::fs::fstat(fd).ok()).map(|st| st.st_uid)
    }

    /// The State: line of /proc/PID/status, e.g. "D (disk sleep)".
    pub fn state(&mut self, pid: i32) -> String {
        self.status(pid).map_or_else(|| "gone".into(), |status| status.state)
    }

    /// /proc/PID/status, parsed; None when the process is gone.
    fn status(&mut self, pid: i32) -> Option<Status> {
        Status::parse(pid, &self.read_string(pid, "status").ok()?)
    }

    fn read_string(&mut self, pid: i32, file: &str) -> io::Result<String> {
        Ok(String::from_utf8_lossy(self.read(pid, file)?).into_owned())
    }

    /// The command line as `pgrep -a` shows it; `[name]` where it is empty.
    pub fn command_line(&mut self, pid: i32, name: &str) -> String {
        let words: Vec<String> = match self.read(pid, "cmdline") {
            Ok(raw) => raw
                .split(|b| *b == 0)
                .filter(|w| !w.is_empty())
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect(),
            Err(_) => Vec::new(),
        };
        if words.is_empty() { format!("[{name}]") } else { words.join(" ") }
    }
}

/// The value of NAME in a NUL-separated environment block (the first one, as getenv finds).
fn env_value<'a>(environ: &'a [u8], name: &str) -> Option<&'a [u8]> {
    environ
        .split(|b| *b == 0)
        .find_map(|entry| entry.strip_prefix(name.as_bytes()).and_then(|rest| rest.strip_prefix(b"=")))
}

/// What reading the tag from a process's environment tells.
enum Tag {
    Same,
    Other,
    Absent,
    Unreadable,
    Gone,
}

/// The session: its scope, its user, and what is never touched.
#[derive(Clone, Debug)]
pub struct Session {
    pub scope: Scope,
    /// The target user; `None` only for root with cgroup:PATH and no --user.
    pub uid: Option<u32>,
    /// The user's name, for XEXIT_USER (empty when any user).
    pub user_name: String,
    unreadable: Unreadable,
    spare: Vec<String>,
    /// xexit's audit login session (pam_loginuid), which its session's processes share.
    audit_session: Option<u32>,
}

impl Session {
    /// Resolves `--session`, `--user` and `--display` into a session, or says what to fix.
    pub fn resolve(args: &SessionArgs) -> Result<Session, Error> {
        let is_root = rustix::process::geteuid().is_root();
        let user = args.user.as_deref().map(lookup_user).transpose()?;
        if let Some((uid, name)) = &user
            && !is_root
            && *uid != rustix::process::getuid().as_raw()
        {
            return Err(Error::NotRoot(name.clone()));
        }
        let selector_text = selector_text(&args.session);
        let scope = resolve_scope(&args.session, args.display.as_deref())?;
        let (uid, user_name) = match (is_root, user) {
            (false, _) => {
                let uid = rustix::process::getuid().as_raw();
                (Some(uid), user_name_of(uid))
            }
            (true, Some((uid, name))) => (Some(uid), name),
            (true, None) if matches!(args.session, Selector::CgroupPath(_)) => (None, String::new()),
            (true, None) => return Err(Error::RootNeedsUser(selector_text)),
        };
        if uid == Some(0) && !matches!(scope, Scope::Cgroup(_)) {
            return Err(Error::RootTarget(args.user.clone().unwrap_or_else(|| "root".into())));
        }
        let session = Session {
            scope,
            uid,
            user_name,
            unreadable: args.unreadable,
            spare: args.spare.clone(),
            audit_session: audit_session("self"),
        };
        log::debug!("session {} of {}", session.describe(), session.user_label());
        Ok(session)
    }

    /// The selector as resolved, for logs and XEXIT_SESSION.
    pub fn describe(&self) -> String {
        match &self.scope {
            Scope::Cgroup(cgroup) => format!("cgroup:{}", cgroup.path),
            Scope::Env { name, value } => format!("env:{name}={value}"),
            Scope::Display { given, .. } => format!("display={given}"),
            Scope::User => "user".to_string(),
        }
    }

    pub fn user_label(&self) -> String {
        match self.uid {
            Some(uid) => format!("{} (uid {uid})", self.user_name),
            None => "any user".to_string(),
        }
    }

    /// One full pass: every process of the session, with what is to be done with each.
    pub fn sweep(&self, reader: &mut ProcReader, detail: Detail) -> Result<Sweep, Error> {
        let examined = match &self.scope {
            Scope::Cgroup(cgroup) => {
                let pids =
                    cgroup.pids().map_err(|source| Error::Read { path: cgroup.dir().display().to_string(), source })?;
                pids.into_iter().map(|pid| (pid, self.examine(pid, reader, detail))).collect()
            }
            _ => self.examine_proc(reader, detail).map_err(|source| Error::Read { path: "/proc".into(), source })?,
        };
        let mut sweep = Sweep::default();
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
                Examined::Foreign => sweep.scope_has_others = true,
                Examined::OtherTag => other_tags.push(pid),
                Examined::Untagged | Examined::Outside => {}
            }
        }
        if undecided {
            self.decide_unreadable(&mut sweep, &other_tags, &kinds, reader);
        }
        sweep.scope_has_others |= sweep.members.iter().any(|m| !m.verdict.is_target());
        Ok(sweep)
    }

    /// Decides each process whose environment is unreadable, one by one: by its audit login
    /// session where the kernel has one, else by its relatives (parent, children, process
    /// session and group leaders); one tied to another login is never ended. What stays
    /// undecided follows `--unreadable`.
    fn decide_unreadable(
        &self,
        sweep: &mut Sweep,
        other_tags: &[i32],
        kinds: &HashMap<i32, Kin>,
        reader: &mut ProcReader,
    ) {
        let mut found: Vec<(usize, Belonging)> = Vec::new();
        for (index, member) in sweep.members.iter().enumerate() {
            if member.verdict == Verdict::Unreadable {
                found.push((index, self.belonging(member.pid, kinds, reader)));
            }
        }
        // Another session is visible: an unreadable process of another login, or a readable
        // process of the user with the tag's other value.
        let other_session_seen = found.iter().any(|(_, b)| matches!(b, Belonging::OtherLogin(_)))
            || other_tags.iter().any(|pid| self.users_own(*pid, reader));
        for (index, belonging) in found {
            let member = &mut sweep.members[index];
            member.verdict = match belonging {
                Belonging::Session(why) if self.unreadable != Unreadable::Spare => Verdict::UnreadableTarget(why),
                Belonging::Session(why) => Verdict::UnreadableSpared(format!("{why}, but --unreadable spare")),
                Belonging::OtherLogin(why) => Verdict::UnreadableSpared(why),
                Belonging::Unknown => match self.unreadable {
                    Unreadable::Kill => Verdict::UnreadableTarget("no tie to any login; --unreadable kill".into()),
                    Unreadable::Spare => Verdict::UnreadableSpared("--unreadable spare".into()),
                    Unreadable::Auto if other_session_seen => Verdict::UnreadableSpared(
                        "no tie to any login, and another session of the user is visible".into(),
                    ),
                    Unreadable::Auto => Verdict::UnreadableTarget(
                        "no tie to any login, and no other session of the user is visible".into(),
                    ),
                },
            };
        }
    }

    /// Which login an unreadable process belongs to.
    fn belonging(&self, pid: i32, kinds: &HashMap<i32, Kin>, reader: &mut ProcReader) -> Belonging {
        match (self.audit_session, audit_session(&pid.to_string())) {
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
        let Some(ids) = stat_ids(reader, pid) else { return Belonging::Unknown };
        let mut relatives = vec![("parent", ids.ppid), ("process group leader", ids.pgrp), ("session leader", ids.sid)];
        relatives.extend(children(pid).into_iter().map(|child| ("child", child)));
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
        session_tie.map_or(Belonging::Unknown, Belonging::Session)
    }

    /// Examines every process in /proc. Reading /proc and examining PIDs go on together,
    /// across the cores: each helper thread has its own reader and its own fd table
    /// (unshared, so the threads' opens and closes do not contend for one table's lock; what a
    /// thread opens there never leaves it). The kernel's work per /proc file, not the
    /// syscalls, is what a scan of thousands of processes costs.
    fn examine_proc(&self, reader: &mut ProcReader, detail: Detail) -> io::Result<Vec<(i32, Examined)>> {
        let entries = std::fs::read_dir("/proc")?;
        let pids: Vec<i32> =
            entries.flatten().filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok())).collect();
        let helpers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4) - 1;
        if helpers == 0 {
            return Ok(pids.into_iter().map(|pid| (pid, self.examine(pid, reader, detail))).collect());
        }
        let (tx, rx) = std::sync::mpsc::channel::<Vec<i32>>();
        let rx = std::sync::Mutex::new(rx);
        let next_chunk = || rx.lock().ok().and_then(|rx| rx.recv().ok());
        let examine_chunks = |reader: &mut ProcReader| {
            let mut out = Vec::new();
            while let Some(chunk) = next_chunk() {
                out.extend(chunk.into_iter().map(|pid| (pid, self.examine(pid, reader, detail))));
            }
            out
        };
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..helpers)
                .map(|_| {
                    scope.spawn(|| {
                        // A helper that cannot set up leaves its chunks to the others.
                        nix::sched::unshare(nix::sched::CloneFlags::CLONE_FILES).ok()?;
                        let mut own = ProcReader::new().ok()?;
                        Some(examine_chunks(&mut own))
                    })
                })
                .collect();
            let mut chunk = Vec::with_capacity(SCAN_CHUNK);
            for pid in pids {
                chunk.push(pid);
                if chunk.len() == SCAN_CHUNK {
                    let _ = tx.send(std::mem::replace(&mut chunk, Vec::with_capacity(SCAN_CHUNK)));
                }
            }
            let _ = tx.send(chunk);
            drop(tx);
            let mut all = examine_chunks(reader);
            for worker in workers {
                all.extend(worker.join().ok().flatten().unwrap_or_default());
            }
            Ok(all)
        })
    }

    /// Whether `pid` is a process of the target user (real and effective uid).
    fn users_own(&self, pid: i32, reader: &mut ProcReader) -> bool {
        reader.status(pid).is_some_and(|status| self.owns(&status))
    }

    /// Whether the target user owns the process: real and effective uid alike, so a setuid
    /// program the user started is not the user's.
    fn owns(&self, status: &Status) -> bool {
        self.uid.is_none_or(|uid| status.real_uid == uid && status.effective_uid == uid)
    }

    /// Re-checks one process right before it is signalled (its pidfd already open): still in
    /// the session, still the user's, not spared. An unreadable one was decided by the sweep.
    pub fn confirm(&self, pid: i32, reader: &mut ProcReader) -> bool {
        match self.examine(pid, reader, Detail::Confirm) {
            Examined::Member(m) => matches!(m.verdict, Verdict::Target | Verdict::Unreadable),
            _ => false,
        }
    }

    /// Whether `pid` belongs to the session, and if so what is to be done with it.
    fn examine(&self, pid: i32, reader: &mut ProcReader, detail: Detail) -> Examined {
        let mut unreadable = false;
        match &self.scope {
            Scope::Env { .. } | Scope::Display { .. } => match self.read_tag(reader, pid) {
                Tag::Same if detail != Detail::Confirm => {
                    if let Some(member) = self.tagged_member(pid, reader, detail) {
                        return member;
                    }
                }
                Tag::Same => {}
                Tag::Unreadable => unreadable = true,
                Tag::Other => return Examined::OtherTag,
                Tag::Absent => return Examined::Untagged,
                Tag::Gone => return Examined::Outside,
            },
            Scope::Cgroup(cgroup) => {
                let inside = reader
                    .read_string(pid, "cgroup")
                    .ok()
                    .and_then(|text| cgroup.path_in(&text))
                    .is_some_and(|path| cgroup.holds(&path));
                if !inside {
                    return Examined::Outside;
                }
            }
            Scope::User => {}
        }
        let Some(status) = reader.status(pid) else {
            return Examined::Outside;
        };
        if status.kernel_thread || status.is_zombie() {
            return Examined::Outside;
        }
        let users_own = self.owns(&status);
        let root_protected = status.effective_uid == 0 && !matches!(self.scope, Scope::Cgroup(_));
        if is_self(pid) || pid == 1 || !users_own || root_protected {
            return Examined::Foreign;
        }
        let verdict = match self.spared_as(pid, &status.name) {
            Some(name) => Verdict::Spared(name),
            None if unreadable => Verdict::Unreadable,
            None => Verdict::Target,
        };
        let command = (detail == Detail::Commands).then(|| reader.command_line(pid, &status.name));
        Examined::Member(Member { pid, uid: status.real_uid, name: status.name, verdict, command })
    }

    /// A tagged process whose environ file the user owns is the user's, dumpable, and so
    /// neither a kernel thread nor a zombie (those have no environment): no status read is
    /// needed. Anything else takes the full path.
    fn tagged_member(&self, pid: i32, reader: &mut ProcReader, detail: Detail) -> Option<Examined> {
        let owner = reader.last_owner()?;
        if self.uid != Some(owner) || owner == 0 || is_self(pid) || pid == 1 {
            return None;
        }
        let name = if self.spare.is_empty() {
            String::new()
        } else {
            reader.read_string(pid, "comm").ok()?.trim_end().to_string()
        };
        let verdict = self.spared_as(pid, &name).map_or(Verdict::Target, Verdict::Spared);
        let command = (detail == Detail::Commands).then(|| reader.command_line(pid, &name));
        Some(Examined::Member(Member { pid, uid: owner, name, verdict, command }))
    }

    /// The `--spare` NAME that matches the process's name, executable path, or its file name.
    fn spared_as(&self, pid: i32, name: &str) -> Option<String> {
        if self.spare.is_empty() {
            return None;
        }
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
        let exe_name = exe.as_deref().and_then(Path::file_name);
        self.spare
            .iter()
            .find(|spare| {
                spare.as_str() == name
                    || exe.as_deref() == Some(Path::new(spare.as_str()))
                    || exe_name.is_some_and(|n| n == spare.as_str())
            })
            .cloned()
    }
}

enum Examined {
    Member(Member),
    /// In the scope, but not to be touched: another user, root, PID 1, xexit itself.
    Foreign,
    /// Not in the scope at all.
    Outside,
    /// Has the tag with another value: maybe the user's other session.
    OtherTag,
    /// Its environment was read and has no tag.
    Untagged,
}

/// What a relative of an unreadable process says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kin {
    /// A member of the session (ended or spared by name).
    Session,
    /// Readable, and without the session's tag: another login's, if it is the user's.
    Outsider,
    /// Tells nothing: itself unreadable, another user's, or gone.
    Neutral,
}

impl Kin {
    fn of(examined: &Examined) -> Kin {
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

/// Whether `pid` is the xexit process asking, now: after detaching, xexit is the forked
/// child, so the PID is looked up at each check, never remembered.
fn is_self(pid: i32) -> bool {
    pid == rustix::process::getpid().as_raw_nonzero().get()
}

/// The audit login session of /proc/WHO (pam_loginuid sets it at login; children inherit
/// it); None where unset (4294967295) or the kernel has no audit.
fn audit_session(who: &str) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{who}/sessionid")).ok()?;
    text.trim().parse::<u32>().ok().filter(|id| *id != u32::MAX)
}

/// The children of every thread of `pid` (/proc/PID/task/TID/children).
fn children(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    let mut found = Vec::new();
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            found.extend(text.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
        }
    }
    found
}

/// The IDs a process's /proc/PID/stat gives, for a live (non-zombie) process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatIds {
    pub ppid: i32,
    pub pgrp: i32,
    pub sid: i32,
}

/// Parses /proc/PID/stat after the command name (which may hold spaces and parentheses).
pub fn stat_ids(reader: &mut ProcReader, pid: i32) -> Option<StatIds> {
    parse_stat_ids(reader.read(pid, "stat").ok()?)
}

fn parse_stat_ids(stat: &[u8]) -> Option<StatIds> {
    let after_name = &stat[stat.iter().rposition(|b| *b == b')')? + 1..];
    let mut fields = std::str::from_utf8(after_name).ok()?.split_whitespace();
    let state = fields.next()?;
    let mut next = || fields.next()?.parse::<i32>().ok();
    let (ppid, pgrp, sid) = (next()?, next()?, next()?);
    (state != "Z" && state != "X").then_some(StatIds { ppid, pgrp, sid })
}

/// How many PIDs a scan thread takes at a time.
const SCAN_CHUNK: usize = 128;

impl Session {
    fn read_tag(&self, reader: &mut ProcReader, pid: i32) -> Tag {
        let Some(name) = self.scope.tag_name() else { return Tag::Absent };
        match reader.read(pid, "environ") {
            Ok(environ) => match env_value(environ, name) {
                Some(found) if self.scope.tag_matches(found) => Tag::Same,
                Some(_) => Tag::Other,
                None => Tag::Absent,
            },
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Tag::Unreadable,
            Err(_) => Tag::Gone,
        }
    }
}

fn selector_text(selector: &Selector) -> String {
    match selector {
        Selector::Auto => "auto".into(),
        Selector::Cgroup => "cgroup".into(),
        Selector::CgroupPath(path) => format!("cgroup:{path}"),
        Selector::Env { name, value: Some(value) } => format!("env:{name}={value}"),
        Selector::Env { name, value: None } => format!("env:{name}"),
        Selector::Display => "display".into(),
        Selector::User => "user".into(),
    }
}

fn resolve_scope(selector: &Selector, display: Option<&str>) -> Result<Scope, Error> {
    let display_scope = || -> Result<Scope, Error> {
        let given = display.map(str::to_string).or_else(|| std::env::var("DISPLAY").ok());
        let given = given.filter(|d| !d.is_empty()).ok_or(Error::NoDisplay)?;
        let display = DisplayName::parse(&given).ok_or_else(|| Error::BadDisplay(given.clone()))?;
        Ok(Scope::Display { display, given })
    };
    let text = selector_text(selector);
    Ok(match selector {
        Selector::Auto => {
            let mounts = Mounts::read()?;
            let session_id = std::env::var("XDG_SESSION_ID").ok();
            if let Some(cgroup) = own_cgroup(&mounts)?.filter(|c| is_login_scope(c, session_id.as_deref())) {
                let id = session_id.map(|id| format!(" (XDG_SESSION_ID={id})")).unwrap_or_default();
                log::info!(
                    "session: xexit runs in the login session's cgroup {}{id}, so cgroup:{}",
                    cgroup.path,
                    cgroup.path
                );
                Scope::Cgroup(cgroup)
            } else if let Some(value) = std::env::var("LTSP_CLIENT_HOSTNAME").ok().filter(|v| !v.is_empty()) {
                log::info!("session: LTSP_CLIENT_HOSTNAME is set, so env:LTSP_CLIENT_HOSTNAME={value}");
                Scope::Env { name: "LTSP_CLIENT_HOSTNAME".into(), value }
            } else {
                let scope = display_scope()?;
                if let Scope::Display { given, .. } = &scope {
                    log::info!("session: no login session cgroup and no LTSP_CLIENT_HOSTNAME, so display {given}");
                }
                scope
            }
        }
        Selector::Cgroup => {
            let mounts = Mounts::read()?;
            let cgroup = own_cgroup(&mounts)?.ok_or(Error::NoOwnCgroup)?;
            checked_cgroup(cgroup, &text)?
        }
        Selector::CgroupPath(path) => {
            let mount = Mounts::read()?.unified.ok_or_else(|| Error::NoHierarchy(text.clone()))?;
            checked_cgroup(Cgroup { kind: HierarchyKind::Unified, mount, path: path.clone() }, &text)?
        }
        Selector::Env { name, value: Some(value) } => Scope::Env { name: name.clone(), value: value.clone() },
        Selector::Env { name, value: None } => match std::env::var(name).ok().filter(|v| !v.is_empty()) {
            Some(value) => Scope::Env { name: name.clone(), value },
            None => return Err(Error::EnvUnset(name.clone())),
        },
        Selector::Display => display_scope()?,
        Selector::User => Scope::User,
    })
}

fn checked_cgroup(cgroup: Cgroup, selector: &str) -> Result<Scope, Error> {
    if cgroup.path == "/" {
        return Err(Error::RootCgroup { selector: selector.to_string(), path: cgroup.path });
    }
    if !cgroup.dir().is_dir() {
        return Err(Error::NoSuchCgroup { selector: selector.to_string(), dir: cgroup.dir() });
    }
    Ok(Scope::Cgroup(cgroup))
}

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

impl Drop for ProcReader {
    fn drop(&mut self) {
        self.close_batch();
    }
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.is_empty() { write!(f, "{}", self.pid) } else { write!(f, "{} ({})", self.pid, self.name) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_and_refuse_what_they_should() {
        assert_eq!("auto".parse(), Ok(Selector::Auto));
        assert_eq!("cgroup:user.slice/x/".parse(), Ok(Selector::CgroupPath("/user.slice/x".into())));
        assert_eq!(
            "env:LTSP_CLIENT_HOSTNAME=ws01".parse(),
            Ok(Selector::Env { name: "LTSP_CLIENT_HOSTNAME".into(), value: Some("ws01".into()) })
        );
        assert_eq!("env:A=b=c".parse(), Ok(Selector::Env { name: "A".into(), value: Some("b=c".into()) }));
        assert!("env:".parse::<Selector>().unwrap_err().contains("needs a variable name"));
        assert!("env:=x".parse::<Selector>().unwrap_err().contains("needs a variable name"));
        assert!("env:A=".parse::<Selector>().unwrap_err().contains("empty value"));
        assert!("cgroup:".parse::<Selector>().unwrap_err().contains("needs a PATH"));
        assert!("bogus".parse::<Selector>().unwrap_err().contains("unknown selector 'bogus'"));
    }

    #[test]
    fn env_values_match_whole_values_only() {
        let environ = b"HOME=/home/a\0TAG=ws010\0TAG=ws01\0XTAG=ws01\0";
        assert_eq!(env_value(environ, "TAG"), Some(&b"ws010"[..]));
        assert_eq!(env_value(environ, "HOME"), Some(&b"/home/a"[..]));
        assert_eq!(env_value(environ, "TA"), None);
        assert_eq!(env_value(environ, "AG"), None);
    }

    #[test]
    fn cgroups_hold_their_descendants_and_nothing_else() {
        let cgroup = Cgroup { kind: HierarchyKind::Unified, mount: "/sys/fs/cgroup".into(), path: "/a/b".into() };
        assert!(cgroup.holds("/a/b"));
        assert!(cgroup.holds("/a/b/c"));
        assert!(!cgroup.holds("/a/bc"));
        assert!(!cgroup.holds("/a"));
        let text = "9:name=systemd:/user.slice/s\n1:cpu:/\n0::/a/b/c\n";
        assert_eq!(cgroup.path_in(text), Some("/a/b/c".into()));
        let v1 = Cgroup { kind: HierarchyKind::Named("name=systemd"), ..cgroup };
        assert_eq!(v1.path_in(text), Some("/user.slice/s".into()));
    }

    #[test]
    fn status_parsing_finds_uids_state_and_kernel_threads() {
        let text = "Name:\tbash\nState:\tS (sleeping)\nPPid:\t1\nUid:\t1000\t1000\t1000\t1000\nKthread:\t0\n";
        let status = Status::parse(42, text).unwrap();
        assert_eq!((status.name.as_str(), status.real_uid, status.kernel_thread), ("bash", 1000, false));
        let old_kernel = "Name:\tkworker\nState:\tI (idle)\nPPid:\t2\nUid:\t0\t0\t0\t0\n";
        assert!(Status::parse(7, old_kernel).unwrap().kernel_thread);
        let zombie = "Name:\tx\nState:\tZ (zombie)\nPPid:\t5\nUid:\t1\t1\t1\t1\n";
        assert!(Status::parse(8, zombie).unwrap().is_zombie());
    }

    #[test]
    fn mount_fields_are_unescaped() {
        assert_eq!(unescape_mount("/sys/fs/cgroup"), "/sys/fs/cgroup");
        assert_eq!(unescape_mount("/mnt/a\\040b"), "/mnt/a b");
    }

    #[test]
    fn login_scopes_are_recognised() {
        let scope = |path: &str| Cgroup { kind: HierarchyKind::Unified, mount: "/".into(), path: path.into() };
        assert!(is_login_scope(&scope("/user.slice/user-1000.slice/session-3.scope"), None));
        assert!(is_login_scope(&scope("/user.slice/user-1000.slice/session-3.scope"), Some("3")));
        assert!(!is_login_scope(&scope("/user.slice/user-1000.slice/session-3.scope"), Some("4")));
        assert!(!is_login_scope(&scope("/user.slice/user-1000.slice/user@1000.service/app.slice"), None));
        // elogind names the cgroup by the session ID alone; early pam_systemd used /user/NAME/ID.
        assert!(is_login_scope(&scope("/c1"), Some("c1")));
        assert!(is_login_scope(&scope("/user/alice/3"), Some("3")));
        assert!(!is_login_scope(&scope("/c1"), None));
        assert!(!is_login_scope(&scope("/c12"), Some("c1")));
        assert!(!is_login_scope(&scope("/"), Some("")));
    }
}
