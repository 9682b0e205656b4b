//! What the rounds are given: a way to see the session, and what they report.

/// How the rounds see the session: `end` never looks for processes itself.
pub trait Targets {
    type Error: std::error::Error + 'static;
    /// The PIDs of the session's processes to signal, as they are now: a full look.
    fn look(&mut self) -> Result<Vec<i32>, Self::Error>;
    /// Those of `candidates` (processes already known, and their children) that are targets:
    /// a look that costs what the session costs, not what the host does. Where it cannot be
    /// told yet whether a candidate belongs, it is left to the next full look.
    fn look_near(&mut self, candidates: Vec<i32>) -> Result<Vec<i32>, Self::Error>;
    /// Whether `pid` is still a target, right before its signal; its pidfd is already open.
    fn confirm(&mut self, pid: i32) -> bool;
    /// KILL to every target of the last look at once where that is safe (cgroup.kill);
    /// whether it was used.
    fn kill_all(&mut self) -> bool;
    /// The children of each of `parents` (of all their threads), as the kernel knows them now.
    fn children(&mut self, parents: &[i32]) -> Vec<i32>;
    /// `pid`, just stopped, checked again: `None` when it is no longer a target (it exec'd a
    /// setuid program since `confirm`), else the signals it ignores (bit N-1 for signal N).
    fn recheck(&mut self, pid: i32) -> Option<u64>;
    /// What the last look is worth when it found no target.
    fn emptiness(&mut self) -> Emptiness;
    /// Whether the session is surely empty now (`Emptiness::Sure`), at no more cost than
    /// telling that takes: `emptiness` may count the user's tasks.
    fn is_surely_empty(&mut self) -> bool {
        self.emptiness() == Emptiness::Sure
    }
    /// Whether `pid`, signalled before, is exiting: no look sees it as the session's any more
    /// (its environment is gone), yet it has not ended.
    fn is_exiting(&mut self, pid: i32) -> bool;
    /// A survivor as the report names it: PID, state and command line.
    fn describe(&mut self, pid: i32) -> String;
    /// The program a process runs (its name, as the looks saw it), for the summary of what
    /// needed KILL.
    fn program(&mut self, pid: i32) -> String;
    /// The processes of the session the looks left running (the last full look's), for the
    /// summary.
    fn spared(&mut self) -> Vec<Spared> {
        Vec::new()
    }
}

/// A process of the session left running, as the summary counts it.
#[derive(Clone, Debug)]
pub struct Spared {
    pub pid: i32,
    /// Its name, made printable (`proc::printable`).
    pub program: String,
    /// Why, in the words `list --format json` uses too.
    pub why: &'static str,
    /// Left only because xexit could not tell whose it is.
    pub unsure: bool,
}

/// What a look that found no target is worth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Emptiness {
    /// Nothing is left (a cgroup with no process in it): believed at once.
    Sure,
    /// Nothing was seen, which one look cannot prove: believed once looks over SETTLE agree.
    Unproven,
    /// Something is left that no look could see (why): never believed.
    Unseen(String),
    /// Nothing was seen, but the kernel counts tasks of the user that /proc does not account
    /// for (why): never believed; the rounds stop after a few such looks in a row, since more
    /// of them seldom tell more (another login's busy loop of short processes keeps the
    /// count up for good).
    Uncounted(String),
}

/// What a run of the schedule came to.
#[derive(Debug, Default)]
pub struct Report {
    /// PID, state and command line of each process still there at the end.
    pub survivors: Vec<String>,
    /// How many processes were signalled.
    pub signalled: usize,
    /// The program of each process that KILL had to end (it outlived the earlier rounds).
    pub needed_kill: Vec<String>,
    /// The processes left running, by PID.
    pub spared: Vec<Spared>,
}

impl Report {
    /// Adds what a later run of the schedule came to; its survivors are the ones left.
    pub fn absorb(&mut self, later: Report) {
        self.survivors.extend(later.survivors);
        self.signalled += later.signalled;
        self.needed_kill.extend(later.needed_kill);
        // The later run looked last: what it left running is what is left.
        self.spared.retain(|s| !later.spared.iter().any(|l| l.pid == s.pid));
        self.spared.extend(later.spared);
    }
}
