//! `format=html`: translate the text nodes of an HTML document or fragment and keep its markup.
//!
//! The parsed tree is not `Send`, so it is parsed twice: once to collect the texts, once (after the
//! worker translated them) to put the translations back in the same document order.

use dom_query::{Document, NodeRef};

/// Elements whose text is code or data, not prose.
const SKIP: &[&str] = &["script", "style", "noscript", "template", "code", "textarea"];

fn is_document(html: &str) -> bool {
    let head = html.trim_start().get(..15).unwrap_or("").to_ascii_lowercase();
    head.starts_with("<!doctype") || head.starts_with("<html")
}

fn parse(html: &str) -> Document {
    if is_document(html) {
        Document::from(html)
    } else {
        Document::fragment(html)
    }
}

fn serialize(doc: &Document, html: &str) -> String {
    if is_document(html) {
        doc.html().to_string()
    } else {
        doc.html_root().inner_html().to_string()
    }
}

/// The text nodes to translate, in document order.
fn text_nodes(doc: &Document) -> Vec<NodeRef<'_>> {
    doc.root()
        .descendants()
        .into_iter()
        .filter(|n| n.is_text() && !n.text().trim().is_empty())
        .filter(|n| {
            !n.ancestors(None).iter().any(|a| {
                a.node_name()
                    .is_some_and(|name| SKIP.contains(&name.to_ascii_lowercase().as_str()))
            })
        })
        .collect()
}

/// The texts to translate in `html` (trimmed), in document order.
pub(crate) fn texts(html: &str) -> Vec<String> {
    let doc = parse(html);
    text_nodes(&doc)
        .iter()
        .map(|n| n.text().trim().to_string())
        .collect()
}

/// `html` with its texts replaced by `translations` (as many as [`texts`] gave, in order); the
/// whitespace around each text is kept.
pub(crate) fn rebuild(html: &str, translations: &[String]) -> String {
    let doc = parse(html);
    for (node, t) in text_nodes(&doc).iter().zip(translations) {
        let old = node.text();
        let lead = &old[..old.len() - old.trim_start().len()];
        let trail = &old[old.trim_end().len()..];
        node.set_text(format!("{lead}{t}{trail}"));
    }
    serialize(&doc, html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_nodes_are_replaced_and_markup_kept() {
        let html = r#"<p class="x">Halo <b>dunia</b>!</p><script>var a = "b";</script>"#;
        assert_eq!(texts(html), ["Halo", "dunia", "!"]);
        let out = rebuild(html, &["Hello".into(), "<world>".into(), "!".into()]);
        assert_eq!(
            out,
            r#"<p class="x">Hello <b>&lt;world&gt;</b>!</p><script>var a = "b";</script>"#
        );
    }

    #[test]
    fn whole_documents_stay_documents() {
        let html = "<!DOCTYPE html><html><head><title>Judul</title></head><body><p>Satu.</p></body></html>";
        assert_eq!(texts(html), ["Judul", "Satu."]);
        let out = rebuild(html, &["Title".into(), "One.".into()]);
        assert!(out.contains("<title>Title</title>"), "{out}");
        assert!(out.contains("<p>One.</p>"), "{out}");
    }
}
