//! `xexit list` shows one line per process whatever its command line holds: newlines, tabs
//! and terminal escapes are escaped (`\n`, `\t`, `\x1b`), so no process can forge a row.
mod common;
use common::*;

#[test]
fn a_command_line_with_a_newline_cannot_forge_a_row() {
    if !need_root() || !need_program("bash") {
        return;
    }
    let user = TestUser::get("xxlistesc");
    user.cleanup();
    let tag = [("XEXIT_TEST_TAG", "esc01")];
    let forger = "exec -a $'x\\n12345 root /sbin/init' sleep 1003";
    let painter = "exec -a $'tab\\there\\x1b[31mred\\\\' sleep 1004";
    let mut children: Vec<_> = [forger, painter]
        .iter()
        .map(|script| user.command("bash", &tag).args(["-c", script]).spawn().unwrap())
        .collect();
    for child in &children {
        assert!(wait_exec(child.id() as i32, "sleep"), "{} never ran sleep", child.id());
    }

    let output = run(xexit(&["list", "--user", &user.name, "--session", "env:XEXIT_TEST_TAG=esc01"]));
    for child in &mut children {
        finish(child);
    }

    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let text = stdout_of(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            format!("{} {} x\\n12345 root /sbin/init 1003", children[0].id(), user.name),
            format!("{} {} tab\\there\\x1b[31mred\\\\ 1004", children[1].id(), user.name),
        ],
        "one line per process, escaped: {text:?}"
    );
    assert!(!text.lines().any(|l| l.starts_with("12345 ")), "a forged row: {text:?}");
    assert!(!text.contains('\x1b') && !text.contains('\t'), "raw control characters: {text:?}");
}
