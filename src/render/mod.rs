//! Last stage: render results as plain text, Markdown or JSON. JSON field names are a contract that users'
//! scripts rely on; change them only with care.

use crate::article::Article;
use crate::cli::Format;

/// `warta clean` output.
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
