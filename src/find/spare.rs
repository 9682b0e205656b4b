//! What is not the session's to end: `--spare` programs, known by the identity of their
//! executable, and the user's subordinate uids.

use super::Error;

/// A `--spare` program: the file its name or path names, by identity (device and inode), so
/// that neither a name a process gives itself nor a copy or a bind mount passes for it.
#[derive(Clone, Debug)]
pub struct SpareProgram {
    given: String,
    device: u64,
    inode: u64,
}

impl SpareProgram {
    /// A path is taken as it is; a bare name is looked up in PATH, as a shell would.
    pub fn resolve(given: &str) -> Result<SpareProgram, Error> {
        let path = if given.contains('/') {
            Some(std::path::PathBuf::from(given))
        } else {
            std::env::var_os("PATH")
                .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join(given)).find(|p| p.is_file()))
        };
        let path = path.ok_or_else(|| Error::UnknownSpare(given.to_string(), "no such program in PATH".into()))?;
        let stat = rustix::fs::stat(&path).map_err(|e| Error::UnknownSpare(given.to_string(), e.to_string()))?;
        Ok(SpareProgram { given: given.to_string(), device: stat.st_dev, inode: stat.st_ino })
    }
}

/// The `--spare` program the process runs: its executable's identity, as the kernel
/// holds it (/proc/PID/exe), against each spared file's.
pub fn spared_as(spare: &[SpareProgram], pid: i32) -> Option<String> {
    if spare.is_empty() {
        return None;
    }
    let exe = rustix::fs::stat(format!("/proc/{pid}/exe")).ok()?;
    let runs = |spare: &&SpareProgram| spare.device == exe.st_dev && spare.inode == exe.st_ino;
    spare.iter().find(runs).map(|spare| spare.given.clone())
}

/// The subordinate uid ranges /etc/subuid gives the user (by name or uid), as newuidmap
/// reads them; none where the file is missing.
pub fn subordinate_uids(uid: u32, name: &str) -> Vec<std::ops::Range<u64>> {
    let text = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split(':');
            let owner = fields.next()?;
            let start = fields.next()?.parse::<u64>().ok()?;
            let count = fields.next()?.parse::<u64>().ok()?;
            (owner == name || owner == uid.to_string()).then(|| start..start.saturating_add(count))
        })
        .collect()
}
