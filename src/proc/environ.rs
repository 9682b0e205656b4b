//! Variables out of /proc/PID/environ, at a cost that does not grow with the environment
//! beyond its first read: read in chunks and only up to the variables looked for, and a large
//! one read at most once per reader (one end) for the same question.

use std::collections::HashMap;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use super::ProcReader;
use super::status::stat_fields;
use crate::sys::{find_byte, find_bytes};

/// The largest environment exec makes. Its strings and the arguments' together may take at
/// most a quarter of the stack limit, and never more than 3/4 of _STK_LIM (8 MiB): 6 MiB
/// (fs/exec.c, since Linux 4.13), whatever the limit. A larger one was pointed elsewhere
/// afterwards (prctl PR_SET_MM), on purpose: it is told by its size in /proc/PID/stat, and
/// never read.
pub const MAX_ENVIRON: usize = 6 << 20;

/// What a caller made of the variables of a large environment, by process and question.
pub type EnvCache = Arc<Mutex<HashMap<(EnvKey, String), Vec<i64>>>>;

/// A process's environment as /proc/PID/stat describes it: PID and start time tell a reused
/// PID apart, and where the environment lies changes at nearly every exec (the stack is
/// placed at random). An exec under `setarch -R`, with an environment of the same size and
/// the same first chunk (which is always read afresh), is the one change not seen: the
/// environment's own process made it, and could as well change the tag a moment later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnvKey {
    pid: i32,
    start: u64,
    env_start: u64,
    env_end: u64,
}

impl EnvKey {
    /// From /proc/PID/stat: the start time is field 22, env_start and env_end 50 and 51.
    fn parse(pid: i32, stat: &[u8]) -> Option<EnvKey> {
        let mut fields = stat_fields(stat)?;
        let start = fields.nth(19)?.parse().ok()?;
        let env_start = fields.nth(27)?.parse().ok()?;
        let env_end = fields.next()?.parse().ok()?;
        Some(EnvKey { pid, start, env_start, env_end })
    }

    fn size(&self) -> u64 {
        self.env_end.saturating_sub(self.env_start)
    }
}

impl ProcReader {
    /// What `judge` makes of the first value of each of `names` in /proc/PID/environ (as
    /// getenv finds it; None where unset), in order. Reading stops once all are found. An
    /// environment larger than the first chunk is judged once per reader (the judgement kept
    /// by process, see `EnvKey`), so `judge` must be the same for the same names; one larger
    /// than exec makes is an error (FileTooLarge), not read.
    pub fn env_judge(
        &mut self,
        pid: i32,
        names: &[&str],
        judge: impl Fn(usize, Option<&[u8]>) -> i64,
    ) -> io::Result<Vec<i64>> {
        let mut finder = Finder::new(names);
        // A NUL before the first entry, as before every other.
        let first = self.open_reading(pid, "environ", |fd, buf| {
            buf[0] = 0;
            Ok(1 + rustix::io::read(fd, &mut buf[1..])?)
        })?;
        self.environ_was_empty = first == 1;
        // procfs hands over all it has when the buffer has room, so a short read is the end.
        let mut more = first == self.buf.len();
        let mut tail = finder.feed(&self.buf[..first], 0).to_vec();
        let judged = |finder: Finder| finder.values.iter().enumerate().map(|(i, v)| judge(i, v.as_deref())).collect();
        if !more {
            return Ok(judged(finder));
        }
        // Kept out of the batch that the read of stat may close.
        let fd = self.to_close.pop().ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        let key = EnvKey::parse(pid, self.read(pid, "stat")?).ok_or_else(|| io::Error::from(io::ErrorKind::NotFound));
        let key = key.and_then(|key| match key.size() > MAX_ENVIRON as u64 {
            true => Err(io::Error::new(io::ErrorKind::FileTooLarge, format!("more than {MAX_ENVIRON} bytes"))),
            false => Ok(key),
        });
        let question = names.join("\0");
        let cached =
            key.as_ref().ok().and_then(|key| self.env_cache.lock().ok()?.get(&(*key, question.clone())).cloned());
        let result = match (key, cached) {
            (Err(e), _) => Err(e),
            (Ok(_), _) if finder.done() => Ok(judged(finder)),
            (Ok(_), Some(cached)) => Ok(cached),
            (Ok(key), None) => {
                let mut read = first;
                while more && !finder.done() {
                    (more, tail) = self.read_chunk(&fd, &mut finder, &tail, &mut read)?;
                }
                let judged: Vec<i64> = judged(finder);
                if let Ok(mut cache) = self.env_cache.lock() {
                    cache.insert((key, question), judged.clone());
                }
                Ok(judged)
            }
        };
        self.to_close.push(fd);
        result
    }

    /// Whether `pid` is inside exec, past the point where its old memory is gone and before
    /// the new one has its arguments and environment: /proc/PID/stat places them at 0 then
    /// (a process started with an empty environment has them placed; a zombie has no memory).
    pub fn inside_exec(&mut self, pid: i32) -> bool {
        let Ok(stat) = self.read(pid, "stat") else { return false };
        let live =
            stat_fields(stat).and_then(|mut fields| fields.next()).is_some_and(|state| !matches!(state, "Z" | "X"));
        live && EnvKey::parse(pid, stat).is_some_and(|key| key.env_start == 0 && key.env_end == 0)
    }

    /// Whether the environment `env_judge` read last was empty: a process started with none,
    /// a zombie, or one inside exec (between the old image's release and the new one's
    /// tables, /proc/PID/environ reads empty), which a moment later may have the tag.
    pub fn environ_was_empty(&self) -> bool {
        self.environ_was_empty
    }

    /// Reads the next chunk after `tail` (what the last one left to search again), and feeds
    /// it to `finder`; whether more may follow, and the new tail. An environment that grew
    /// past MAX_ENVIRON while read is an error.
    fn read_chunk(
        &mut self,
        fd: &OwnedFd,
        finder: &mut Finder,
        tail: &[u8],
        read: &mut usize,
    ) -> io::Result<(bool, Vec<u8>)> {
        self.buf[..tail.len()].copy_from_slice(tail);
        let count = rustix::io::read(fd, &mut self.buf[tail.len()..])?;
        *read += count;
        if *read > MAX_ENVIRON + 1 {
            return Err(io::Error::new(io::ErrorKind::FileTooLarge, format!("more than {MAX_ENVIRON} bytes")));
        }
        let more = tail.len() + count == self.buf.len();
        Ok((more, finder.feed(&self.buf[..tail.len() + count], tail.len()).to_vec()))
    }
}

/// Finds the first entry NAME=VALUE of each of some names in an environment fed as windows:
/// each begins with the tail the last one returned (the first with a NUL), then new bytes.
/// An entry is matched whole: it follows a NUL and starts with NAME and `=`.
pub struct Finder {
    /// `\0NAME=` for each name.
    patterns: Vec<Vec<u8>>,
    /// The value found for each name, so far.
    pub values: Vec<Option<Vec<u8>>>,
    /// The name whose value runs on past the last window.
    open: Option<usize>,
}

impl Finder {
    pub fn new(names: &[&str]) -> Finder {
        let patterns = names.iter().map(|name| [b"\0", name.as_bytes(), b"="].concat()).collect();
        Finder { patterns, values: vec![None; names.len()], open: None }
    }

    /// Whether every name has its value, whole.
    pub fn done(&self) -> bool {
        self.open.is_none() && self.values.iter().all(Option::is_some)
    }

    /// Searches `window`, whose first `kept` bytes the last window returned; the tail of it
    /// that the next window must begin with (a pattern may be split between the two).
    pub fn feed<'w>(&mut self, window: &'w [u8], kept: usize) -> &'w [u8] {
        let mut from = 0;
        if let Some(open) = self.open {
            let value = self.values[open].get_or_insert_with(Vec::new);
            let Some(end) = find_byte(&window[kept..], 0) else {
                value.extend_from_slice(&window[kept..]);
                return &[];
            };
            value.extend_from_slice(&window[kept..kept + end]);
            (self.open, from) = (None, kept + end);
        }
        for (index, pattern) in self.patterns.iter().enumerate() {
            if self.values[index].is_some() {
                continue;
            }
            let Some(at) = find_bytes(&window[from..], pattern) else { continue };
            let start = from + at + pattern.len();
            let end = find_byte(&window[start..], 0);
            self.values[index] = Some(window[start..end.map_or(window.len(), |end| start + end)].to_vec());
            if end.is_none() {
                self.open = Some(index);
            }
        }
        let longest = self.patterns.iter().zip(&self.values).filter(|(_, v)| v.is_none()).map(|(p, _)| p.len()).max();
        match (self.open, longest) {
            (None, Some(longest)) => &window[window.len().saturating_sub(longest - 1).max(from)..],
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests;
