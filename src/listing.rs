//! What `xexit list` prints: one line per process like `pgrep -a`, or JSON for scripts.

use std::collections::HashMap;

use crate::find::{self, Member};
use crate::proc::printable;

/// `list --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    Text,
    Json,
}

/// The rows for `members` (sorted by PID), in `format`; `scope` names the session.
pub fn render(members: &[Member], format: ListFormat, scope: &str) -> String {
    let mut names: HashMap<u32, String> = HashMap::new();
    let mut rows = Vec::new();
    for member in members {
        let user = names.entry(member.uid).or_insert_with(|| printable(&find::user_name_of(member.uid)));
        let command = member.command.as_deref().unwrap_or_default();
        rows.push(match format {
            ListFormat::Text => format!("{} {user} {command}{}\n", member.pid, member.verdict.mark()),
            ListFormat::Json => {
                let (action, why) = member.verdict.action_and_reason(scope);
                // What is left running, in the words of the summary line.
                let why = member.verdict.spared_words().map_or(why, String::from);
                let fields = [
                    format!("\"pid\": {}", member.pid),
                    format!("\"user\": {}", json_string(user)),
                    format!("\"uid\": {}", member.uid),
                    format!("\"program\": {}", json_string(&printable(&member.name))),
                    format!("\"command\": {}", json_string(command)),
                    format!("\"state\": {}", json_string(&member.state)),
                    format!("\"action\": {}", json_string(action)),
                    format!("\"why\": {}", json_string(&why)),
                ];
                format!("{{{}}}", fields.join(", "))
            }
        });
    }
    match format {
        ListFormat::Text => rows.concat(),
        ListFormat::Json if rows.is_empty() => "[]\n".to_string(),
        ListFormat::Json => format!("[\n  {}\n]\n", rows.join(",\n  ")),
    }
}

/// `text` as a JSON string. It is already printable (`proc::printable`); only what JSON
/// itself requires is escaped here.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
