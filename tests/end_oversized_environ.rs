//! A process can point its environment at any memory it maps (prctl PR_SET_MM_MAP), far
//! past the 6 MiB that exec allows. Such an environment is searched for the tag piece by
//! piece (so a session process cannot hide its tag behind megabytes), and one too large to
//! search is taken as the session's rather than spared as "unreadable".
mod common;
use common::attackers::*;
use common::*;
use nix::sys::signal::Signal;
use std::process::Child;

fn start(user: &TestUser, program: &std::path::Path, mib: &str, first: &str) -> Child {
    let child = user.command(program.to_str().unwrap(), &[]).args([mib, first]).spawn().unwrap();
    assert!(wait_ignoring(child.id() as i32, Signal::SIGTERM), "big-environ never got ready");
    let size = std::fs::read(format!("/proc/{}/environ", child.id())).map(|e| e.len()).unwrap_or(0);
    assert!(size > 8 << 20, "the environment was not rewritten: {size} bytes");
    child
}

#[test]
fn a_tag_behind_megabytes_is_found_and_a_huge_environment_is_not_spared() {
    if !need_root() {
        return;
    }
    let user = TestUser::get("xxbigenv");
    let (_dir, program) = compile_c("big-environ", BIG_ENVIRON);
    // Another session of the user, visible: an unreadable process would be spared for it.
    let mut other = tagged_sleeper(&user, "other");
    let mut tagged = start(&user, &program, "12", "XEXIT_TEST_TAG=big1");
    let mut other_tag = start(&user, &program, "12", "XEXIT_TEST_TAG=other");
    let mut huge = start(&user, &program, "72", "UNRELATED=1");
    let output = end_tagged(&user, "big1", &["--no-hooks"]);
    let log = stderr_of(&output);
    // `finish` says whether it was still alive, then ends it.
    let (tagged_left, huge_left) = (finish(&mut tagged), finish(&mut huge));
    let (other_left, other_tag_left) = (finish(&mut other), finish(&mut other_tag));
    assert!(!tagged_left, "the tagged process with a 12 MiB environment survived\n{log}");
    assert!(!huge_left, "the process with a 72 MiB environment was spared\n{log}");
    assert!(other_left && other_tag_left, "another session's process was ended\n{log}");
    assert_eq!(output.status.code(), Some(0), "{log}");
}
