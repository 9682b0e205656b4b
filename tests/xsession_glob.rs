//! 90xexit splits XEXIT_OPTIONS into words but never matches them against file names: an
//! option with `*` or `?` reaches xexit as written, even where files match it, and the
//! shell that sourced the snippet (Xsession's own) keeps its pathname expansion setting.
mod common;
use common::*;

/// Sources 90xexit in sh (with `set -f` first when `noglob`), with a fake xexit on PATH that
/// records its arguments, and XEXIT_OPTIONS naming patterns that match files; returns the
/// arguments xexit got and whether `set -f` was on after the snippet.
fn source_with_patterns(label: &str, noglob: bool) -> (bool, String) {
    let dir = TempDir::new(label);
    let files = dir.path("files");
    std::fs::create_dir(&files).unwrap();
    for name in ["a", "b", "c"] {
        std::fs::write(files.join(name), "").unwrap();
    }
    let bin = dir.path("bin");
    std::fs::create_dir(&bin).unwrap();
    let argv = dir.path("argv");
    let fake = bin.join("xexit");
    std::fs::write(&fake, format!("#!/bin/sh\nfor a; do printf '%s\\n' \"$a\"; done > {}\n", argv.display())).unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let snippet = concat!(env!("CARGO_MANIFEST_DIR"), "/Xsession.d/90xexit");
    let before = if noglob { "set -f; " } else { "" };
    let script = format!("{before}. {snippet}; case $- in *f*) echo noglob ;; *) echo glob ;; esac");
    let options = format!("--spare {0}/* --log {0}/?", files.display());
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let env = [("PATH", path.as_str()), ("DISPLAY", ":5999"), ("XEXIT_ENABLE", "yes"), ("XEXIT_OPTIONS", &options)];
    let output = run(clean_command("/bin/sh").envs(env).args(["-c", &script]));
    let log = stderr_of(&output);
    assert!(output.status.success(), "{log}");
    let args = std::fs::read_to_string(&argv).unwrap_or_else(|e| panic!("xexit was not started ({e}): {log}"));
    let expected = [format!("{}/*", files.display()), format!("{}/?", files.display())];
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        ["--spare", &expected[0], "--log", &expected[1]],
        "the patterns were expanded"
    );
    (stdout_of(&output).trim() == "noglob", log)
}

#[test]
fn patterns_in_xexit_options_reach_xexit_as_written_and_the_globbing_setting_is_kept() {
    let (noglob, log) = source_with_patterns("xsglob1", false);
    assert!(!noglob, "90xexit left set -f on in Xsession's shell: {log}");
    let (noglob, log) = source_with_patterns("xsglob2", true);
    assert!(noglob, "90xexit turned a set -f of Xsession's shell off: {log}");
}
