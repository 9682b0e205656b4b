//! The line logged when a session has ended.

use std::time::Duration;

use crate::end;
use crate::find::Session;
use crate::hooks;
use crate::watchdog::Reason;

/// The one line an administrator reads after a session ended: who, why, how many processes,
/// which programs needed KILL, what survived, what was left running and why, the memory given
/// back, the hooks, the time.
pub struct Summary<'a> {
    pub session: &'a Session,
    pub reason: Reason,
    pub report: &'a end::Report,
    pub hooks: &'a hooks::Outcome,
    pub rss_kib: u64,
    pub elapsed: Duration,
}

impl std::fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Summary { session, reason, report, hooks, rss_kib, elapsed } = self;
        write!(
            f,
            "ended session {} of {} ({reason}) in {} ms: ",
            session.scope,
            session.user_label(),
            elapsed.as_millis()
        )?;
        write!(f, "{} processes signalled, {} needed KILL", report.signalled, report.needed_kill.len())?;
        let killed = report.needed_kill.iter().map(|name| (name.as_str(), None));
        let killed: Vec<String> = grouped(killed).into_iter().map(|(shown, _)| shown).collect();
        if !killed.is_empty() {
            write!(f, " ({})", killed.join(", "))?;
        }
        write!(f, ", {} survived, {} spared", report.survivors.len(), report.spared.len())?;
        let spared = grouped(report.spared.iter().map(|s| (s.program.as_str(), Some(s.why))));
        if !spared.is_empty() {
            let shown: Vec<String> =
                spared.iter().map(|(name, why)| format!("{name}: {}", why.unwrap_or(""))).collect();
            write!(f, " ({})", shown.join("; "))?;
        }
        write!(f, "; {:.1} MiB resident memory reclaimed", *rss_kib as f64 / 1024.0)?;
        write!(
            f,
            "; hooks: {} run, {} failed{}",
            hooks.ran,
            hooks.ran_failed,
            if hooks.failed && hooks.ran_failed == 0 { " (refused or unusable)" } else { "" }
        )
    }
}

/// Each program once with its reason, as "NAME" or "NAME xCOUNT", in order of name, then
/// reason.
fn grouped<'a>(programs: impl Iterator<Item = (&'a str, Option<&'static str>)>) -> Vec<(String, Option<&'static str>)> {
    let mut counts: Vec<((&str, Option<&str>), usize)> = Vec::new();
    for key in programs {
        match counts.iter_mut().find(|(known, _)| *known == key) {
            Some((_, count)) => *count += 1,
            None => counts.push((key, 1)),
        }
    }
    counts.sort();
    let shown = |name: &str, n: usize| if n > 1 { format!("{} x{n}", shown_name(name)) } else { shown_name(name) };
    counts.into_iter().map(|((name, why), n)| (shown(name, n), why)).collect()
}

/// A program's name, already printable (`proc::printable`), as the line shows it: with the
/// line's own punctuation (space, comma, semicolon, colon, parentheses) as `\xHH` too, and
/// anything outside ASCII as `\u{HHHH}` (a no-break space or a Greek question mark looks
/// like the line's own), so that a name a process gives itself cannot pass for another
/// count or reason.
fn shown_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            ' ' | ',' | ';' | ':' | '(' | ')' => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c if !c.is_ascii() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_pass_for_the_lines_punctuation() {
        assert_eq!(shown_name("a, 9 spared; (x)"), "a\\x2c\\x209\\x20spared\\x3b\\x20\\x28x\\x29");
        assert_eq!(shown_name("tmux: x2\\n"), "tmux\\x3a\\x20x2\\n");
        assert_eq!(shown_name("tmux\u{a0}x99"), "tmux\\u{a0}x99", "a no-break space is no space");
        assert_eq!(shown_name("a\u{37e}b"), "a\\u{37e}b", "a Greek question mark is no semicolon");
        let spared = [("tmux", Some("--spare")), ("ssh-agent", Some("x")), ("tmux", Some("--spare"))];
        let shown = grouped(spared.into_iter());
        assert_eq!(shown, [("ssh-agent".to_string(), Some("x")), ("tmux x2".to_string(), Some("--spare"))]);
    }
}
