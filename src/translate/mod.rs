//! Stage 2: translate an [`Article`] into English.
//!
//! Two engines sit behind the [`Translator`] trait: `marian` (opus-mt-id-en, sentence by sentence, batched)
//! and `llm` (a GGUF instruct model, paragraph by paragraph with context). A new engine is one new file
//! implementing the trait.

pub mod llm;
pub mod marian;
pub mod raw;

use serde::Serialize;

use crate::article::{Article, ParagraphKind};

/// Which engine and model produced a translation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EngineInfo {
    /// `marian` or `llm`.
    pub translator: String,
    /// Hub repo id, or the local path the model was loaded from.
    pub model: String,
}

/// An article in English, paragraph for paragraph.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Translation {
    pub title: Option<String>,
    /// Same length and order as the article's paragraphs.
    pub paragraphs: Vec<TranslatedParagraph>,
    pub engine: EngineInfo,
    pub warnings: Vec<String>,
    pub stats: TranslateStats,
}

/// One paragraph: the Indonesian source and its English text.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TranslatedParagraph {
    pub source: String,
    pub text: String,
    pub kind: ParagraphKind,
    /// Sentence by sentence, when the engine translated sentences (Marian); empty when it translated
    /// the paragraph whole (the LLM), whose sentences need not map one to one.
    pub sentences: Vec<TranslatedSentence>,
}

/// One source sentence and its translation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TranslatedSentence {
    pub source: String,
    pub translation: String,
}

/// Work done, for timings and throughput figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TranslateStats {
    pub segments: usize,
    pub source_tokens: usize,
    pub target_tokens: usize,
    pub seconds: f64,
}

/// A translation engine.
pub trait Translator: Send {
    fn info(&self) -> EngineInfo;

    /// Translate independent segments (sentences or lines); the result has one entry per input, in order.
    fn translate_segments(&mut self, segments: &[String]) -> Result<Vec<String>, TranslateError>;

    /// What the user should know about the translations made since the last call (a sentence that had
    /// to be split, an output that hit the length limit), drained.
    fn take_warnings(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// Translate a whole article. The default translates the title and every sentence as segments in one
    /// call (so the engine can batch them) and reassembles paragraphs.
    fn translate_article(&mut self, article: &Article) -> Result<Translation, TranslateError> {
        let started = std::time::Instant::now();
        let segments = article_segments(article);
        let out = self.translate_segments(&segments)?;
        Ok(assemble_translation(
            article,
            out,
            self.info(),
            self.take_warnings(),
            started.elapsed().as_secs_f64(),
        ))
    }

    /// Whether segments from several articles may be pooled into one [`translate_segments`] call and
    /// reassembled with [`assemble_translation`] (`warta batch` does this for sentence engines). Engines
    /// that translate with context across a whole article (the LLM) return false.
    ///
    /// [`translate_segments`]: Translator::translate_segments
    fn batches_segments(&self) -> bool {
        true
    }
}

/// The segments [`Translator::translate_article`] sends for `article`: the title (if any), then every
/// sentence of every paragraph, in order.
pub fn article_segments(article: &Article) -> Vec<String> {
    let mut segments = Vec::new();
    if let Some(title) = &article.meta.title {
        segments.push(title.clone());
    }
    for p in &article.paragraphs {
        segments.extend(p.sentences.iter().cloned());
    }
    segments
}

/// Rebuild an article's [`Translation`] from the translations of its [`article_segments`], in the same
/// order, with the engine's `warnings` about them; `seconds` is the time spent translating them.
pub fn assemble_translation(
    article: &Article,
    translated: Vec<String>,
    engine: EngineInfo,
    mut warnings: Vec<String>,
    seconds: f64,
) -> Translation {
    let segments = usize::from(article.meta.title.is_some())
        + article
            .paragraphs
            .iter()
            .map(|p| p.sentences.len())
            .sum::<usize>();
    let mut out = translated.into_iter();
    let title = article.meta.title.as_ref().and_then(|_| out.next());
    let paragraphs = article
        .paragraphs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let sentences: Vec<TranslatedSentence> = p
                .sentences
                .iter()
                .zip(out.by_ref())
                .map(|(source, translation)| TranslatedSentence {
                    source: source.clone(),
                    translation,
                })
                .collect();
            let text = sentences
                .iter()
                .map(|s| s.translation.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            check_numbers(
                &mut warnings,
                &format!("paragraph {}", i + 1),
                &p.text,
                &text,
            );
            TranslatedParagraph {
                source: p.text.clone(),
                text,
                kind: p.kind,
                sentences,
            }
        })
        .collect();
    Translation {
        title,
        paragraphs,
        engine,
        warnings,
        stats: TranslateStats {
            segments,
            seconds,
            ..Default::default()
        },
    }
}

/// The translator `args` ask for (engine, Marian model, LLM, …), loaded and ready.
pub fn build(args: &crate::config::EngineOptions) -> Result<Box<dyn Translator>, crate::Error> {
    crate::pipeline::build_translator(args, false)
}

/// Why a translation failed.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    #[error("translation failed: {0}")]
    Engine(String),
    #[error(transparent)]
    Marian(#[from] marian::MarianError),
    #[error("{path}: {reason}")]
    Input { path: String, reason: String },
}

/// Warn when a paragraph's numbers and its translation's differ (1.200 ↔ 1,200, delapan ↔ 8, dates):
/// a wrong number is the error a reader can least afford and a model most easily makes.
pub(crate) fn check_numbers(warnings: &mut Vec<String>, label: &str, source: &str, text: &str) {
    let diff = crate::checks::number_mismatches(source, text);
    if !diff.is_empty() {
        warnings.push(format!(
            "{label}: numbers differ from the source: {}",
            diff.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::{Metadata, Paragraph};

    #[test]
    fn assembled_paragraphs_keep_sentence_pairs_and_flag_changed_numbers() {
        let paragraph = |sentences: &[&str]| Paragraph {
            text: sentences.join(" "),
            sentences: sentences.iter().map(|s| s.to_string()).collect(),
            kind: ParagraphKind::Body,
        };
        let article = Article {
            meta: Metadata {
                title: Some("Rusia Balas NATO".into()),
                ..Default::default()
            },
            paragraphs: vec![
                paragraph(&["Delapan diplomat diusir.", "Itu terjadi Senin."]),
                paragraph(&["Sebanyak 1.200 orang hadir."]),
            ],
            ..Default::default()
        };
        let translated = [
            "Russia retaliates",
            "Eight diplomats were expelled.",
            "It happened on Monday.",
            "About 1,500 people came.",
        ];
        let t = assemble_translation(
            &article,
            translated.iter().map(|s| s.to_string()).collect(),
            EngineInfo::default(),
            Vec::new(),
            1.0,
        );
        assert_eq!(t.title.as_deref(), Some("Russia retaliates"));
        assert_eq!(
            t.paragraphs[0].text,
            "Eight diplomats were expelled. It happened on Monday."
        );
        assert_eq!(t.paragraphs[0].sentences[1].source, "Itu terjadi Senin.");
        assert_eq!(
            t.paragraphs[0].sentences[1].translation,
            "It happened on Monday."
        );
        // "delapan" is 8 and "Eight" is 8; 1.200 is not 1,500.
        assert_eq!(t.warnings.len(), 1, "{:?}", t.warnings);
        assert!(
            t.warnings[0].starts_with("paragraph 2: numbers differ"),
            "{:?}",
            t.warnings
        );
    }
}
