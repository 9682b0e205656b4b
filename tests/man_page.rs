//! The man page, kept beside the clap definitions, documents every option and the sections
//! an administrator looks for, and renders without warnings.

const MAN_PAGE: &str = include_str!("../doc/xexit.1");

#[test]
fn every_option_is_in_the_man_page() {
    let command = xexit::command();
    let mut missing = Vec::new();
    for sub in command.get_subcommands() {
        for arg in sub.get_arguments() {
            if let Some(long) = arg.get_long() {
                let roff = format!("\\-\\-{}", long.replace('-', "\\-"));
                if !MAN_PAGE.contains(&roff) {
                    missing.push(format!("{} --{long}", sub.get_name()));
                }
            }
        }
    }
    assert!(missing.is_empty(), "not in doc/xexit.1: {missing:?}");
}

#[test]
fn the_man_page_has_the_sections_an_admin_looks_for() {
    for section in [
        "NAME",
        "SYNOPSIS",
        "OPTIONS",
        "SELECTORS",
        "HOOKS",
        "LOGGING",
        "FILES",
        "ENVIRONMENT",
        "EXIT STATUS",
        "EXAMPLES",
        "NOTES",
        "BUGS",
        "AUTHOR",
        "SEE ALSO",
    ] {
        assert!(MAN_PAGE.contains(&format!("\n.SH {section}\n")), "no {section} section");
    }
    assert!(MAN_PAGE.contains(&format!("\"xexit {}\"", env!("CARGO_PKG_VERSION"))), "the man page's version is stale");
    for path in ["/etc/Xexit.d/", "/etc/default/xexit", "/etc/X11/Xsession.d/90xexit"] {
        assert!(MAN_PAGE.contains(&format!(".I {path}\n")), "FILES lacks {path}");
    }
    let see_also = MAN_PAGE.split("\n.SH SEE ALSO\n").nth(1).unwrap_or_default();
    for page in ["Xsession (5)", "run\\-parts (8)", "loginctl (1)", "logind.conf (5)", "xprop (1)"] {
        assert!(see_also.contains(&format!(".BR {page}")), "SEE ALSO lacks {page}");
    }
    assert!(MAN_PAGE.contains("\\-set LTSP_XEXIT DIE"), "no example sets LTSP_XEXIT with xprop");
}

#[test]
fn the_man_page_has_a_valid_date() {
    let th = MAN_PAGE.lines().next().unwrap_or_default();
    let date = th.split_whitespace().nth(3).unwrap_or_default();
    let parts: Vec<u32> = date.split('-').filter_map(|part| part.parse().ok()).collect();
    let valid =
        matches!(parts[..], [year, month, day] if year >= 2026 && (1..=12).contains(&month) && (1..=31).contains(&day));
    assert!(valid && date.len() == 10, "the .TH date is not YYYY-MM-DD: {th}");
}

/// Runs a checker on doc/xexit.1 (the page's path last); None, after the skip rule, when the
/// checker is not installed.
fn check_with(mut command: std::process::Command, package: &str) -> Option<std::process::Output> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/doc/xexit.1")).output().ok();
    if output.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{program} is missing (apt-get install {package})");
        }
        eprintln!("SKIPPED: needs {program} (apt-get install {package})");
    }
    output
}

#[test]
fn the_man_page_renders_without_warnings() {
    let mut man = std::process::Command::new("man");
    man.args(["--warnings", "-l"]).env("MANWIDTH", "80");
    let Some(output) = check_with(man, "man-db") else { return };
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "", "roff warnings");
    assert!(String::from_utf8_lossy(&output.stdout).contains("EXIT STATUS"));
}

#[test]
fn mandoc_lint_is_clean() {
    let mut mandoc = std::process::Command::new("mandoc");
    mandoc.arg("-Tlint");
    let Some(output) = check_with(mandoc, "mandoc") else { return };
    let messages = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && messages.is_empty(), "mandoc -Tlint doc/xexit.1:\n{messages}");
}
