//! Prompt templates: plain files in `prompts/`, embedded at build time and overridable with `--prompts DIR`.

/// Why a prompt template could not be loaded or filled.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("prompt error: {0}")]
    Invalid(String),
}
