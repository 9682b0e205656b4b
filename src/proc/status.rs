//! /proc/PID/status and /proc/PID/stat: owner, state, name, and the IDs of relatives.

use std::fmt::Write as _;

/// The parsed fields of /proc/PID/status that matter here.
#[derive(Debug)]
pub struct Status {
    pub name: String,
    pub state: String,
    pub real_uid: u32,
    pub effective_uid: u32,
    pub kernel_thread: bool,
    /// Live threads; a process whose main thread exited shows the state Z with more than one.
    pub threads: u32,
    /// The signals it ignores (SigIgn), bit N-1 for signal N.
    pub ignored: u64,
    /// Resident memory (VmRSS), in KiB; 0 for a kernel thread or a zombie.
    pub rss_kib: u64,
}

impl Status {
    pub fn parse(pid: i32, text: &str) -> Option<Status> {
        let mut name = None;
        let mut state = None;
        let mut uids = None;
        let mut ppid = None;
        let mut kthread = None;
        let mut threads = 1;
        let mut ignored = 0;
        let mut rss_kib = 0;
        for line in text.lines() {
            let Some((key, raw)) = line.split_once(':') else { continue };
            let value = raw.trim();
            match key {
                // The name is the process's own: only the kernel's tab is taken off (trim
                // would take a no-break space, or spaces, that the name begins or ends with).
                "Name" => name = Some(raw.strip_prefix('\t').unwrap_or(raw).to_string()),
                "State" => state = Some(value.to_string()),
                "PPid" => ppid = value.parse::<i32>().ok(),
                "Kthread" => kthread = Some(value == "1"),
                "Threads" => threads = value.parse::<u32>().unwrap_or(1),
                "SigIgn" => ignored = u64::from_str_radix(value, 16).unwrap_or(0),
                "VmRSS" => rss_kib = value.trim_end_matches("kB").trim().parse().unwrap_or(0),
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
        Some(Status { name: name?, state: state?, real_uid, effective_uid, kernel_thread, threads, ignored, rss_kib })
    }

    /// Whether `uid` owns the process (any uid for `None`): real and effective uid alike, so
    /// a setuid program the user started is not the user's.
    pub fn is_owned_by(&self, uid: Option<u32>) -> bool {
        uid.is_none_or(|uid| self.real_uid == uid && self.effective_uid == uid)
    }

    /// Whether the process is over (a zombie waiting to be reaped). Not so for one whose main
    /// thread called pthread_exit: its state is Z while its other threads run on.
    pub fn is_zombie(&self) -> bool {
        !is_live(&self.state, self.threads)
    }
}

/// Whether a process in `state` (the letter of status or stat) with `threads` threads lives:
/// a zombie (Z) or one being reaped (X, 0 threads) has ended, unless only its main thread
/// exited and others run on.
fn is_live(state: &str, threads: u32) -> bool {
    !(state.starts_with('Z') || state.starts_with('X')) || threads > 1
}

impl Status {
    /// What /proc/PID/stat tells, for a process whose uids are known to be `uid` already
    /// (see `ProcReader::status_of_own`): one read that costs the kernel half of status.
    /// The name is escaped as status escapes it; `ignored` holds only signals 1-31 (stat's
    /// sigignore, which the kernel masks so): enough for HUP and TERM.
    pub(super) fn from_stat(stat: &[u8], uid: u32) -> Option<Status> {
        const PF_KTHREAD: u64 = 0x0020_0000;
        let open = stat.iter().position(|b| *b == b'(')?;
        let close = stat.iter().rposition(|b| *b == b')')?;
        let comm = String::from_utf8_lossy(stat.get(open + 1..close)?);
        let name = comm.replace('\\', "\\\\").replace('\n', "\\n");
        let fields: Vec<&str> = stat_fields(stat)?.collect();
        // Indices after the name: state 0 (field 3), flags 6, threads 17, rss 21, sigignore 30.
        let number = |index: usize| fields.get(index)?.parse::<u64>().ok();
        let letter = *fields.first()?;
        let state = match STATE_NAMES.iter().find(|(l, _)| *l == letter) {
            Some((_, long)) => format!("{letter} ({long})"),
            None => letter.to_string(),
        };
        let page_kib = rustix::param::page_size() as u64 / 1024;
        Some(Status {
            name,
            state,
            real_uid: uid,
            effective_uid: uid,
            kernel_thread: number(6)? & PF_KTHREAD != 0,
            threads: u32::try_from(number(17)?).ok()?,
            ignored: number(30).unwrap_or(0),
            rss_kib: number(21)? * page_kib,
        })
    }
}

impl super::ProcReader {
    /// The status of a process whose environment xexit, not root, could read: in xexit's own
    /// user namespace that took real, effective and saved uid all `uid`, so /proc/PID/stat
    /// says the rest (see `Status::from_stat`). In a user namespace of the user's, the user
    /// may read it whatever its uids (a rootless container's): then its status. None when
    /// it is gone.
    pub fn status_of_own(&mut self, pid: i32, uid: u32) -> Option<Status> {
        self.path.clear();
        let _ = write!(self.path, "{pid}/ns/user");
        let namespace = rustix::fs::readlinkat(&self.proc, self.path.as_str(), Vec::new()).ok()?;
        if Some(namespace.as_bytes()) != self.own_user_namespace.as_deref() {
            return self.status(pid);
        }
        Status::from_stat(self.read(pid, "stat").ok()?, uid)
    }
}

/// The state letters and the words status gives them (fs/proc/array.c).
const STATE_NAMES: [(&str, &str); 9] = [
    ("R", "running"),
    ("S", "sleeping"),
    ("D", "disk sleep"),
    ("T", "stopped"),
    ("t", "tracing stop"),
    ("X", "dead"),
    ("Z", "zombie"),
    ("P", "parked"),
    ("I", "idle"),
];

/// The fields of /proc/PID/stat after the command name (which may hold spaces and
/// parentheses): the state, field 3, comes first.
pub(super) fn stat_fields(stat: &[u8]) -> Option<std::str::SplitWhitespace<'_>> {
    let after_name = &stat[stat.iter().rposition(|b| *b == b')')? + 1..];
    Some(std::str::from_utf8(after_name).ok()?.split_whitespace())
}

/// The IDs a process's /proc/PID/stat gives, for a live process (not a zombie; a main
/// thread that exited while others run on still counts as live).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatIds {
    pub ppid: i32,
    pub pgrp: i32,
    pub sid: i32,
}

/// Parses /proc/PID/stat after the command name (which may hold spaces and parentheses).
pub(super) fn parse_stat_ids(stat: &[u8]) -> Option<StatIds> {
    let mut fields = stat_fields(stat)?;
    let state = fields.next()?;
    let mut next = || fields.next()?.parse::<i32>().ok();
    let (ppid, pgrp, sid) = (next()?, next()?, next()?);
    // num_threads is the 20th field, the 14th after the session.
    let threads = fields.nth(13).and_then(|n| n.parse::<u32>().ok()).unwrap_or(1);
    is_live(state, threads).then_some(StatIds { ppid, pgrp, sid })
}

/// The start time (field 22, in clock ticks after boot) of a live process: with its PID it
/// names one process for good. None for a zombie, or a stat that does not parse.
pub(super) fn parse_start_time(stat: &[u8]) -> Option<u64> {
    let mut fields = stat_fields(stat)?;
    let state = fields.next()?;
    // num_threads is field 20, the 17th after the state; the start time two further.
    let threads = fields.nth(16)?.parse::<u32>().ok()?;
    let start = fields.nth(1)?.parse().ok()?;
    is_live(state, threads).then_some(start)
}

/// The start time (field 22) of any process, a zombie's too.
pub(super) fn parse_any_start_time(stat: &[u8]) -> Option<u64> {
    stat_fields(stat)?.nth(19)?.parse().ok()
}

/// Whether the process is exiting: PF_EXITING in its flags (field 9). Its memory, and so its
/// environment, may be gone already while it is not yet a zombie.
pub(super) fn parse_exiting(stat: &[u8]) -> bool {
    const PF_EXITING: u64 = 0x4;
    let flags = stat_fields(stat).and_then(|mut fields| fields.nth(6)?.parse::<u64>().ok());
    flags.is_some_and(|flags| flags & PF_EXITING != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_parsing_finds_uids_state_and_kernel_threads() {
        let text = "Name:\tbash\nState:\tS (sleeping)\nPPid:\t1\nUid:\t1000\t1000\t1000\t1000\nKthread:\t0\n";
        let status = Status::parse(42, text).unwrap();
        assert_eq!((status.name.as_str(), status.real_uid, status.kernel_thread), ("bash", 1000, false));
        let spaced = "Name:\t\u{a0}x \nState:\tS (sleeping)\nUid:\t1\t1\t1\t1\n";
        assert_eq!(Status::parse(43, spaced).unwrap().name, "\u{a0}x ", "the name as the process gave it");
        let old_kernel = "Name:\tkworker\nState:\tI (idle)\nPPid:\t2\nUid:\t0\t0\t0\t0\n";
        assert!(Status::parse(7, old_kernel).unwrap().kernel_thread);
        let zombie = "Name:\tx\nState:\tZ (zombie)\nPPid:\t5\nUid:\t1\t1\t1\t1\n";
        assert!(Status::parse(8, zombie).unwrap().is_zombie());
        let main_thread_exited =
            "Name:\tx\nState:\tZ (zombie)\nPPid:\t5\nUid:\t1\t1\t1\t1\nThreads:\t2\nSigIgn:\t0000000000004000\n";
        let status = Status::parse(9, main_thread_exited).unwrap();
        assert!(!status.is_zombie());
        assert_eq!(status.ignored, 1 << (15 - 1), "TERM, and nothing else");
    }
    #[test]
    fn status_from_stat_matches_what_status_says() {
        let stat = b"42 (a) b\\ (c)) S 7 42 40 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 3 0 987654 8192 25 \
            18446744073709551615 1 1 0 0 0 0 0 16385 0 0 0 17 1 0 0 0 0 0 1 2 3 4 5 6 0";
        let status = Status::from_stat(stat, 1000).unwrap();
        assert_eq!(status.name, "a) b\\\\ (c)", "a backslash doubled, as status shows it");
        assert_eq!((status.state.as_str(), status.threads, status.real_uid), ("S (sleeping)", 3, 1000));
        assert!(!status.kernel_thread);
        assert_eq!(status.rss_kib, 25 * rustix::param::page_size() as u64 / 1024);
        assert_eq!(status.ignored, 16385, "HUP and TERM");
        let kernel = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0";
        assert!(Status::from_stat(kernel, 0).unwrap().kernel_thread);
        let zombie = b"43 (x) Z 7 43 40 0 -1 4227084 128 0 0 0 0 0 0 0 20 0 1 0 5 0 0 0 0 0 0 0 0 0 0 0 0 0 0";
        assert!(Status::from_stat(zombie, 1).unwrap().is_zombie());
    }
    #[test]
    fn a_process_in_another_user_namespace_has_its_status_read() {
        let Ok(mut child) = std::process::Command::new("unshare").args(["-U", "sleep", "10"]).spawn() else { return };
        let pid = child.id() as i32;
        let mut reader = super::super::ProcReader::new().unwrap();
        let entered = (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            let ours = std::fs::read_link("/proc/self/ns/user").ok();
            std::fs::read_link(format!("/proc/{pid}/ns/user")).ok() != ours
        });
        let status = reader.status_of_own(pid, 4242);
        let (own, mine) = (std::process::id() as i32, rustix::process::getuid().as_raw());
        let own_status = reader.status_of_own(own, mine);
        child.kill().unwrap();
        child.wait().unwrap();
        if !entered {
            return; // unshare -U not allowed here
        }
        assert_eq!(status.unwrap().real_uid, mine, "its own uids, from its status, not the 4242 asked for");
        assert_eq!(own_status.unwrap().real_uid, mine);
    }
    #[test]
    fn stat_ids_skip_the_name_and_refuse_zombies() {
        let stat = b"42 (a) b (c)) S 7 42 40 0 -1";
        assert_eq!(parse_stat_ids(stat), Some(StatIds { ppid: 7, pgrp: 42, sid: 40 }));
        assert_eq!(parse_stat_ids(b"43 (x) Z 7 43 40 0 -1 4227084 128 0 0 0 0 0 0 0 20 0 1 0"), None);
        let main_thread_exited = b"44 (x) Z 7 44 40 0 -1 4227084 128 0 0 0 0 0 0 0 20 0 2 0";
        assert_eq!(parse_stat_ids(main_thread_exited), Some(StatIds { ppid: 7, pgrp: 44, sid: 40 }));
    }
    #[test]
    fn start_time_is_field_22_of_a_live_process() {
        let stat = b"42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 8192 100";
        assert_eq!(parse_start_time(stat), Some(987_654));
        assert_eq!(parse_start_time(b"43 (x) Z 1 43 43 0 -1 4 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0"), None);
        assert_eq!(parse_start_time(b"44 (x) Z 1 44 44 0 -1 4 0 0 0 0 0 0 0 0 20 0 3 0 55 0 0"), Some(55));
        assert_eq!(parse_start_time(b"45 (x) S 1 45"), None);
        let zombie = b"43 (x) Z 1 43 43 0 -1 4 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0";
        assert_eq!(parse_any_start_time(zombie), Some(55), "a zombie's start time, for the census");
    }
    #[test]
    fn exiting_is_pf_exiting_in_field_9() {
        assert!(parse_exiting(b"42 (a) b) R 1 42 42 0 -1 4194564 100"));
        assert!(!parse_exiting(b"42 (a) b) S 1 42 42 0 -1 4194560 100"));
        assert!(!parse_exiting(b"42 (a) S 1"));
    }
}
