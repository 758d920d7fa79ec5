//! A quantised instruct LLM (GGUF) run through candle: model families, tokenizer, chat templates and
//! generation. Used by the LLM translator and the summarizer.

/// Why the LLM could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("LLM error: {0}")]
    Failed(String),
}
