//! Whether a hook may run with xexit's privileges: who besides its owner can write it, its
//! directory, or any directory above them, counting mode bits and POSIX ACL entries. Paths
//! are walked one component at a time, each opened relative to the checked one before it,
//! so what is checked is what is then read and executed.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

/// Why a path could not be used.
#[derive(Debug)]
pub enum Problem {
    /// It, or a directory on the way, does not exist.
    Missing(PathBuf),
    /// Someone else than the trusted owners can change what it is.
    Untrusted(PathBuf, String),
    /// It could not be opened or examined.
    Unusable(PathBuf, String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing(path) => write!(f, "{} does not exist", path.display()),
            Problem::Untrusted(path, why) => {
                write!(f, "{} is writable by others than root and xexit's user ({why})", path.display())
            }
            Problem::Unusable(path, why) => write!(f, "{}: {why}", path.display()),
        }
    }
}

/// The owners xexit trusts: root, and xexit's own user (the same one when run as root).
#[derive(Clone, Copy, Debug)]
pub struct Trust {
    own_uid: u32,
}

/// Symbolic links followed in one path at most, as the kernel's own limit.
const MAX_LINKS: usize = 40;

const ACL_XATTR: &str = "system.posix_acl_access";
const ACL_VERSION: u32 = 2;
const ACL_USER_OBJ: u16 = 0x01;
const ACL_USER: u16 = 0x02;
const ACL_GROUP_OBJ: u16 = 0x04;
const ACL_GROUP: u16 = 0x08;
const ACL_MASK: u16 = 0x10;
const ACL_OTHER: u16 = 0x20;
const ACL_WRITE: u16 = 0x02;

impl Trust {
    pub fn of_this_process() -> Trust {
        Trust { own_uid: rustix::process::geteuid().as_raw() }
    }

    fn owner_ok(self, uid: u32) -> bool {
        uid == 0 || uid == self.own_uid
    }

    /// Who besides the trusted can write the open file `fd`: empty when no one.
    pub fn writers(self, fd: impl AsFd, stat: &Stat) -> Vec<String> {
        let mut writers = Vec::new();
        if !self.owner_ok(stat.st_uid) {
            writers.push(format!("its owner uid {}", stat.st_uid));
        }
        if stat.st_mode & 0o002 != 0 {
            writers.push("everyone".into());
        }
        match read_acl(fd.as_fd()) {
            Ok(Some(acl)) => writers.extend(self.acl_writers(&acl, stat.st_gid)),
            // Without an ACL, the group bits are the owning group's own.
            Ok(None) if stat.st_mode & 0o020 != 0 && stat.st_gid != 0 => writers.push(format!("group {}", stat.st_gid)),
            Ok(None) => {}
            Err(e) => writers.push(format!("unknown: its ACL cannot be read: {e}")),
        }
        writers
    }

    /// The ACL entries that let an untrusted user or group write, through the mask.
    fn acl_writers(self, acl: &[u8], gid: u32) -> Vec<String> {
        let version = acl.get(..4).map(|v| u32::from_le_bytes([v[0], v[1], v[2], v[3]]));
        if version != Some(ACL_VERSION) || !(acl.len() - 4).is_multiple_of(8) {
            return vec!["unknown: an ACL xexit cannot parse".into()];
        }
        let entries: Vec<(u16, u16, u32)> = acl[4..]
            .chunks_exact(8)
            .map(|e| {
                let tag = u16::from_le_bytes([e[0], e[1]]);
                let perm = u16::from_le_bytes([e[2], e[3]]);
                (tag, perm, u32::from_le_bytes([e[4], e[5], e[6], e[7]]))
            })
            .collect();
        let mask = entries.iter().find(|e| e.0 == ACL_MASK).map(|e| e.1);
        let effective = |perm: u16| perm & ACL_WRITE != 0 && mask.is_none_or(|m| m & ACL_WRITE != 0);
        let mut writers = Vec::new();
        for &(tag, perm, id) in &entries {
            match tag {
                ACL_USER if effective(perm) && !self.owner_ok(id) => writers.push(format!("ACL user {id}")),
                ACL_GROUP_OBJ if effective(perm) && gid != 0 => writers.push(format!("ACL owning group {gid}")),
                ACL_GROUP if effective(perm) && id != 0 => writers.push(format!("ACL group {id}")),
                ACL_USER_OBJ | ACL_USER | ACL_GROUP_OBJ | ACL_GROUP | ACL_MASK | ACL_OTHER => {}
                _ => writers.push(format!("unknown: ACL entry tag {tag:#x}")),
            }
        }
        writers
    }

    /// Refuses a directory on the way to a hook: only trusted owners may write it, but a
    /// sticky one of a trusted owner (like /tmp) may be writable by all when it is `ancestor`,
    /// since the entry below it is checked to be a trusted owner's, which others cannot rename.
    fn check_dir(self, fd: impl AsFd, stat: &Stat, path: &Path, ancestor: bool) -> Result<(), Problem> {
        let writers = self.writers(fd, stat);
        let sticky = stat.st_mode & 0o1000 != 0;
        if writers.is_empty() || (ancestor && sticky && self.owner_ok(stat.st_uid)) {
            return Ok(());
        }
        Err(Problem::Untrusted(path.to_path_buf(), describe(stat, &writers)))
    }

    /// Opens the directory `path` for reading, after checking it and every directory above
    /// it (and every symbolic link on the way) as `check_dir` says.
    pub fn open_dir(self, path: &Path) -> Result<(OwnedFd, PathBuf), Problem> {
        self.open_dir_as(path, Leaf::Dir)
    }

    /// Like `open_dir`, but `path` itself may be writable by all when it is sticky and a
    /// trusted owner's (like /tmp): for making a new entry of xexit's own in it, which no one
    /// else can then rename or remove.
    pub fn open_shared_dir(self, path: &Path) -> Result<(OwnedFd, PathBuf), Problem> {
        self.open_dir_as(path, Leaf::SharedDir)
    }

    fn open_dir_as(self, path: &Path, leaf: Leaf) -> Result<(OwnedFd, PathBuf), Problem> {
        let (fd, _, resolved) = self.walk(path, leaf)?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = rustix::fs::openat(&fd, ".", flags, Mode::empty())
            .map_err(|e| Problem::Unusable(resolved.clone(), format!("cannot read it: {e}")))?;
        Ok((dir, resolved))
    }

    /// Opens the file `path` for reading after checking every directory above it; the file
    /// itself is for the caller to check, on the returned descriptor and its status.
    pub fn open_file(self, path: &Path) -> Result<(OwnedFd, Stat), Problem> {
        let (fd, stat, _) = self.walk(path, Leaf::File)?;
        Ok((fd, stat))
    }

    fn walk(self, path: &Path, leaf: Leaf) -> Result<(OwnedFd, Stat, PathBuf), Problem> {
        let file = leaf == Leaf::File;
        let unusable = |path: &Path, e: Errno| Problem::Unusable(path.to_path_buf(), e.to_string());
        let absolute = match path.is_absolute() {
            true => path.to_path_buf(),
            false => std::env::current_dir().map_err(|e| Problem::Unusable(path.into(), e.to_string()))?.join(path),
        };
        let root = PathBuf::from("/");
        let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::open("/", dir_flags, Mode::empty()).map_err(|e| unusable(&root, e))?;
        let stat = rustix::fs::fstat(&fd).map_err(|e| unusable(&root, e))?;
        self.check_dir(&fd, &stat, &root, true)?;
        let mut chain = vec![(fd, stat, root)];
        let mut queue: VecDeque<OsString> = components(&absolute);
        let mut links = 0;
        while let Some(name) = queue.pop_front() {
            if name == ".." {
                if chain.len() > 1 {
                    chain.pop();
                }
                continue;
            }
            let (parent, _, parent_path) = chain.last().expect("the chain starts at /");
            let here = parent_path.join(&name);
            let last = queue.is_empty();
            let flags = match last && file {
                true => OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY,
                false => dir_flags,
            };
            let fd = match rustix::fs::openat(parent, name.as_os_str(), flags, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => return Err(Problem::Missing(here)),
                Err(Errno::LOOP | Errno::NOTDIR) => {
                    let link = rustix::fs::statat(parent, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
                        .map_err(|e| unusable(&here, e))?;
                    if FileType::from_raw_mode(link.st_mode) != FileType::Symlink {
                        return Err(Problem::Unusable(here, "not a directory".into()));
                    }
                    if !self.owner_ok(link.st_uid) {
                        let why = format!("a symbolic link owned by uid {}", link.st_uid);
                        return Err(Problem::Untrusted(here, why));
                    }
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(Problem::Unusable(here, "too many symbolic links".into()));
                    }
                    let target =
                        rustix::fs::readlinkat(parent, name.as_os_str(), Vec::new()).map_err(|e| unusable(&here, e))?;
                    let target = PathBuf::from(OsStr::from_bytes(target.as_bytes()));
                    if target.is_absolute() {
                        chain.truncate(1);
                    }
                    let mut rest = components(&target);
                    rest.extend(queue);
                    queue = rest;
                    continue;
                }
                Err(e) => return Err(unusable(&here, e)),
            };
            let stat = rustix::fs::fstat(&fd).map_err(|e| unusable(&here, e))?;
            if !(last && file) {
                self.check_dir(&fd, &stat, &here, !last || leaf == Leaf::SharedDir)?;
            }
            chain.push((fd, stat, here));
        }
        let (fd, stat, path) = chain.pop().expect("the chain starts at /");
        if file && chain.is_empty() {
            return Err(Problem::Unusable(path, "not a file".into()));
        }
        Ok((fd, stat, path))
    }
}

/// What the last component of a walked path must be, and how it is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leaf {
    /// A file, checked by the caller.
    File,
    /// A directory only trusted owners may write.
    Dir,
    /// A directory that may also be sticky and writable by all, as the ones above it.
    SharedDir,
}

/// The normal components of `path`, with `..` kept; `.` and `/` dropped.
fn components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// The owner, group and mode, and who may write: for the log line.
pub fn describe(stat: &Stat, writers: &[String]) -> String {
    let mode = stat.st_mode & 0o7777;
    format!("owner uid {}, group {}, mode {mode:04o}; writable by {}", stat.st_uid, stat.st_gid, writers.join(", "))
}

/// The file's access ACL, read through /proc/self/fd (which works for O_PATH descriptors too);
/// None when it has none beyond its mode bits.
fn read_acl(fd: impl AsFd) -> std::io::Result<Option<Vec<u8>>> {
    let path = format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd());
    loop {
        let size = match rustix::fs::getxattr_query(path.as_str(), ACL_XATTR) {
            Ok(size) => size,
            Err(Errno::NODATA | Errno::OPNOTSUPP) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut buf = vec![0u8; size];
        match rustix::fs::getxattr(path.as_str(), ACL_XATTR, &mut buf[..]) {
            Ok(len) => {
                buf.truncate(len);
                return Ok(Some(buf));
            }
            // Grown since it was measured.
            Err(Errno::RANGE) => continue,
            Err(Errno::NODATA) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
        let mut bytes = ACL_VERSION.to_le_bytes().to_vec();
        for (tag, perm, id) in entries {
            bytes.extend(tag.to_le_bytes());
            bytes.extend(perm.to_le_bytes());
            bytes.extend(id.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn acl_entries_count_through_the_mask() {
        let root = Trust { own_uid: 0 };
        let base = [(ACL_USER_OBJ, 7, u32::MAX), (ACL_GROUP_OBJ, 5, u32::MAX), (ACL_OTHER, 5, u32::MAX)];
        let with = |extra: &[(u16, u16, u32)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(extra);
            root.acl_writers(&acl(&all), 0)
        };
        assert!(with(&[]).is_empty());
        assert_eq!(with(&[(ACL_USER, 6, 1000), (ACL_MASK, 7, u32::MAX)]), ["ACL user 1000"]);
        assert!(with(&[(ACL_USER, 6, 1000), (ACL_MASK, 5, u32::MAX)]).is_empty(), "the mask takes write away");
        assert!(with(&[(ACL_USER, 6, 0), (ACL_MASK, 7, u32::MAX)]).is_empty(), "root may write");
        assert_eq!(with(&[(ACL_GROUP, 2, 100), (ACL_MASK, 7, u32::MAX)]), ["ACL group 100"]);
        assert!(with(&[(ACL_GROUP, 7, 0), (ACL_MASK, 7, u32::MAX)]).is_empty());
        assert_eq!(root.acl_writers(&acl(&[(ACL_GROUP_OBJ, 7, 0), (ACL_MASK, 7, 0)]), 50), ["ACL owning group 50"]);
        let user = Trust { own_uid: 1000 };
        assert!(user.acl_writers(&acl(&[(ACL_USER, 7, 1000), (ACL_MASK, 7, 0)]), 0).is_empty());
        assert!(!root.acl_writers(&[1, 0, 0, 0], 0).is_empty(), "an unknown version is distrusted");
        assert!(!root.acl_writers(&[2, 0, 0, 0, 1], 0).is_empty(), "a torn ACL is distrusted");
    }
}
