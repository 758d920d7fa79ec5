//! `warta bench --engine llm`: prefill and generation speed of a GGUF model on this machine, on a fixed
//! summary-style prompt over the reference article, greedy, a fixed number of generated tokens (end
//! of turn does not stop it), so figures compare across runs and with llama.cpp
//! (`scripts/bench_llama_cpp.py` runs the same prompt through llama-cpp-python).

use std::time::Instant;

use serde::Serialize;

use super::generate::{Engine, LoadOptions};
use super::{ChatMessage, GenerationParams, LlmError};
use crate::models::{FileSpec, Hub};

/// The reference article (Kompas, 19 Oct 2021: Russia suspends its NATO mission).
pub const ARTICLE: &str = include_str!("../../examples/kompas-nato.txt");
/// Tokens generated per measurement.
pub const GENERATED: usize = 64;

/// The benchmark chat: a summary request over the article, as the summarizer sends it.
pub fn messages() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system(
            "You are a careful news editor. You summarise Indonesian news articles in plain English.",
        ),
        ChatMessage::user(format!(
            "Summarise the news article between the <article> tags in 3 English sentences: who, \
             what, when, where and the key numbers. Do not add facts that are not in the \
             article.\n\n<article>\n{}\n</article>",
            ARTICLE.trim()
        )),
    ]
}

/// One measurement.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub model: String,
    pub tokenizer: String,
    pub threads: usize,
    pub load_seconds: f64,
    pub prompt_tokens: usize,
    pub prefill_seconds: f64,
    pub prefill_tokens_per_second: f64,
    pub generated_tokens: usize,
    pub generation_seconds: f64,
    pub generation_tokens_per_second: f64,
    /// What the model wrote (the first tokens of its summary).
    pub text: String,
}

/// Load the model and measure once.
pub fn run(spec: &FileSpec, hub: &Hub, opts: &LoadOptions) -> Result<BenchReport, LlmError> {
    let t0 = Instant::now();
    let mut engine = Engine::load(spec, hub, opts)?;
    let load_seconds = t0.elapsed().as_secs_f64();
    let prompt = engine.prompt_ids(&messages())?;
    let params = GenerationParams {
        max_new_tokens: GENERATED,
        ..GenerationParams::default()
    };
    let run = engine.run(&prompt, &params, false)?;
    // The first token comes from the prefill logits; each later one costs one decoding step.
    let steps = run.tokens.len().saturating_sub(1);
    Ok(BenchReport {
        model: spec.id(),
        tokenizer: engine.tokenizer().source().to_string(),
        threads: candle_core::utils::get_num_threads(),
        load_seconds,
        prompt_tokens: run.prompt_tokens,
        prefill_seconds: run.prefill_seconds,
        prefill_tokens_per_second: run.prompt_tokens as f64 / run.prefill_seconds.max(1e-9),
        generated_tokens: run.tokens.len(),
        generation_seconds: run.generation_seconds,
        generation_tokens_per_second: steps as f64 / run.generation_seconds.max(1e-9),
        text: engine.tokenizer().decode(&run.tokens)?,
    })
}

impl BenchReport {
    /// Human-readable report.
    pub fn text(&self) -> String {
        format!(
            "model       {}\ntokenizer   {}\nthreads     {}\nload        {:.2} s\n\
             prefill     {} tokens in {:.2} s = {:.1} tok/s\n\
             generation  {} tokens in {:.2} s = {:.1} tok/s\noutput      {}\n",
            self.model,
            self.tokenizer,
            self.threads,
            self.load_seconds,
            self.prompt_tokens,
            self.prefill_seconds,
            self.prefill_tokens_per_second,
            self.generated_tokens,
            self.generation_seconds,
            self.generation_tokens_per_second,
            self.text.replace('\n', " ")
        )
    }
}
