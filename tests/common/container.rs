//! A real systemd host for the tests: Debian 12 booted with systemd as its PID 1 and logind
//! (`systemd-nspawn -b`), from a debootstrapped tree cached once for every run. Each boot
//! writes only to a tmpfs overlay (`--volatile=overlay`), runs in a cgroup of the test's own
//! and shares the host's network, so the test's ssh client reaches its sshd on 127.0.0.1.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::*;

const CACHE: &str = "/var/cache/xexit-tests";
/// debootstrap's output is unpacked here, then renamed into place once complete. A new
/// PACKAGES needs a new name: a cached tree is never brought up to date.
const TREE: &str = "bookworm-logind-1";
const PACKAGES: &str = "systemd,systemd-sysv,dbus,libpam-systemd,openssh-server,xauth,x11-common,x11-utils,procps";
/// Where the container sees the test's own directory (read-write).
pub const SHARED: &str = "/xexit-test";

/// The bookworm mirror this machine's own apt sources name (deb822 or one-line format).
fn mirror() -> Option<String> {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    files.extend(std::fs::read_dir("/etc/apt/sources.list.d").into_iter().flatten().flatten().map(|e| e.path()));
    let texts = files.iter().filter_map(|file| std::fs::read_to_string(file).ok());
    let is_bookworm = |suite: &str| suite == "bookworm";
    texts.into_iter().find_map(|text| {
        let deb822 = text.split("\n\n").find_map(|stanza| {
            let field = |name: &str| {
                stanza.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::split_whitespace)
            };
            field("Suites")?.any(is_bookworm).then(|| field("URIs")?.next().map(str::to_string))?
        });
        deb822.or_else(|| {
            text.lines().find_map(|line| {
                let line = line.split_once(']').map_or(line, |(_, rest)| rest.trim_start_matches("deb ").trim());
                let mut words = line.split_whitespace().skip_while(|w| *w == "deb");
                let uri = words.next()?;
                words.next().is_some_and(is_bookworm).then(|| uri.to_string())
            })
        })
    })
}

/// The cached Debian 12 tree, made by debootstrap on first use (about a minute and 560 MB);
/// parallel tests wait on one lock, so one of them makes it.
pub fn debian_tree() -> Option<PathBuf> {
    if !need_root() || !need_program("systemd-nspawn") || !need_program("debootstrap") || !need_program("nsenter") {
        return None;
    }
    std::fs::create_dir_all(CACHE).unwrap();
    let tree = Path::new(CACHE).join(TREE);
    let lock = File::create(tree.with_extension("lock")).unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    if tree.exists() {
        return Some(tree);
    }
    let Some(mirror) = mirror() else {
        available(Some("no bookworm mirror in /etc/apt/sources.list{,.d} for debootstrap".into()));
        return None;
    };
    let staging = tree.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&staging);
    let mut debootstrap = Command::new("debootstrap");
    debootstrap.args(["--variant=minbase", &format!("--include={PACKAGES}"), "bookworm"]).arg(&staging).arg(&mirror);
    let output = run(debootstrap);
    if !output.status.success() {
        let log = stdout_of(&output) + &stderr_of(&output);
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        available(Some(format!("debootstrap from {mirror} failed: {tail:?}")));
        return None;
    }
    std::fs::rename(&staging, &tree).unwrap();
    Some(tree)
}

/// A booted container; powered off (TERM to nspawn) and its cgroup removed on drop.
pub struct Container {
    nspawn: Child,
    /// The container's PID 1, as the host sees it.
    pub leader: i32,
    pub shared: TempDir,
    /// Holds nspawn, and below it every process of the container.
    pub cgroup: TestCgroup,
}

/// Whether PID is systemd running as PID 1 of a PID namespace below the test's (nspawn's
/// child is that PID 1 a moment before it execs systemd).
fn is_namespace_init(pid: i32) -> bool {
    status_field(pid, "NSpid").is_some_and(|ids| ids.split_whitespace().nth(1) == Some("1"))
        && status_field(pid, "Name").as_deref() == Some("systemd")
}

impl Container {
    /// Boots the cached tree as machine `name`, with `binds` (host path, container path)
    /// bound read-only and the test's directory at SHARED; waits until systemd says the
    /// system is up. Units named in `masked` do not start (sshd's own, on port 22).
    pub fn boot(name: &str, binds: &[(&Path, &str)], masked: &[&str]) -> Option<Container> {
        let tree = debian_tree()?;
        let cgroup = TestCgroup::create(name)?;
        let shared = TempDir::new(name);
        // debootstrap writes no /etc/hosts, and sshd's forwarded display is localhost:N.
        let hosts = shared.path("hosts");
        std::fs::write(&hosts, "127.0.0.1 localhost\n::1 localhost ip6-localhost\n").unwrap();
        let mut command = Command::new("systemd-nspawn");
        command
            .env("SYSTEMD_NSPAWN_UNIFIED_HIERARCHY", "1")
            // Several containers boot the one tree at once; the overlay keeps it unchanged.
            .env("SYSTEMD_NSPAWN_LOCK", "0")
            .args(["-q", "-b", "--volatile=overlay", "--register=no", "--keep-unit", "--console=passive"])
            .arg(format!("--machine={name}"))
            .arg("--directory")
            .arg(&tree)
            .arg(format!("--bind={}:{SHARED}", shared.0.display()))
            .arg(format!("--bind-ro={}:/etc/hosts", hosts.display()));
        for (from, to) in binds {
            command.arg(format!("--bind-ro={}:{to}", from.display()));
        }
        // systemd in a container takes its arguments as the kernel command line.
        command.arg("--").args(masked.iter().map(|unit| format!("systemd.mask={unit}")));
        let log = File::create(shared.path("nspawn.log")).unwrap();
        command.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
        cgroup.place(&mut command);
        let nspawn = command.spawn().expect("start systemd-nspawn");
        let mut leader = None;
        wait_for(Duration::from_secs(20), || {
            leader = cgroup.pids().into_iter().find(|pid| is_namespace_init(*pid));
            leader.is_some()
        });
        let log_file = shared.path("nspawn.log");
        let nspawn_log = || std::fs::read_to_string(&log_file).unwrap_or_default();
        let leader = leader.unwrap_or_else(|| panic!("the container never started:\n{}", nspawn_log()));
        let container = Container { nspawn, leader, shared, cgroup };
        // systemctl fails until systemd has its socket up, and waits from then on.
        let mut state = String::new();
        let up = wait_for(Duration::from_secs(60), || {
            state = stdout_of(&container.sh("timeout 60 systemctl is-system-running --wait")).trim().to_string();
            state == "running" || state == "degraded"
        });
        assert!(up, "the container's systemd says {state:?}:\n{}", nspawn_log());
        if state == "degraded" {
            eprintln!("[{name}] booted degraded: {}", stdout_of(&container.sh("systemctl --failed --no-legend")));
        }
        Some(container)
    }

    /// `sh -c SCRIPT` as root inside the container, with a plain environment.
    pub fn command(&self, script: &str) -> Command {
        let mut command = clean_command("nsenter");
        command.args(["-t", &self.leader.to_string(), "-a", "-r", "-w", "/bin/sh", "-c", script]);
        command.env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").env("LANG", "C.UTF-8");
        command
    }

    pub fn sh(&self, script: &str) -> Output {
        run(self.command(script))
    }

    /// Runs SCRIPT, failing the test with its output if it fails.
    pub fn must(&self, script: &str) -> String {
        let output = self.sh(script);
        assert!(output.status.success(), "{script}: {}{}", stdout_of(&output), stderr_of(&output));
        stdout_of(&output)
    }

    /// The host's directory of the container's cgroup `unit` (a scope, service or slice).
    pub fn unit_cgroup(&self, unit: &str) -> Option<PathBuf> {
        let mut dirs = vec![self.cgroup.dir.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    if entry.file_name() == unit {
                        return Some(entry.path());
                    }
                    dirs.push(entry.path());
                }
            }
        }
        None
    }

    /// The live processes (host PIDs) in `unit`'s cgroup and below; none once it is removed.
    pub fn unit_pids(&self, unit: &str) -> Vec<i32> {
        let Some(dir) = self.unit_cgroup(unit) else { return Vec::new() };
        // systemd's group, not the test's: never killed or removed on drop.
        std::mem::ManuallyDrop::new(TestCgroup { dir, path: String::new() }).pids()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.shared.path(name)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // TERM asks nspawn to power the container off (about 2 s); the cgroup's drop then
        // kills what is left and removes the groups.
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.nspawn.id() as i32), Signal::SIGTERM);
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while self.nspawn.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.nspawn.kill();
        let _ = self.nspawn.wait();
    }
}
