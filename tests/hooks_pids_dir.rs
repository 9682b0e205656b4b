//! Where XEXIT_PIDS_FILE goes: as root in a fresh 0700 directory under /run/xexit (made
//! 0700 if missing), never under a /run/xexit that is a symbolic link, another user's, or
//! writable by others, nor under a /run others may write; as the user under their own
//! XDG_RUNTIME_DIR, and never under a TMPDIR others may write that is not sticky. Where the
//! file cannot go, the reason is logged and the hooks run with XEXIT_PIDS_FILE empty.
//!
//! The root tests run xexit in a mount namespace of its own with a tmpfs on /run, so the
//! host's /run/xexit is neither used nor changed.
mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Output};

/// Records what the hook was given: the path (or "unset"), the file, and its directory's
/// mode and owner, and /run/xexit's.
const HOOK: &str = "#!/bin/sh\nprintf '%s' \"${XEXIT_PIDS_FILE-unset}\" > OUT/path\n\
    if [ -n \"$XEXIT_PIDS_FILE\" ]; then\n  cat \"$XEXIT_PIDS_FILE\" > OUT/pids\n\
    stat -c '%a %u' \"${XEXIT_PIDS_FILE%/*}\" > OUT/dir\n  stat -c '%a %u %F' /run/xexit > OUT/base 2>&1 || true\nfi\n";

/// What the hook saw, read once xexit is done.
struct Seen {
    path: String,
    log: String,
    hooks: HookDir,
}

impl Seen {
    fn out(&self, name: &str) -> String {
        std::fs::read_to_string(self.hooks.out(name)).unwrap_or_else(|e| panic!("no OUT/{name} ({e}): {}", self.log))
    }

    /// The hook ran without the file, and the log says why, naming `path` and `why`.
    fn assert_no_file(&self, path: &str, why: &str) {
        assert_eq!(self.path, "", "the hook was given a file: {}", self.log);
        let lines = lines_with(&self.log, "XEXIT_PIDS_FILE left empty");
        assert_eq!(lines.len(), 1, "{}", self.log);
        assert!(lines[0].contains(path) && lines[0].contains(why), "no {path} and {why:?} in {}", self.log);
    }
}

/// Ends a one-sleeper session of `user` with the recording hook, by `command` (an xexit to
/// which the selector and hook options are added); checks that the session was ended.
fn end_with_hook(user: &TestUser, tag: &str, mut command: Command) -> Seen {
    let hooks = HookDir::new(&format!("pidsdir-{tag}"));
    hooks.add("10record", 0o755, HOOK);
    let mut sleeper = tagged_sleeper(user, tag);
    let output: Output = run(command.args(["--grace", "1", &hooks.arg()]));
    let log = stderr_of(&output);
    assert!(!finish(&mut sleeper), "the session survived: {log}");
    let path =
        std::fs::read_to_string(hooks.out("path")).unwrap_or_else(|e| panic!("the hook did not run ({e}): {log}"));
    assert_eq!(output.status.code(), Some(0), "{log}");
    Seen { path, log, hooks }
}

/// `xexit end` as root on `user`'s session tagged `tag`, in a mount namespace of its own
/// where /run is a new tmpfs of mode `run_mode` and `setup` (sh) has run.
fn end_as_root(user: &TestUser, tag: &str, run_mode: &str, setup: &str) -> Seen {
    let script = format!("mount -t tmpfs -o mode={run_mode} xexit-test /run && {setup} && exec \"$0\" \"$@\"");
    let mut command = Command::new("unshare");
    command.args(["--mount", "--propagation", "private", "sh", "-c", &script, XEXIT]);
    command.args(["end", "--user", &user.name, "--session", &format!("env:XEXIT_TEST_TAG={tag}")]);
    end_with_hook(user, tag, command)
}

fn need_root_and_unshare() -> bool {
    need_root() && need_program("unshare")
}

#[test]
fn as_root_the_file_goes_in_a_private_directory_under_a_new_run_xexit() {
    if !need_root_and_unshare() {
        return;
    }
    let user = TestUser::get("xxpidsdir1");
    let seen = end_as_root(&user, "pidsdir1", "0755", "true");
    assert!(seen.path.starts_with("/run/xexit/xexit-pids.") && seen.path.ends_with("/pids"), "{}", seen.path);
    assert!(!seen.out("pids").is_empty(), "an empty PID file: {}", seen.log);
    assert_eq!(seen.out("dir").trim(), "700 0", "the file's directory: {}", seen.log);
    assert_eq!(seen.out("base").trim(), "700 0 directory", "/run/xexit as xexit made it: {}", seen.log);
    assert!(!seen.log.contains("XEXIT_PIDS_FILE left empty"), "{}", seen.log);
}

#[test]
fn as_root_a_symbolic_link_at_run_xexit_is_refused_and_nothing_is_written_through_it() {
    if !need_root_and_unshare() {
        return;
    }
    let user = TestUser::get("xxpidsdir2");
    let target = TempDir::new("pidsdir2-target");
    std::fs::set_permissions(&target.0, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let seen = end_as_root(&user, "pidsdir2", "0755", &format!("ln -s {} /run/xexit", target.0.display()));
    seen.assert_no_file("/run/xexit", "a symbolic link");
    let written: Vec<_> = std::fs::read_dir(&target.0).unwrap().flatten().map(|e| e.path()).collect();
    assert!(written.is_empty(), "written through the link: {written:?}");
}

#[test]
fn as_root_a_run_xexit_of_another_user_is_refused() {
    if !need_root_and_unshare() {
        return;
    }
    let user = TestUser::get("xxpidsdir3");
    let setup = format!("mkdir -m 0700 /run/xexit && chown {} /run/xexit", user.uid);
    let seen = end_as_root(&user, "pidsdir3", "0755", &setup);
    seen.assert_no_file("/run/xexit", &format!("its owner uid {}", user.uid));
}

#[test]
fn as_root_a_run_xexit_others_may_write_is_refused() {
    if !need_root_and_unshare() {
        return;
    }
    let user = TestUser::get("xxpidsdir4");
    let seen = end_as_root(&user, "pidsdir4", "0755", "mkdir -m 0777 /run/xexit");
    seen.assert_no_file("/run/xexit", "mode 0777");
}

#[test]
fn as_root_a_run_others_may_write_is_refused() {
    if !need_root_and_unshare() {
        return;
    }
    let user = TestUser::get("xxpidsdir5");
    let seen = end_as_root(&user, "pidsdir5", "1777", "true");
    seen.assert_no_file("/run is writable", "everyone");
}

/// `xexit end` run by `user` on their own session tagged `tag`, with `env` added.
fn end_as_user(user: &TestUser, tag: &str, env: &[(&str, &str)]) -> Seen {
    let mut env = env.to_vec();
    env.push(("XEXIT_TEST_TAG", tag));
    let mut command = user.command(XEXIT, &env);
    command.args(["end", "--session", "env:XEXIT_TEST_TAG"]);
    end_with_hook(user, tag, command)
}

#[test]
fn as_the_user_the_file_goes_in_their_own_xdg_runtime_dir() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxpidsdir6");
    let runtime = user.home.join("run");
    std::fs::create_dir(&runtime).unwrap();
    nix::unistd::chown(&runtime, Some(user.uid.into()), Some(user.gid.into())).unwrap();
    std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let seen = end_as_user(&user, "pidsdir6", &[("XDG_RUNTIME_DIR", runtime.to_str().unwrap())]);
    let prefix = format!("{}/xexit-pids.", runtime.display());
    assert!(seen.path.starts_with(&prefix), "{} is not in XDG_RUNTIME_DIR: {}", seen.path, seen.log);
    assert!(!seen.out("pids").is_empty(), "an empty PID file: {}", seen.log);
    assert_eq!(seen.out("dir").trim(), format!("700 {}", user.uid), "{}", seen.log);
    assert!(!Path::new(&seen.path).exists(), "{} outlived the hooks", seen.path);
    assert_eq!(std::fs::read_dir(&runtime).unwrap().count(), 0, "left in XDG_RUNTIME_DIR: {}", seen.log);
}

#[test]
fn as_the_user_a_tmpdir_others_may_write_without_the_sticky_bit_is_refused() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxpidsdir7");
    // Root's, mode 0777, not sticky: anyone may rename what the user makes in it.
    let open = TempDir::new("pidsdir7-open");
    let seen = end_as_user(&user, "pidsdir7", &[("TMPDIR", open.0.to_str().unwrap())]);
    seen.assert_no_file(open.0.to_str().unwrap(), "everyone");
    assert_eq!(std::fs::read_dir(&open.0).unwrap().count(), 0, "written in the open TMPDIR");
}
