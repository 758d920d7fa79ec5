//! Stage 3: a few-sentence English summary, written by an LLM and checked against the source, with an
//! extractive fallback.

pub mod cause;
pub mod extractive;
pub mod llm;

use serde::Serialize;

use crate::article::Article;
use crate::translate::{Translation, Translator};

/// How a summary was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SummaryMethod {
    Llm,
    Extractive,
}

/// What the faithfulness guard found in the LLM's summaries of an article.
///
/// A summary the guard rejects is never delivered as an LLM summary: the lists name what the rejected
/// draft(s) contained that the source does not support. Empty lists with `method: llm` mean the first
/// draft passed; `retried` means a draft was rejected and rewritten; with `method: extractive` and
/// non-empty lists, the rewrite was rejected too and the extractive summary was used instead.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SummaryChecks {
    pub unsupported_numbers: Vec<String>,
    pub unsupported_names: Vec<String>,
    pub retried: bool,
}

/// An English summary of an article.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub text: String,
    pub method: SummaryMethod,
    pub checks: SummaryChecks,
    pub warnings: Vec<String>,
}

/// What to summarise.
#[derive(Debug, Clone, Copy)]
pub struct SummaryRequest<'a> {
    pub article: &'a Article,
    /// The English translation, when the caller has one (`warta translate`); absent in summary-only mode.
    pub translation: Option<&'a Translation>,
    /// Number of sentences wanted.
    pub sentences: usize,
}

/// A way to write summaries.
pub trait Summarizer: Send {
    /// Summarise `request.article`. `translator` is there for methods that need English sentences when no
    /// translation was given (the extractive method translates only the sentences it picks).
    fn summarize(
        &mut self,
        request: &SummaryRequest<'_>,
        translator: Option<&mut dyn Translator>,
    ) -> Result<Summary, SummarizeError>;

    /// The LLM behind this summarizer, if any (reported in outputs).
    fn llm_id(&self) -> Option<String> {
        None
    }
}

/// Why a summary could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum SummarizeError {
    #[error("summary failed: {0}")]
    Failed(String),
}
