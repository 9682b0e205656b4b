//! A process the user holds inside exec is no proof of an empty session. Past exec's point
//! of no return, /proc/PID/environ reads empty until the new image's environment is in
//! place, and a user can hold a process there as long as they like: it execs a file from a
//! FUSE file system the user serves (in a user and mount namespace of their own), whose
//! server stalls the read the kernel makes of the file's data page. Root's end must not
//! exit 0 on a look that saw such a process and nothing else: on d2a3656 it did, and the
//! process ran on with the session's tag once the server let the exec finish (a review
//! finding). Now the end says which processes are inside exec and exits 1, or ends the
//! process once its exec is done.
mod common;
use common::attackers::SUBREAPER;
use common::*;
use std::time::Duration;

/// `held SECONDS PAYLOAD MOUNTPOINT`: mounts a FUSE file system serving PAYLOAD as `p` on
/// MOUNTPOINT (in a user and mount namespace of its own), forks a child that execs it with
/// this environment, takes the tag out of its own environment, and holds the kernel's read
/// of the file past its first page for SECONDS (from a review of xexit).
const HELD: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
extern char **environ;
static char *image;
static long image_size;
static int fuse;
static void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY);
    if (fd >= 0) write(fd, text, strlen(text)), close(fd);
}
static void reply(uint64_t unique, int error, const void *body, size_t len) {
    char out[8192];
    struct fuse_out_header header = {.len = sizeof header + (error ? 0 : len), .error = error, .unique = unique};
    memcpy(out, &header, sizeof header);
    if (!error && len) memcpy(out + sizeof header, body, len);
    write(fuse, out, header.len);
}
static void attributes(struct fuse_attr *attr, uint64_t node) {
    memset(attr, 0, sizeof *attr);
    attr->ino = node;
    attr->nlink = 1;
    attr->mode = node == 1 ? S_IFDIR | 0755 : S_IFREG | 0755;
    attr->size = node == 1 ? 0 : image_size;
    attr->blocks = (attr->size + 511) / 512;
    attr->blksize = 4096;
}
int main(int argc, char **argv) {
    if (argc < 4) return 2;
    int hold = atoi(argv[1]);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    struct stat st;
    int payload = open(argv[2], O_RDONLY);
    if (payload < 0 || fstat(payload, &st)) return 3;
    image_size = st.st_size;
    image = malloc(image_size);
    if (read(payload, image, image_size) != image_size) return 3;
    char map[64], options[128], target[4096];
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS)) return perror("unshare"), 4;
    write_file("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "0 %d 1", uid);
    write_file("/proc/self/uid_map", map);
    snprintf(map, sizeof map, "0 %d 1", gid);
    write_file("/proc/self/gid_map", map);
    fuse = open("/dev/fuse", O_RDWR);
    if (fuse < 0) return perror("/dev/fuse"), 5;
    snprintf(options, sizeof options, "fd=%d,rootmode=40000,user_id=0,group_id=0", fuse);
    if (mount("held", argv[3], "fuse", MS_NOSUID | MS_NODEV, options)) return perror("mount"), 6;
    snprintf(target, sizeof target, "%s/p", argv[3]);
    if (fork() == 0) {
        close(fuse);
        char *args[] = {"payload", 0};
        execve(target, args, environ);
        _exit(1);
    }
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "XEXIT_TEST_TAG=", 15) == 0) (*e)[0] = 'Y';
    static char in[1 << 17];
    int held = 0;
    for (;;) {
        ssize_t n = read(fuse, in, sizeof in);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return 0;
        struct fuse_in_header *header = (void *)in;
        void *body = in + sizeof *header;
        switch (header->opcode) {
        case FUSE_INIT: {
            struct fuse_init_in *init = body;
            struct fuse_init_out out = {.major = 7, .minor = init->minor < 31 ? init->minor : 31};
            out.max_write = 4096, out.max_background = 4, out.congestion_threshold = 4;
            reply(header->unique, 0, &out, sizeof out);
            break;
        }
        case FUSE_LOOKUP: {
            if (strcmp((char *)body, "p")) { reply(header->unique, -ENOENT, 0, 0); break; }
            struct fuse_entry_out out = {.nodeid = 2, .generation = 1};
            attributes(&out.attr, 2);
            reply(header->unique, 0, &out, sizeof out);
            break;
        }
        case FUSE_GETATTR: {
            struct fuse_attr_out out = {0};
            attributes(&out.attr, header->nodeid);
            reply(header->unique, 0, &out, sizeof out);
            break;
        }
        case FUSE_OPEN: {
            struct fuse_open_out out = {.fh = 1};
            reply(header->unique, 0, &out, sizeof out);
            break;
        }
        case FUSE_READ: {
            struct fuse_read_in *request = body;
            uint64_t at = request->offset;
            uint32_t size = request->size;
            /* Past the first page: the kernel reads it after exec's point of no return. */
            if (at >= 4096 && !held) held = 1, fprintf(stderr, "held\n"), sleep(hold);
            size = at >= (uint64_t)image_size ? 0 : at + size > (uint64_t)image_size ? image_size - at : size;
            reply(header->unique, 0, image + at, size > 8000 ? 8000 : size);
            break;
        }
        case FUSE_FORGET: case FUSE_BATCH_FORGET: case FUSE_INTERRUPT: break;
        case FUSE_RELEASE: case FUSE_FLUSH: reply(header->unique, 0, 0, 0); break;
        default: reply(header->unique, -ENOSYS, 0, 0);
        }
    }
}
"#;

/// Waits for signals, with a data segment that exec must fill from the file.
const PAYLOAD: &str = "#include <unistd.h>
static char data[100000] = {1};
int main(void) { data[5] = 2; for (;;) pause(); }
";

/// How long the server holds the exec.
const HOLD_S: u64 = 6;

#[test]
fn a_process_held_inside_exec_is_no_proof_of_an_empty_session() {
    if !need_root() || !need_program("python3") || !need_program("cc") {
        return;
    }
    if !available((!std::path::Path::new("/dev/fuse").exists()).then(|| "no /dev/fuse".to_string())) {
        return;
    }
    let Some(cgroup) = TestCgroup::create("exec-held") else { return };
    let user = TestUser::get("xxexecheld");
    let (_held_dir, held) = compile_c("held", HELD);
    let (payload_dir, payload) = compile_c_with("payload", PAYLOAD, &["-static"]);
    let mountpoint = payload_dir.path("mnt");
    std::fs::create_dir(&mountpoint).unwrap();
    std::fs::set_permissions(&mountpoint, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let tag = "exec-held";
    let python = std::fs::canonicalize("/usr/bin/python3").unwrap();
    let mut reaper = clean_command(python.to_str().unwrap());
    reaper.args(["-c", SUBREAPER, &user.uid.to_string(), &user.gid.to_string(), tag]);
    reaper.args([held.to_str().unwrap(), &HOLD_S.to_string(), payload.to_str().unwrap(), mountpoint.to_str().unwrap()]);
    reaper.stderr(std::process::Stdio::piped());
    cgroup.place(&mut reaper);
    let mut reaper = reaper.spawn().unwrap();
    let mut server_said = std::io::BufReader::new(reaper.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut server_said, &mut line).unwrap();
    assert_eq!(line, "held\n", "the FUSE server did not hold the exec");
    let tagged = || {
        let wanted = format!("XEXIT_TEST_TAG={tag}");
        let environ = |pid: i32| std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        cgroup.pids().into_iter().filter(|pid| environ(*pid).split(|b| *b == 0).any(|e| e == wanted.as_bytes())).count()
    };
    assert_eq!(tagged(), 0, "the exec is not held: a process shows the tag");

    let mut end = xexit(&["end", "--no-hooks", "--schedule", "TERM/0.5/KILL/1", "--user", &user.name, "-v"]);
    end.args(["--session", &format!("env:XEXIT_TEST_TAG={tag}")]);
    let output = run(&mut end);
    let log = stderr_of(&output);
    // The server lets the exec finish: the payload runs, with the session's tag.
    let ran_on = wait_for(Duration::from_secs(HOLD_S + 5), || tagged() > 0);
    std::fs::write(cgroup.dir.join("cgroup.kill"), "1").unwrap();
    let _ = reaper.wait();
    assert!(wait_for(Duration::from_secs(5), || cgroup.pids().is_empty()), "cgroup.kill left processes");
    eprintln!("{log}");
    assert!(ran_on, "the payload never ran with the tag: the test proves nothing\n{log}");
    assert_eq!(output.status.code(), Some(1), "exit 0 with a process of the user held inside exec\n{log}");
    assert!(log.contains("inside exec"), "the end did not say why\n{log}");
}
