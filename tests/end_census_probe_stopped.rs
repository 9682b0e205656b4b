//! The user cannot make root's end wait on the count of their tasks. Each count probe runs
//! as the user, who may stop it. One held past a second was killed and the count no
//! answer, but one stopped for most of a second and then continued answered late, and a
//! count takes more probes the more tasks the user has: a process of the user that stops all
//! of the user's processes again and again kept an end counting for seconds (a review
//! finding: 3.8 s instead of 0.2 s; here, beside 300 other processes of the user, 8.6 s on
//! affdb41), growing with the user's tasks, with the greeter waiting on the PostSession hook.
//! A probe is never stopped but by the user: now a stopped probe, or a stopped fork of one,
//! ends the count at once as no answer, and the end exits 1 soon.
mod common;
use common::attackers::{ENV_HERD, Padding, env_herd};
use common::*;
use std::time::{Duration, Instant};

/// Stops every process of the user it may (the count probes among them) over and over for
/// 0.85 s, then continues them all for a moment (from a review of xexit).
const STOPPER: &str = r#"
#include <signal.h>
#include <time.h>
#include <unistd.h>
int main(void) {
    for (;;) {
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        do {
            kill(-1, SIGSTOP);
            usleep(100);
            clock_gettime(CLOCK_MONOTONIC, &now);
        } while ((now.tv_sec - start.tv_sec) * 1000000000L + now.tv_nsec - start.tv_nsec < 850000000L);
        kill(-1, SIGCONT);
        usleep(3000);
    }
}
"#;

#[test]
fn probes_held_up_by_the_user_cannot_keep_root_s_end_counting() {
    if !need_root() || !need_program("cc") {
        return;
    }
    let user = TestUser::get("xxprobestop");
    // 300 other processes of the user: a count of them takes some 20 probes.
    let (_herd_dir, herd) = compile_c("herd", ENV_HERD);
    let mut herd = env_herd(&user, &herd, 300, "other", Padding::None);
    let (_dir, stopper) = compile_c("stopper", STOPPER);
    let mut stopper = user.command(stopper.to_str().unwrap(), &[]).spawn().unwrap();
    let mut session = user.command("sleep", &[("XEXIT_TEST_TAG", "stopped")]).arg("1000").spawn().unwrap();
    let started = Instant::now();
    let mut end = xexit(&["end", "--no-hooks", "--schedule", "TERM/0.5/KILL/1", "--user", &user.name, "-v"]);
    end.args(["--session", "env:XEXIT_TEST_TAG=stopped"]);
    let output = run(&mut end);
    let took = started.elapsed();
    let session_ended = session.try_wait().unwrap().is_some();
    let _ = stopper.kill();
    let _ = stopper.wait();
    let _ = session.kill();
    let _ = session.wait();
    // The herd's parent; its children go with the user's processes when the test ends.
    let _ = herd.kill();
    let _ = herd.wait();
    let log = stderr_of(&output);
    eprintln!("{log}the end took {took:?}");
    assert!(session_ended, "the session's sleep outlived the end\n{log}");
    // The rounds and three looks that are no proof, each ended by the first stopped probe.
    assert!(took < Duration::from_secs(6), "the end took {took:?}\n{log}");
    // The stopper holds every probe: no count can agree, so no exit 0.
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(log.contains("could not be counted"), "{log}");
}
