//! Threads are tasks, and a user's processes can use them up (RLIMIT_NPROC, a full pids
//! cgroup, every PID taken). Where xexit can start no thread it must not panic: `list` and
//! `end` do their looks in one thread, and a watcher that cannot start its threads says so
//! and exits 3. Run as PID 1 of a PID namespace of its own whose pid_max is small and whose
//! every PID but one or two is taken by sleepers, so nothing outside it is touched.
mod common;
use common::*;

/// In the namespace: the session (a tagged sleep of the user), sleepers on every PID left,
/// then each command with FREE PIDs given back for it; prints `exit STATUS` and its output.
const RUN: &str = r#"
import json, os, signal, subprocess, sys
open('/proc/sys/kernel/pid_max', 'w').write('400')
uid, gid, tag, commands = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
session = os.fork()
if session == 0:
    os.setgroups([]); os.setgid(gid); os.setuid(uid)
    os.execve('/bin/sleep', ['sleep', '1000'], {'XEXIT_TEST_TAG': tag})
print('session', session, flush=True)
fillers, session_ended = [], False
for free, argv in commands:
    # What ran before is reaped (a detached watcher's orphans are this init's), every PID
    # taken again, then FREE of them given back.
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        session_ended |= pid == session
    while True:
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            signal.pause()
            os._exit(0)
        fillers.append(pid)
    for _ in range(free):
        victim = fillers.pop()
        os.kill(victim, signal.SIGKILL)
        os.waitpid(victim, 0)
    result = subprocess.run(argv, capture_output=True, text=True)
    print(json.dumps([result.returncode, result.stdout + result.stderr]), flush=True)
session_ended |= os.waitpid(session, os.WNOHANG)[0] == session
print('session ended', session_ended, flush=True)
"#;

#[test]
fn with_no_thread_to_start_list_and_end_work_and_a_watcher_says_why() {
    if !need_root() || !need_program("python3") || !need_program("unshare") {
        return;
    }
    let Some(xvfb) = Xvfb::start() else { return };
    let user = TestUser::get("xxthreads");
    let tag = "threads-used-up";
    let selector = format!("env:XEXIT_TEST_TAG={tag}");
    let as_user = user.setpriv_args();
    let watcher = |foreground: bool| {
        let mut argv: Vec<String> = ["setpriv"].iter().map(|s| s.to_string()).chain(as_user.clone()).collect();
        argv.extend(["env", "-i", &format!("DISPLAY={}", xvfb.display), XEXIT, "--log", "stderr"].map(String::from));
        argv.extend(["--session", &selector].map(String::from));
        if foreground {
            argv.push("--foreground".into());
        }
        argv
    };
    let list = ["list", "--user", &user.name, "--session", &selector].map(String::from);
    let end = ["end", "--no-hooks", "--user", &user.name, "--session", &selector].map(String::from);
    let commands = serde_like_json(&[
        (1, [vec![XEXIT.to_string()], list.to_vec()].concat()),
        // xexit, and one thread at a time: the connecting one, then the first watching one.
        (2, watcher(true)),
        // Detached: the watcher's fork takes the connecting thread's PID back.
        (2, watcher(false)),
        (1, [vec![XEXIT.to_string()], end.to_vec()].concat()),
    ]);
    let output = run(Command::new("unshare").args(["-p", "-f", "-m", "--mount-proc", "python3", "-c", RUN]).args([
        &user.uid.to_string(),
        &user.gid.to_string(),
        tag,
        &commands,
    ]));
    let text = stdout_of(&output);
    eprintln!("{text}{}", stderr_of(&output));
    let session: i32 = text.lines().find_map(|l| l.strip_prefix("session ")?.parse().ok()).expect("no session");
    let results: Vec<(i32, String)> = text.lines().filter_map(parse_result).collect();
    assert_eq!(results.len(), 4, "{text}");
    assert!(results.iter().all(|(_, out)| !out.contains("panicked")), "a panic: {results:?}");
    let (list_status, list_out) = &results[0];
    assert_eq!(*list_status, 0, "list: {list_out}");
    assert!(list_out.lines().any(|l| l.starts_with(&format!("{session} "))), "list missed the session: {list_out}");
    // The detached one's parent exits 0 once it has detached; its error is logged after.
    for (_, out) in &results[1..3] {
        assert!(out.contains("no thread could be started"), "watcher: {out}");
    }
    assert_eq!(results[1].0, 3, "the foreground watcher's exit: {}", results[1].1);
    let (end_status, end_out) = &results[3];
    // Ended; but no probe could be forked to count the user's tasks, so no exit 0.
    assert_eq!(*end_status, 1, "end: {end_out}");
    assert!(end_out.contains("could not be counted"), "end: {end_out}");
    assert!(text.contains("session ended True"), "the session's sleep outlived the end: {text}");
}

use std::process::Command;

/// `commands` as the JSON list of [free PIDs, argv] the namespace's script reads.
fn serde_like_json(commands: &[(u32, Vec<String>)]) -> String {
    let quote = |s: &String| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let items: Vec<String> = commands
        .iter()
        .map(|(free, argv)| format!("[{free}, [{}]]", argv.iter().map(quote).collect::<Vec<_>>().join(", ")))
        .collect();
    format!("[{}]", items.join(", "))
}

/// One `[status, output]` line of the script.
fn parse_result(line: &str) -> Option<(i32, String)> {
    let rest = line.strip_prefix('[')?.strip_suffix(']')?;
    let (status, output) = rest.split_once(", ")?;
    let output: String = output.strip_prefix('"')?.strip_suffix('"')?.to_string();
    Some((status.parse().ok()?, output.replace("\\n", "\n").replace("\\\"", "\"")))
}
