//! What is checked is what runs: a hook is opened once, checked on its descriptor and run
//! from it, so swapping paths between the check and the exec never runs another file. The
//! other file is the test user's script; it would write OUT/evil, which must never exist.
mod common;
use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const ROUNDS: usize = 200;

/// Runs `xexit end` (an empty session of `user`) ROUNDS times with `--hook-dir=hook_dir`,
/// stopping early if the user's script ran; returns how many runs refused something.
fn race(user: &TestUser, hooks: &HookDir, hook_dir: &std::path::Path) -> usize {
    let mut refused = 0;
    for _ in 0..ROUNDS {
        let output = end_tagged(user, "none", &[&format!("--hook-dir={}", hook_dir.display())]);
        refused += usize::from(stderr_of(&output).contains("refused"));
        if hooks.out("evil").exists() {
            break;
        }
    }
    refused
}

#[test]
fn a_hook_exchanged_with_the_users_script_never_runs_the_script() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhookrace1");
    let hooks = HookDir::new("hookrace1");
    let good = hooks.add("10hook", 0o755, "#!/bin/sh\necho ran >> OUT/good\n");
    // A dotfile, so never run under its own name; the user's, so refused under any name.
    let evil = hooks.add(".evil", 0o755, "#!/bin/sh\ntouch OUT/evil\n");
    nix::unistd::chown(&evil, Some(user.uid.into()), None).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (cwd, flags) = (rustix::fs::CWD, rustix::fs::RenameFlags::EXCHANGE);
            while !stop.load(Ordering::Relaxed) {
                rustix::fs::renameat_with(cwd, &good, cwd, &evil, flags).expect("exchange the hooks");
            }
        })
    };
    let refused = race(&user, &hooks, &hooks.dir);
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    let good_runs = std::fs::read_to_string(hooks.out("good")).unwrap_or_default().lines().count();
    assert!(!hooks.out("evil").exists(), "the user's script ran as root after a swap");
    // Both files were met as 10hook: the trusted one ran, the user's was refused.
    assert!(good_runs > 0 && refused > 0, "no race: {good_runs} runs, {refused} refusals");
}

#[test]
fn renames_in_a_directory_the_user_controls_never_run_the_users_script() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhookrace2");
    let hooks = HookDir::new("hookrace2");
    // attack/ is the user's; attack/hooks is root's, with a trusted hook; attack/evil is the
    // user's, with the user's script under the same name.
    let attack = hooks.parent.path("attack");
    for dir in ["", "hooks", "evil"] {
        std::fs::create_dir(attack.join(dir)).unwrap();
    }
    let out = hooks.temp.0.display();
    std::fs::write(attack.join("hooks/10hook"), format!("#!/bin/sh\necho ran >> {out}/good\n")).unwrap();
    std::fs::write(attack.join("evil/10hook"), format!("#!/bin/sh\ntouch {out}/evil\n")).unwrap();
    for script in ["hooks/10hook", "evil/10hook"] {
        std::fs::set_permissions(attack.join(script), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    for path in [&attack, &attack.join("evil"), &attack.join("evil/10hook")] {
        nix::unistd::chown(path, Some(user.uid.into()), None).unwrap();
    }
    let swap = "cd \"$1\" && while :; do mv -T hooks tmp; mv -T evil hooks; mv -T hooks evil; mv -T tmp hooks; done";
    let mut swapper = user.command("/bin/sh", &[]).args(["-c", swap, "sh"]).arg(&attack).spawn().unwrap();
    let refused = race(&user, &hooks, &attack.join("hooks"));
    finish(&mut swapper);
    assert!(!hooks.out("evil").exists(), "the user's script ran as root after a rename");
    assert!(refused > 0, "the hook directory in the user's directory was never refused");
    assert!(!hooks.out("good").exists(), "a hook ran from below the user's directory");
}
