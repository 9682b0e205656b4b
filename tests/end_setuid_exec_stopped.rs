//! A process of the session that ignores TERM and is inside a long execve of a setuid-root
//! program when xexit stops it: checked while the exec runs it is still the user's, so it is
//! stopped and sent TERM; when the exec completes it is a root process, which the next round
//! refuses. xexit must continue it all the same: nothing it stopped is left stopped.
mod common;
use common::*;
use std::time::Duration;

/// As the user: ignores TERM, then execs the setuid copy of Python with 600,000 empty
/// arguments, which the kernel takes 0.3 s or more to copy (far longer than xexit's 5 ms
/// recheck), to run a sleep as root. The marker file is made right before the call.
const SLOW_EXEC: &str = "import ctypes, os, resource, signal, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_STACK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
path = os.fsencode(sys.argv[1])
args = [path, b'-c', b'import time; time.sleep(1000)'] + [b''] * 600000
argv = (ctypes.c_char_p * (len(args) + 1))(*args, None)
execv = ctypes.CDLL(None, use_errno=True).execv
open(sys.argv[2], 'w').close()
execv(path, argv)
";

#[test]
fn a_process_that_became_root_during_its_stop_is_continued() {
    if !need_root() || !need_program("python3") {
        return;
    }
    let user = TestUser::get("xxsexec");
    let dir = TempDir::new("setuid-exec");
    let python = std::fs::canonicalize("/usr/bin/python3").unwrap();
    let suid = dir.path("suid-python");
    std::fs::copy(&python, &suid).unwrap();
    std::fs::set_permissions(&suid, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
    let tag = [("XEXIT_TEST_TAG", "sexec1")];

    let mut outcomes = Vec::new();
    for attempt in 0..3 {
        let marker = dir.path(&format!("exec-{attempt}"));
        let mut child = user
            .command(python.to_str().unwrap(), &tag)
            .args(["-c", SLOW_EXEC])
            .arg(&suid)
            .arg(&marker)
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        // The marker is made right before the execve: xexit looks while it runs.
        let in_exec = wait_for(Duration::from_secs(10), || marker.exists());
        assert!(in_exec, "attempt {attempt}: the process never came to its execve");
        let output = run(xexit(&["end", "--no-hooks", "--schedule", "TERM/0.5/KILL/0.5", "--user", &user.name])
            .args(["--session", "env:XEXIT_TEST_TAG=sexec1"]));
        let became_root = wait_for(Duration::from_secs(5), || {
            status_field(pid, "Uid").is_some_and(|uids| uids.split_whitespace().nth(1) == Some("0"))
        });
        std::thread::sleep(Duration::from_millis(200));
        let state = status_field(pid, "State").unwrap_or_default();
        let _ = child.kill();
        let _ = child.wait();
        outcomes.push((became_root, state, stderr_of(&output)));
    }
    let mut reached = 0;
    for (became_root, state, log) in &outcomes {
        // Ended before its exec completed, it is no test of this (KILL reaches it in exec).
        if !became_root {
            continue;
        }
        reached += 1;
        assert!(!state.starts_with('T'), "a process xexit stopped was left stopped: state {state}\n{log}");
    }
    assert!(reached > 0, "no attempt let the exec complete:\n{outcomes:?}");
}
