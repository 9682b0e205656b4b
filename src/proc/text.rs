//! Text that comes from processes: made printable, and searched for a variable.

/// `text` on one line, so that a process cannot forge another row of `list` or a log
/// line: `\\`, `\n`, `\t`, `\r`, other
/// control characters as `\xHH` (C0 and DEL) or `\u{HHHH}` (C1, line and paragraph
/// separators, and the bidirectional controls that reorder what a terminal shows).
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0'..='\x1f' | '\x7f' => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            '\u{80}'..='\u{9f}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)))
            }
            _ => out.push(c),
        }
    }
    out
}

/// The value of NAME in a NUL-separated environment block (the first one, as getenv finds).
pub fn env_value<'a>(environ: &'a [u8], name: &str) -> Option<&'a [u8]> {
    environ
        .split(|b| *b == 0)
        .find_map(|entry| entry.strip_prefix(name.as_bytes()).and_then(|rest| rest.strip_prefix(b"=")))
}

/// The longest value an `EnvSearch` keeps: longer than any one string exec accepts (128
/// KiB), so a value cut here equals no tag.
const MAX_VALUE: usize = 256 << 10;

/// Finds the value of NAME in an environment block fed in pieces, keeping only that value:
/// for environments too large to read whole (rewritten with prctl PR_SET_MM).
pub struct EnvSearch {
    /// `NAME=`.
    wanted: Vec<u8>,
    state: SearchState,
    value: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SearchState {
    /// In an entry whose first bytes match that many of `NAME=`.
    Matching(usize),
    /// In an entry of another name.
    Skipping,
    /// In the value wanted.
    Value,
    Found,
}

impl EnvSearch {
    pub fn new(name: &str) -> Self {
        let wanted = [name.as_bytes(), b"="].concat();
        EnvSearch { wanted, state: SearchState::Matching(0), value: Vec::new() }
    }

    /// Takes the next piece of the block; whether the value is complete.
    pub fn feed(&mut self, mut piece: &[u8]) -> bool {
        while !piece.is_empty() && self.state != SearchState::Found {
            match self.state {
                SearchState::Skipping => match piece.iter().position(|b| *b == 0) {
                    Some(end) => (self.state, piece) = (SearchState::Matching(0), &piece[end + 1..]),
                    None => piece = &[],
                },
                SearchState::Matching(matched) => {
                    self.state = match piece[0] {
                        b if b == self.wanted[matched] && matched + 1 == self.wanted.len() => SearchState::Value,
                        b if b == self.wanted[matched] => SearchState::Matching(matched + 1),
                        0 => SearchState::Matching(0),
                        _ => SearchState::Skipping,
                    };
                    piece = &piece[1..];
                }
                SearchState::Value => {
                    let end = piece.iter().position(|b| *b == 0);
                    let part = &piece[..end.unwrap_or(piece.len())];
                    let room = MAX_VALUE.saturating_sub(self.value.len());
                    self.value.extend_from_slice(&part[..part.len().min(room)]);
                    if end.is_some() || self.value.len() >= MAX_VALUE {
                        self.state = SearchState::Found;
                    }
                    piece = &piece[part.len()..];
                }
                SearchState::Found => {}
            }
        }
        self.state == SearchState::Found
    }

    /// The value, once the whole block was fed (or `feed` said it was complete).
    pub fn finish(self) -> Option<Vec<u8>> {
        matches!(self.state, SearchState::Value | SearchState::Found).then_some(self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_found_in_pieces_of_any_size_as_in_one_block() {
        let environ = b"HOME=/home/a\0TAGX=no\0TAG\0TAG=ws010\0TAG=ws01\0XTAG=ws01\0LAST=x";
        for name in ["TAG", "HOME", "TA", "AG", "LAST", "NONE"] {
            let whole = env_value(environ, name).map(<[u8]>::to_vec);
            for size in 1..environ.len() {
                let mut search = EnvSearch::new(name);
                let done = environ.chunks(size).any(|piece| search.feed(piece));
                assert!(!done || whole.is_some());
                assert_eq!(search.finish(), whole, "{name} in pieces of {size}");
            }
        }
    }

    #[test]
    fn env_values_match_whole_values_only() {
        let environ = b"HOME=/home/a\0TAG=ws010\0TAG=ws01\0XTAG=ws01\0";
        assert_eq!(env_value(environ, "TAG"), Some(&b"ws010"[..]));
        assert_eq!(env_value(environ, "HOME"), Some(&b"/home/a"[..]));
        assert_eq!(env_value(environ, "TA"), None);
        assert_eq!(env_value(environ, "AG"), None);
    }
    #[test]
    fn text_is_made_printable_on_one_line() {
        assert_eq!(printable("sleep 1000"), "sleep 1000");
        assert_eq!(printable("x\n12345 root /sbin/init"), "x\\n12345 root /sbin/init");
        assert_eq!(printable("a\tb\rc\\d\x1b[31m\x7f\0"), "a\\tb\\rc\\\\d\\x1b[31m\\x7f\\x00");
        assert_eq!(printable("\u{85}\u{2028}\u{202e}é"), "\\u{85}\\u{2028}\\u{202e}é");
        for c in (0..0x11_0000).filter_map(char::from_u32) {
            let shown = printable(&c.to_string());
            assert!(!shown.chars().any(|s| s.is_control()), "{c:?} shown as {shown:?}");
        }
    }
}
