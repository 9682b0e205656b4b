//! Every `unsafe` call of xexit, each with the reason it is sound.

use std::io;
use std::os::fd::{IntoRawFd, OwnedFd};

/// Which side of a fork this process is on.
pub enum Forked {
    Parent,
    Child,
}

/// fork(2), for detaching into the background.
///
/// The caller must be single-threaded: the child of a multi-threaded process may only make
/// async-signal-safe calls until it execs, and the detached watcher goes on with ordinary Rust.
pub fn fork_single_threaded() -> io::Result<Forked> {
    // SAFETY: the only caller (daemon::detach) runs before any thread is started, or after
    // the one it started has been joined, so the child is a full copy of a single-threaded
    // process and may do anything.
    match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        nix::unistd::ForkResult::Parent { .. } => Ok(Forked::Parent),
        nix::unistd::ForkResult::Child => Ok(Forked::Child),
    }
}

/// Gives the calling thread its own copy of the file descriptor table (unshare CLONE_FILES),
/// so its opens and closes do not contend for the process's table lock.
///
/// The caller must never hand a descriptor opened after this call to another thread, nor use
/// one of another thread's: in this thread's table they name other files, or nothing.
pub fn unshare_fd_table() -> io::Result<()> {
    // SAFETY: the only caller is a /proc scan helper thread that opens its own reader after
    // this call, closes what it opens, and sends only plain data (PIDs and verdicts) back.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FILES) }.map_err(io::Error::from)
}

/// Closes many descriptors with as few syscalls as runs of consecutive numbers allow
/// (close_range), which is what a scan of thousands of /proc files costs least with.
pub fn close_all(fds: Vec<OwnedFd>) {
    let mut raw: Vec<i32> = fds.into_iter().map(IntoRawFd::into_raw_fd).collect();
    raw.sort_unstable();
    let mut rest = &raw[..];
    while let Some(&first) = rest.first() {
        let run = rest.iter().enumerate().take_while(|(i, fd)| **fd == first + *i as i32).count();
        let last = rest[run - 1];
        // SAFETY: every descriptor from first to last came out of an OwnedFd given to this
        // function, so this process owns each and nothing else refers to it.
        let closed = run > 1 && unsafe { libc::close_range(first as u32, last as u32, 0) } == 0;
        if !closed {
            for fd in &rest[..run] {
                // SAFETY: as above; each one is closed exactly once.
                unsafe { libc::close(*fd) };
            }
        }
        rest = &rest[run..];
    }
}

/// Lets the child that `command` starts inherit `fd` although it is close-on-exec here, so it
/// can execute or read the very file xexit opened and checked, as /proc/self/fd/N.
///
/// The caller must keep `fd` open until `command` has been spawned.
pub fn inherit_fd(command: &mut std::process::Command, fd: std::os::fd::BorrowedFd<'_>) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let raw = fd.as_raw_fd();
    // SAFETY: the closure runs in the child between fork and exec, where only async-signal-
    // safe calls are allowed: it makes one fcntl call and allocates nothing (an OS error is
    // stored inline). `raw` is open in the child, whose descriptor table is a copy of the
    // parent's taken while the caller holds `fd` open; clearing FD_CLOEXEC there changes
    // nothing in the parent.
    unsafe {
        command.pre_exec(move || {
            if libc::fcntl(raw, libc::F_SETFD, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Makes the child that `command` starts ignore HUP and TERM, as an ignored signal stays
/// ignored across exec: a hook then outlives the stop of the scope it shares with the session
/// (logind's TERM and HUP to every process of it), unless it sets handlers of its own.
pub fn ignore_hangup_and_terminate(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec, where only async-signal-
    // safe calls are allowed: it makes two sigaction calls (signal(2) is one) and allocates
    // nothing; a disposition set there changes nothing in the parent.
    unsafe {
        command.pre_exec(|| {
            for signal in [libc::SIGHUP, libc::SIGTERM] {
                if libc::signal(signal, libc::SIG_IGN) == libc::SIG_ERR {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Whether a fork as `uid` succeeds under an RLIMIT_NPROC of `limit`: the kernel refuses it
/// (EAGAIN) once the user has `limit` tasks (threads included, counted until reaped, in every
/// PID namespace), the probe itself among them. An error says why the probe could not tell.
///
/// A child of xexit becomes `uid` (groups dropped, `gid`), lowers its limit and forks once;
/// what it learns comes back as its exit status. Its saved uid stays root: the user's
/// processes may then neither raise its limit (prlimit(2) wants all three uids the caller's,
/// and a raised one made every fork succeed, the count 0) nor trace it; its effective
/// capabilities are gone, so the limit holds for it. The user may signal it (its real uid
/// is theirs): one that is killed or stopped (it or its fork), or that takes longer than
/// PROBE_TAKES, is an error, never an answer.
pub fn fork_as_user_within(uid: u32, gid: u32, limit: u64) -> Result<bool, &'static str> {
    const BELOW: i32 = 0;
    const AT_LIMIT: i32 = 1;
    const FORK_STOPPED: i32 = 3;
    const PROBE_TAKES: std::time::Duration = std::time::Duration::from_secs(1);
    // SAFETY: the child makes only raw system calls (sigaction, close_range, setpgid,
    // setgroups, setresgid, setresuid, getrlimit, setrlimit, clone, wait4, kill, _exit) and
    // allocates nothing, so it is sound even if
    // xexit had other threads; it never returns into Rust. The grandchild only exits.
    let probe = unsafe { libc::fork() };
    if probe == 0 {
        unsafe {
            // Handlers of xexit's (a signal to its self-pipe) would answer for xexit: the
            // user may signal the probe. Nor does it keep xexit's descriptors (its caller's
            // pipe, /proc files opened as root): a probe the user stops would hold them open.
            // In a process group of its own, so that a probe held up is killed with its fork.
            for signal in 1..32 {
                libc::signal(signal, libc::SIG_DFL);
            }
            libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32);
            libc::setpgid(0, 0);
            let root = libc::geteuid() == 0;
            if root
                && (libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) != 0
                    || libc::syscall(libc::SYS_setresgid, gid, gid, gid) != 0
                    || libc::syscall(libc::SYS_setresuid, uid, uid, 0) != 0)
            {
                libc::_exit(2);
            }
            let mut rlimit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            if libc::getrlimit(libc::RLIMIT_NPROC, &mut rlimit) != 0 || rlimit.rlim_max < limit {
                libc::_exit(2);
            }
            rlimit.rlim_cur = limit;
            if libc::setrlimit(libc::RLIMIT_NPROC, &rlimit) != 0 {
                libc::_exit(2);
            }
            let task = libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0, 0, 0, 0);
            if task == 0 {
                libc::_exit(0);
            }
            if task < 0 {
                let refused = *libc::__errno_location() == libc::EAGAIN;
                libc::_exit(if refused { AT_LIMIT } else { 2 });
            }
            let mut status = 0;
            libc::waitpid(task as libc::pid_t, &mut status, libc::WUNTRACED);
            if libc::WIFSTOPPED(status) {
                // Ended here, by its parent, so that nothing is left to signal by number
                // once this probe is reaped.
                libc::kill(task as libc::pid_t, libc::SIGKILL);
                libc::waitpid(task as libc::pid_t, std::ptr::null_mut(), 0);
                libc::_exit(FORK_STOPPED);
            }
            libc::_exit(BELOW);
        }
    }
    if probe < 0 {
        return Err("no process for the probe");
    }
    let started = std::time::Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: reaps the child just forked, writing into a local.
        // A probe is never stopped but by the user, who would hold the count up with it.
        match unsafe { libc::waitpid(probe, &mut status, libc::WNOHANG | libc::WUNTRACED) } {
            0 if started.elapsed() < PROBE_TAKES => std::thread::sleep(std::time::Duration::from_micros(200)),
            0 => return Err(kill_probe(probe, "the probe was held up (stopped by the user?)")),
            found if found == probe && libc::WIFSTOPPED(status) => {
                return Err(kill_probe(probe, "the probe was stopped (by the user?)"));
            }
            found if found == probe => break,
            _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
            _ => return Err("the probe was lost"),
        }
    }
    match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
        Some(BELOW) => Ok(true),
        Some(AT_LIMIT) => Ok(false),
        Some(FORK_STOPPED) => Err("the probe's fork was stopped (by the user?)"),
        Some(_) => Err("the probe could not become the user or lower its limit"),
        None => Err("the probe was killed (by the user?)"),
    }
}

/// Kills a probe not reaped yet, with its process group, and reaps it; `why`.
fn kill_probe(probe: libc::pid_t, why: &'static str) -> &'static str {
    // SAFETY: the probe is not reaped yet, so its PID, and so its process group's number, is
    // still its own; the group holds the probe and its fork alone.
    unsafe {
        libc::kill(-probe, libc::SIGKILL);
        libc::kill(probe, libc::SIGKILL);
        libc::waitpid(probe, std::ptr::null_mut(), 0);
    }
    why
}

/// Where `byte` first occurs in `haystack`: libc's memchr, which is fast in every build
/// (environments of megabytes are searched; the test build is not optimized).
pub fn find_byte(haystack: &[u8], byte: u8) -> Option<usize> {
    // SAFETY: the pointer and length describe `haystack`, which is borrowed for the call; a
    // result is a pointer into it, at or after its start.
    let found = unsafe { libc::memchr(haystack.as_ptr().cast(), i32::from(byte), haystack.len()) };
    (!found.is_null()).then(|| found as usize - haystack.as_ptr() as usize)
}

/// Where `needle` first occurs in `haystack` (libc's memmem, as `find_byte`).
pub fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    // SAFETY: both pointers and lengths describe slices borrowed for the call; a result is a
    // pointer into `haystack`, at or after its start.
    let found = unsafe { libc::memmem(haystack.as_ptr().cast(), haystack.len(), needle.as_ptr().cast(), needle.len()) };
    (!found.is_null()).then(|| found as usize - haystack.as_ptr() as usize)
}
