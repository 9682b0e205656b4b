//! Cgroups: where the hierarchies are mounted, which one a login session is in, who is in a
//! cgroup, and ending all of them at once.

use std::path::{Path, PathBuf};

pub use super::cgroup_tree::Listing;
use super::cgroup_tree::{is_removed, walk};
use crate::proc::{ReadError, read_text};

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
    /// `path` in the cgroup v2 hierarchy mounted at `mount`.
    pub fn unified(mount: PathBuf, path: String) -> Cgroup {
        Cgroup { kind: HierarchyKind::Unified, mount, path }
    }

    pub fn dir(&self) -> PathBuf {
        self.mount.join(self.path.trim_start_matches('/'))
    }

    /// Whether a process in cgroup `other` is inside this one.
    pub fn holds(&self, other: &str) -> bool {
        other == self.path || other.strip_prefix(self.path.as_str()).is_some_and(|rest| rest.starts_with('/'))
    }

    /// The process's path in this hierarchy, from the text of /proc/PID/cgroup.
    pub fn path_in(&self, proc_cgroup: &str) -> Option<String> {
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

    /// Every PID listed in this cgroup and its descendants (see `cgroup_tree::walk`).
    pub fn pids(&self) -> Result<Listing, ReadError> {
        walk(&self.dir(), &self.path)
    }

    /// Whether no process is left in the cgroup or below it. On v2 cgroup.events says so
    /// exactly: a process cannot leave the subtree unseen, however fast it forks. On a v1
    /// hierarchy, an empty walk of cgroup.procs.
    pub fn is_empty(&self) -> bool {
        match self.kind {
            HierarchyKind::Unified => populated(&self.dir().join("cgroup.events")) == Some(false),
            HierarchyKind::Named(_) => self.pids().is_ok_and(|l| l.pids.is_empty() && l.unread.is_empty()),
        }
    }

    /// KILL to every process in the cgroup at once through cgroup.kill, where it is a v2
    /// cgroup this process may write; it does not wait for them to end. Returns whether
    /// cgroup.kill was used.
    pub fn kill_all(&self) -> bool {
        let file = self.dir().join("cgroup.kill");
        let writable =
            self.kind == HierarchyKind::Unified && rustix::fs::access(&file, rustix::fs::Access::WRITE_OK).is_ok();
        if !writable {
            return false;
        }
        if let Err(e) = std::fs::write(&file, "1") {
            log::debug!("cannot write {}: {e}; signalling each process", file.display());
            return false;
        }
        log::debug!("wrote 1 to {}", file.display());
        true
    }
}

/// The `populated` line of cgroup.events: whether any process is in the cgroup or below. A
/// removed cgroup is empty; None when the file cannot be read.
fn populated(events: &Path) -> Option<bool> {
    match std::fs::read_to_string(events) {
        Ok(text) => text.lines().find_map(|l| l.strip_prefix("populated ")).map(|v| v.trim() != "0"),
        Err(e) if is_removed(&e) => Some(false),
        Err(_) => None,
    }
}

/// Where the cgroup hierarchies are mounted, from /proc/mounts.
pub struct Mounts {
    pub unified: Option<PathBuf>,
    /// The named v1 hierarchy that tracks login sessions, and its name.
    named: Option<(PathBuf, &'static str)>,
}

/// The named v1 hierarchies that systemd and elogind keep login sessions in.
const SESSION_HIERARCHIES: [&str; 2] = ["name=systemd", "name=elogind"];

impl Mounts {
    pub fn read() -> Result<Self, ReadError> {
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

    /// xexit's own cgroup: the v2 line, or the named v1 line (systemd's or elogind's) where
    /// the v2 one is the root.
    pub fn own_cgroup(&self) -> Result<Option<Cgroup>, ReadError> {
        let text = read_text("/proc/self/cgroup")?;
        let mut unified = None;
        let mut named = None;
        for line in text.lines() {
            if let Some(path) = line.strip_prefix("0::") {
                unified = Some(path.to_string());
            } else if let Some((_, rest)) = line.split_once(':')
                && let Some((mount, name)) = &self.named
                && let Some(path) = rest.strip_prefix(name).and_then(|p| p.strip_prefix(':'))
            {
                named = Some(Cgroup { kind: HierarchyKind::Named(name), mount: mount.clone(), path: path.to_string() });
            }
        }
        let unified = unified.zip(self.unified.clone());
        Ok(match (unified, named) {
            (Some((path, _)), Some(v1)) if path == "/" && v1.path != "/" => Some(v1),
            (Some((path, mount)), _) => Some(Cgroup::unified(mount, path)),
            (None, v1) => v1,
        })
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

/// The login session cgroup xexit runs in (see `is_login_scope`), if any.
pub fn login_cgroup() -> Result<Option<Cgroup>, ReadError> {
    let session_id = std::env::var("XDG_SESSION_ID").ok();
    Ok(Mounts::read()?.own_cgroup()?.filter(|c| is_login_scope(c, session_id.as_deref())))
}

/// Whether the cgroup is a login session's: systemd's `session-N.scope`, or one whose last
/// component names the session ID that pam_systemd or pam_elogind set in XDG_SESSION_ID
/// (`/c1` under elogind, `/user/alice/3` under early pam_systemd).
pub fn is_login_scope(cgroup: &Cgroup, session_id: Option<&str>) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_hold_their_descendants_and_nothing_else() {
        let cgroup = Cgroup::unified("/sys/fs/cgroup".into(), "/a/b".into());
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
    fn mount_fields_are_unescaped() {
        assert_eq!(unescape_mount("/sys/fs/cgroup"), "/sys/fs/cgroup");
        assert_eq!(unescape_mount("/mnt/a\\040b"), "/mnt/a b");
    }

    #[test]
    fn login_scopes_are_recognised() {
        let scope = |path: &str| Cgroup::unified("/".into(), path.into());
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
