//! Which PIDs the kernel has handed out since a given moment, from two counters it keeps:
//! the last PID allocated in xexit's PID namespace (/proc/loadavg) and the number of forks
//! since boot (/proc/stat). PIDs are allocated cyclically (idr_alloc_cyclic: each after the
//! last, wrapping at pid_max), so every process created after a mark has a PID in the
//! cyclic range after the mark's last PID, unless the PIDs went round more than once, which
//! the fork count shows when the forks succeeded. (Forks that fail after their PID was
//! allocated, as a full pids cgroup makes them, move the cursor uncounted: see
//! `find::instances` for where this is used, and where not.)

use std::io;

/// The kernel's counters at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    last_pid: i32,
    forks: u64,
}

impl Mark {
    /// The counters now; None where /proc does not show xexit's own PID namespace (then
    /// /proc/loadavg and the listing of /proc would speak of different PIDs).
    pub fn now() -> Option<Mark> {
        if !proc_is_own_namespace() {
            return None;
        }
        let loadavg = std::fs::read_to_string("/proc/loadavg").ok()?;
        let last_pid = loadavg.split_whitespace().nth(4)?.parse().ok()?;
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let forks = stat.lines().find_map(|line| line.strip_prefix("processes "))?.trim().parse().ok()?;
        Some(Mark { last_pid, forks })
    }

    /// The PIDs allocated between `self` and `later`, in order, when there are at most
    /// `limit` of them and the fork count rules out a full round of the PIDs; else None.
    pub fn allocated_until(&self, later: &Mark, limit: usize) -> Option<Vec<i32>> {
        let pid_max: i32 = read_number("/proc/sys/kernel/pid_max")?;
        let (from, to) = (self.last_pid, later.last_pid);
        let ranges: [std::ops::Range<i32>; 2] =
            if to >= from { [from + 1..to + 1, 0..0] } else { [from + 1..pid_max, 1..to + 1] };
        let count: usize = ranges.iter().map(|r| r.len()).sum();
        let forks = later.forks.checked_sub(self.forks)?;
        // More forks than PIDs moved past: the PIDs went round (or another namespace forked).
        (count <= limit && forks <= count as u64).then(|| ranges.into_iter().flatten().collect())
    }
}

fn read_number<T: std::str::FromStr>(path: &str) -> Option<T> {
    super::read_text(path).ok()?.trim().parse().ok()
}

/// Whether /proc/self names xexit by its own PID: /proc is mounted for its PID namespace.
fn proc_is_own_namespace() -> bool {
    let own = rustix::process::getpid().as_raw_nonzero().get();
    std::fs::read_link("/proc/self").is_ok_and(|link| link.to_str() == Some(own.to_string().as_str()))
}

/// The inode number of /proc/PID, None when there is no such process (or thread).
pub fn inode_of(pid: i32) -> io::Result<Option<u64>> {
    match rustix::fs::stat(format!("/proc/{pid}")) {
        Ok(stat) => Ok(Some(stat.st_ino)),
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::SRCH) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Whether `pid` is a process (a thread group's leader), not another thread's ID: /proc
/// answers to both, its listing shows only the first.
pub fn is_process(pid: i32) -> io::Result<bool> {
    let Some(pid) = rustix::process::Pid::from_raw(pid) else { return Ok(false) };
    match rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
        Ok(_) => Ok(true),
        // A thread that leads no group: EINVAL before Linux 6.9, ENOENT since.
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOENT | rustix::io::Errno::SRCH) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_started_after_a_mark_is_in_the_range_and_a_thread_is_no_process() {
        let Some(before) = Mark::now() else { return };
        let mut child = std::process::Command::new("sleep").arg("10").spawn().unwrap();
        let after = Mark::now().unwrap();
        let range = before.allocated_until(&after, 1 << 20).expect("a few forks on a quiet host");
        let pid = child.id() as i32;
        assert!(range.contains(&pid), "{pid} not in {range:?}");
        assert!(is_process(pid).unwrap());
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            tid_tx.send(rustix::thread::gettid().as_raw_nonzero().get()).unwrap();
            let _ = done_rx.recv();
        });
        let tid = tid_rx.recv().unwrap();
        assert!(!is_process(tid).unwrap(), "a live thread's ID");
        done_tx.send(()).unwrap();
        thread.join().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn a_range_wraps_at_pid_max_and_more_forks_than_pids_refuse_it() {
        let Some(pid_max) = read_number::<i32>("/proc/sys/kernel/pid_max") else { return };
        let wrapped = Mark { last_pid: pid_max - 2, forks: 10 }.allocated_until(&Mark { last_pid: 3, forks: 14 }, 100);
        assert_eq!(wrapped, Some(vec![pid_max - 1, 1, 2, 3]));
        let round = Mark { last_pid: 100, forks: 10 }.allocated_until(&Mark { last_pid: 104, forks: 50_000 }, 100);
        assert_eq!(round, None, "the PIDs went round");
        assert_eq!(Mark { last_pid: 100, forks: 0 }.allocated_until(&Mark { last_pid: 500, forks: 1 }, 100), None);
    }
}
