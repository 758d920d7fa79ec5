//! Bounding a page's element nesting and attribute count before it is parsed.
//!
//! html5ever's tree builder walks the stack of open elements on most start tags ("is there a `<p>` in
//! button scope?"), so a page of 100,000 nested `<div>`s takes minutes to parse, and the tree walks
//! after it recurse once per level (1.5 million unclosed `<b>`s overflowed the stack). Its tokenizer
//! also checks each new attribute against the tag's earlier ones, quadratic in a tag's attribute count.
//! Browsers cap the depth too (Blink at 512). This pass, linear in the input, keeps at most
//! [`MAX_DEPTH`] open elements and [`MAX_ATTRS`] attributes per tag: start tags beyond the depth are
//! dropped with their end tags (a block-level one becomes a `<br><br>` so its text stays a separate
//! block), and so are excess attributes. A page within the bounds is returned untouched.
//!
//! It is a tokenizer-level approximation of the tree builder: comments, raw-text elements and quoted
//! attribute values are lexed as html5ever lexes them, and the common implied end tags (`<p>`, `<li>`,
//! table cells, …) are modelled, so a real page with many unclosed `<p>`s is not mistaken for a deep one.

use std::borrow::Cow;
use std::collections::HashMap;

/// Deepest element nesting kept (real news pages stay well under 100).
pub const MAX_DEPTH: usize = 256;
/// Most attributes kept on one tag.
pub const MAX_ATTRS: usize = 128;

/// What [`bound`] changed, for a warning.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Flattened {
    /// Start tags dropped because they were nested deeper than [`MAX_DEPTH`].
    pub dropped_tags: usize,
    /// Attributes dropped from tags that had more than [`MAX_ATTRS`].
    pub dropped_attrs: usize,
}

impl Flattened {
    pub fn any(&self) -> bool {
        self.dropped_tags > 0 || self.dropped_attrs > 0
    }
}

const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "keygen", "frame", "basefont", "bgsound", "image",
];
/// Elements whose content is text up to their end tag.
const RAW: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
];
/// Start tags that close an open `<p>` (the tree builder's "close a p element").
const CLOSES_P: &[&str] = &[
    "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div", "dl",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hgroup", "hr", "li", "main", "menu", "nav", "ol", "p", "pre", "section", "summary",
    "table", "ul", "dd", "dt",
];
/// Elements a sibling of the same kind closes: (element, the start tags that close it).
const SELF_CLOSING_SIBLINGS: &[(&str, &[&str])] = &[
    ("li", &["li"]),
    ("dt", &["dt", "dd"]),
    ("dd", &["dt", "dd"]),
    ("option", &["option", "optgroup"]),
    ("optgroup", &["optgroup"]),
    ("tr", &["tr", "tbody", "thead", "tfoot"]),
    ("td", &["td", "th", "tr", "tbody", "thead", "tfoot"]),
    ("th", &["td", "th", "tr", "tbody", "thead", "tfoot"]),
    ("thead", &["tbody", "tfoot"]),
    ("tbody", &["tbody", "tfoot"]),
    ("rt", &["rt", "rp"]),
    ("rp", &["rt", "rp"]),
];
/// How far down the stack an implied end tag is looked for (the tree builder stops at scope
/// boundaries; a short window is a cheap stand-in).
const IMPLIED_WINDOW: usize = 8;

/// The page with its nesting and attribute counts bounded, and what was dropped.
pub fn bound(html: &str) -> (Cow<'_, str>, Flattened) {
    let mut b = Bounder::new(html);
    b.run();
    let stats = Flattened {
        dropped_tags: b.dropped_tags,
        dropped_attrs: b.dropped_attrs,
    };
    match b.out {
        Some(out) => (Cow::Owned(out), stats),
        None => (Cow::Borrowed(html), stats),
    }
}

struct Bounder<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// The rewritten page, once something had to change; `copied` is how far `src` is copied into it.
    out: Option<String>,
    copied: usize,
    stack: Vec<String>,
    /// Open elements per name, so an end tag with no open element is known in O(1).
    open: HashMap<String, usize>,
    /// Start tags dropped per name whose end tags are still to come.
    pending_drops: HashMap<String, usize>,
    dropped_tags: usize,
    dropped_attrs: usize,
}

impl<'a> Bounder<'a> {
    fn new(src: &'a str) -> Self {
        Bounder {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            out: None,
            copied: 0,
            stack: Vec::new(),
            open: HashMap::new(),
            pending_drops: HashMap::new(),
            dropped_tags: 0,
            dropped_attrs: 0,
        }
    }

    /// Replace `src[start..end]` with `with` in the output.
    fn replace(&mut self, start: usize, end: usize, with: &str) {
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(self.src.len()));
        // A run of dropped block tags is one block boundary, not thousands of line breaks.
        let repeat = start == self.copied && !with.is_empty() && out.ends_with(with);
        out.push_str(&self.src[self.copied..start]);
        if !repeat {
            out.push_str(with);
        }
        self.copied = end;
    }

    fn run(&mut self) {
        while let Some(off) = memchr(b'<', &self.bytes[self.pos..]) {
            let lt = self.pos + off;
            self.pos = lt + 1;
            match self.bytes.get(lt + 1) {
                Some(b'!') => self.skip_markup_declaration(lt),
                Some(b'?') => self.skip_past(b">"),
                Some(b'/') => self.end_tag(lt),
                Some(c) if c.is_ascii_alphabetic() => self.start_tag(lt),
                _ => {}
            }
        }
        if let Some(out) = self.out.as_mut() {
            out.push_str(&self.src[self.copied..]);
        }
    }

    /// `<!-- … -->`, `<!DOCTYPE …>`, `<![CDATA[…]]>` or another bogus comment.
    fn skip_markup_declaration(&mut self, lt: usize) {
        let rest = &self.bytes[lt..];
        if rest.starts_with(b"<!--") {
            self.pos = lt + 4;
            // "<!-->" and "<!--->" are complete (empty) comments.
            if self.bytes[self.pos..].starts_with(b">") {
                self.pos += 1;
            } else if self.bytes[self.pos..].starts_with(b"->") {
                self.pos += 2;
            } else {
                self.skip_past(b"-->");
            }
        } else if rest.starts_with(b"<![CDATA[") {
            self.pos = lt + 9;
            self.skip_past(b"]]>");
        } else {
            self.skip_past(b">");
        }
    }

    /// Move past the next `needle`, or to the end.
    fn skip_past(&mut self, needle: &[u8]) {
        match find(&self.bytes[self.pos..], needle) {
            Some(i) => self.pos += i + needle.len(),
            None => self.pos = self.bytes.len(),
        }
    }

    /// The tag name starting at `at` (lower-cased) and where it ends.
    fn tag_name(&self, at: usize) -> (String, usize) {
        let end = self.bytes[at..]
            .iter()
            .position(|&c| c.is_ascii_whitespace() || c == b'/' || c == b'>')
            .map_or(self.bytes.len(), |i| at + i);
        (self.src[at..end].to_ascii_lowercase(), end)
    }

    /// Lex a tag's attributes from `at`: returns where the tag ends (after `>`), whether it ends with
    /// `/>`, and the byte ranges of the attributes (name and value).
    fn attributes(&self, mut at: usize) -> (usize, bool, Vec<(usize, usize)>) {
        let b = self.bytes;
        let mut attrs = Vec::new();
        let mut self_closing = false;
        loop {
            while at < b.len() && (b[at].is_ascii_whitespace() || b[at] == b'/') {
                self_closing = b[at] == b'/';
                at += 1;
            }
            if at >= b.len() {
                return (b.len(), false, attrs);
            }
            if b[at] == b'>' {
                return (at + 1, self_closing, attrs);
            }
            self_closing = false;
            let start = at;
            // The first character of a name may be '=' (a parse error html5ever keeps in the name).
            at += 1;
            while at < b.len() && !matches!(b[at], b'=' | b'>' | b'/') && !b[at].is_ascii_whitespace()
            {
                at += 1;
            }
            let mut look = at;
            while look < b.len() && b[look].is_ascii_whitespace() {
                look += 1;
            }
            if look < b.len() && b[look] == b'=' {
                at = look + 1;
                while at < b.len() && b[at].is_ascii_whitespace() {
                    at += 1;
                }
                match b.get(at) {
                    Some(&q @ (b'"' | b'\'')) => {
                        at = match memchr(q, &b[at + 1..]) {
                            Some(i) => at + 1 + i + 1,
                            None => b.len(),
                        };
                    }
                    _ => {
                        while at < b.len() && b[at] != b'>' && !b[at].is_ascii_whitespace() {
                            at += 1;
                        }
                    }
                }
            }
            attrs.push((start, at));
        }
    }

    fn start_tag(&mut self, lt: usize) {
        let (name, after_name) = self.tag_name(lt + 1);
        let (end, self_closing, attrs) = self.attributes(after_name);
        self.pos = end;
        let void = VOID.contains(&name.as_str());
        if !void {
            self.close_implied(&name);
        }
        let raw = RAW.contains(&name.as_str());
        // A raw-text element holds no elements: kept even at the bound (dropping its tag would turn a
        // script into visible text), and not counted as a level.
        let too_deep = !void && !raw && self.stack.len() >= MAX_DEPTH;
        if too_deep {
            self.dropped_tags += 1;
            *self.pending_drops.entry(name.clone()).or_insert(0) += 1;
            let with = if CLOSES_P.contains(&name.as_str()) {
                "<br><br>"
            } else {
                ""
            };
            self.replace(lt, end, with);
        } else if attrs.len() > MAX_ATTRS {
            self.dropped_attrs += attrs.len() - MAX_ATTRS;
            let kept_end = attrs[MAX_ATTRS - 1].1;
            let close = if self_closing { "/>" } else { ">" };
            self.replace(kept_end, end, close);
        }
        if raw {
            // Its content is text up to `</name`; nothing in it opens an element.
            let close = format!("</{name}");
            let lower_search = &self.bytes[self.pos..];
            self.pos = match find_ascii_ci(lower_search, close.as_bytes()) {
                Some(i) => self.pos + i,
                None => self.bytes.len(),
            };
            return;
        }
        if name == "plaintext" {
            self.pos = self.bytes.len();
            return;
        }
        // `/>` opens a normal element anyway in HTML, except in SVG and MathML content, where
        // it closes it; counting it as closed never makes a page look deeper than it is.
        if !void && !too_deep && !self_closing {
            self.stack.push(name.clone());
            *self.open.entry(name).or_insert(0) += 1;
        }
    }

    /// Pop the elements a start tag `name` implicitly ends (an open `<p>`, a sibling `<li>`, …).
    fn close_implied(&mut self, name: &str) {
        let closes = |open: &str| {
            (open == "p" && CLOSES_P.contains(&name))
                || SELF_CLOSING_SIBLINGS
                    .iter()
                    .any(|(el, by)| *el == open && by.contains(&name))
        };
        let window = self.stack.len().saturating_sub(IMPLIED_WINDOW);
        if let Some(i) = (window..self.stack.len())
            .rev()
            .find(|&i| closes(&self.stack[i]))
        {
            self.pop_to(i);
        }
    }

    fn pop_to(&mut self, i: usize) {
        for name in self.stack.drain(i..) {
            if let Some(n) = self.open.get_mut(&name) {
                *n -= 1;
            }
        }
    }

    fn end_tag(&mut self, lt: usize) {
        let at = lt + 2;
        if !self.bytes.get(at).is_some_and(u8::is_ascii_alphabetic) {
            // "</>" is dropped by the tokenizer and "</3" is a bogus comment: neither closes anything.
            self.skip_past(b">");
            return;
        }
        let (name, after_name) = self.tag_name(at);
        let (end, _, _) = self.attributes(after_name);
        self.pos = end;
        // Elements dropped for depth were opened after every element still open, so their end tags
        // come first.
        if let Some(n) = self.pending_drops.get_mut(&name).filter(|n| **n > 0) {
            *n -= 1;
            let with = if CLOSES_P.contains(&name.as_str()) {
                "<br><br>"
            } else {
                ""
            };
            self.replace(lt, end, with);
            return;
        }
        if self.open.get(&name).copied().unwrap_or(0) > 0 {
            if let Some(i) = self.stack.iter().rposition(|n| *n == name) {
                self.pop_to(i);
            }
        }
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(i) = memchr(first, &hay[from..]) {
        let at = from + i;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// `find` ignoring ASCII case (`needle` is lower-case).
fn find_ascii_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let mut from = 0;
    while let Some(i) = memchr(b'<', &hay[from..]) {
        let at = from + i;
        if hay.len() - at >= needle.len() && hay[at..at + needle.len()].eq_ignore_ascii_case(needle)
        {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_pages_are_untouched() {
        let page = "<html><body><div class=a><p>Satu.<p>Dua.<ul><li>x<li>y</ul>\
                    <table><tr><td>a<td>b<tr><td>c</table><script>if (a<b) {'<div>'}</script>\
                    <!-- <div><div> --><br/><img src=x></div></body></html>";
        let (out, stats) = bound(page);
        assert!(matches!(out, Cow::Borrowed(_)));
        assert_eq!(stats, Flattened::default());
    }

    #[test]
    fn many_unclosed_paragraphs_are_not_deep() {
        let page = format!("<body>{}</body>", "<p>Kalimat satu.".repeat(5_000));
        let (out, stats) = bound(&page);
        assert!(!stats.any(), "{stats:?}");
        assert_eq!(out, page);
    }

    #[test]
    fn deep_nesting_is_cut_at_the_bound() {
        let n = 10_000;
        let page = format!(
            "<body>{}<p>Isi berita.</p>{}</body>",
            "<div>".repeat(n),
            "</div>".repeat(n)
        );
        let (out, stats) = bound(&page);
        assert_eq!(stats.dropped_tags, n + 2 - MAX_DEPTH); // the divs, and the <p> below them
        assert!(out.contains("Isi berita."));
        assert_eq!(out.matches("<div>").count(), MAX_DEPTH - 1);
        assert_eq!(out.matches("</div>").count(), MAX_DEPTH - 1);
        // Bounded again, it is unchanged.
        assert!(!bound(&out).1.any());
    }

    #[test]
    fn unclosed_inline_tags_are_dropped() {
        let page = format!("{}Berita.", "<b>".repeat(100_000));
        let (out, stats) = bound(&page);
        assert_eq!(stats.dropped_tags, 100_000 - MAX_DEPTH);
        assert!(out.ends_with("Berita."));
        assert!(out.len() < 4 * MAX_DEPTH + 10);
    }

    #[test]
    fn excess_attributes_are_dropped() {
        let attrs: String = (0..1_000).map(|i| format!(" a{i}=\"v>{i}\"")).collect();
        let page = format!("<p{attrs}>Teks.</p>");
        let (out, stats) = bound(&page);
        assert_eq!(stats.dropped_attrs, 1_000 - MAX_ATTRS);
        assert!(out.ends_with(">Teks.</p>"), "{}", &out[out.len() - 30..]);
        assert!(out.contains(" a127=\"v>127\"") && !out.contains(" a128="));
    }

    #[test]
    fn hostile_fragments_do_not_panic() {
        for s in [
            "<", "</", "<a", "<a b", "<a b=", "<a b='", "<!--", "<!", "<![CDATA[", "</a", "<?",
            "<script>", "<a/", "<a =x>", "</3>", "<!-->", "<é>", "<a b=\"é\">é",
        ] {
            let _ = bound(s);
        }
    }
}
