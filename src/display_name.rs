//! DISPLAY values, and which X server each names: every spelling of one display compares
//! equal, so a session's processes are found whichever spelling they were given.

/// The server a display name points at; the screen number is not part of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName {
    /// Lower-case host for TCP displays; `None` for the local (Unix socket) server.
    host: Option<String>,
    pub(crate) number: u32,
}

impl DisplayName {
    /// Parses a DISPLAY value; `None` when it is not one.
    pub fn parse(text: &str) -> Option<DisplayName> {
        let (protocol, rest) = match text.split_once('/') {
            Some((protocol, rest)) => (Some(protocol.to_ascii_lowercase()), rest),
            None => (None, text),
        };
        let colon = rest.rfind(':')?;
        let (host, after) = (&rest[..colon], &rest[colon + 1..]);
        let number_text = after.split_once('.').map_or(after, |(number, _screen)| number);
        if number_text.is_empty() || !number_text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let number = number_text.parse().ok()?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let local = host.is_empty() || host == "unix" || matches!(protocol.as_deref(), Some("unix" | "local"));
        let host = (!local).then(|| if is_loopback(&host) { "localhost".to_string() } else { host });
        Some(DisplayName { host, number })
    }
}

/// Loopback spellings name the same TCP listener (ssh's X11 forwarding port).
fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1" | "ip6-localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &str, b: &str) -> bool {
        DisplayName::parse(a).unwrap() == DisplayName::parse(b).unwrap()
    }

    #[test]
    fn every_spelling_of_a_local_display_is_the_same_display() {
        for spelling in [":5", ":5.0", ":5.1", "unix:5", "unix:5.0", "localhost/unix:5", "unix/:5", "local/:5"] {
            assert!(same(":5", spelling), "{spelling} is not :5");
        }
    }

    #[test]
    fn other_numbers_and_tcp_displays_are_other_displays() {
        for other in [":50", ":55", ":0", "localhost:5", "host:5", "tcp/localhost:5"] {
            assert!(!same(":5", other), "{other} taken for :5");
        }
        assert!(!same(":55", ":5"));
    }

    #[test]
    fn tcp_displays_compare_host_and_number() {
        assert!(same("localhost:10.0", "localhost:10"));
        assert!(same("localhost:10", "127.0.0.1:10.0"));
        assert!(same("tcp/localhost:10", "localhost:10"));
        assert!(same("WS01:3", "ws01:3.0"));
        assert!(same("[::1]:10", "localhost:10"));
        assert!(!same("localhost:10", "localhost:11"));
        assert!(!same("ws01:3", "ws02:3"));
    }

    #[test]
    fn garbage_is_not_a_display() {
        for bad in ["", "5", ":", ":x", ":5x", "host:", ":-1", ":5 ", ":99999999999"] {
            assert_eq!(DisplayName::parse(bad), None, "{bad:?} parsed");
        }
    }
}
