//! Sub-cgroups created and removed while xexit walks the session's cgroup (as systemd does
//! with transient scopes) are empty, not an error that stops the reap: the session still
//! ends whole, with exit 0.
mod common;
use common::*;
use nix::sys::signal::Signal;
use std::sync::atomic::{AtomicBool, Ordering};

#[test]
fn sub_cgroups_removed_during_the_walk_do_not_stop_the_reap() {
    if !need_root() {
        return;
    }
    let Some(session) = TestCgroup::create("churn") else { return };
    let user = TestUser::get("xxchurn");
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // Each churner makes and removes its own empty sub-cgroups, as fast as it can.
        for churner in 0..2 {
            let (dir, stop) = (&session.dir, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for n in 0..40 {
                        let _ = std::fs::create_dir(dir.join(format!("c{churner}-{n}")));
                    }
                    for n in 0..40 {
                        let _ = std::fs::remove_dir(dir.join(format!("c{churner}-{n}")));
                    }
                }
            });
        }
        for round in 0..3 {
            let mut ignorer = user
                .command_in(&session, "/bin/sh", &[])
                .args(["-c", "trap '' TERM; while :; do sleep 0.1; done"])
                .spawn()
                .unwrap();
            assert!(wait_ignoring(ignorer.id() as i32, Signal::SIGTERM), "the shell never ignored TERM");
            let output =
                run(xexit(&["end", "--no-hooks", "--grace", "1", "--session"]).arg(format!("cgroup:{}", session.path)));
            let left = session.pids();
            let _ = ignorer.kill();
            let _ = ignorer.wait();
            if output.status.code() != Some(0) || !left.is_empty() {
                stop.store(true, Ordering::Relaxed);
            }
            assert_eq!(output.status.code(), Some(0), "round {round}: {}", stderr_of(&output));
            assert!(left.is_empty(), "round {round} left {left:?}");
        }
        stop.store(true, Ordering::Relaxed);
    });
}
