//! Main-content extraction from a saved HTML page (or a copied HTML fragment).
//!
//! Known sites first: their body selector, minus their drop selectors (recorded in `removed`). When no
//! site rule applies, or it finds too little, the page goes to `dom_smoothie`, a port of Mozilla's
//! Readability (evaluated on all 15 saved pages of the fixtures: it found the body of each, but keeps
//! lead-photo captions, date lines, tag lists and credits, which the phrase rules of `clean` remove).
//! A fragment (no `<html>`/`<body>`) is already content and is read whole.
//!
//! The result is a list of lines for the cleaner, with hints the markup gives: headings, lines that are
//! entirely bold (subheadings in Tempo and press releases), and block boundaries.

use dom_query::{Document, NodeRef, Selection};
use dom_smoothie::{Config, Readability};

use super::clean::{collapse_ws, Hint, Line};
use super::nesting;
use super::rules;
use super::sites::{self, Site};
use super::{Metadata, Removed};

/// What the HTML stage found.
pub(crate) struct Extracted {
    pub lines: Vec<Line>,
    pub meta: Metadata,
    /// Spans dropped inside the main content by site rules (page chrome outside it is not listed).
    pub removed: Vec<Removed>,
    /// How the body was found, for `-v`.
    pub method: String,
    /// What the user should know about the page (nesting cut to a bound).
    pub warnings: Vec<String>,
}

/// Below this many characters a site selector is taken to have matched the wrong element.
const MIN_BODY_CHARS: usize = 150;

pub(crate) fn extract(html: &str) -> Extracted {
    let (html, flattened) = nesting::bound(html);
    let html = html.as_ref();
    let mut warnings = Vec::new();
    if flattened.dropped_tags > 0 {
        warnings.push(format!(
            "the page nests elements more than {} deep: the {} start tags beyond that depth were \
             ignored (their text is kept)",
            nesting::MAX_DEPTH,
            flattened.dropped_tags
        ));
    }
    if flattened.dropped_attrs > 0 {
        warnings.push(format!(
            "the page has tags with more than {} attributes: the {} attributes beyond that were \
             ignored",
            nesting::MAX_ATTRS,
            flattened.dropped_attrs
        ));
    }
    let doc = Document::from(html);
    let url = page_url(&doc);
    let site_name_tag = meta_content(
        &doc,
        &[
            "meta[property='og:site_name']",
            "meta[name='application-name']",
        ],
    );
    let site = url
        .as_deref()
        .and_then(sites::host_of)
        .and_then(sites::by_host)
        .or_else(|| site_name_tag.as_deref().and_then(sites::by_brand));
    let mut meta = page_metadata(&doc, site, site_name_tag.as_deref(), url.as_deref());
    let mut removed = Vec::new();

    let (lines, method) = body_lines(&doc, html, site, &mut meta, &mut removed);
    Extracted {
        lines,
        meta,
        removed,
        method,
        warnings,
    }
}

fn body_lines(
    doc: &Document,
    html: &str,
    site: Option<&'static Site>,
    meta: &mut Metadata,
    removed: &mut Vec<Removed>,
) -> (Vec<Line>, String) {
    if is_fragment(html) {
        let lines = doc.body().map(|b| walk(&b, removed)).unwrap_or_default();
        return (lines, "HTML fragment, read whole".into());
    }
    if let Some(site) = site {
        if let Some((body, sel)) = site_body(doc, site) {
            drop_inside(&body, site.drop.iter().chain(sites::SHARED_DROP), removed);
            cut_at_end_markers(&body, site.end, removed);
            let lines = body
                .nodes()
                .first()
                .map(|n| walk(n, removed))
                .unwrap_or_default();
            return (lines, format!("{} body selector `{sel}`", site.name));
        }
    }
    // Generic: readability on the page without the boxes it cannot recognise by their Indonesian names.
    let pruned = doc.clone();
    for sel in sites::SHARED_DROP
        .iter()
        .chain(site.map_or(&[][..], |s| s.drop))
    {
        if let Some(found) = pruned.try_select(sel) {
            found.remove();
        }
    }
    let parsed = Readability::with_document(pruned, None, Some(Config::default()))
        .and_then(|mut r| r.parse());
    match parsed {
        Ok(article) if collapse_ws(&article.text_content).len() >= MIN_BODY_CHARS => {
            if meta.author.is_none() {
                meta.author = article
                    .byline
                    .as_deref()
                    .and_then(|b| clean_author(b, site, meta.site.as_deref()));
            }
            if meta.date.is_none() {
                meta.date = article.published_time.clone();
            }
            let content = Document::from(article.content.as_ref());
            let lines = content
                .body()
                .map(|b| walk(&b, removed))
                .unwrap_or_default();
            (lines, "generic readability extractor".into())
        }
        _ => {
            // Nothing article-like: hand the whole page to the cleaner, which drops menus and, if no
            // prose is left, reports that there is no article text.
            let lines = doc.body().map(|b| walk(&b, removed)).unwrap_or_default();
            (lines, "whole page (no main content found)".into())
        }
    }
}

/// The distinct prose captions of a page (`<figcaption>` or an element whose class names a caption),
/// each as its own block, from a fresh parse (the body rules removed them from the first one). A
/// photo gallery has no text besides these, so they are what is left to read when the body rules
/// find no article.
pub(crate) fn gallery_captions(html: &str) -> Option<Vec<Line>> {
    let doc = Document::from(nesting::bound(html).0.as_ref());
    let found = doc.try_select("figcaption, [class*='caption']")?;
    let mut seen = std::collections::HashSet::new();
    let lines: Vec<Line> = found
        .nodes()
        .iter()
        .map(|n| visible_text(n))
        .filter(|t| rules::is_prose(t) && seen.insert(t.clone()))
        .map(|text| Line {
            text,
            hint: Hint::Plain,
            new_block: true,
        })
        .collect();
    (!lines.is_empty()).then_some(lines)
}

fn is_fragment(html: &str) -> bool {
    let head = super::load::lowercase_head(html, 65_536);
    !head.contains("<body") && !head.contains("<html") && !head.contains("<head")
}

/// The matching body element with the most text, from the first selector that finds enough.
fn site_body<'a>(doc: &'a Document, site: &Site) -> Option<(Selection<'a>, &'static str)> {
    site.body.iter().find_map(|sel| {
        let found = doc.try_select(sel)?;
        let best = *found.nodes().iter().max_by_key(|n| n.text().len())?;
        (collapse_ws(&best.text()).len() >= MIN_BODY_CHARS).then(|| (Selection::from(best), *sel))
    })
}

fn drop_inside<'a>(
    body: &Selection,
    selectors: impl Iterator<Item = &'a &'static str>,
    removed: &mut Vec<Removed>,
) {
    for sel in selectors {
        let Some(found) = body.try_select(sel) else {
            continue;
        };
        for node in found.nodes() {
            let text = visible_text(node);
            if !text.is_empty() {
                removed.push(Removed {
                    text,
                    reason: format!("site rule: drop `{sel}`"),
                });
            }
            node.remove_from_parent();
        }
    }
}

/// Remove an end-of-article marker and everything after it inside the body.
fn cut_at_end_markers(body: &Selection, markers: &[&str], removed: &mut Vec<Removed>) {
    let Some(root) = body.nodes().first() else {
        return;
    };
    for sel in markers {
        let Some(found) = body.try_select(sel) else {
            continue;
        };
        let Some(marker) = found.nodes().first().cloned() else {
            continue;
        };
        let mut node = marker;
        let mut cut = Vec::new();
        while node.id != root.id {
            while let Some(next) = node.next_sibling() {
                cut.push(next);
                next.remove_from_parent();
            }
            match node.parent() {
                Some(p) => node = p,
                None => break,
            }
        }
        marker.remove_from_parent();
        let text = collapse_ws(&cut.iter().map(visible_text).collect::<Vec<_>>().join(" "));
        if !text.is_empty() {
            removed.push(Removed {
                text,
                reason: format!("site rule: after end marker `{sel}`"),
            });
        }
    }
}

/// The text a reader sees in a subtree: no script, style or other skipped elements.
fn visible_text(node: &NodeRef) -> String {
    fn collect(node: &NodeRef, out: &mut String) {
        if node.is_text() {
            out.push_str(&node.text());
            return;
        }
        let name = node
            .node_name()
            .map(|n| n.to_ascii_lowercase())
            .unwrap_or_default();
        if SKIP.contains(&name.as_str()) {
            return;
        }
        let block = BLOCKS.contains(&name.as_str()) || matches!(name.as_str(), "br" | "td" | "th");
        if block {
            out.push(' ');
        }
        for child in node.children() {
            collect(&child, out);
        }
        if block {
            out.push(' ');
        }
    }
    let mut out = String::new();
    collect(node, &mut out);
    collapse_ws(&out)
}

/// Turns a DOM subtree into lines. Block elements start blocks; `<br>` breaks a line, two in a row a
/// block; a line whose text is all inside `<strong>`/`<b>` is hinted as bold, text in `<h1>`-`<h6>` as
/// a heading.
struct Walker<'r> {
    lines: Vec<Line>,
    cur: String,
    bold_chars: usize,
    plain_chars: usize,
    bold_depth: usize,
    heading_depth: usize,
    pending_block: bool,
    brs: usize,
    removed: &'r mut Vec<Removed>,
}

const SKIP: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "iframe", "object", "embed", "button",
    "select", "input", "textarea", "img", "video", "audio", "canvas", "map", "head", "title",
    "meta", "link",
];
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "blockquote",
    "pre",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "center",
    "address",
    "form",
    "fieldset",
    "details",
    "summary",
    "body",
    "html",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
];
/// Inside an article body these hold navigation, share bars or captions, never the story.
const DROPPED_BLOCKS: &[(&str, &str)] = &[
    ("figure", "photo caption"),
    ("figcaption", "photo caption"),
    ("nav", "navigation"),
    ("aside", "aside box"),
    ("footer", "footer"),
];

fn walk(root: &NodeRef, removed: &mut Vec<Removed>) -> Vec<Line> {
    let mut w = Walker {
        lines: Vec::new(),
        cur: String::new(),
        bold_chars: 0,
        plain_chars: 0,
        bold_depth: 0,
        heading_depth: 0,
        pending_block: true,
        brs: 0,
        removed,
    };
    w.visit(root);
    w.flush();
    w.lines
}

impl Walker<'_> {
    fn visit(&mut self, node: &NodeRef) {
        if node.is_text() {
            let text = node.text();
            let visible = text.chars().filter(|c| !c.is_whitespace()).count();
            if visible > 0 {
                self.brs = 0;
                if self.bold_depth > 0 || self.heading_depth > 0 {
                    self.bold_chars += visible;
                } else {
                    self.plain_chars += visible;
                }
            }
            self.cur.push_str(&text);
            return;
        }
        if !node.is_element() && !node.is_document() && !node.is_fragment() {
            return;
        }
        let name = node
            .node_name()
            .map(|n| n.to_ascii_lowercase())
            .unwrap_or_default();
        let name = name.as_str();
        if SKIP.contains(&name) {
            return;
        }
        if let Some((_, reason)) = DROPPED_BLOCKS.iter().find(|(tag, _)| *tag == name) {
            let text = visible_text(node);
            if !text.is_empty() {
                self.removed.push(Removed {
                    text,
                    reason: (*reason).to_string(),
                });
            }
            return;
        }
        match name {
            "br" => {
                self.flush();
                self.brs += 1;
                if self.brs >= 2 {
                    self.pending_block = true;
                }
            }
            "hr" => {
                self.flush();
                self.pending_block = true;
            }
            "td" | "th" => {
                self.cur.push(' ');
                self.children(node);
                self.cur.push(' ');
            }
            "strong" | "b" => {
                self.bold_depth += 1;
                self.children(node);
                self.bold_depth -= 1;
            }
            _ if BLOCKS.contains(&name) => {
                self.flush();
                self.pending_block = true;
                let heading =
                    name.len() == 2 && name.starts_with('h') && name.as_bytes()[1].is_ascii_digit();
                self.heading_depth += usize::from(heading);
                self.children(node);
                self.flush();
                self.heading_depth -= usize::from(heading);
                self.pending_block = true;
                self.brs = 0;
            }
            _ => self.children(node),
        }
    }

    fn children(&mut self, node: &NodeRef) {
        for child in node.children() {
            self.visit(&child);
        }
    }

    fn flush(&mut self) {
        let text = collapse_ws(&self.cur);
        if !text.is_empty() {
            let hint = if self.heading_depth > 0 {
                Hint::Heading
            } else if self.plain_chars == 0 && self.bold_chars > 0 {
                Hint::Bold
            } else {
                Hint::Plain
            };
            self.lines.push(Line {
                text,
                hint,
                new_block: self.pending_block || self.lines.is_empty(),
            });
            self.pending_block = false;
        }
        self.cur.clear();
        self.bold_chars = 0;
        self.plain_chars = 0;
    }
}

fn meta_content(doc: &Document, selectors: &[&str]) -> Option<String> {
    selectors.iter().find_map(|sel| {
        let found = doc.try_select(sel)?;
        found.nodes().iter().find_map(|n| {
            let v = collapse_ws(
                &n.attr("content")
                    .or_else(|| n.attr("href"))
                    .or_else(|| n.attr("datetime"))?,
            );
            (!v.is_empty()).then_some(v)
        })
    })
}

fn page_url(doc: &Document) -> Option<String> {
    meta_content(
        doc,
        &[
            "link[rel='canonical']",
            "meta[property='og:url']",
            "meta[name='twitter:url']",
        ],
    )
    .filter(|u| u.starts_with("http"))
}

fn page_metadata(
    doc: &Document,
    site: Option<&Site>,
    site_name_tag: Option<&str>,
    url: Option<&str>,
) -> Metadata {
    let ld = json_ld(doc);
    let site_name = site
        .map(|s| s.name.to_string())
        .or_else(|| site_name_tag.map(|n| strip_site_suffix(n, None, None)))
        .or_else(|| {
            url.and_then(sites::host_of)
                .map(|h| h.trim_start_matches("www.").to_string())
        });
    let title = meta_content(
        doc,
        &["meta[property='og:title']", "meta[name='twitter:title']"],
    )
    .or_else(|| ld.as_ref().and_then(|v| ld_str(v, "headline")))
    .or_else(|| {
        doc.try_select("h1")
            .map(|h| collapse_ws(&h.first().text()))
            .filter(|t| !t.is_empty())
    })
    .or_else(|| {
        doc.try_select("title")
            .map(|t| collapse_ws(&t.first().text()))
            .filter(|t| !t.is_empty())
    })
    .map(|t| strip_site_suffix(&t, site, site_name.as_deref()));
    let date = meta_content(
        doc,
        &[
            "meta[property='article:published_time']",
            "meta[name='pubdate']",
            "meta[name='publishdate']",
            "meta[name='publish-date']",
            "meta[name='dtk:publishdate']",
            "meta[name='content_PublishedDate']",
            "meta[itemprop='datePublished']",
            "meta[name='date']",
        ],
    )
    .or_else(|| ld.as_ref().and_then(|v| ld_str(v, "datePublished")));
    let author = meta_content(
        doc,
        &[
            "meta[name='author']",
            "meta[name='content_author']",
            "meta[name='dtk:author']",
            "meta[property='article:author']",
        ],
    )
    .or_else(|| ld.as_ref().and_then(ld_author))
    .and_then(|a| clean_author(&a, site, site_name.as_deref()));
    Metadata {
        title: title.filter(|t| !t.is_empty()),
        date,
        author,
        source: None,
        dateline: None,
        site: site_name,
    }
}

/// The first JSON-LD object that describes an article (has `datePublished` or `headline`).
fn json_ld(doc: &Document) -> Option<serde_json::Value> {
    let scripts = doc.try_select("script[type='application/ld+json']")?;
    scripts.nodes().iter().find_map(|n| {
        let v: serde_json::Value = serde_json::from_str(n.text().trim()).ok()?;
        find_article(&v).cloned()
    })
}

fn find_article(v: &serde_json::Value) -> Option<&serde_json::Value> {
    match v {
        serde_json::Value::Object(o)
            if o.contains_key("datePublished") || o.contains_key("headline") =>
        {
            Some(v)
        }
        serde_json::Value::Object(o) => o.values().find_map(find_article),
        serde_json::Value::Array(a) => a.iter().find_map(find_article),
        _ => None,
    }
}

fn ld_str(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key)?
        .as_str()
        .map(collapse_ws)
        .filter(|s| !s.is_empty())
}

fn ld_author(v: &serde_json::Value) -> Option<String> {
    let a = v.get("author")?;
    let a = a.as_array().and_then(|l| l.first()).unwrap_or(a);
    a.as_str()
        .map(str::to_string)
        .or_else(|| a.get("name")?.as_str().map(str::to_string))
}

/// An author value, without labels or a site suffix, or `None` when it names the publisher instead
/// ("Kompas Cyber Media", "PT. VIVA MEDIA BARU - VIVA.co.id").
pub(crate) fn clean_author(
    raw: &str,
    site: Option<&Site>,
    site_name: Option<&str>,
) -> Option<String> {
    let a = collapse_ws(raw);
    let a = a
        .split_once(':')
        .filter(|(label, _)| {
            ["pewarta", "penulis", "reporter", "oleh", "author", "editor"]
                .contains(&label.trim().to_lowercase().as_str())
        })
        .map_or(a.as_str(), |(_, v)| v)
        .trim();
    let a = strip_site_suffix(a, site, site_name);
    let lower = a.to_lowercase();
    let publisher = lower.starts_with("pt") && lower.contains("media")
        || lower.contains("http")
        || lower.contains("cyber media")
        || names_a_brand(&lower, site, site_name);
    (!a.is_empty() && !publisher && a.split_whitespace().count() <= 8).then_some(a)
}

fn names_a_brand(lower: &str, site: Option<&Site>, site_name: Option<&str>) -> bool {
    let mut brands: Vec<String> = sites::SITES
        .iter()
        .flat_map(|s| s.brands.iter().map(|b| b.to_string()))
        .collect();
    brands.extend(site.map(|s| s.name.to_lowercase()));
    brands.extend(site_name.map(str::to_lowercase));
    let host_like = lower.split_whitespace().any(|w| {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric());
        w.ends_with(".com") || w.ends_with(".co.id") || w.ends_with(".co") || w.ends_with(".id")
    });
    host_like
        || brands.iter().any(|b| {
            lower == b
                || lower
                    .split(|c: char| !c.is_alphanumeric() && c != '.')
                    .any(|w| !w.is_empty() && w == b)
        })
}

/// "Title - Kompas.com", "Title | ihram.co.id", "Title :: Okezone News" → "Title".
pub(crate) fn strip_site_suffix(
    title: &str,
    site: Option<&Site>,
    site_name: Option<&str>,
) -> String {
    let mut t = collapse_ws(title);
    for _ in 0..2 {
        let cut = [" - ", " | ", " :: ", " — ", " – "]
            .iter()
            .filter_map(|sep| t.rfind(sep).map(|p| (p, sep.len())))
            .max();
        let Some((pos, len)) = cut else { break };
        let tail = t[pos + len..].to_lowercase();
        if pos == 0 || tail.split_whitespace().count() > 4 || !names_a_brand(&tail, site, site_name)
        {
            break;
        }
        t.truncate(pos);
    }
    t.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(html: &str) -> Vec<(String, Hint, bool)> {
        extract(html)
            .lines
            .into_iter()
            .map(|l| (l.text, l.hint, l.new_block))
            .collect()
    }

    #[test]
    fn fragment_keeps_loose_text_between_paragraphs() {
        let l = lines(" Jakarta, CNN Indonesia -- <p>Satu.</p> Lihat juga: Judul Lain <p>Dua.</p>");
        let texts: Vec<_> = l.iter().map(|(t, _, _)| t.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Jakarta, CNN Indonesia --",
                "Satu.",
                "Lihat juga: Judul Lain",
                "Dua."
            ]
        );
    }

    #[test]
    fn bold_lines_and_breaks() {
        let l = lines("<p>Satu dua.<br /> <br /> <strong>Kurang Motivasi</strong><br /> Kurangnya motivasi.</p>");
        assert_eq!(l[1], ("Kurang Motivasi".to_string(), Hint::Bold, true));
        assert_eq!(
            l[2],
            ("Kurangnya motivasi.".to_string(), Hint::Plain, false)
        );
    }

    #[test]
    fn titles_lose_their_site_suffix() {
        assert_eq!(
            strip_site_suffix("Menteri Yuddy Ancam PNS - Kompas.com", None, None),
            "Menteri Yuddy Ancam PNS"
        );
        assert_eq!(
            strip_site_suffix("Ahok Dukung Jokowi :: Okezone News", None, None),
            "Ahok Dukung Jokowi"
        );
        assert_eq!(
            strip_site_suffix("Jamaah Haji | ihram.co.id", None, None),
            "Jamaah Haji"
        );
        assert_eq!(
            strip_site_suffix("Persija - Persib Imbang", None, None),
            "Persija - Persib Imbang"
        );
    }

    #[test]
    fn authors_that_name_the_publisher_are_ignored() {
        assert_eq!(
            clean_author("Pewarta: Nur Imansyah", None, None).as_deref(),
            Some("Nur Imansyah")
        );
        assert_eq!(
            clean_author("Fino Yurio Kristo - detikinet", None, None).as_deref(),
            Some("Fino Yurio Kristo")
        );
        assert_eq!(clean_author("Kompas Cyber Media", None, None), None);
        assert_eq!(
            clean_author("PT. VIVA MEDIA BARU - VIVA.co.id", None, None),
            None
        );
    }
}
