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
        let mut segments = Vec::new();
        if let Some(title) = &article.meta.title {
            segments.push(title.clone());
        }
        for p in &article.paragraphs {
            segments.extend(p.sentences.iter().cloned());
        }
        let out = self.translate_segments(&segments)?;
        let mut out = out.into_iter();
        let title = article.meta.title.as_ref().and_then(|_| out.next());
        let paragraphs = article
            .paragraphs
            .iter()
            .map(|p| TranslatedParagraph {
                source: p.text.clone(),
                text: out
                    .by_ref()
                    .take(p.sentences.len())
                    .collect::<Vec<_>>()
                    .join(" "),
                kind: p.kind,
            })
            .collect();
        Ok(Translation {
            title,
            paragraphs,
            engine: self.info(),
            warnings: self.take_warnings(),
            stats: TranslateStats {
                segments: segments.len(),
                seconds: started.elapsed().as_secs_f64(),
                ..Default::default()
            },
        })
    }
}

/// The translator `args` ask for (`--translator`, `--model`, `--llm`, …), loaded and ready.
pub fn build(args: &crate::cli::ModelArgs) -> Result<Box<dyn Translator>, crate::Error> {
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
