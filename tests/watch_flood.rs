//! A flood of property changes on the root window (other atoms and LTSP_XEXIT alike) leaves
//! the watcher's memory bounded, and it still ends on DIE.
mod common;
use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _, PropMode};
use x11rb::wrapper::ConnectionExt as _;

/// The changes of the flood, as issue 11 measured the growth with.
const FLOOD: usize = 300_000;
/// Of those, how many set LTSP_XEXIT to a value that is neither DIE nor EXIT.
const CONTROL_FLOOD: usize = 30_000;

/// The watcher's resident memory: (now, peak), in KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let field = |name| {
        let value = status_field(pid as i32, name).unwrap_or_else(|| panic!("no {name} for {pid}"));
        value.trim_end_matches(" kB").trim().parse::<u64>().unwrap()
    };
    (field("VmRSS"), field("VmHWM"))
}

/// Changes root-window properties `count` times (every `every`th one LTSP_XEXIT, when not
/// 0), as fast as the server takes them, unless `stop` is set first.
fn flood(display: &str, count: usize, every: usize, stop: &AtomicBool) {
    let (conn, screen) = x11rb::connect(Some(display)).expect("connect to Xvfb");
    let root = conn.setup().roots[screen].root;
    let other = conn.intern_atom(false, b"XEXIT_TEST_FLOOD").unwrap().reply().unwrap().atom;
    let control = conn.intern_atom(false, b"LTSP_XEXIT").unwrap().reply().unwrap().atom;
    for i in 0..count {
        let (atom, value) =
            if every != 0 && i % every == 0 { (control, format!("NOPE{}", i % 7)) } else { (other, i.to_string()) };
        if conn.change_property8(PropMode::REPLACE, root, atom, AtomEnum::STRING, value.as_bytes()).is_err()
            || stop.load(Ordering::Relaxed)
        {
            return;
        }
    }
    let _ = conn.sync();
}

#[test]
fn a_property_flood_leaves_memory_bounded_and_die_still_ends_it() {
    let Some(x) = Xvfb::start() else { return };
    let dir = TempDir::new("flood");
    let out = dir.path("env");
    let mut watcher = watch_with_dumper(&["-d", &x.display], &out);
    let pid = watcher.child.id();
    let (before, _) = rss_kib(pid);

    flood(&x.display, FLOOD, FLOOD / CONTROL_FLOOD, &AtomicBool::new(false));
    // Let the watcher take what the server sent; its pings are answered meanwhile.
    std::thread::sleep(Duration::from_secs(2));
    let (after, peak) = rss_kib(pid);
    eprintln!("watcher RSS: {before} KiB before, {after} KiB after, {peak} KiB at the peak");

    assert_eq!(watcher.wait_exit(Duration::ZERO), None, "the flood ended the watcher");
    x.set_control("DIE");
    assert_eq!(watcher.wait_exit(Duration::from_secs(10)), Some(0), "DIE after the flood did not end it");
    assert_eq!(env_in(&out, "XEXIT_REASON").as_deref(), Some("requested"));
    // 8 MiB: the idle watcher's own (about 3-5 MiB for this debug build), plus room for a
    // bounded backlog; an unbounded queue of the flood's 300,000 events needs tens of MiB.
    assert!(peak < 8 * 1024, "the watcher's peak RSS grew to {peak} KiB ({before} KiB before the flood)");
    assert!(after < 8 * 1024, "the watcher kept {after} KiB after the flood ({before} KiB before)");
}

#[test]
fn die_during_an_endless_flood_is_not_starved() {
    let Some(x) = Xvfb::start() else { return };
    let dir = TempDir::new("floodie");
    let out = dir.path("env");
    let mut watcher = watch_with_dumper(&["-d", &x.display], &out);
    let stop = AtomicBool::new(false);
    let code = std::thread::scope(|scope| {
        scope.spawn(|| flood(&x.display, usize::MAX, 0, &stop));
        std::thread::sleep(Duration::from_millis(300));
        x.set_control("DIE");
        let code = watcher.wait_exit(Duration::from_secs(10));
        stop.store(true, Ordering::Relaxed);
        code
    });
    assert_eq!(code, Some(0), "DIE set during a flood of other changes did not end the watcher");
    assert_eq!(env_in(&out, "XEXIT_REASON").as_deref(), Some("requested"));
}
