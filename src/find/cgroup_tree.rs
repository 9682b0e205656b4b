//! Walking a cgroup's tree for the processes in it, with a bounded number of descriptors
//! however wide or deep a user makes it.

use std::collections::BTreeSet;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use crate::proc::ReadError;

/// Every PID listed in cgroup `path`, open at `top`, and its descendants. The tree is
/// walked depth first holding one directory descriptor: a sub-cgroup is opened from its
/// parent's descriptor when it is read, and the walk goes back up through `..` (cgroupfs
/// never moves a cgroup to another parent; a removed one's `..` is still its parent), so no
/// width or depth of a user's sub-cgroups runs xexit out of descriptors, and no name length
/// makes a path too long. A cgroup removed while it is walked was empty (only an empty
/// cgroup can be removed), and a threaded one's processes are listed by its domain above
/// it; one that cannot be read otherwise is counted in `unread`, never an error that stops
/// the end.
pub fn walk(top: &Path, path: &str) -> Result<Listing, ReadError> {
    let mut dir = rustix::fs::open(top, WALK, Mode::empty()).map_err(|e| ReadError::new(top.display(), e.into()))?;
    let mut listing = Listing::default();
    match read_at(&dir, "cgroup.procs") {
        Ok(text) => listing.add(&text),
        Err(e) if is_removed(&e) || e.raw_os_error() == Some(libc::EOPNOTSUPP) => {}
        Err(e) => return Err(ReadError::new(top.join("cgroup.procs").display(), e)),
    }
    let children = sub_cgroups(&dir).unwrap_or_else(|e| {
        listing.unread.add(path, &e);
        Vec::new()
    });
    // Per level down from the top: its path and the names of the sub-cgroups not yet read.
    let mut levels = vec![(path.to_string(), children.into_iter())];
    while let Some((path, children)) = levels.last_mut() {
        if let Some(name) = children.next() {
            let path = child_path(path, &name);
            match rustix::fs::openat(&dir, &name, WALK, Mode::empty()) {
                Ok(child) => {
                    dir = child;
                    let children = listing.read(&dir, &path);
                    levels.push((path, children.into_iter()));
                }
                Err(e) if is_removed(&e.into()) => {}
                Err(e) => listing.unread.add(&path, &e.into()),
            }
            continue;
        }
        levels.pop();
        if levels.is_empty() {
            break;
        }
        match rustix::fs::openat(&dir, "..", WALK, Mode::empty()) {
            Ok(parent) => dir = parent,
            // Without the way back up, what is left to read stays unread.
            Err(e) => {
                let e = io::Error::from(e);
                for (path, children) in levels.drain(..) {
                    children.for_each(|name| listing.unread.add(&child_path(&path, &name), &e));
                }
            }
        }
    }
    Ok(listing)
}

/// How a cgroup's tree is walked: directories only, and no symbolic link followed.
const WALK: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);

/// What a walk of a cgroup's tree found.
#[derive(Debug, Default)]
pub struct Listing {
    pub pids: BTreeSet<i32>,
    /// The sub-cgroups that could not be read: what is in them is unknown.
    pub unread: Unread,
}

impl Listing {
    fn add(&mut self, procs: &str) {
        self.pids.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }

    /// The processes of the sub-cgroup open as `dir`, and the names of its own sub-cgroups.
    fn read(&mut self, dir: &OwnedFd, path: &str) -> Vec<CString> {
        // A threaded cgroup's cgroup.procs cannot be read (EOPNOTSUPP): its domain lists them.
        let procs = match read_at(dir, "cgroup.procs") {
            Ok(text) => {
                self.add(&text);
                Ok(())
            }
            Err(e) if is_removed(&e) || e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(()),
            Err(e) => Err(e),
        };
        let children = sub_cgroups(dir);
        if let Some(e) = procs.as_ref().err().or(children.as_ref().err()) {
            self.unread.add(path, e);
        }
        children.unwrap_or_default()
    }
}

/// The sub-cgroups a walk could not read, with why. A user can make thousands: they are
/// counted, and the first few named.
#[derive(Debug, Default)]
pub struct Unread {
    count: usize,
    named: Vec<String>,
}

/// How many unread sub-cgroups the warning names.
const NAMED_UNREAD: usize = 5;

impl Unread {
    fn add(&mut self, path: &str, error: &io::Error) {
        self.count += 1;
        if self.named.len() < NAMED_UNREAD {
            self.named.push(format!("{path}: {error}"));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// `4,500 sub-cgroups unread, e.g. A; B; C; D; E`, or `1 sub-cgroup unread: A`.
impl std::fmt::Display for Unread {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let digits = self.count.to_string();
        let mut count = String::new();
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                count.push(',');
            }
            count.push(digit);
        }
        let noun = if self.count == 1 { "sub-cgroup" } else { "sub-cgroups" };
        let named = if self.count > self.named.len() { ", e.g." } else { ":" };
        write!(f, "{count} {noun} unread{named} {}", self.named.join("; "))
    }
}

/// The path of sub-cgroup `name` of `path`, for messages.
fn child_path(path: &str, name: &CStr) -> String {
    format!("{}/{}", path.trim_end_matches('/'), name.to_string_lossy())
}

/// The names of the sub-cgroups in `dir`; a directory removed while it is listed has none.
fn sub_cgroups(dir: &OwnedFd) -> io::Result<Vec<CString>> {
    let mut names = Vec::new();
    let entries = match rustix::fs::Dir::read_from(dir) {
        Ok(entries) => entries,
        Err(e) if is_removed(&e.into()) => return Ok(names),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) if is_removed(&e.into()) => return Ok(names),
            Err(e) => return Err(e.into()),
        };
        let name = entry.file_name();
        if entry.file_type() == rustix::fs::FileType::Directory && name != c"." && name != c".." {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// The whole of the small file `name` in directory `dir`.
fn read_at(dir: &OwnedFd, name: &str) -> io::Result<String> {
    let file = rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match rustix::io::read(&file, &mut buf)? {
            0 => return Ok(String::from_utf8_lossy(&text).into_owned()),
            n => text.extend_from_slice(&buf[..n]),
        }
    }
}

/// The errors of a cgroup removed under our feet: gone from its parent (ENOENT), or removed
/// while one of its files was open (ENODEV).
pub fn is_removed(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::NotFound || error.raw_os_error() == Some(rustix::io::Errno::NODEV.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wide_and_deep_tree_is_walked_whole() {
        let base = std::env::temp_dir().join(format!("xexit-walk-{}", std::process::id()));
        let mut deep = base.join("t");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("cgroup.procs"), "1\n").unwrap();
        for i in 0..300 {
            std::fs::create_dir(deep.join(format!("w{i}"))).unwrap();
        }
        std::fs::write(deep.join("w299/cgroup.procs"), "2\n3\n").unwrap();
        // The walk comes back up from the bottom of the chain through `..` to the siblings.
        for _ in 0..40 {
            deep = deep.join("d");
        }
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("cgroup.procs"), "4\n").unwrap();
        let listing = walk(&base.join("t"), "/t");
        std::fs::remove_dir_all(&base).unwrap();
        let listing = listing.unwrap();
        assert_eq!(listing.pids.into_iter().collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert!(listing.unread.is_empty(), "{}", listing.unread);
    }

    #[test]
    fn unread_sub_cgroups_are_counted_and_a_few_named() {
        let mut unread = Unread::default();
        let error = io::Error::from_raw_os_error(libc::EMFILE);
        unread.add("/a", &error);
        assert_eq!(unread.to_string(), "1 sub-cgroup unread: /a: Too many open files (os error 24)");
        for i in 1..4500 {
            unread.add(&format!("/a{i}"), &error);
        }
        let line = unread.to_string();
        assert!(line.starts_with("4,500 sub-cgroups unread, e.g. /a: Too many"), "{line}");
        assert_eq!(line.matches("; ").count(), NAMED_UNREAD - 1, "{line}");
        assert!(line.ends_with("/a4: Too many open files (os error 24)"), "{line}");
    }
}
