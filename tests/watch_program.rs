//! PROGRAM is found as execvp would find it before xexit connects or detaches: a missing or
//! unexecutable PROGRAM is the caller's exit 2, naming it, with nothing left running.
mod common;
use common::*;
use nix::sys::signal::Signal;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// Whether any live process has `tag` in its environment (the test's own xexit runs only).
fn any_with(tag: &str) -> bool {
    let pids = std::fs::read_dir("/proc").unwrap().flatten().filter_map(|e| e.file_name().to_str()?.parse().ok());
    pids.filter(|pid: &i32| alive(*pid)).any(|pid| {
        std::fs::read(format!("/proc/{pid}/environ"))
            .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == tag.as_bytes()))
    })
}

#[test]
fn a_missing_or_unexecutable_program_exits_2_before_detaching() {
    let Some(x) = Xvfb::start() else { return };
    let dir = TempDir::new("program");
    std::fs::write(dir.path("plain.sh"), "#!/bin/sh\ntouch ran\n").unwrap();
    std::fs::set_permissions(dir.path("plain.sh"), PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::create_dir(dir.path("sub")).unwrap();
    let tag = format!("XEXIT_TEST_PROGRAM=run-{}", std::process::id());
    for (program, why) in [
        ("xexit-no-such-program", "not found in PATH"),
        ("/nonexistent/xexit-program", "no such file"),
        ("./plain.sh", "not executable (mode 644)"),
        ("./sub", "not a regular file"),
        ("./missing/prog", "no such file"),
    ] {
        // Not --foreground: without the check xexit would detach and exit 0 at once.
        let mut command = xexit(&["-d", &x.display, program]);
        command.current_dir(&dir.0).env(tag.split('=').next().unwrap(), tag.split('=').nth(1).unwrap());
        let output = run(command);
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{program}: {stderr}");
        assert!(stderr.contains(&format!("xexit: error: PROGRAM '{program}': {why}")), "{program}: {stderr}");
        assert!(!any_with(&tag), "{program}: an xexit was left running");
    }
    assert!(!dir.path("ran").exists());
}

#[test]
fn programs_are_found_on_path_and_relative_to_the_working_directory() {
    let Some(x) = Xvfb::start() else { return };
    let dir = TempDir::new("programok");
    let marker = dir.path("ran");
    let script = format!("#!/bin/sh\necho \"$0 $1\" >> {}\n", marker.display());
    std::fs::create_dir(dir.path("bin")).unwrap();
    for file in ["bin/xexit-test-program", "local.sh"] {
        std::fs::write(dir.path(file), &script).unwrap();
        std::fs::set_permissions(dir.path(file), PermissionsExt::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:/usr/bin:/bin", dir.path("bin").display());
    let mut watchers: Vec<Watcher> = [["xexit-test-program", "onpath"], ["./local.sh", "relative"]]
        .iter()
        .map(|program| {
            let mut command = xexit(&["--foreground", "-d", &x.display]);
            command.args(program).current_dir(&dir.0).env("PATH", &path);
            Watcher::spawn(command)
        })
        .collect();
    x.signal(Signal::SIGKILL);
    for watcher in &mut watchers {
        assert_eq!(watcher.wait_exit(Duration::from_secs(5)), Some(0));
    }
    let ran = std::fs::read_to_string(&marker).unwrap_or_default();
    let on_path = format!("{} onpath", dir.path("bin/xexit-test-program").display());
    assert!(ran.lines().any(|l| l == on_path), "PATH program: {ran:?}");
    assert!(ran.lines().any(|l| l.ends_with("/local.sh relative")), "relative program: {ran:?}");
}
