//! `warta clean` output: what the loader kept of an article, as text, Markdown or JSON.
//!
//! The JSON fields `title`, `date`, `author`, `source`, `dateline`, `site`, `language`, `paragraphs`,
//! `sentences` and `removed` are a contract (issue 2); `kinds`, `warnings`, `origin` and `input` are
//! extras. Unknown metadata is `null`, never a missing key.

use serde::Serialize;

use crate::article::{Article, InputInfo, ParagraphKind, Removed};
use super::Format;

/// Render `article` for `warta clean`.
pub fn clean(article: &Article, format: Format) -> String {
    match format {
        Format::Text => text(article),
        Format::Markdown => markdown(article),
        Format::Json => json(article),
    }
}

/// The title, a blank line, then the paragraphs separated by blank lines.
fn text(article: &Article) -> String {
    let mut out = String::new();
    if let Some(title) = &article.meta.title {
        out.push_str(title);
        out.push_str("\n\n");
    }
    let paragraphs: Vec<&str> = article.paragraphs.iter().map(|p| p.text.as_str()).collect();
    out.push_str(&paragraphs.join("\n\n"));
    out.push('\n');
    out
}

/// `# title`, one line of metadata, then paragraphs, with subheadings as `##`.
fn markdown(article: &Article) -> String {
    let mut out = String::new();
    if let Some(title) = &article.meta.title {
        out.push_str(&format!("# {}\n\n", escape_line_start(title)));
    }
    let m = &article.meta;
    let fields = [
        ("Site", &m.site),
        ("Date", &m.date),
        ("Author", &m.author),
        ("Source", &m.source),
        ("Dateline", &m.dateline),
    ];
    let meta: Vec<String> = fields
        .iter()
        .filter_map(|(label, v)| v.as_ref().map(|v| format!("**{label}:** {v}")))
        .collect();
    if !meta.is_empty() {
        out.push_str(&meta.join(" · "));
        out.push_str("\n\n");
    }
    let paragraphs: Vec<String> = article
        .paragraphs
        .iter()
        .map(|p| match p.kind {
            ParagraphKind::Heading => format!("## {}", p.text),
            ParagraphKind::Body => escape_line_start(&p.text),
        })
        .collect();
    out.push_str(&paragraphs.join("\n\n"));
    out.push('\n');
    out
}

/// A paragraph that starts with `#` or `>` would turn into a heading or a quote.
fn escape_line_start(s: &str) -> String {
    if s.starts_with(['#', '>']) {
        format!("\\{s}")
    } else {
        s.to_string()
    }
}

#[derive(Serialize)]
struct CleanJson<'a> {
    title: Option<&'a str>,
    date: Option<&'a str>,
    author: Option<&'a str>,
    source: Option<&'a str>,
    dateline: Option<&'a str>,
    site: Option<&'a str>,
    language: Option<&'a str>,
    paragraphs: Vec<&'a str>,
    sentences: Vec<&'a [String]>,
    removed: &'a [Removed],
    /// `body` or `heading`, one per paragraph.
    kinds: Vec<ParagraphKind>,
    warnings: &'a [String],
    origin: &'a str,
    input: &'a InputInfo,
}

fn json(article: &Article) -> String {
    let m = &article.meta;
    let doc = CleanJson {
        title: m.title.as_deref(),
        date: m.date.as_deref(),
        author: m.author.as_deref(),
        source: m.source.as_deref(),
        dateline: m.dateline.as_deref(),
        site: m.site.as_deref(),
        language: article.language.as_deref(),
        paragraphs: article.paragraphs.iter().map(|p| p.text.as_str()).collect(),
        sentences: article
            .paragraphs
            .iter()
            .map(|p| p.sentences.as_slice())
            .collect(),
        removed: &article.removed,
        kinds: article.paragraphs.iter().map(|p| p.kind).collect(),
        warnings: &article.warnings,
        origin: &article.origin,
        input: &article.input,
    };
    // Serialising plain strings and vectors cannot fail; fall back to an empty object rather than panic.
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".to_string());
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::{Metadata, Paragraph};

    fn sample() -> Article {
        Article {
            origin: "a.txt".into(),
            meta: Metadata {
                title: Some("Judul".into()),
                site: Some("Kompas.com".into()),
                ..Default::default()
            },
            paragraphs: vec![
                Paragraph {
                    text: "Satu. Dua.".into(),
                    sentences: vec!["Satu.".into(), "Dua.".into()],
                    kind: ParagraphKind::Body,
                },
                Paragraph {
                    text: "Sub".into(),
                    sentences: vec!["Sub".into()],
                    kind: ParagraphKind::Heading,
                },
                Paragraph {
                    text: "# Tiga.".into(),
                    sentences: vec!["# Tiga.".into()],
                    kind: ParagraphKind::Body,
                },
            ],
            removed: vec![Removed {
                text: "Baca juga: X".into(),
                reason: "related link".into(),
            }],
            language: Some("id".into()),
            ..Default::default()
        }
    }

    #[test]
    fn text_is_title_then_paragraphs() {
        assert_eq!(
            clean(&sample(), Format::Text),
            "Judul\n\nSatu. Dua.\n\nSub\n\n# Tiga.\n"
        );
    }

    #[test]
    fn markdown_has_headings_and_metadata() {
        assert_eq!(
            clean(&sample(), Format::Markdown),
            "# Judul\n\n**Site:** Kompas.com\n\nSatu. Dua.\n\n## Sub\n\n\\# Tiga.\n"
        );
    }

    #[test]
    fn json_keeps_the_contract_fields() {
        let v: serde_json::Value =
            serde_json::from_str(&clean(&sample(), Format::Json)).expect("valid JSON");
        for key in [
            "title",
            "date",
            "author",
            "source",
            "dateline",
            "site",
            "language",
            "paragraphs",
            "sentences",
            "removed",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["date"], serde_json::Value::Null);
        assert_eq!(v["sentences"][0][1], "Dua.");
        assert_eq!(v["removed"][0]["reason"], "related link");
        assert_eq!(v["kinds"][1], "heading");
    }
}
