//! Text that comes from processes, made printable.

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

#[cfg(test)]
mod tests {
    use super::*;

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
