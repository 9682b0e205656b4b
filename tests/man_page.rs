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
    for section in
        ["NAME", "SYNOPSIS", "OPTIONS", "SELECTORS", "HOOKS", "FILES", "ENVIRONMENT", "EXIT STATUS", "EXAMPLES"]
    {
        assert!(MAN_PAGE.contains(&format!("\n.SH {section}\n")), "no {section} section");
    }
    assert!(MAN_PAGE.contains(&format!("\"xexit {}\"", env!("CARGO_PKG_VERSION"))), "the man page's version is stale");
}

#[test]
fn the_man_page_renders_without_warnings() {
    let Ok(output) = std::process::Command::new("man")
        .args(["--warnings", "-l", concat!(env!("CARGO_MANIFEST_DIR"), "/doc/xexit.1")])
        .env("MANWIDTH", "80")
        .output()
    else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("man is missing (apt-get install man-db)");
        }
        eprintln!("SKIPPED: needs man (apt-get install man-db)");
        return;
    };
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "", "roff warnings");
    assert!(String::from_utf8_lossy(&output.stdout).contains("EXIT STATUS"));
}
