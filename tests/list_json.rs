//! `xexit list --format json`: one JSON object per process of the session (PID, user, uid,
//! program, command line, state, whether it is ended or spared, and why), for monitoring
//! scripts; strings escaped as JSON wants, control characters never raw.
mod common;
use common::*;

#[test]
fn the_session_as_json() {
    if !need_root() || !need_program("bash") {
        return;
    }
    let user = TestUser::get("xxlistjson");
    let tag = [("XEXIT_TEST_TAG", "json1")];
    let mut sleeper = user.command("sleep", &tag).arg("1005").spawn().unwrap();
    let mut spared = user.command("tail", &tag).args(["-f", "/dev/null"]).spawn().unwrap();
    let mut odd = user.command("bash", &tag).args(["-c", "exec -a $'x\"\\n\\\\y' sleep 1006"]).spawn().unwrap();
    for child in [&sleeper, &odd] {
        assert!(wait_exec(child.id() as i32, "sleep"), "{} never ran sleep", child.id());
    }
    assert!(wait_exec(spared.id() as i32, "tail"), "tail never ran");
    let session = ["--user", &user.name, "--session", "env:XEXIT_TEST_TAG=json1", "--spare", "tail"];
    let output = run(xexit(&["list", "--format", "json"]).args(session));
    let none = run(xexit(&["list", "--format", "json", "--user", &user.name, "--session", "env:XEXIT_TEST_TAG=no"]));
    for child in [&mut sleeper, &mut spared, &mut odd] {
        finish(child);
    }
    let text = stdout_of(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let row = |pid: u32, program: &str, command: &str, action: &str, why: &str| {
        format!(
            "{{\"pid\": {pid}, \"user\": \"{}\", \"uid\": {}, \"program\": \"{program}\", \"command\": \"{command}\", \
             \"state\": \"S (sleeping)\", \"action\": \"{action}\", \"why\": \"{why}\"}}",
            user.name, user.uid
        )
    };
    let in_session = "in the session: env:XEXIT_TEST_TAG=json1";
    let mut expected = vec![
        (sleeper.id(), row(sleeper.id(), "sleep", "sleep 1005", "end", in_session)),
        (spared.id(), row(spared.id(), "tail", "tail -f /dev/null", "spare", "--spare")),
        // The command line is made printable first (`\n`, `\\`), then escaped for JSON.
        (odd.id(), row(odd.id(), "sleep", "x\\\"\\\\n\\\\\\\\y 1006", "end", in_session)),
    ];
    expected.sort();
    let expected: Vec<String> = expected.into_iter().map(|(_, row)| row).collect();
    assert_eq!(text, format!("[\n  {}\n]\n", expected.join(",\n  ")));
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
    assert_eq!((none.status.code(), stdout_of(&none).as_str()), (Some(1), "[]\n"));
}
