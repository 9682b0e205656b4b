//! What the summary and `list --format json` say of a process left running: the same short
//! words in both, and whether it was left because xexit could not tell whose it is.

use std::collections::HashSet;

use crate::end::Spared;
use crate::find::member::{Sweep, Verdict};
use crate::proc::printable;

/// An unreadable process spared with nothing tying it to any login, another session of the
/// user being visible (`--unreadable auto`).
const ANOTHER_SESSION: &str = "unreadable, another session visible";
/// An unreadable process nothing ties to any login, spared by `--unreadable spare`.
const NO_TIE: &str = "unreadable, no tie";

impl Verdict {
    /// Why it is left running, in the words the summary and `list --format json` share; None
    /// for one to be ended, or left only for now (a starter, ended after its wait).
    pub fn spared_words(&self) -> Option<&'static str> {
        let Verdict::UnreadableSpared(why) = self else {
            return matches!(self, Verdict::Spared(_)).then_some("--spare");
        };
        // The reasons as find::unreadable words them.
        Some(if why.starts_with("no tie to any login") {
            ANOTHER_SESSION
        } else if why == "--unreadable spare" {
            NO_TIE
        } else if why.ends_with("--unreadable spare") {
            "unreadable, in the session, --unreadable spare"
        } else {
            "unreadable, another login"
        })
    }

    /// Whether it is left running only because xexit could not tell whose it is: worth a
    /// warning, since it may be the lost session's.
    pub fn spared_unsure(&self) -> bool {
        matches!(self.spared_words(), Some(ANOTHER_SESSION | NO_TIE))
    }
}

impl Sweep {
    /// The members left running, for the summary.
    pub fn spared(&self) -> Vec<Spared> {
        let spared = self.members.iter().filter_map(|m| {
            let why = m.verdict.spared_words()?;
            Some(Spared { pid: m.pid, program: printable(&m.name), why, unsure: m.verdict.spared_unsure() })
        });
        spared.collect()
    }

    /// Logs, once per process (`announced`), each member spared and each one ended although
    /// its environment could not be read, with the reason.
    pub fn announce(&self, announced: &mut HashSet<i32>, dry_run: bool) {
        for member in &self.members {
            let Some(why) = member.verdict.notable_reason() else { continue };
            if announced.insert(member.pid) {
                let verb = match (dry_run, member.verdict.is_target()) {
                    (false, true) => "ending",
                    (false, false) => "sparing",
                    (true, true) => "dry run: would end",
                    (true, false) => "dry run: would spare",
                };
                log::info!("{verb} {member}: {why}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spared_words_are_short_and_say_when_whose_is_unknown() {
        let words = |v: Verdict| (v.spared_words(), v.spared_unsure());
        assert_eq!(words(Verdict::Spared("/usr/bin/tmux".into())), (Some("--spare"), false));
        let auto = "no tie to any login, and another session of the user is visible";
        assert_eq!(words(Verdict::UnreadableSpared(auto.into())), (Some(ANOTHER_SESSION), true));
        assert_eq!(words(Verdict::UnreadableSpared("--unreadable spare".into())), (Some(NO_TIE), true));
        let login = "another login (audit session 3, xexit's is 2)";
        assert_eq!(words(Verdict::UnreadableSpared(login.into())), (Some("unreadable, another login"), false));
        assert_eq!(words(Verdict::UnreadableTarget("no tie to any login; --unreadable kill".into())), (None, false));
        assert_eq!(words(Verdict::Waited), (None, false));
    }
}
