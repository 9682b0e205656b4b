//! --dry-run lists the hooks that would run, in order, and those skipped or refused; it runs
//! none of them and signals nothing.
mod common;
use common::*;

#[test]
fn dry_run_lists_hooks_and_rounds_and_does_nothing() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxhook5");
    let hooks = HookDir::new("hookdry");
    hooks.add("10exec", 0o755, "#!/bin/sh\ntouch OUT/ran\n");
    hooks.add("20frag", 0o644, "touch OUT/ran\n");
    hooks.add("30open", 0o666, "#!/bin/sh\ntouch OUT/ran\n");
    hooks.add("40x.dpkg-old", 0o755, "#!/bin/sh\ntouch OUT/ran\n");

    let mut sleeper = user.command("sleep", &[("XEXIT_TEST_TAG", "ws01")]).arg("1000").spawn().unwrap();
    let output = run(
        xexit(&["end", "--dry-run", "--user", &user.name, "--session", "env:XEXIT_TEST_TAG=ws01"]).arg(hooks.arg())
    );
    let sleeper_alive = finish(&mut sleeper);
    let log = stderr_of(&output);

    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(sleeper_alive, "a dry run signalled the session");
    assert!(!hooks.out("ran").exists(), "a dry run ran a hook");
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("dry run:")).collect();
    let position =
        |text: &str| lines.iter().position(|l| l.contains(text)).unwrap_or_else(|| panic!("no {text:?} in {log}"));
    assert!(position("would execute hook 10exec") < position("would run with /bin/sh hook 20frag"));
    assert!(position("would run with /bin/sh hook 20frag") < position("would refuse hook"));
    assert!(lines[position("would refuse hook")].contains("30open"));
    assert!(lines[position("would skip hook 40x.dpkg-old")].contains("leftover"));
    let round = lines[position("would send TERM and CONT to 1 processes")];
    assert!(round.contains(&sleeper.id().to_string()), "{round}");
    position("would send KILL to 1 processes");
}
