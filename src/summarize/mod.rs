//! Stage 3: a few-sentence English summary, written by an LLM and checked against the source, with an
//! extractive fallback.

use serde::Serialize;

/// How a summary was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SummaryMethod {
    Llm,
    Extractive,
}

/// What the faithfulness guard found in the summary.
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

/// Why a summary could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum SummarizeError {
    #[error("summary failed: {0}")]
    Failed(String),
}
