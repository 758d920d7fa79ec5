//! warta: Indonesian news articles into English, locally.
//!
//! The pipeline: [`article`] (load, clean, segment) → [`translate`] (Marian or LLM) → [`summarize`] →
//! [`render`]. [`batch`] runs it over directory trees; [`eval`] scores translations.

pub mod article;
pub mod batch;
pub mod checks;
pub mod cli;
pub mod config;
pub mod error;
pub mod eval;
#[doc(hidden)]
pub mod fuzzing;
pub mod llm;
pub mod models;
pub mod output;
pub mod pipeline;
pub mod prompts;
pub mod render;
pub mod serve;
pub mod summarize;
pub mod translate;

pub use config::{EngineOptions, SummarizerKind, SummaryOptions, TranslatorKind};
pub use error::{Error, Result};
