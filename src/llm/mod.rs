//! A quantised instruct LLM (GGUF) run through candle: model families, tokenizer, chat templates and
//! generation. Used by the LLM translator and the summarizer, which see only the [`ChatModel`] trait.

use serde::Serialize;

/// Who says a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One turn of a chat.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage {
            role: Role::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage {
            role: Role::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        ChatMessage {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// Sampling settings. `temperature == 0` is greedy decoding (deterministic).
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationParams {
    pub temperature: f64,
    pub top_p: Option<f64>,
    pub seed: u64,
    pub max_new_tokens: usize,
}

impl Default for GenerationParams {
    fn default() -> Self {
        GenerationParams {
            temperature: 0.0,
            top_p: None,
            seed: 299_792_458,
            max_new_tokens: 512,
        }
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model produced an end-of-turn token.
    EndOfTurn,
    /// `max_new_tokens` was reached.
    MaxTokens,
    /// The repetition guard cut off a loop.
    Repetition,
}

/// The reply to one chat, with the figures needed for speed reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub prefill_seconds: f64,
    pub generation_seconds: f64,
    pub stop: StopReason,
}

/// A chat model: what the translator and summarizer need of an LLM, whatever its family.
pub trait ChatModel: Send {
    /// Hub repo/file or local path the model came from.
    fn id(&self) -> String;
    /// Context window in tokens (prompt + generation).
    fn context_length(&self) -> usize;
    /// Tokens the text takes in this model's tokenizer (for context budgeting).
    fn count_tokens(&self, text: &str) -> Result<usize, LlmError>;
    /// Run one chat (a fresh conversation each call) and return the assistant's reply.
    fn chat(
        &mut self,
        messages: &[ChatMessage],
        params: &GenerationParams,
    ) -> Result<Generation, LlmError>;
}

/// Why the LLM could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("LLM error: {0}")]
    Failed(String),
}

/// One loaded model shared by the LLM translator and the summarizer, so it is loaded once per process.
pub type SharedChatModel = std::sync::Arc<std::sync::Mutex<Box<dyn ChatModel>>>;
