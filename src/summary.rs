//! The line logged when a session has ended.

use std::time::Duration;

use crate::end;
use crate::find::Session;
use crate::hooks;
use crate::watchdog::Reason;

/// The one line an administrator reads after a session ended: who, why, how many processes,
/// which programs needed KILL, what survived, the memory given back, the hooks, the time.
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
        let mut programs: Vec<(String, usize)> = Vec::new();
        for name in &report.needed_kill {
            match programs.iter_mut().find(|(known, _)| known == name) {
                Some((_, count)) => *count += 1,
                None => programs.push((name.clone(), 1)),
            }
        }
        if !programs.is_empty() {
            let shown: Vec<String> =
                programs.iter().map(|(name, n)| if *n > 1 { format!("{name} x{n}") } else { name.clone() }).collect();
            write!(f, " ({})", shown.join(", "))?;
        }
        write!(
            f,
            ", {} survived; {:.1} MiB resident memory reclaimed",
            report.survivors.len(),
            *rss_kib as f64 / 1024.0
        )?;
        write!(
            f,
            "; hooks: {} run, {} failed{}",
            hooks.ran,
            hooks.ran_failed,
            if hooks.failed && hooks.ran_failed == 0 { " (refused or unusable)" } else { "" }
        )
    }
}
