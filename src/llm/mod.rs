//! A quantised instruct LLM (GGUF) run through candle: model families, tokenizer, chat templates and
//! generation. Used by the LLM translator and the summarizer, which see only the [`ChatModel`] trait.
//!
//! - [`gguf`]: reading the file and its metadata; [`family`] picks the architecture's file
//!   ([`llama`], [`qwen2`], [`qwen3`], [`gemma3`]), which fills the [`decoder::Hyper`] of the shared
//!   [`decoder`]; [`quant`] prepares weight types candle runs slowly (with [`gemv`]'s kernels).
//! - [`tokenizer`]: `tokenizer.json` from the Hub or built from the GGUF; [`chat`]: prompt formats.
//! - [`generate`]: the [`generate::Engine`] that implements [`ChatModel`]; [`bench`]: `warta bench`.

pub mod attention;
pub mod bench;
pub mod chat;
pub mod decoder;
pub mod family;
pub mod gemma3;
pub mod gemv;
pub mod generate;
pub mod gguf;
pub mod llama;
pub mod pool;
pub mod quant;
pub mod qwen2;
pub mod qwen3;
pub mod tokenizer;

use std::path::PathBuf;

use serde::Serialize;

pub use generate::{Engine, LoadOptions};

/// The LLM used unless `--llm` (or `WARTA_LLM`) names another. Only this one may be replaced by the
/// extractive summary when it cannot be loaded; a model the user names must load.
pub const DEFAULT_LLM: &str = "Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf";

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
    /// Leading prompt tokens whose keys and values were kept from the previous chat (not prefilled).
    pub reused_tokens: usize,
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
    /// Run one chat (a fresh conversation each call) and return the assistant's reply. An engine may
    /// keep the previous chat's KV cache and prefill only what follows the prefix the two share; the
    /// reply is the same as from a fresh start up to float summation order.
    fn chat(
        &mut self,
        messages: &[ChatMessage],
        params: &GenerationParams,
    ) -> Result<Generation, LlmError>;
    /// The figures of the chats run since the last call, oldest first (speed reports).
    fn take_calls(&mut self) -> Vec<LlmCall> {
        Vec::new()
    }
}

/// Figures of one chat, for `--verbose` and the JSON `timings`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmCall {
    pub prompt_tokens: usize,
    /// Prompt tokens whose KV cache came from the previous chat.
    pub reused_tokens: usize,
    pub generated_tokens: usize,
    pub prefill_s: f64,
    pub generation_s: f64,
}

impl From<&Generation> for LlmCall {
    fn from(g: &Generation) -> LlmCall {
        LlmCall {
            prompt_tokens: g.prompt_tokens,
            reused_tokens: g.reused_tokens,
            generated_tokens: g.generated_tokens,
            prefill_s: g.prefill_seconds,
            generation_s: g.generation_seconds,
        }
    }
}

/// Why the LLM could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("LLM error: {0}")]
    Failed(String),
    #[error(transparent)]
    Fetch(#[from] crate::models::ModelError),
    #[error(
        "{} is not a GGUF model file: {reason}; --llm takes a llama.cpp .gguf file (or a Hub \
         `owner/repo/file.gguf`)",
        path.display()
    )]
    NotGguf { path: PathBuf, reason: String },
    #[error("{} is damaged: {reason}; download the model file again", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "{} has no metadata key {key}; it was not written by a llama.cpp converter warta knows, \
         use another GGUF of the model",
        path.display()
    )]
    MissingMetadata { path: PathBuf, key: String },
    #[error(
        "{} has no tensor {name}; the file does not match its declared architecture, use another \
         GGUF of the model",
        path.display()
    )]
    MissingTensor { path: PathBuf, name: String },
    #[error(
        "model {model} has architecture {architecture:?}, which warta cannot run (supported: \
         {supported}); choose a GGUF of a supported model with --llm"
    )]
    UnsupportedArchitecture {
        model: String,
        architecture: String,
        supported: String,
    },
    #[error("model {model} cannot be used: {what}")]
    Unsupported { model: String, what: String },
    #[error("tokenizer of model {model}: {reason}")]
    Tokenizer { model: String, reason: String },
    /// The prompt plus the tokens to generate do not fit the context window. Callers split their
    /// input and try again; nothing is truncated.
    #[error(
        "the prompt has {prompt_tokens} tokens and up to {max_new_tokens} more may be generated, \
         which exceeds the {context_length}-token context of {model}; split the input into smaller \
         parts or lower --max-new-tokens"
    )]
    ContextExceeded {
        model: String,
        prompt_tokens: usize,
        max_new_tokens: usize,
        context_length: usize,
    },
    #[error("running the LLM failed while trying to {what}: {reason}")]
    Inference { what: String, reason: String },
}

impl LlmError {
    pub(crate) fn inference(what: &str, e: candle_core::Error) -> LlmError {
        LlmError::Inference {
            what: what.to_string(),
            reason: candle_message(&e),
        }
    }
}

/// A candle error's message without the backtrace candle appends when `RUST_BACKTRACE` is set.
pub(crate) fn candle_message(e: &candle_core::Error) -> String {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => candle_message(inner),
        candle_core::Error::Context { inner, context } => {
            format!("{context}: {}", candle_message(inner))
        }
        e => e.to_string(),
    }
}

/// Load the GGUF model `spec` names (downloading it through `hub` when needed) as a chat model.
pub fn load(
    spec: &crate::models::FileSpec,
    hub: &crate::models::Hub,
    opts: &LoadOptions,
) -> Result<Box<dyn ChatModel>, LlmError> {
    Ok(Box::new(Engine::load(spec, hub, opts)?))
}

/// One loaded model shared by the LLM translator and the summarizer, so it is loaded once per process.
pub type SharedChatModel = std::sync::Arc<std::sync::Mutex<Box<dyn ChatModel>>>;
