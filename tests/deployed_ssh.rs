//! LTSP5's way: a thin client's X server, `ssh -Y` into the application server (a private
//! OpenSSH server of the test's own), Debian's Xsession there starting xexit against the
//! forwarded display. The client is switched off (its ssh process stopped): the loss is seen
//! within interval + timeout and the session ends, while a second, plain ssh login of the
//! same user goes on working.
mod common;
use common::desktop::*;
use common::sshd::*;
use common::*;
use nix::sys::signal::Signal;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn switching_the_thin_client_off_ends_the_session_and_spares_the_plain_login() {
    if !need_program("sshd") && !Path::new("/usr/sbin/sshd").exists() {
        return;
    }
    if !need_program("ssh") || !need_program("xauth") || !need_program("xprop") {
        return;
    }
    let Some(installed) = Installed::new("ltsp-ssh", true) else { return };
    let Some(client_x) = Xvfb::start() else { return };
    let user = TestUser::get("xxltsp1");
    let sshd = start_sshd(&installed, &user);
    let out = installed.dir.0.display().to_string();
    let script = format!(
        "#!/bin/sh\nxprop -root -spy >/dev/null & echo $! > {out}/xclient\nsleep 1000 & echo $! > {out}/sleep\n\
         sh -c 'trap \"\" TERM; while :; do sleep 0.1; done' & echo $! > {out}/ignorer\n{}wait\n",
        READY.replace("OUT", &out)
    );
    let program = installed.dir.path("session");
    std::fs::write(&program, script).unwrap();
    std::fs::set_permissions(&program, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    // The plain login first: no X, no tag, a remote command, and a control socket to run
    // another command through the same connection later.
    let control = installed.dir.path("control");
    let mut plain = ssh(&installed, &sshd, &user)
        .args(["-T", "-M", "-S"])
        .arg(&control)
        .args(["127.0.0.1", "sleep 1000"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for(Duration::from_secs(10), || control.exists()), "the plain login did not come up");

    // What LTSP5's ldm runs: the session through ssh -X, the client's name in the environment.
    let options = "--interval 1 --timeout 2 --grace 1 --log stderr";
    let remote = format!("LTSP_CLIENT_HOSTNAME=ws01 XEXIT_OPTIONS='{options}' /etc/X11/Xsession {}", program.display());
    let mut client = ssh(&installed, &sshd, &user)
        .args(["-Y", "-T", "127.0.0.1", &remote])
        .env("DISPLAY", &client_x.display)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = installed.dir.path("ready");
    let came_up = wait_for(Duration::from_secs(20), || ready.exists());
    let errors_file = user.home.join(".xsession-errors");
    let errors = || std::fs::read_to_string(&errors_file).unwrap_or_default();
    assert!(came_up, "the LTSP session never got ready\n{}", errors());
    let pids: Vec<i32> = ["xclient", "sleep", "ignorer"].iter().map(|n| read_pid(&installed.dir.path(n))).collect();
    assert!(wait_ignoring(pids[2], Signal::SIGTERM), "the ignorer never ignored TERM");
    // xexit logs "started" after it detached, so possibly after the session program began.
    let watching = wait_for(Duration::from_secs(5), || errors().contains("started: display localhost:"));
    assert!(watching, "xexit does not watch the forwarded display\n{}", errors());

    let off = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(client.id() as i32), Signal::SIGSTOP).unwrap();
    // Loss within interval + timeout (3 s), then 1 s of grace, and some slack.
    let gone = wait_for(Duration::from_secs(8), || pids.iter().all(|pid| !alive(*pid)));
    let elapsed = off.elapsed();
    let left: Vec<String> = pids.iter().filter(|pid| alive(**pid)).map(|pid| describe(*pid)).collect();
    let still_here =
        run(ssh(&installed, &sshd, &user).args(["-S"]).arg(&control).args(["127.0.0.1", "echo still-here"]));
    let log = errors();
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(client.id() as i32), Signal::SIGCONT);
    finish(&mut client);
    let plain_alive = finish(&mut plain);
    eprintln!("{log}\nthin client off to an empty session: {} ms", elapsed.as_millis());
    assert!(gone, "left after {elapsed:?}: {left:?}\n{log}");
    let lost = log.lines().find(|l| l.contains("lost display")).unwrap_or_default();
    assert!(lost.contains("(timeout)"), "{log}");
    assert!(plain_alive, "the plain ssh login was cut\n{log}");
    assert_eq!(stdout_of(&still_here), "still-here\n", "{}\n{log}", stderr_of(&still_here));
}
