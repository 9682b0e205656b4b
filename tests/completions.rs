//! The shell completions, as an administrator presses TAB: the bash script that the package
//! ships, sourced by a real bash, completes `xexit --` with the watch options, `--session`
//! with the selector forms, `--user` with user names and `--hook-dir` with directories; the
//! fish script, in a real fish, the same values after the top-level options.
mod common;
use common::*;

#[path = "../examples/completions.rs"]
mod completions;

/// What bash's completion function for xexit offers for `words` (the last being the word
/// under the cursor), with the `compopt` calls it made; None (skipped) without bash.
fn complete(words: &[&str]) -> Option<(Vec<String>, Vec<String>)> {
    if !need_program("bash") {
        return None;
    }
    let dir = TempDir::new(&format!("completions-{}", words.join("_").replace(['/', ' '], "_")));
    let paths = completions::write_completions(&dir.0).expect("write the completions");
    // compopt only works while readline completes: record its calls instead.
    let script = r#"
        source "$1"; shift
        function=$(complete -p xexit | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
        [ -n "$function" ] || { echo "no completion for xexit: $(complete -p xexit 2>&1)" >&2; exit 1; }
        compopt() { echo "$*" >&2; }
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        prev=""; [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
        "$function" xexit "${COMP_WORDS[COMP_CWORD]}" "$prev"
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let output = run(clean_command("bash").args(["-c", script, "bash"]).arg(&paths[0]).args(words).current_dir(&dir.0));
    assert!(output.status.success(), "bash: {}", stderr_of(&output));
    let lines = |text: String| text.lines().filter(|line| !line.is_empty()).map(str::to_string).collect();
    Some((lines(stdout_of(&output)), lines(stderr_of(&output))))
}

#[test]
fn dash_dash_offers_the_watch_options() {
    let Some((offered, _)) = complete(&["xexit", "--"]) else { return };
    for option in ["--interval", "--timeout", "--foreground", "--session", "--user", "--hook-dir", "--dry-run"] {
        assert!(offered.iter().any(|o| o == option), "xexit --<TAB> lacks {option}: {offered:?}");
    }
    assert!(offered.iter().all(|o| o.starts_with("--")), "{offered:?}");
}

#[test]
fn session_offers_the_selector_forms() {
    let forms = ["auto", "cgroup", "cgroup:", "env:", "env:LTSP_CLIENT_HOSTNAME", "display", "user"];
    for words in
        [&["xexit", "--session", ""][..], &["xexit", "end", "--session", ""], &["xexit", "list", "--session", ""]]
    {
        let Some((offered, _)) = complete(words) else { return };
        assert_eq!(offered, forms, "{words:?}");
    }
    // Each form is one xexit takes, with the PATH or NAME that is left to type.
    for form in forms {
        let value = form.replace("cgroup:", "cgroup:/user.slice").replace("env:", "env:HOME");
        let output = run(xexit(&["list", "--session", &value, "--help"]));
        assert_eq!(output.status.code(), Some(0), "{form}: {}", stderr_of(&output));
    }
}

#[test]
fn user_offers_user_names_not_files() {
    let Some((offered, _)) = complete(&["xexit", "end", "--user", "roo"]) else { return };
    assert_eq!(offered, ["root"]);
    let Some((offered, _)) = complete(&["xexit", "--user", ""]) else { return };
    assert!(offered.iter().any(|o| o == "root"), "{offered:?}");
    assert!(!offered.iter().any(|o| o == "xexit.bash"), "files offered as users: {offered:?}");
}

#[test]
fn hook_dir_offers_directories() {
    let Some((offered, compopts)) = complete(&["xexit", "--hook-dir", ""]) else { return };
    // No words of its own: bash adds the directories (compopt -o plusdirs), and only those.
    assert_eq!(offered, Vec::<String>::new());
    assert_eq!(compopts, ["-o plusdirs"]);
}

/// What a real fish offers for the command line `line` with the fish script (the values,
/// without their descriptions); None (skipped) without fish.
fn complete_in_fish(line: &str) -> Option<Vec<String>> {
    if !need_program("fish") {
        return None;
    }
    let dir = TempDir::new(&format!("completions-fish-{}", line.replace(['/', ' '], "_")));
    let paths = completions::write_completions(&dir.0).expect("write the completions");
    let script = "source $argv[1]; and complete -C $argv[2]";
    let output = run(clean_command("fish").args(["-c", script]).arg(&paths[2]).arg(line));
    assert!(output.status.success(), "fish: {}", stderr_of(&output));
    Some(stdout_of(&output).lines().map(|line| line.split('\t').next().unwrap_or_default().to_string()).collect())
}

#[test]
fn fish_completes_the_values_of_top_level_options_too() {
    let forms = ["auto", "cgroup", "cgroup:", "display", "env:", "env:LTSP_CLIENT_HOSTNAME", "user"];
    for line in ["xexit --session ", "xexit end --session "] {
        let Some(offered) = complete_in_fish(line) else { return };
        assert_eq!(offered, forms, "{line:?}");
    }
    let Some(offered) = complete_in_fish("xexit --user roo") else { return };
    assert_eq!(offered, ["root"]);
    let Some(offered) = complete_in_fish("xexit --hook-dir /et") else { return };
    assert_eq!(offered, ["/etc/"]);
    let Some(offered) = complete_in_fish("xexit --hook-t") else { return };
    assert_eq!(offered, ["--hook-timeout"]);
}
