//! A session too large for XEXIT_PIDS (one environment string may hold 128 KiB, the kernel's
//! MAX_ARG_STRLEN; longer, and exec fails with E2BIG): the hook still runs, XEXIT_PIDS is
//! empty, and XEXIT_PIDS_FILE names a file with every PID, removed after the hooks.
mod common;
use common::*;
use std::collections::BTreeSet;
use std::time::Duration;

/// The kernel's limit for one environment string, NAME=VALUE and its NUL.
const MAX_ARG_STRLEN: usize = 128 * 1024;
/// Sleeps per shell: one shell forks them, then becomes a sleep itself.
const PER_SHELL: usize = 500;
/// The most processes the test starts (pid_max is 32,768 on the test hosts). Where PIDs
/// have wrapped to four digits, more processes are needed for the same length.
const MOST: usize = 30_000;

/// The length of "XEXIT_PIDS=" and the PIDs, space-separated, with the NUL.
fn variable_length(pids: &BTreeSet<i32>) -> usize {
    "XEXIT_PIDS=".len() + pids.iter().map(|p| p.to_string().len() + 1).sum::<usize>()
}

/// Starts shells of PER_SHELL tagged sleeps each until the session's PIDs, space-separated,
/// are longer than one environment string may be; returns the shells and every PID.
fn start_large_session(user: &TestUser, tag: &str) -> (Vec<std::process::Child>, BTreeSet<i32>) {
    let script = format!("i=0; while [ $i -lt {PER_SHELL} ]; do sleep 1000 & i=$((i+1)); done; exec sleep 1000");
    let mut shells = Vec::new();
    loop {
        let pids: BTreeSet<i32> = user.processes().into_iter().collect();
        // A margin of 500 PIDs' worth, so the length is past the limit beyond doubt.
        if variable_length(&pids) > MAX_ARG_STRLEN + 3_000 {
            return (shells, pids);
        }
        // Eight shells at a time, then one at a time near the length wanted.
        let shells_now = if variable_length(&pids) > MAX_ARG_STRLEN * 3 / 4 { 1 } else { 8 };
        assert!(pids.len() + shells_now * (PER_SHELL + 1) <= MOST, "{} processes, still not enough", pids.len());
        let batch: Vec<_> = (0..shells_now).map(|_| user.spawn_shell(&script, &[("XEXIT_TEST_TAG", tag)])).collect();
        for shell in &batch {
            let pid = shell.id() as i32;
            let sleeping = wait_for(Duration::from_secs(120), || exe_of(pid).is_some_and(|e| e.ends_with("sleep")));
            assert!(sleeping, "shell {pid} never finished starting its sleeps");
        }
        shells.extend(batch);
    }
}

#[test]
fn a_session_too_large_for_xexit_pids_gets_every_pid_in_xexit_pids_file() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhookpids1");
    let hooks = HookDir::new("hookpids1");
    hooks.add(
        "10pids",
        0o755,
        "#!/bin/sh\ncp \"$XEXIT_PIDS_FILE\" OUT/pids\necho \"$XEXIT_PIDS_FILE\" > OUT/path\n\
         echo \"${XEXIT_PIDS+set} ${#XEXIT_PIDS}\" > OUT/variable\n",
    );
    let (mut shells, pids) = start_large_session(&user, "pids");
    let output = end_tagged(&user, "pids", &[&hooks.arg()]);
    let log = stderr_of(&output);
    // What a survivor is (its /proc/PID/stat), for the failure message.
    let survivors = user.live_stats();
    user.cleanup();
    for shell in &mut shells {
        finish(shell);
    }

    let seen: BTreeSet<i32> = std::fs::read_to_string(hooks.out("pids"))
        .unwrap_or_else(|e| panic!("the hook did not run ({e}): {}", &log[log.len().saturating_sub(3000)..]))
        .lines()
        .map(|l| l.parse().unwrap_or_else(|_| panic!("not a PID: {l:?}")))
        .collect();
    let missed: Vec<_> = pids.difference(&seen).take(10).collect();
    assert!(missed.is_empty(), "of {} PIDs the hook missed {missed:?}...", pids.len());
    assert_eq!(seen.len(), pids.len(), "the file lists PIDs that are not the session's");
    let variable = std::fs::read_to_string(hooks.out("variable")).unwrap();
    assert_eq!(variable.trim(), "set 0", "XEXIT_PIDS is not set and empty");
    assert!(log.contains("XEXIT_PIDS left empty"), "{log}");
    let path = std::fs::read_to_string(hooks.out("path")).unwrap();
    assert!(!std::path::Path::new(path.trim()).exists(), "{} outlived the hooks", path.trim());
    // More processes than the open-files limit here (20,000): held and signalled in batches.
    let tail = &log[log.len().saturating_sub(3000)..];
    let count = survivors.len();
    let some = &survivors[..count.min(5)];
    assert_eq!(
        count,
        0,
        "of {} processes {count} survived the reap ({}), such as {some:?}: {tail}",
        pids.len(),
        output.status
    );
    assert_eq!(output.status.code(), Some(0), "{tail}");
}
