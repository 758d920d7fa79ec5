//! Python's notion of whitespace, which sacreBLEU's `str.split()` and `str.rstrip()` calls rely on.
//!
//! Rust's `char::is_whitespace` (Unicode `White_Space`) misses the four ASCII separators U+001C–U+001F
//! that Python's `str.isspace()` counts as whitespace; everything else is the same set. Scores only stay
//! identical to sacreBLEU's if tokens are split exactly where Python splits them.

/// `str.isspace()` for one character, as CPython defines it.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `s.split()`: the non-empty runs between Python whitespace.
pub fn split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_space).filter(|t| !t.is_empty())
}

/// `s.rstrip()`: `s` without trailing Python whitespace.
pub fn rstrip(s: &str) -> &str {
    s.trim_end_matches(is_space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_whitespace_includes_the_ascii_separators() {
        // Every character for which CPython 3.11's str.isspace() is true.
        let python: Vec<u32> = vec![
            0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000,
            0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028,
            0x2029, 0x202f, 0x205f, 0x3000,
        ];
        let ours: Vec<u32> = (0u32..0x11_0000)
            .filter_map(char::from_u32)
            .filter(|&c| is_space(c))
            .map(u32::from)
            .collect();
        assert_eq!(ours, python);
    }

    #[test]
    fn split_and_rstrip_follow_python() {
        assert_eq!(
            split("  a\u{1f}b\u{a0}\u{3000}c \t").collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(split(" \u{2028} ").count(), 0);
        // Zero-width space and the BOM are not whitespace to Python either.
        assert_eq!(
            split("a\u{200b}b \u{feff}c").collect::<Vec<_>>(),
            ["a\u{200b}b", "\u{feff}c"]
        );
        assert_eq!(rstrip("a b \r\u{85}\u{1c}"), "a b");
        assert_eq!(rstrip(" x"), " x");
    }
}
