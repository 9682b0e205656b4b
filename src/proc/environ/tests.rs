use std::cell::Cell;
use std::process::{Child, Command, Stdio};

use super::*;

/// What getenv finds: the first entry that starts with NAME and `=`.
fn reference(environ: &[u8], name: &str) -> Option<Vec<u8>> {
    let prefix = [name.as_bytes(), b"="].concat();
    environ.split(|b| *b == 0).find_map(|entry| entry.strip_prefix(&prefix[..]).map(<[u8]>::to_vec))
}

/// `environ` fed to a Finder in windows of `chunk` bytes at most (each with at least one new
/// byte), as the reader does; what it found.
fn find_in_chunks(environ: &[u8], names: &[&str], chunk: usize) -> Vec<Option<Vec<u8>>> {
    let stream = [&[0][..], environ].concat();
    let mut finder = Finder::new(names);
    let (mut tail, mut at) = (Vec::new(), 0);
    while at < stream.len() && !finder.done() {
        let take = chunk.saturating_sub(tail.len()).max(1).min(stream.len() - at);
        let window = [&tail[..], &stream[at..at + take]].concat();
        tail = finder.feed(&window, tail.len()).to_vec();
        at += take;
    }
    finder.values
}

const ENVIRONS: [&[u8]; 8] = [
    b"HOME=/home/a\0TAG=ws010\0TAG=ws01\0XTAG=ws01\0",
    b"XTAG=1\0TAGX=2\0TA=3\0AG=4\0A=TAG=5\0TAG=6",
    b"TAG=first\0OTHER=x\0",
    b"OTHER=x\0TAG=\0TAG=second\0",
    b"A=1\0\0\0TAG=after empty entries\0",
    b"TAG",
    b"",
    b"PAD=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\0DISPLAY=:1\0TAG=last entry, a long value without NUL",
];

#[test]
fn entries_are_found_whole_wherever_chunks_split_them() {
    for environ in ENVIRONS {
        for names in [&["TAG"][..], &["TAG", "DISPLAY"], &["AG", "TA", "XTAG"], &["NONE", "TAG"]] {
            let expected: Vec<_> = names.iter().map(|name| reference(environ, name)).collect();
            for chunk in 1..=environ.len() + 2 {
                let found = find_in_chunks(environ, names, chunk);
                assert_eq!(found, expected, "{names:?} in {:?}, chunks of {chunk}", String::from_utf8_lossy(environ));
            }
        }
    }
}

#[test]
fn a_name_is_not_found_in_a_value_or_a_longer_name() {
    let environ = b"A=TAG=1\0XTAG=2\0TAGX=3\0TAG_=4\0";
    assert_eq!(find_in_chunks(environ, &["TAG"], 5), vec![None]);
    assert_eq!(find_in_chunks(b"TAG=1\0TAG=2\0", &["TAG"], 3), vec![Some(b"1".to_vec())]);
}

/// `sleep` with an environment of about `size` bytes (in variables of 100 KiB at most, as
/// exec allows) and TAG=`tag` after it.
fn sleeper(size: usize, tag: &str) -> Child {
    let mut command = Command::new("sleep");
    command.arg("100").env_clear().stdin(Stdio::null());
    for n in 0..size.div_ceil(100 << 10) {
        command.env(format!("PAD{n:03}"), "x".repeat((100 << 10).min(size)));
    }
    command.env("TAG", tag).spawn().unwrap()
}

#[test]
fn a_large_environment_is_judged_once_and_a_small_one_each_time() {
    let mut reader = ProcReader::new().unwrap();
    for (size, judged_every_time) in [(1 << 20, false), (100, true)] {
        let mut child = sleeper(size, "ws01");
        let pid = child.id() as i32;
        let calls = Cell::new(0);
        let judge = |_, value: Option<&[u8]>| {
            calls.set(calls.get() + 1);
            i64::from(value == Some(&b"ws01"[..]))
        };
        // Until it has exec'd, the child is a copy of this process.
        let mut exec_done = || reader.read(pid, "comm").is_ok_and(|comm| comm == b"sleep\n");
        while !exec_done() {
            std::thread::yield_now();
        }
        assert_eq!(reader.env_judge(pid, &["TAG"], judge).unwrap(), vec![1]);
        assert_eq!(reader.env_judge(pid, &["TAG"], judge).unwrap(), vec![1]);
        assert_eq!(calls.get(), if judged_every_time { 2 } else { 1 }, "environment of {size} bytes");
        assert_eq!(
            reader.env_judge(pid, &["NONE", "TAG"], |_, v| v.map_or(0, |v| v.len() as i64)).unwrap(),
            vec![0, 4]
        );
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[test]
fn the_bound_is_what_exec_allows() {
    // fs/exec.c: min(stack limit / 4, _STK_LIM / 4 * 3), _STK_LIM being 8 MiB.
    assert_eq!(MAX_ENVIRON, (8 << 20) / 4 * 3);
    // Fields 1 to 52 of /proc/PID/stat, the name with a space in it.
    let mut fields: Vec<String> = (1..=52).map(|n| n.to_string()).collect();
    (fields[1], fields[21], fields[49], fields[50]) = ("(a b)".into(), "777".into(), "5000".into(), "7000".into());
    let stat = fields.join(" ");
    let key = EnvKey::parse(12, stat.as_bytes()).unwrap();
    assert_eq!((key.start, key.env_start, key.env_end, key.size()), (777, 5000, 7000, 2000));
}
