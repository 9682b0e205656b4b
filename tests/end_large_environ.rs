//! Large environments cost an end no more than their first read: each process's environment
//! is read at most once per end (a look, the check before each signal and the looks after all
//! ask again), and only up to the tag. 150 processes sharing one 6 MiB environment (forked
//! from one that exec'd with it) are ended, all of them, exit 0: for at most a few times the
//! CPU of 150 with small environments where the tag comes first, and for not much more than
//! reading each environment once where it comes last.
mod common;
use common::attackers::*;
use common::*;
use nix::sys::resource::UsageWho;

const PROCESSES: usize = 150;
const RUNS: usize = 3;

/// Ends a herd of `user` padded so, RUNS times; the median CPU of xexit, and of reading each
/// environment of the herd once, in ms.
fn end_cost(user: &TestUser, program: &std::path::Path, padding: Padding) -> (f64, f64) {
    let (mut costs, mut floors) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let tag = format!("big{run}");
        let mut parent = env_herd(user, program, PROCESSES, &tag, padding);
        let pids = user.processes();
        assert_eq!(pids.len(), PROCESSES, "the herd is not all there");
        floors.push(read_environ_once_ms(&pids));
        let before = cpu_ms(UsageWho::RUSAGE_CHILDREN);
        let output = end_tagged(user, &tag, &["--no-hooks"]);
        costs.push(cpu_ms(UsageWho::RUSAGE_CHILDREN) - before);
        let log = stderr_of(&output);
        let _ = parent.wait();
        let left = user.processes();
        assert!(left.is_empty(), "{} of the herd survived\n{log}", left.len());
        assert_eq!(output.status.code(), Some(0), "{log}");
    }
    (median(costs), median(floors))
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

#[test]
fn large_shared_environments_cost_little_more_than_small_ones() {
    if !need_root() {
        return;
    }
    raise_stack_limit();
    let user = TestUser::get("xxlargeenv");
    let (_dir, program) = compile_c("env-herd", ENV_HERD);
    let (small, _) = end_cost(&user, &program, Padding::None);
    let (first, _) = end_cost(&user, &program, Padding::After);
    let (last, read_once) = end_cost(&user, &program, Padding::Before);
    eprintln!(
        "{PROCESSES} processes, median CPU of xexit end: small environments {small:.0} ms; 6 MiB with the tag \
         first {first:.0} ms, last {last:.0} ms (reading each environment once: {read_once:.0} ms)"
    );
    assert!(
        first <= 4.0 * small.max(10.0),
        "with the tag first in 6 MiB environments, ending took {first:.0} ms of CPU, against {small:.0} ms with small ones"
    );
    assert!(
        last <= 2.0 * (small.max(10.0) + read_once),
        "with the tag last in 6 MiB environments, ending took {last:.0} ms of CPU, against {small:.0} ms with small \
         ones and {read_once:.0} ms to read each environment once"
    );
}
