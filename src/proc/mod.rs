//! Reading /proc: one listing, one reader with a bounded buffer; the parsers of what it
//! reads are in status.rs and text.rs.

use std::fmt::Write as _;
use std::io;
use std::os::fd::OwnedFd;

use rustix::fs::{Mode, OFlags};

mod audit;
mod children;
mod environ;
pub mod pid_alloc;
mod status;
mod text;

pub use self::audit::{audit_session, login_uid, parse_audit_id};
pub use self::children::{children, children_of, has_children_files};
use self::environ::EnvCache;
pub use self::status::{StatIds, Status};
use self::status::{parse_any_start_time, parse_exiting, parse_start_time, parse_stat_ids};
pub use self::text::printable;

/// Whether an error means xexit ran out of something (descriptors, memory), which says
/// nothing about the process it was reading or holding: never take it for "gone".
pub fn is_exhaustion(error: &io::Error) -> bool {
    use rustix::io::Errno;
    let code = error.raw_os_error();
    [Errno::MFILE, Errno::NFILE, Errno::NOMEM, Errno::NOBUFS].iter().any(|e| code == Some(e.raw_os_error()))
}

/// A file that could not be read, named.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
pub struct ReadError {
    pub path: String,
    #[source]
    pub source: io::Error,
}

impl ReadError {
    pub fn new(path: impl std::fmt::Display, source: io::Error) -> ReadError {
        ReadError { path: path.to_string(), source }
    }
}

/// A small text file whole, such as /proc/mounts or /proc/self/cgroup.
pub fn read_text(path: &str) -> Result<String, ReadError> {
    std::fs::read_to_string(path).map_err(|source| ReadError::new(path, source))
}

/// Every PID in /proc now.
pub fn list_pids() -> io::Result<Vec<i32>> {
    Ok(list_instances()?.into_iter().map(|(pid, _)| pid).collect())
}

/// Every PID in /proc now, with the inode number of its /proc/PID directory, which the
/// listing gives at no cost: procfs makes a new inode for a new process, so PID and inode
/// tell a reused PID apart (see `find::instances`).
pub fn list_instances() -> io::Result<Vec<(i32, u64)>> {
    numbered_entries("/proc")
}

/// The threads of `pid` now, by thread ID and the inode of /proc/PID/task/TID: a thread that
/// ended and another made in its place are told apart as processes are.
pub fn list_tasks(pid: i32) -> io::Result<Vec<(i32, u64)>> {
    numbered_entries(&format!("/proc/{pid}/task"))
}

/// The inode procfs lists for a process or thread that ended while it was listed (in
/// proc_fill_cache): shared by all such, so no identity.
pub const NO_INODE: u64 = 1;

fn numbered_entries(dir: &str) -> io::Result<Vec<(i32, u64)>> {
    use std::os::unix::fs::DirEntryExt;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        found.extend(entry.file_name().to_str().and_then(|name| name.parse().ok()).map(|id| (id, entry.ino())));
    }
    Ok(found)
}

/// How many PIDs a scan thread takes at a time.
const SCAN_CHUNK: usize = 128;

/// Examines every PID of `pids`. Reading /proc and examining go on together, across the
/// cores: each helper thread has its own reader and its own fd table (unshared, so the
/// threads' opens and closes do not contend for one table's lock; what a thread opens there
/// never leaves it). The kernel's work per /proc file, not the syscalls, is what a scan of
/// thousands of processes costs.
pub fn scan<T: Send>(
    pids: Vec<i32>,
    reader: &mut ProcReader,
    examine: impl Fn(i32, &mut ProcReader) -> T + Sync,
) -> io::Result<Vec<(i32, T)>> {
    let helpers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4) - 1;
    // A few PIDs (what a later look of an end has left to examine) cost less than a thread.
    if helpers == 0 || pids.len() <= SCAN_CHUNK {
        let all = pids.into_iter().map(|pid| (pid, examine(pid, reader))).collect();
        return reader.take_exhausted().map_or(Ok(all), Err);
    }
    let cache = reader.env_cache.clone();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<i32>>();
    let rx = std::sync::Mutex::new(rx);
    let next_chunk = || rx.lock().ok().and_then(|rx| rx.recv().ok());
    let examine_chunks = |reader: &mut ProcReader| {
        let mut out = Vec::new();
        while let Some(chunk) = next_chunk() {
            out.extend(chunk.into_iter().map(|pid| (pid, examine(pid, reader))));
        }
        out
    };
    std::thread::scope(|scope| {
        // A helper that cannot start (threads are tasks, which a user can use up) or set up
        // leaves its chunks to the others and to this thread.
        let workers: Vec<_> = (0..helpers)
            .filter_map(|_| {
                let helper = std::thread::Builder::new().spawn_scoped(scope, || {
                    crate::sys::unshare_fd_table().ok()?;
                    let mut own = ProcReader::new().ok()?;
                    own.env_cache = cache.clone();
                    let examined = examine_chunks(&mut own);
                    Some((examined, own.take_exhausted()))
                });
                helper.inspect_err(|e| log::debug!("a /proc scan helper could not start: {e}")).ok()
            })
            .collect();
        for chunk in pids.chunks(SCAN_CHUNK) {
            let _ = tx.send(chunk.to_vec());
        }
        drop(tx);
        let mut all = examine_chunks(reader);
        let mut exhausted = reader.take_exhausted();
        for worker in workers {
            if let Some((examined, worker_exhausted)) = worker.join().ok().flatten() {
                all.extend(examined);
                exhausted = exhausted.or(worker_exhausted);
            }
        }
        exhausted.map_or(Ok(all), Err)
    })
}

/// The largest /proc file read whole: an error past it, never a reason to grow without bound.
/// (An environment is read in chunks, up to MAX_ENVIRON.)
const MAX_FILE: usize = 8 << 20;

/// Reads /proc/PID/FILE through one directory fd and one buffer. A scan of 10,000 processes
/// is bound by syscalls, so each file costs an openat and one read, and the closes are
/// batched into close_range calls.
pub struct ProcReader {
    proc: OwnedFd,
    path: String,
    buf: Vec<u8>,
    /// Files read and not closed yet.
    to_close: Vec<OwnedFd>,
    close_batch: usize,
    /// The first time a read failed because xexit ran out of descriptors or memory: the
    /// process read is then unknown, not gone, and the sweep must fail.
    exhausted: Option<io::Error>,
    /// How many processes this reader saw, and how many of them were the session user's:
    /// what is cheapest to read first depends on which is the rule (see `mostly_own`).
    seen: u32,
    own: u32,
    /// What was made of large environments (see `env_judge`), shared with the scan helpers.
    env_cache: EnvCache,
    /// xexit's own PID when the reader was made: a reader is never carried across a fork.
    own_pid: i32,
    /// See `environ_was_empty`.
    environ_was_empty: bool,
    /// The link /proc/self/ns/user, naming xexit's user namespace.
    own_user_namespace: Option<Vec<u8>>,
}

/// The read buffer's size: room for nearly every /proc file in one read.
const READ_BUFFER: usize = 64 << 10;

/// How many files stay open before they are closed together, at most: fewer where the
/// open-files limit is low, so that the scan threads together hold a small share of it.
const CLOSE_BATCH: usize = 64;

impl ProcReader {
    pub fn new() -> io::Result<Self> {
        let proc = rustix::fs::open("/proc", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current.unwrap_or(u64::MAX);
        let close_batch = usize::try_from(limit / 64).unwrap_or(CLOSE_BATCH).clamp(1, CLOSE_BATCH);
        Ok(ProcReader {
            proc,
            path: String::new(),
            buf: vec![0; READ_BUFFER],
            to_close: Vec::new(),
            close_batch,
            exhausted: None,
            seen: 0,
            own: 0,
            env_cache: EnvCache::default(),
            own_pid: rustix::process::getpid().as_raw_nonzero().get(),
            environ_was_empty: false,
            own_user_namespace: rustix::fs::readlink("/proc/self/ns/user", Vec::new()).ok().map(|l| l.into_bytes()),
        })
    }

    /// Whether `pid` is xexit itself (asked of every process a look examines: no syscall).
    pub fn is_self(&self, pid: i32) -> bool {
        pid == self.own_pid
    }

    /// The whole of /proc/PID/FILE.
    pub fn read(&mut self, pid: i32, file: &str) -> io::Result<&[u8]> {
        let len = self.open_and_read(pid, file)?;
        Ok(&self.buf[..len])
    }

    /// The owner of /proc/PID: the process's effective uid, or root for a non-dumpable one.
    /// One stat, with no file opened: enough to pass over another user's process.
    pub fn owner(&mut self, pid: i32) -> io::Result<u32> {
        self.path.clear();
        let _ = write!(self.path, "{pid}");
        let stat = rustix::fs::statat(&self.proc, self.path.as_str(), rustix::fs::AtFlags::empty())?;
        Ok(stat.st_uid)
    }

    /// The whole of /proc/PID/FILE, up to MAX_FILE bytes; the length read into the buffer.
    fn open_and_read(&mut self, pid: i32, file: &str) -> io::Result<usize> {
        self.open_and_read_up_to(pid, file, MAX_FILE)
    }

    /// The whole of /proc/PID/FILE into the buffer, up to `limit` bytes (FileTooLarge past
    /// it); the length read. The file is closed with the next batch.
    fn open_and_read_up_to(&mut self, pid: i32, file: &str, limit: usize) -> io::Result<usize> {
        self.open_reading(pid, file, |fd, buf| read_whole(fd, buf, limit))
    }

    /// Opens /proc/PID/FILE and reads it into the buffer with `read`; what that returns. The
    /// file is closed with the next batch: until then it is the last of `to_close`.
    fn open_reading(
        &mut self,
        pid: i32,
        file: &str,
        read: impl Fn(&OwnedFd, &mut Vec<u8>) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if self.to_close.len() >= self.close_batch {
            crate::sys::close_all(std::mem::take(&mut self.to_close));
        }
        // A buffer grown for one large file is given back.
        if self.buf.len() > READ_BUFFER {
            self.buf = vec![0; READ_BUFFER];
        }
        self.path.clear();
        let _ = write!(self.path, "{pid}/{file}");
        let mut result = self.open_and_read_path(&read);
        // A main thread that exited (pthread_exit) has no memory to read its environment or
        // command line from, while its other threads run on with it: read through one of them.
        if matches!(&result, Err(e) if e.raw_os_error() == Some(libc::ESRCH))
            && let Some(thread) = live_thread(pid)
        {
            self.path.clear();
            let _ = write!(self.path, "{pid}/task/{thread}/{file}");
            result = self.open_and_read_path(&read);
        }
        if let Err(e) = &result
            && is_exhaustion(e)
            && self.exhausted.is_none()
        {
            self.exhausted = e.raw_os_error().map(io::Error::from_raw_os_error);
        }
        let (fd, len) = result?;
        self.to_close.push(fd);
        Ok(len)
    }

    fn open_and_read_path(
        &mut self,
        read: impl Fn(&OwnedFd, &mut Vec<u8>) -> io::Result<usize>,
    ) -> io::Result<(OwnedFd, usize)> {
        let fd = rustix::fs::openat(&self.proc, self.path.as_str(), OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
        let len = read(&fd, &mut self.buf)?;
        Ok((fd, len))
    }

    /// Counts one process seen, and whether it was the session user's.
    pub fn count_owner(&mut self, own: bool) {
        self.seen += 1;
        self.own += u32::from(own);
    }

    /// Whether most processes this reader has seen were the session user's (after a few
    /// dozen; none seen means no).
    pub fn mostly_own(&self) -> bool {
        self.seen >= 32 && self.own * 2 > self.seen
    }

    /// The error that made a read fail for want of descriptors or memory, once.
    pub fn take_exhausted(&mut self) -> Option<io::Error> {
        self.exhausted.take()
    }

    /// The State: line of /proc/PID/status, e.g. "D (disk sleep)".
    pub fn state(&mut self, pid: i32) -> String {
        self.status(pid).map_or_else(|| "gone".into(), |status| status.state)
    }

    /// /proc/PID/status, parsed; None when the process is gone.
    pub fn status(&mut self, pid: i32) -> Option<Status> {
        Status::parse(pid, &self.read_string(pid, "status").ok()?)
    }

    pub fn read_string(&mut self, pid: i32, file: &str) -> io::Result<String> {
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
        // Both are the process's own text (the kernel escapes only some of the name).
        if words.is_empty() { format!("[{}]", printable(name)) } else { printable(&words.join(" ")) }
    }

    /// The start time of `pid` (a zombie's too) and whether it is exiting, from one read of
    /// /proc/PID/stat.
    pub fn start_and_exiting(&mut self, pid: i32) -> Option<(u64, bool)> {
        let stat = self.read(pid, "stat").ok()?;
        Some((parse_any_start_time(stat)?, parse_exiting(stat)))
    }

    /// The IDs /proc/PID/stat gives for a live (non-zombie) process.
    pub fn stat_ids(&mut self, pid: i32) -> Option<StatIds> {
        parse_stat_ids(self.read(pid, "stat").ok()?)
    }
}

impl Drop for ProcReader {
    fn drop(&mut self) {
        crate::sys::close_all(std::mem::take(&mut self.to_close));
    }
}

/// Reads `fd` to its end into `buf`, growing it up to MAX_FILE; the length read.
fn read_whole(fd: &OwnedFd, buf: &mut Vec<u8>, limit: usize) -> io::Result<usize> {
    let mut filled = 0;
    loop {
        let room = buf.len() - filled;
        let count = rustix::io::read(fd, &mut buf[filled..])?;
        // procfs hands over all it has when the buffer has room, so a short read is the end.
        if count < room {
            return Ok(filled + count);
        }
        filled += count;
        if buf.len() >= limit {
            return Err(io::Error::new(io::ErrorKind::FileTooLarge, format!("more than {limit} bytes")));
        }
        buf.resize((buf.len() * 2).min(limit), 0);
    }
}

/// The start time of `pid` while it lives (not a zombie); None once it has ended. An error
/// (such as running out of descriptors) says nothing of the process.
pub fn start_time(pid: i32) -> io::Result<Option<u64>> {
    match std::fs::read(format!("/proc/{pid}/stat")) {
        Ok(stat) => Ok(parse_start_time(&stat)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether `pid` is exiting (not yet a zombie); false where that cannot be read.
pub fn is_exiting(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/stat")).is_ok_and(|stat| parse_exiting(&stat))
}

/// A thread of `pid` other than its main thread, if one runs.
fn live_thread(pid: i32) -> Option<i32> {
    list_tasks(pid).ok()?.into_iter().map(|(tid, _)| tid).find(|tid| *tid != pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_whole_and_a_missing_one_is_an_error() {
        let mut reader = ProcReader::new().unwrap();
        let own = std::process::id() as i32;
        assert!(!reader.read(own, "environ").unwrap().is_empty());
        assert!(reader.read(i32::MAX, "environ").is_err());
    }
}
