//! The library's error type: one variant per pipeline stage, each carrying that stage's own error.
//!
//! Every message a user can see names what failed, on which file or model, and what to do next.

use std::path::PathBuf;

/// Any error the library returns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Load(#[from] crate::article::LoadError),
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    #[error(transparent)]
    Translate(#[from] crate::translate::TranslateError),
    #[error(transparent)]
    Summarize(#[from] crate::summarize::SummarizeError),
    #[error(transparent)]
    Llm(#[from] crate::llm::LlmError),
    #[error(transparent)]
    Prompt(#[from] crate::prompts::PromptError),
    #[error(transparent)]
    Eval(#[from] crate::eval::EvalError),
    #[error(transparent)]
    Batch(#[from] crate::batch::BatchError),
    #[error(transparent)]
    Serve(#[from] crate::serve::ServeError),
    #[error("cannot write {}: {source}; check that the directory exists and is writable", path.display())]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The default LLM could not be loaded and the extractive summary that replaces it needs a
    /// translator that cannot be loaded either: both reasons are told.
    #[error("{why}; the extractive summary used instead needs the Marian translator, which failed too: {source}")]
    NoFallback { why: String, source: Box<Error> },
    /// A combination the command line should have ruled out: a bug in warta, not in the input.
    #[error(
        "internal error: {0}; this is a bug in warta, please report it with the command you ran"
    )]
    Internal(&'static str),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
