//! What a `--spare` program runs: the processes whose parent chain reaches one running it,
//! as the chain is at the time of the look (followed through PPid, since kernels built
//! without CONFIG_PROC_CHILDREN have no /proc/PID/task/TID/children). One that left the
//! tree (double-forked to init) is no longer the spared program's.

use std::collections::HashMap;
use std::io;

use super::member::{Examined, Member, Verdict};
use super::spare::{SpareProgram, spared_as};
use crate::proc::ProcReader;

/// The longest parent chain a look follows: far deeper than any real tree, and a bound where
/// a racing look would see a cycle (a PID reused by a process's own descendant).
const MAX_DEPTH: usize = 1024;
/// The longest chain followed again right before a signal, where nothing is shared between
/// processes: a user's chain of thousands of processes would otherwise cost that many reads
/// per process. The look before it followed the whole chain.
const RECHECK_DEPTH: usize = 32;

/// The members that run under a `--spare` program are spared, with its name as the reason.
/// Each process is looked at once per call, however many members share it as an ancestor.
pub fn spare_descendants<'a>(
    spare: &[SpareProgram],
    members: impl IntoIterator<Item = &'a mut Member>,
    reader: &mut ProcReader,
) {
    if spare.is_empty() {
        return;
    }
    let mut tree = Tree { spare, known: HashMap::new(), max_depth: MAX_DEPTH };
    for member in members {
        if !matches!(member.verdict, Verdict::Spared(_))
            && let Some(name) = tree.spared_by(member.pid, reader)
        {
            member.verdict = Verdict::Spared(name);
        }
    }
}

/// `spare_descendants` for the members among what a look examined. Running out of
/// descriptors or memory on the way fails the look: a chain not read may lead to a spared
/// program.
pub fn spare_examined(
    spare: &[SpareProgram],
    examined: &mut [(i32, Examined)],
    reader: &mut ProcReader,
) -> io::Result<()> {
    let members = examined.iter_mut().filter_map(|(_, e)| if let Examined::Member(m) = e { Some(m) } else { None });
    spare_descendants(spare, members, reader);
    reader.take_exhausted().map_or(Ok(()), Err)
}

/// Whether `pid` runs a `--spare` program or runs under one (up to RECHECK_DEPTH above it):
/// checked again right before a signal, since a parent may have exec'd the spared program
/// after the look.
pub fn runs_under(spare: &[SpareProgram], pid: i32, reader: &mut ProcReader) -> bool {
    !spare.is_empty()
        && Tree { spare, known: HashMap::new(), max_depth: RECHECK_DEPTH }.spared_by(pid, reader).is_some()
}

/// For one look: which processes run, or descend from, a spared program.
struct Tree<'a> {
    spare: &'a [SpareProgram],
    /// PID: the spared program it or one of its ancestors runs, if any.
    known: HashMap<i32, Option<String>>,
    /// How many processes of one chain are read at most.
    max_depth: usize,
}

impl Tree<'_> {
    /// The spared program `pid` or one of its ancestors runs. The chain ends at PID 1 (and
    /// 0, init's parent or one outside xexit's PID namespace), at a process already known, at
    /// one gone, or at `max_depth`; every process on it is then known.
    fn spared_by(&mut self, pid: i32, reader: &mut ProcReader) -> Option<String> {
        let mut chain = Vec::new();
        let mut at = pid;
        let found = loop {
            if let Some(known) = self.known.get(&at) {
                break known.clone();
            }
            if at <= 1 {
                break None;
            }
            if chain.len() >= self.max_depth {
                // Cut short, not an answer: a process on this chain may still be within
                // max_depth of a spared one, seen from a shorter walk.
                return None;
            }
            chain.push(at);
            if let Some(name) = spared_as(self.spare, at) {
                break Some(name);
            }
            match reader.stat_ids(at) {
                Some(ids) => at = ids.ppid,
                None => break None,
            }
        };
        for pid in chain {
            self.known.insert(pid, found.clone());
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_spared_program_runs_is_spared_and_what_runs_it_is_not() {
        // This test's own executable is the spared program; a sleep it starts runs under it.
        let exe = std::env::current_exe().unwrap().display().to_string();
        let spare = [SpareProgram::resolve(&exe).unwrap()];
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        let (pid, parent) = (child.id() as i32, std::os::unix::process::parent_id() as i32);
        let mut reader = ProcReader::new().unwrap();
        let mut tree = Tree { spare: &spare, known: HashMap::new(), max_depth: MAX_DEPTH };
        let (under, above) = (tree.spared_by(pid, &mut reader), tree.spared_by(parent, &mut reader));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(under, Some(exe));
        assert_eq!(above, None);
        assert!(tree.known.contains_key(&pid) && tree.known.contains_key(&parent));
    }
}
