//! `warta translate` and `warta summarize` output.

use serde_json::{json, Value};

use crate::article::ParagraphKind;
use crate::cli::Format;
use crate::pipeline::Document;
use crate::summarize::Summary;

/// Render a processed article: the translation (if any), then the summary (if any).
pub fn document(doc: &Document, format: Format) -> String {
    match format {
        Format::Json => json_string(&document_json(doc)),
        Format::Text => text(doc),
        Format::Markdown => markdown(doc),
    }
}

/// Summary-only output (`warta summarize`).
pub fn summary_only(doc: &Document, format: Format) -> String {
    let title = doc
        .translation
        .as_ref()
        .and_then(|t| t.title.clone())
        .or_else(|| doc.article.meta.title.clone());
    match format {
        Format::Json => {
            let mut v = json!({ "title": title, "llm": doc.llm, "timings": doc.timings });
            if let Some(s) = &doc.summary {
                add_summary(&mut v, s);
            }
            json_string(&v)
        }
        Format::Text | Format::Markdown => {
            let md = format == Format::Markdown;
            let mut out = String::new();
            if let Some(t) = &title {
                out.push_str(&if md {
                    format!("# {t}\n\n")
                } else {
                    format!("{t}\n\n")
                });
            }
            if let Some(s) = &doc.summary {
                out.push_str(&s.text);
                out.push('\n');
                out.push_str(&method_note(s, md));
            }
            out
        }
    }
}

fn text(doc: &Document) -> String {
    let mut out = String::new();
    if let Some(tr) = &doc.translation {
        if let Some(t) = &tr.title {
            out.push_str(t);
            out.push_str("\n\n");
        }
        for p in &tr.paragraphs {
            out.push_str(&p.text);
            out.push_str("\n\n");
        }
    }
    if let Some(s) = &doc.summary {
        out.push_str("Summary\n\n");
        out.push_str(&s.text);
        out.push('\n');
        out.push_str(&method_note(s, false));
    }
    out
}

fn markdown(doc: &Document) -> String {
    let mut out = String::new();
    if let Some(tr) = &doc.translation {
        if let Some(t) = &tr.title {
            out.push_str(&format!("# {t}\n\n"));
        }
        let meta = &doc.article.meta;
        let facts: Vec<String> = [
            meta.site.clone(),
            meta.date.clone(),
            meta.author.as_ref().map(|a| format!("by {a}")),
            meta.source.as_ref().map(|s| format!("source: {s}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !facts.is_empty() {
            out.push_str(&format!("*{}*\n\n", facts.join(" · ")));
        }
        for p in &tr.paragraphs {
            match p.kind {
                ParagraphKind::Heading => out.push_str(&format!("## {}\n\n", p.text)),
                ParagraphKind::Body => out.push_str(&format!("{}\n\n", p.text)),
            }
        }
    }
    if let Some(s) = &doc.summary {
        out.push_str("## Summary\n\n");
        out.push_str(&s.text);
        out.push('\n');
        out.push_str(&method_note(s, true));
    }
    out
}

/// A line saying how the summary was made and what the guard found, so readers know what to trust.
fn method_note(s: &Summary, md: bool) -> String {
    let mut note = match s.method {
        crate::summarize::SummaryMethod::Llm => "(summary written by the LLM".to_string(),
        crate::summarize::SummaryMethod::Extractive => {
            "(extractive summary: sentences picked from the article".to_string()
        }
    };
    if s.checks.retried {
        note.push_str("; retried after the source check");
    }
    let mut unsupported: Vec<&str> = s
        .checks
        .unsupported_numbers
        .iter()
        .map(String::as_str)
        .collect();
    unsupported.extend(s.checks.unsupported_names.iter().map(String::as_str));
    if !unsupported.is_empty() {
        note.push_str(&format!(
            "; not found in the source: {}",
            unsupported.join(", ")
        ));
    }
    note.push(')');
    if md {
        format!("\n*{note}*\n")
    } else {
        format!("\n{note}\n")
    }
}

fn document_json(doc: &Document) -> Value {
    let meta = &doc.article.meta;
    let mut v = json!({
        "title": doc.translation.as_ref().and_then(|t| t.title.clone()),
        "source_title": meta.title,
        "date": meta.date,
        "author": meta.author,
        "source": meta.source,
        "dateline": meta.dateline,
        "site": meta.site,
        "language": doc.article.language,
        "paragraphs": doc.translation.as_ref().map(|t| t.paragraphs.iter().map(|p| p.text.clone()).collect::<Vec<_>>()),
        "source_paragraphs": doc.article.paragraphs.iter().map(|p| p.text.clone()).collect::<Vec<_>>(),
        "translator": doc.translation.as_ref().map(|t| t.engine.translator.clone()),
        "model": doc.translation.as_ref().map(|t| t.engine.model.clone()),
        "llm": doc.llm,
        "warnings": doc.article.warnings.iter().chain(doc.translation.iter().flat_map(|t| t.warnings.iter())).collect::<Vec<_>>(),
        "timings": doc.timings,
    });
    if let Some(s) = &doc.summary {
        add_summary(&mut v, s);
    }
    v
}

fn add_summary(v: &mut Value, s: &Summary) {
    v["summary"] = json!(s.text);
    v["summary_method"] = json!(s.method);
    v["summary_checks"] = json!(s.checks);
}

fn json_string(v: &Value) -> String {
    // Serialising a `Value` cannot fail.
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}
