//! `warta translate` and `warta summarize` output.

use serde_json::{json, Value};

use crate::article::ParagraphKind;
use super::Format;
use crate::pipeline::Document;
use crate::summarize::{Summary, SummaryMethod};

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
            let mut v = json!({ "title": title, "llm": llm_used(doc), "timings": doc.timings });
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
    let found: Vec<&str> = s
        .checks
        .unsupported_numbers
        .iter()
        .chain(&s.checks.unsupported_names)
        .map(String::as_str)
        .collect();
    let note = match s.method {
        SummaryMethod::Llm if found.is_empty() => {
            "(summary written by the LLM and checked against the source)".to_string()
        }
        SummaryMethod::Llm => format!(
            "(summary written by the LLM and checked against the source; a first draft mentioned {}, \
             which the source does not support, and was rewritten)",
            found.join(", ")
        ),
        SummaryMethod::Extractive if found.is_empty() => {
            "(extractive summary: sentences picked from the article)".to_string()
        }
        SummaryMethod::Extractive => format!(
            "(extractive summary: sentences picked from the article; the LLM's summary was rejected \
             because it mentioned {}, which the source does not support)",
            found.join(", ")
        ),
    };
    if md {
        format!("\n*{note}*\n")
    } else {
        format!("\n{note}\n")
    }
}

/// The LLM a document used: the summarizer's, or the translator's when it was an LLM.
fn llm_used(doc: &Document) -> Option<String> {
    doc.llm.clone().or_else(|| {
        doc.translation
            .as_ref()
            .filter(|t| t.engine.translator == "llm")
            .map(|t| t.engine.model.clone())
    })
}

fn document_json(doc: &Document) -> Value {
    let meta = &doc.article.meta;
    let mut v = json!({
        "title": meta.title,
        "title_translation": doc.translation.as_ref().and_then(|t| t.title.clone()),
        "date": meta.date,
        "author": meta.author,
        "source": meta.source,
        "dateline": meta.dateline,
        "site": meta.site,
        "language": doc.article.language,
        "paragraphs": paragraphs_json(doc),
        "translator": doc.translation.as_ref().map(|t| t.engine.translator.clone()),
        "model": doc.translation.as_ref().map(|t| t.engine.model.clone()),
        "llm": llm_used(doc),
        "warnings": doc.article.warnings.iter()
            .chain(doc.translation.iter().flat_map(|t| t.warnings.iter()))
            .chain(doc.summary.iter().flat_map(|s| s.warnings.iter()))
            .collect::<Vec<_>>(),
        "timings": doc.timings,
    });
    if let Some(s) = &doc.summary {
        add_summary(&mut v, s);
    }
    v
}

/// `[{"source", "translation", "kind", "sentences": [{"source", "translation"}]}]`, one per source
/// paragraph; `translation` is null when the document was not translated.
fn paragraphs_json(doc: &Document) -> Value {
    let translated = doc.translation.as_ref().map(|t| &t.paragraphs);
    let list: Vec<Value> = doc
        .article
        .paragraphs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let t = translated.and_then(|t| t.get(i));
            json!({
                "source": p.text,
                "translation": t.map(|t| t.text.clone()),
                "kind": p.kind,
                "sentences": t.map(|t| t.sentences.clone()).unwrap_or_default(),
            })
        })
        .collect();
    Value::Array(list)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::{Article, Metadata};
    use crate::pipeline::Timings;
    use crate::summarize::SummaryChecks;

    fn doc(method: SummaryMethod, checks: SummaryChecks) -> Document {
        Document {
            article: Article {
                meta: Metadata {
                    title: Some("Rusia Balas NATO".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            translation: None,
            summary: Some(Summary {
                text: "Russia is suspending its NATO mission.".into(),
                method,
                checks,
                warnings: vec!["w".into()],
            }),
            llm: Some("model.gguf".into()),
            timings: Timings::default(),
        }
    }

    #[test]
    fn summary_only_json_has_exactly_the_documented_fields() {
        let checks = SummaryChecks {
            unsupported_numbers: vec!["9".into()],
            unsupported_names: vec![],
            retried: true,
        };
        let out = summary_only(&doc(SummaryMethod::Llm, checks), Format::Json);
        let v: Value = serde_json::from_str(&out).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "llm",
                "summary",
                "summary_checks",
                "summary_method",
                "timings",
                "title"
            ]
        );
        assert_eq!(v["summary_method"], "llm");
        assert_eq!(v["summary_checks"]["unsupported_numbers"], json!(["9"]));
        assert_eq!(v["summary_checks"]["retried"], true);
        assert_eq!(v["llm"], "model.gguf");
        assert_eq!(v["title"], "Rusia Balas NATO");
    }

    #[test]
    fn notes_say_how_the_summary_was_made() {
        let text = summary_only(
            &doc(SummaryMethod::Llm, SummaryChecks::default()),
            Format::Text,
        );
        assert!(text.contains("checked against the source)"), "{text}");
        let checks = SummaryChecks {
            unsupported_numbers: vec!["999".into()],
            unsupported_names: vec!["Putin".into()],
            retried: true,
        };
        let md = summary_only(&doc(SummaryMethod::Extractive, checks), Format::Markdown);
        assert!(md.starts_with("# Rusia Balas NATO\n\n"), "{md}");
        assert!(md.contains("*(extractive summary"), "{md}");
        assert!(md.contains("mentioned 999, Putin"), "{md}");
        let full = document(
            &doc(SummaryMethod::Extractive, SummaryChecks::default()),
            Format::Json,
        );
        let v: Value = serde_json::from_str(&full).unwrap();
        assert_eq!(v["summary_method"], "extractive");
        assert_eq!(v["warnings"], json!(["w"]));
        let text = document(
            &doc(SummaryMethod::Llm, SummaryChecks::default()),
            Format::Text,
        );
        assert!(text.starts_with("Summary\n\nRussia"), "{text}");
    }
}
