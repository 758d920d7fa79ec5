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

/// The article's title and body as the cleaner keeps them: from the headline to the last paragraph,
/// without the "Baca juga" (read also) links, the byline and the site furniture around it. Done by
/// fixed markers so the benchmark does not depend on the cleaner's evolution.
pub fn article_body() -> String {
    let title = ARTICLE
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("Setelah 8 Delegasi"))
        .unwrap_or_default();
    let start = ARTICLE.find("MOSKWA, KOMPAS.com").unwrap_or(0);
    let end = ARTICLE.find("Simak breaking news").unwrap_or(ARTICLE.len());
    let paragraphs: Vec<&str> = ARTICLE[start..end]
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Baca juga:"))
        .collect();
    format!("{title}\n\n{}", paragraphs.join("\n\n"))
}

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
            article_body()
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
    /// The same rates per second of CPU time used by the whole process. On a machine shared with
    /// other work, single-threaded (`--threads 1`) CPU-time rates compare engines fairly where wall
    /// clock rates do not.
    pub prefill_tokens_per_cpu_second: Option<f64>,
    pub generation_tokens_per_cpu_second: Option<f64>,
    /// Load average when the measurement ended (`/proc/loadavg`), to judge how quiet the machine was.
    pub load_average: Option<String>,
    /// The CPU (`model name` of /proc/cpuinfo) and the kernels chosen for it.
    pub cpu: String,
    pub kernels: String,
    /// What the model wrote (the first tokens of its summary).
    pub text: String,
    /// Its token ids, to compare with another engine's greedy choices.
    pub tokens: Vec<u32>,
    /// The rendered prompt, so other engines can be measured on exactly the same text.
    pub prompt: String,
}

/// Load the model and measure once.
pub fn run(spec: &FileSpec, hub: &Hub, opts: &LoadOptions) -> Result<BenchReport, LlmError> {
    let t0 = Instant::now();
    let mut engine = Engine::load(spec, hub, opts)?;
    let load_seconds = t0.elapsed().as_secs_f64();
    let prompt_text = engine.template().render(&messages());
    let prompt = engine.tokenizer().encode(&prompt_text)?;
    let params = GenerationParams {
        max_new_tokens: GENERATED,
        ..GenerationParams::default()
    };
    let run = engine.run(&prompt, &params, true)?;
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
        prefill_tokens_per_cpu_second: run
            .prefill_cpu_seconds
            .map(|s| run.prompt_tokens as f64 / s.max(1e-9)),
        generation_tokens_per_cpu_second: run
            .generation_cpu_seconds
            .map(|s| steps as f64 / s.max(1e-9)),
        load_average: std::fs::read_to_string("/proc/loadavg")
            .ok()
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")),
        cpu: cpu_name(),
        kernels: super::gemv::kernels().to_string(),
        text: engine.tokenizer().decode(&run.tokens)?,
        tokens: run.tokens.clone(),
        prompt: prompt_text,
    })
}

/// The CPU's name as /proc/cpuinfo gives it, or "unknown".
pub fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

impl BenchReport {
    /// Human-readable report.
    pub fn text(&self) -> String {
        let per_cpu = |r: Option<f64>| {
            r.map(|r| format!(" ({r:.1} per CPU second)"))
                .unwrap_or_default()
        };
        format!(
            "model       {}\ntokenizer   {}\ncpu         {} ({} kernels)\nthreads     {}\nload        {:.2} s\n\
             prefill     {} tokens in {:.2} s = {:.1} tok/s{}\n\
             generation  {} tokens in {:.2} s = {:.1} tok/s{}\nload avg    {}\noutput      {}\n",
            self.model,
            self.tokenizer,
            self.cpu,
            self.kernels,
            self.threads,
            self.load_seconds,
            self.prompt_tokens,
            self.prefill_seconds,
            self.prefill_tokens_per_second,
            per_cpu(self.prefill_tokens_per_cpu_second),
            self.generated_tokens,
            self.generation_seconds,
            self.generation_tokens_per_second,
            per_cpu(self.generation_tokens_per_cpu_second),
            self.load_average.as_deref().unwrap_or("unknown"),
            self.text.replace('\n', " ")
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn article_body_is_the_story_only() {
        let body = super::article_body();
        assert!(
            body.starts_with("Setelah 8 Delegasi Diusir, Rusia Balas NATO"),
            "{body}"
        );
        assert!(
            body.contains("MOSKWA, KOMPAS.com - Rusia") && body.contains("8 delegasinya diusir")
        );
        assert!(
            body.trim_end().ends_with("lebih dekat ke perbatasannya."),
            "{body}"
        );
        assert!(!body.contains("Baca juga") && !body.contains("Simak"));
    }
}
