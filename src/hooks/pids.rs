//! XEXIT_PIDS_FILE: the session's PIDs in a file, which is never too long for an exec, in a
//! fresh private directory, removed once the hooks (or PROGRAM) are done.
//!
//! The hooks read the file by its path, so no one but xexit's user and root may be able to
//! rename what is on that path: the base directory and every one above it are checked (see
//! `Trust`), and the private directory and the file are then made relative to the checked
//! base's descriptor, so a rename between the check and the use cannot redirect them.

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use super::trust::{Problem, Trust, describe};

/// Root's base: on a tmpfs only root may write (/run), in a directory of xexit's own.
const ROOT_PARENT: &str = "/run";
const ROOT_BASE: &str = "xexit";
const FILE_NAME: &str = "pids";

/// The PID file and its directory, removed on drop through the descriptors they were made by.
#[derive(Debug)]
pub struct PidsFile {
    base: OwnedFd,
    name: OsString,
    dir: OwnedFd,
    path: PathBuf,
}

impl PidsFile {
    /// Writes `pids`, one per line, to `pids` in a new mode-0700 directory; a name that
    /// already exists is never reused, so no one else's file is written. The base is
    /// /run/xexit as root, and as the user `$XDG_RUNTIME_DIR` when it is the user's own,
    /// else `$TMPDIR` (or /tmp) when it is the user's or root's and sticky.
    pub fn create(pids: &[i32]) -> Result<PidsFile, String> {
        let (base, base_path) = base().map_err(|e| e.to_string())?;
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        for attempt in 0..100u32 {
            let name = OsString::from(format!("xexit-pids.{}.{:x}", std::process::id(), seed + u128::from(attempt)));
            let dir_path = base_path.join(&name);
            match rustix::fs::mkdirat(&base, name.as_os_str(), Mode::RWXU) {
                Ok(()) => {}
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(format!("cannot make a directory in {}: {e}", base_path.display())),
            }
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let dir = match rustix::fs::openat(&base, name.as_os_str(), flags, Mode::empty()) {
                Ok(dir) => dir,
                Err(e) => {
                    let _ = rustix::fs::unlinkat(&base, name.as_os_str(), AtFlags::REMOVEDIR);
                    return Err(format!("cannot open {}: {e}", dir_path.display()));
                }
            };
            let made = PidsFile { base, name, dir, path: dir_path.join(FILE_NAME) };
            made.write(pids).map_err(|e| format!("cannot write {}: {e}", made.path.display()))?;
            return Ok(made);
        }
        Err(format!("no new directory name in {} after 100 tries", base_path.display()))
    }

    fn write(&self, pids: &[i32]) -> std::io::Result<()> {
        let mut text = String::with_capacity(pids.len() * 7);
        for pid in pids {
            text.push_str(&pid.to_string());
            text.push('\n');
        }
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mode = Mode::RUSR | Mode::WUSR | Mode::RGRP | Mode::ROTH;
        let file = rustix::fs::openat(&self.dir, FILE_NAME, flags, mode)?;
        std::fs::File::from(file).write_all(text.as_bytes())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidsFile {
    fn drop(&mut self) {
        let _ = rustix::fs::unlinkat(&self.dir, FILE_NAME, AtFlags::empty());
        let _ = rustix::fs::unlinkat(&self.base, self.name.as_os_str(), AtFlags::REMOVEDIR);
    }
}

/// The checked base directory, open, and its path with symbolic links resolved.
fn base() -> Result<(OwnedFd, PathBuf), Problem> {
    let trust = Trust::of_this_process();
    if rustix::process::geteuid().is_root() {
        return root_base(trust);
    }
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").filter(|dir| !dir.is_empty()) {
        let checked = trust.open_dir(Path::new(&runtime)).and_then(|(fd, path)| own_only(fd, path));
        match checked {
            Ok(base) => return Ok(base),
            Err(e) => log::warn!("XEXIT_PIDS_FILE not in XDG_RUNTIME_DIR: {e}"),
        }
    }
    trust.open_shared_dir(&std::env::temp_dir())
}

/// /run/xexit, made if missing: a real directory of root's that no one else may write, in
/// a /run that no one else may write, so root's hooks read a path only root can change
/// (never TMPDIR, which the session's user may have set, nor a /tmp left unchecked).
fn root_base(trust: Trust) -> Result<(OwnedFd, PathBuf), Problem> {
    let (parent, parent_path) = trust.open_dir(Path::new(ROOT_PARENT))?;
    let path = parent_path.join(ROOT_BASE);
    let unusable = |e: Errno| Problem::Unusable(path.clone(), e.to_string());
    match rustix::fs::mkdirat(&parent, ROOT_BASE, Mode::RWXU) {
        Ok(()) => log::info!("made {} for XEXIT_PIDS_FILE", path.display()),
        Err(Errno::EXIST) => {}
        Err(e) => return Err(Problem::Unusable(path, format!("cannot make it: {e}"))),
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(&parent, ROOT_BASE, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::LOOP | Errno::NOTDIR) => {
            let stat = rustix::fs::statat(&parent, ROOT_BASE, AtFlags::SYMLINK_NOFOLLOW).map_err(unusable)?;
            let what = match FileType::from_raw_mode(stat.st_mode) {
                FileType::Symlink => "a symbolic link",
                _ => "not a directory",
            };
            return Err(Problem::Unusable(path, format!("{what}, not the directory xexit makes")));
        }
        Err(e) => return Err(unusable(e)),
    };
    own_only(fd, path)
}

/// Accepts the open directory `fd` only when it is xexit's user's and no one else may write
/// it (by mode or by ACL).
fn own_only(fd: OwnedFd, path: PathBuf) -> Result<(OwnedFd, PathBuf), Problem> {
    let stat: Stat = rustix::fs::fstat(&fd).map_err(|e| Problem::Unusable(path.clone(), e.to_string()))?;
    let own_uid = rustix::process::geteuid().as_raw();
    let mut writers = Trust::of_this_process().writers(fd.as_fd(), &stat);
    // Trust takes root's directories, and its group's bits, too; here only xexit's user's own.
    let mut add = |why: String| {
        if !writers.contains(&why) {
            writers.push(why);
        }
    };
    if stat.st_uid != own_uid {
        add(format!("its owner uid {}", stat.st_uid));
    }
    if stat.st_mode & 0o020 != 0 {
        add(format!("group {}", stat.st_gid));
    }
    match writers.is_empty() {
        true => Ok((fd, path)),
        false => Err(Problem::Untrusted(path, describe(&stat, &writers))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_lists_each_pid_on_its_line_and_goes_away() {
        let file = PidsFile::create(&[12, 345]).unwrap();
        let path = file.path().to_path_buf();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "12\n345\n");
        let dir = path.parent().unwrap().to_path_buf();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&dir).unwrap().permissions()) & 0o777,
            0o700
        );
        drop(file);
        assert!(!path.exists() && !dir.exists());
    }
}
