//! Plain text and Markdown into the cleaner's lines.
//!
//! Blank lines separate blocks; single newlines are kept as line breaks for the cleaner to judge
//! (a hard wrap inside a paragraph, or one paragraph per line as many scrapers write).

use std::sync::LazyLock;

use regex::Regex;

use super::clean::{Hint, Line};

/// Split plain text into lines, marking where blank lines were.
pub(crate) fn text_lines(text: &str) -> Vec<Line> {
    let text = html_escape::decode_html_entities(text);
    split_lines(&text, |l| (l.to_string(), Hint::Plain))
}

/// Markdown: ATX headings become a title (`#`) or subheadings, and inline markup is reduced to its text.
pub(crate) fn markdown_lines(text: &str) -> Vec<Line> {
    split_lines(text, |l| {
        let trimmed = l.trim_start();
        let hashes = trimmed.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            let hint = if hashes == 1 {
                Hint::Title
            } else {
                Hint::Heading
            };
            return (
                strip_inline(trimmed[hashes..].trim_end_matches('#').trim()),
                hint,
            );
        }
        let body = trimmed.strip_prefix("> ").unwrap_or(trimmed);
        (strip_inline(body), Hint::Plain)
    })
}

fn split_lines(text: &str, mut convert: impl FnMut(&str) -> (String, Hint)) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut new_block = true;
    for raw in text.lines() {
        if raw.trim().is_empty() {
            new_block = true;
            continue;
        }
        let (text, hint) = convert(raw);
        lines.push(Line {
            text,
            hint,
            new_block,
        });
        new_block = false;
    }
    lines
}

/// Images go, links keep their text, emphasis markers and inline code ticks go.
fn strip_inline(s: &str) -> String {
    static IMAGE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"!\[[^\]]*\]\([^)]*\)").expect("valid regex"));
    static LINK: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\[([^\]]*)\]\([^)]*\)").expect("valid regex"));
    static EMPHASIS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\*\*|__|`").expect("valid regex"));
    let s = IMAGE.replace_all(s, "");
    let s = LINK.replace_all(&s, "$1");
    EMPHASIS.replace_all(&s, "").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_start_blocks() {
        let lines = text_lines("a\nb\n\n\nc &amp; d");
        let flags: Vec<_> = lines
            .iter()
            .map(|l| (l.text.as_str(), l.new_block))
            .collect();
        assert_eq!(flags, [("a", true), ("b", false), ("c & d", true)]);
    }

    #[test]
    fn markdown_headings_and_links() {
        let lines = markdown_lines(
            "# Judul\n\n## Sub\n\nIni **tebal** dan [tautan](http://x.id). ![f](a.jpg)",
        );
        assert_eq!(lines[0].hint, Hint::Title);
        assert_eq!(lines[1].hint, Hint::Heading);
        assert_eq!(lines[1].text, "Sub");
        assert_eq!(lines[2].text, "Ini tebal dan tautan. ");
    }
}
