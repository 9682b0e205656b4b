//! A private OpenSSH server for the tests that log in over ssh (LTSP5's `ssh -Y`, X2Go's
//! client, a logind host): its own port, host key and client key, in the test's mount
//! namespace, so logins see the installed xexit.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::desktop::Installed;
use super::*;

pub struct Sshd {
    pub child: Child,
    pub port: u16,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", ""]).arg("-f").arg(path).status();
    assert!(status.unwrap().success(), "ssh-keygen");
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The first X display number of the next sshd (see `start_sshd`).
static NEXT_DISPLAY_OFFSET: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(200);

/// Starts sshd on a port of its own, with its own host key, inside the test's mount
/// namespace (so logins see the installed xexit), letting `user` in with the test's key.
pub fn start_sshd(installed: &Installed, user: &TestUser) -> Sshd {
    let dir = &installed.dir;
    keygen(&dir.path("host_key"));
    keygen(&dir.path("client_key"));
    std::fs::copy(dir.path("client_key.pub"), dir.path("authorized_keys")).unwrap();
    std::fs::create_dir_all("/run/sshd").unwrap();
    let port = free_port();
    // sshd binds its X display port with SO_REUSEADDR: two sshds trying the same display at
    // once can both bind it, and the second then fails to listen and gives up X forwarding.
    // Each sshd of a test binary starts at displays of its own.
    let display_offset = NEXT_DISPLAY_OFFSET.fetch_add(10, std::sync::atomic::Ordering::Relaxed);
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\nPidFile none\nUsePAM yes\n\
         X11Forwarding yes\nX11UseLocalhost yes\nX11DisplayOffset {display_offset}\nXAuthLocation /usr/bin/xauth\n\
         AuthorizedKeysFile {dir}/authorized_keys\nStrictModes no\nPasswordAuthentication no\n\
         KbdInteractiveAuthentication no\nPermitRootLogin no\nAllowUsers {user}\n",
        dir = dir.0.display(),
        user = user.name
    );
    std::fs::write(dir.path("sshd_config"), config).unwrap();
    let log = std::fs::File::create(dir.path("sshd.log")).unwrap();
    let mut command = installed.command(None, "/usr/sbin/sshd");
    command.args(["-D", "-e", "-f"]).arg(dir.path("sshd_config")).stdout(Stdio::null()).stderr(log);
    let child = command.spawn().expect("start sshd");
    let listening = wait_for(Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    assert!(listening, "sshd did not listen: {}", std::fs::read_to_string(dir.path("sshd.log")).unwrap_or_default());
    Sshd { child, port }
}

/// An ssh client command of the thin client (root there) for `user` on the server.
pub fn ssh(installed: &Installed, sshd: &Sshd, user: &TestUser) -> Command {
    let mut command = Command::new("ssh");
    command
        .args(["-p", &sshd.port.to_string(), "-i"])
        .arg(installed.dir.path("client_key"))
        .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"])
        .args(["-o", "LogLevel=ERROR", "-l", &user.name])
        .stdin(Stdio::null());
    command
}
