//! XEXIT_PIDS_FILE: the session's PIDs in a file, which is never too long for an exec, in a
//! fresh private directory, removed once the hooks (or PROGRAM) are done.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The PID file and its directory, removed on drop.
#[derive(Debug)]
pub struct PidsFile {
    dir: PathBuf,
    file: PathBuf,
}

impl PidsFile {
    /// Writes `pids`, one per line, to `pids` in a new mode-0700 directory under `$TMPDIR`
    /// (or /tmp); a name that already exists is never reused, so no one else's file is written.
    /// As root, always under /tmp: a TMPDIR the session's user may write would let them swap
    /// the directory.
    pub fn create(pids: &[i32]) -> Result<PidsFile, String> {
        let root = rustix::process::geteuid().is_root();
        let base = if root { PathBuf::from("/tmp") } else { std::env::temp_dir() };
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        for attempt in 0..100u32 {
            let dir = base.join(format!("xexit-pids.{}.{:x}", std::process::id(), seed + u128::from(attempt)));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("cannot make a directory in {}: {e}", base.display())),
            }
            let made = PidsFile { file: dir.join("pids"), dir };
            made.write(pids).map_err(|e| format!("cannot write {}: {e}", made.file.display()))?;
            return Ok(made);
        }
        Err(format!("no new directory name in {} after 100 tries", base.display()))
    }

    fn write(&self, pids: &[i32]) -> std::io::Result<()> {
        let mut text = String::with_capacity(pids.len() * 7);
        for pid in pids {
            text.push_str(&pid.to_string());
            text.push('\n');
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.file)?;
        file.write_all(text.as_bytes())
    }

    pub fn path(&self) -> &Path {
        &self.file
    }
}

impl Drop for PidsFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        let _ = std::fs::remove_dir(&self.dir);
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
