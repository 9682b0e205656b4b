//! `xexit --help`, as an administrator reads it: the usage of the implicit watch first, then
//! the subcommands, the watch options, and the exit-status table of the man page.
mod common;
use common::*;

fn help(args: &[&str]) -> String {
    let output = run(xexit(args));
    assert_eq!(output.status.code(), Some(0), "xexit {args:?}: {}", stderr_of(&output));
    assert_eq!(stderr_of(&output), "", "xexit {args:?} writes its help on stdout");
    stdout_of(&output)
}

#[test]
fn the_usage_shows_the_implicit_watch_then_the_subcommands() {
    for args in [&["--help"][..], &["-h"], &["help"]] {
        let text = help(args);
        let usage = text.split("Usage: ").nth(1).unwrap_or_else(|| panic!("no usage in {text}"));
        let lines: Vec<&str> = usage.lines().take(4).map(str::trim).collect();
        assert_eq!(
            lines,
            [
                "xexit [OPTIONS] [PROGRAM [ARG]...]",
                "xexit watch [OPTIONS] [PROGRAM [ARG]...]",
                "xexit list [OPTIONS]",
                "xexit end [OPTIONS]"
            ],
            "xexit {args:?}:\n{text}"
        );
    }
}

#[test]
fn the_help_lists_the_watch_options_and_the_subcommands() {
    let text = help(&["--help"]);
    for option in ["--interval", "--timeout", "--foreground", "--session", "--hook-dir", "--log", "--version"] {
        assert!(text.contains(option), "no {option} in xexit --help:\n{text}");
    }
    for command in ["watch", "list", "end"] {
        assert!(
            text.lines().any(|line| line.trim_start().starts_with(&format!("{command} "))),
            "no {command}:\n{text}"
        );
    }
}

#[test]
fn the_help_ends_with_the_exit_statuses_of_the_man_page() {
    let man_page = include_str!("../doc/xexit.1");
    let man_statuses = man_page.split("\n.SH EXIT STATUS\n").nth(1).unwrap().split("\n.SH ").next().unwrap();
    for args in [&["--help"][..], &["-h"], &["watch", "--help"], &["end", "--help"], &["list", "--help"]] {
        let text = help(args);
        let table = text.split("Exit status:\n").nth(1).unwrap_or_else(|| panic!("xexit {args:?}: no table:\n{text}"));
        let first_words = table.lines().filter_map(|line| line.strip_prefix("  ")?.split_whitespace().next());
        let codes: Vec<&str> = first_words.filter(|word| word.bytes().all(|b| b.is_ascii_digit())).collect();
        assert_eq!(codes, ["0", "1", "2", "3"], "xexit {args:?}:\n{text}");
        for code in codes {
            assert!(man_statuses.contains(&format!(".B {code}\n")), "exit status {code} is not in the man page");
        }
    }
}
