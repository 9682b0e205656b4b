//! `cgroup:PATH` is the cgroup it names however it is spelt (`.`, `//`), and `..` is refused
//! with exit 2 before anything is signalled: a spelling never ends nothing while reporting
//! an empty session, and a sibling cgroup is never touched.
mod common;
use common::*;

#[test]
fn every_spelling_of_a_cgroup_path_ends_that_cgroup_and_no_sibling() {
    if !need_root() {
        return;
    }
    let Some(parent) = TestCgroup::create("paths") else { return };
    let session = parent.child("s");
    let sibling = parent.child("t");
    let user = TestUser::get("xxcgp");
    let name = parent.path.trim_start_matches('/');
    let mut bystander = user.command_in(&sibling, "sleep", &[]).arg("1000").spawn().unwrap();
    for spelling in [format!("/{name}/./s"), format!("/{name}//s"), format!("{name}/s/")] {
        let mut member = user.command_in(&session, "sleep", &[]).arg("1000").spawn().unwrap();
        assert!(session.wait_started(1), "the member never started");
        let output = run(xexit(&["end", "--no-hooks", "--grace", "1", "--session"]).arg(format!("cgroup:{spelling}")));
        let left = session.pids();
        let _ = member.kill();
        let _ = member.wait();
        assert_eq!(output.status.code(), Some(0), "{spelling}: {}", stderr_of(&output));
        assert!(left.is_empty(), "{spelling} left {left:?}: {}", stderr_of(&output));
        assert!(alive(bystander.id() as i32), "{spelling} hit the sibling cgroup");
    }
    let _ = bystander.kill();
    let _ = bystander.wait();
}

#[test]
fn a_path_with_dot_dot_is_refused_and_nothing_is_signalled() {
    if !need_root() {
        return;
    }
    let Some(parent) = TestCgroup::create("dotdot") else { return };
    let session = parent.child("s");
    let user = TestUser::get("xxcgd");
    let mut member = user.command_in(&session, "sleep", &[]).arg("1000").spawn().unwrap();
    let mut in_parent = user.command_in(&parent, "sleep", &[]).arg("1000").spawn().unwrap();
    assert!(parent.wait_started(2), "the processes never started");
    for spelling in [format!("{}/s/..", parent.path), format!("{}/s/../s", parent.path)] {
        let output = run(xexit(&["end", "--no-hooks", "--grace", "1", "--session"]).arg(format!("cgroup:{spelling}")));
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{spelling}: {stderr}");
        assert!(stderr.contains("'..' is not allowed"), "{spelling}: {stderr}");
        assert!(alive(member.id() as i32) && alive(in_parent.id() as i32), "{spelling} signalled something");
    }
    for child in [&mut member, &mut in_parent] {
        let _ = child.kill();
        let _ = child.wait();
    }
}
