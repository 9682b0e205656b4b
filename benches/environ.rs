//! Large environments: what one `xexit end` costs against 150 processes that share one 6 MiB
//! environment (forked from one that exec'd with it), the tag first or last in it, side by side
//! with 150 with small environments. `cargo bench --bench environ -- [--runs N]`, as root.
//!
//! The processes belong to a bench user of their own (xxbenchenv), removed at the end. CPU
//! is xexit's own (getrusage of the children reaped), user plus system time; the target
//! (issue 19) is each 6 MiB case within 2x the small one. The cases run in turn, a run of
//! each, so that all see the same machine.

#[path = "../tests/common/mod.rs"]
mod common;

use common::attackers::{ENV_HERD, Padding, cpu_ms, env_herd, raise_stack_limit, read_environ_once_ms};
use common::{TestUser, XEXIT, compile_c};
use nix::sys::resource::UsageWho;

const PROCESSES: usize = 150;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args.iter().position(|a| a == "--runs").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(5);
    assert!(rustix::process::geteuid().is_root(), "run as root: the bench makes a user and its processes");
    raise_stack_limit();
    let user = TestUser::get("xxbenchenv");
    let (_dir, program) = compile_c("env-herd", ENV_HERD);
    let cases = [
        ("small environments", Padding::None),
        ("6 MiB, tag first", Padding::After),
        ("6 MiB, tag last", Padding::Before),
    ];
    // Interleaved, a run of each case in turn, so that all see the same machine.
    let (mut cpu, mut read_once) = (vec![Vec::new(); cases.len()], vec![Vec::new(); cases.len()]);
    for run in 0..runs {
        for (case, (label, padding)) in cases.iter().enumerate() {
            let tag = format!("env{run}-{case}");
            let mut parent = env_herd(&user, &program, PROCESSES, &tag, *padding);
            let pids = user.processes();
            assert_eq!(pids.len(), PROCESSES, "the herd is not all there");
            read_once[case].push(read_environ_once_ms(&pids));
            let before = cpu_ms(UsageWho::RUSAGE_CHILDREN);
            let session = format!("env:XEXIT_TEST_TAG={tag}");
            let output = std::process::Command::new(XEXIT)
                .args(["end", "--no-hooks", "--user", &user.name, "--session", &session])
                .output()
                .unwrap();
            cpu[case].push(cpu_ms(UsageWho::RUSAGE_CHILDREN) - before);
            let _ = parent.wait();
            assert!(output.status.success() && user.processes().is_empty(), "{label}: the herd was not ended");
        }
    }
    let small = median(cpu[0].clone());
    for (case, (label, _)) in cases.iter().enumerate() {
        let (cpu, read_once) = (median(cpu[case].clone()), median(read_once[case].clone()));
        let target = match case {
            0 => String::new(),
            _ => format!(", {:.1}x small {}", cpu / small, verdict(cpu <= 2.0 * small)),
        };
        println!(
            "xexit end of {PROCESSES} processes, {label}, {runs} runs: CPU {cpu:.0} ms (reading each environment \
             once: {read_once:.0} ms){target}"
        );
    }
}

/// The median of `samples`.
fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn verdict(ok: bool) -> &'static str {
    if ok { "(meets the target)" } else { "(MISSES the target)" }
}
