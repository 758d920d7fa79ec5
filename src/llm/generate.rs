//! Generation: the [`Engine`] that loads a GGUF model and answers chats.
//!
//! A chat is rendered with the model's template, tokenized, checked against the context window (an
//! over-long prompt is a [`LlmError::ContextExceeded`], never truncated), prefilled in chunks (bounded
//! memory for the attention scores), then decoded one token at a time from the KV cache: greedy by
//! default, or sampled with temperature / top-p from a seed. Generation stops at an end-of-turn token,
//! at `max_new_tokens`, or when the repetition guard sees the output looping.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use candle_transformers::generation::{LogitsProcessor, Sampling};

use super::chat::ChatTemplate;
use super::decoder::{Decoder, WeightOptions};
use super::gguf::Gguf;
use super::tokenizer::{Detokenizer, Tokenizer};
use super::{family, ChatMessage, ChatModel, Generation, GenerationParams, LlmError, StopReason};
use crate::models::{FileSpec, Hub};

/// How to load a model.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Show prefill and generation speed on stderr (only when stderr is a terminal).
    pub progress: bool,
    /// Re-encode slow weight types exactly into fast ones (see [`super::quant`]).
    pub fast_quants: bool,
    /// Prompt tokens run per forward pass during prefill.
    pub prefill_chunk: usize,
    /// Bytes of f32 weight copies `fast_quants` may make (see [`super::quant::Weight`]).
    pub f32_budget: usize,
    /// Keep the KV cache between runs and prefill only what follows the prefix a new prompt shares
    /// with the tokens already cached.
    pub reuse_prefix: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            progress: false,
            fast_quants: true,
            prefill_chunk: 256,
            f32_budget: WeightOptions::default().f32_budget,
            reuse_prefix: true,
        }
    }
}

/// A loaded GGUF chat model.
pub struct Engine {
    id: String,
    decoder: Decoder,
    tokenizer: Tokenizer,
    template: ChatTemplate,
    stop_ids: Vec<u32>,
    opts: LoadOptions,
    /// The tokens whose keys and values are in the decoder's cache, in order.
    cached: Vec<u32>,
    /// Figures of the chats since the last [`ChatModel::take_calls`].
    calls: Vec<super::LlmCall>,
}

/// Token ids and timings of one generation.
#[derive(Debug, Clone)]
pub struct Run {
    pub tokens: Vec<u32>,
    pub prompt_tokens: usize,
    /// Prompt tokens taken from the cache of the previous run instead of prefilled.
    pub reused_tokens: usize,
    pub prefill_seconds: f64,
    /// Time of the decoding steps after the first generated token (which prefill yields).
    pub generation_seconds: f64,
    /// CPU time of the whole process (all threads) in each phase, where the platform tells it.
    pub prefill_cpu_seconds: Option<f64>,
    pub generation_cpu_seconds: Option<f64>,
    pub stop: StopReason,
}

/// CPU time used so far by this process, all threads together.
pub fn process_cpu_seconds() -> Option<f64> {
    #[cfg(unix)]
    {
        cpu_clock_seconds(libc::CLOCK_PROCESS_CPUTIME_ID)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// CPU time used so far by the calling thread.
pub fn thread_cpu_seconds() -> Option<f64> {
    #[cfg(unix)]
    {
        cpu_clock_seconds(libc::CLOCK_THREAD_CPUTIME_ID)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(unix)]
fn cpu_clock_seconds(clock: libc::clockid_t) -> Option<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

/// The Hub repo that holds the original `tokenizer.json` of a GGUF repo: the same name without the
/// `-GGUF` suffix (`Qwen/Qwen2.5-1.5B-Instruct-GGUF` → `Qwen/Qwen2.5-1.5B-Instruct`).
pub fn tokenizer_repo(gguf_repo: &str) -> Option<String> {
    let lower = gguf_repo.to_ascii_lowercase();
    lower
        .strip_suffix("-gguf")
        .map(|_| gguf_repo[..gguf_repo.len() - 5].to_string())
}

impl Engine {
    /// Load the model `spec` names; its tokenizer comes from the original Hub repo when that has a
    /// `tokenizer.json` consistent with the GGUF, else from the GGUF metadata.
    pub fn load(spec: &FileSpec, hub: &Hub, opts: &LoadOptions) -> Result<Engine, LlmError> {
        let path = spec.get(hub)?;
        let json = match spec {
            FileSpec::Hub { repo, .. } => tokenizer_repo(repo).and_then(|r| {
                let got = match hub.cached(&r, "main", "tokenizer.json") {
                    Some(p) => Some(p),
                    None if !hub.is_offline() => hub.get(&r, "main", "tokenizer.json").ok(),
                    None => None,
                };
                got.map(|p| (p, r))
            }),
            FileSpec::Local(_) => None,
        };
        Engine::from_file(
            &path,
            &spec.id(),
            json.as_ref().map(|(p, r)| (p.as_path(), r.as_str())),
            opts,
        )
    }

    /// Load a local GGUF file; `tokenizer_json` is an optional `tokenizer.json` and where it came from.
    pub fn from_file(
        path: &Path,
        id: &str,
        tokenizer_json: Option<(&Path, &str)>,
        opts: &LoadOptions,
    ) -> Result<Engine, LlmError> {
        let g = Gguf::open(path)?;
        let arch = g.architecture()?;
        let family = family::find(&arch, id)?;
        let hp = family.hyper(&g, &arch)?;
        let stored = if g.has("tokenizer.chat_template") {
            Some(g.string("tokenizer.chat_template")?)
        } else {
            None
        };
        let template = ChatTemplate::detect(stored.as_deref(), &arch, id)?;
        let make_tokenizer = || -> Result<Tokenizer, LlmError> {
            let from_gguf = Tokenizer::from_gguf(&g)?;
            // A tokenizer.json wins only if it agrees with the GGUF on the special tokens.
            Ok(
                match tokenizer_json.map(|(p, origin)| Tokenizer::from_file(p, origin)) {
                    Some(Ok(t)) if same_special_tokens(&t, &from_gguf, &g) => t,
                    _ => from_gguf,
                },
            )
        };
        let weights = WeightOptions {
            fast_quants: opts.fast_quants,
            f32_budget: opts.f32_budget,
        };
        // Building the tokenizer (a vocabulary and merges of 150,000 entries each for Qwen) takes about
        // a second; it runs beside the weights' loading rather than before it.
        let (tokenizer, decoder) = std::thread::scope(|s| {
            match std::thread::Builder::new()
                .name("warta-tokenizer".into())
                .spawn_scoped(s, make_tokenizer)
            {
                Ok(handle) => {
                    let decoder = Decoder::load(hp, &g, weights);
                    let tokenizer = handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    (tokenizer, decoder)
                }
                // No thread to be had: one after the other.
                Err(_) => (make_tokenizer(), Decoder::load(hp, &g, weights)),
            }
        });
        let (tokenizer, decoder) = (tokenizer?, decoder?);
        let mut stop_ids: Vec<u32> = template
            .stop_tokens()
            .iter()
            .filter_map(|t| tokenizer.token_id(t))
            .collect();
        if g.has("tokenizer.ggml.eos_token_id") {
            stop_ids.push(g.usize("tokenizer.ggml.eos_token_id")? as u32);
        }
        if stop_ids.is_empty() {
            return Err(LlmError::Unsupported {
                model: id.to_string(),
                what: "its vocabulary has no end-of-turn token".into(),
            });
        }
        Ok(Engine {
            id: id.to_string(),
            decoder,
            tokenizer,
            template,
            stop_ids,
            opts: opts.clone(),
            cached: Vec::new(),
            calls: Vec::new(),
        })
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    pub fn template(&self) -> &ChatTemplate {
        &self.template
    }

    /// The decoder, for direct use; its cache is no longer known to hold any earlier run's tokens.
    pub fn decoder(&mut self) -> &mut Decoder {
        self.cached.clear();
        &mut self.decoder
    }

    /// Forget the cached conversation: the next run prefills its whole prompt (benchmarks).
    pub fn forget(&mut self) {
        self.cached.clear();
        self.decoder.clear();
    }

    /// Token ids of the prompt for `messages`.
    pub fn prompt_ids(&self, messages: &[ChatMessage]) -> Result<Vec<u32>, LlmError> {
        self.tokenizer.encode(&self.template.render(messages))
    }

    /// Generate after `prompt`. With `fixed_length`, exactly `max_new_tokens` are generated: neither
    /// end-of-turn tokens nor the repetition guard stop it (speed measurements).
    pub fn run(
        &mut self,
        prompt: &[u32],
        params: &GenerationParams,
        fixed_length: bool,
    ) -> Result<Run, LlmError> {
        let context = self.decoder.hyper().context_length;
        if prompt.len() + params.max_new_tokens > context {
            return Err(LlmError::ContextExceeded {
                model: self.id.clone(),
                prompt_tokens: prompt.len(),
                max_new_tokens: params.max_new_tokens,
                context_length: context,
            });
        }
        if prompt.is_empty() {
            return Err(LlmError::Inference {
                what: "generate".into(),
                reason: "the prompt is empty".into(),
            });
        }
        let step = |what: &str| {
            let what = format!("{what} with {}", self.id);
            move |e: candle_core::Error| LlmError::inference(&what, e)
        };
        let mut progress = Progress::new(self.opts.progress);
        // The longest prefix of the prompt already in the cache, less at least one token: the last
        // prompt token must run to give the first logits.
        let reused = if self.opts.reuse_prefix {
            let same = self
                .cached
                .iter()
                .zip(prompt)
                .take_while(|(a, b)| a == b)
                .count();
            same.min(prompt.len() - 1)
        } else {
            0
        };
        self.cached.truncate(reused);
        self.decoder.truncate(reused);
        let started = Instant::now();
        let cpu_started = process_cpu_seconds();
        let mut logits = None;
        let mut done = reused;
        for chunk in prompt[reused..].chunks(self.opts.prefill_chunk.max(1)) {
            // A failed forward leaves the cache in an unknown state: `cached` then names only what
            // is sure, and the next run truncates to it.
            logits = Some(self.decoder.forward(chunk).map_err(step("prefill"))?);
            self.cached.extend_from_slice(chunk);
            done += chunk.len();
            progress.prefill(done, prompt.len(), started);
        }
        let mut logits = logits.ok_or_else(|| LlmError::Inference {
            what: "prefill".into(),
            reason: "no logits".into(),
        })?;
        let prefill_seconds = started.elapsed().as_secs_f64();
        let cpu_prefilled = process_cpu_seconds();

        let sampling = if params.temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            match params.top_p {
                Some(p) if p > 0.0 && p < 1.0 => Sampling::TopP {
                    p,
                    temperature: params.temperature,
                },
                _ => Sampling::All {
                    temperature: params.temperature,
                },
            }
        };
        let mut sampler = LogitsProcessor::from_sampling(params.seed, sampling);
        let mut guard = RepetitionGuard;
        let mut tokens = Vec::new();
        let decode_start = Instant::now();
        let stop = loop {
            if tokens.len() >= params.max_new_tokens {
                break StopReason::MaxTokens;
            }
            let next = sampler.sample(&logits).map_err(step("sample"))?;
            if !fixed_length && self.stop_ids.contains(&next) {
                break StopReason::EndOfTurn;
            }
            tokens.push(next);
            if let Some(keep) = guard.looping(&tokens).filter(|_| !fixed_length) {
                tokens.truncate(keep);
                break StopReason::Repetition;
            }
            if tokens.len() >= params.max_new_tokens {
                break StopReason::MaxTokens;
            }
            logits = self.decoder.forward(&[next]).map_err(step("decode"))?;
            self.cached.push(next);
            progress.generate(tokens.len(), decode_start);
        };
        let generation_seconds = decode_start.elapsed().as_secs_f64();
        let cpu_done = process_cpu_seconds();
        progress.finish();
        let span = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| b - a);
        Ok(Run {
            tokens,
            prompt_tokens: prompt.len(),
            reused_tokens: reused,
            prefill_seconds,
            generation_seconds,
            prefill_cpu_seconds: span(cpu_started, cpu_prefilled),
            generation_cpu_seconds: span(cpu_prefilled, cpu_done),
            stop,
        })
    }
}

/// Whether `t` maps the GGUF's control tokens to the same ids as the GGUF does.
fn same_special_tokens(t: &Tokenizer, gguf: &Tokenizer, g: &Gguf) -> bool {
    let Ok(tokens) = g.strings("tokenizer.ggml.tokens") else {
        return false;
    };
    let Ok(types) = g.ints("tokenizer.ggml.token_type") else {
        return false;
    };
    t.vocab_size() <= tokens.len()
        && tokens
            .iter()
            .zip(&types)
            .filter(|(_, ty)| **ty == 3)
            .all(|(tok, _)| t.token_id(tok).is_some() && t.token_id(tok) == gguf.token_id(tok))
}

impl ChatModel for Engine {
    fn id(&self) -> String {
        self.id.clone()
    }

    fn context_length(&self) -> usize {
        self.decoder.hyper().context_length
    }

    fn count_tokens(&self, text: &str) -> Result<usize, LlmError> {
        Ok(self.tokenizer.encode(text)?.len())
    }

    fn chat(
        &mut self,
        messages: &[ChatMessage],
        params: &GenerationParams,
    ) -> Result<Generation, LlmError> {
        let prompt = self.prompt_ids(messages)?;
        let run = self.run(&prompt, params, false)?;
        let mut detok = Detokenizer::new(&self.tokenizer);
        for &id in &run.tokens {
            detok.push(id)?;
        }
        let g = Generation {
            text: detok.text()?.trim().to_string(),
            prompt_tokens: run.prompt_tokens,
            reused_tokens: run.reused_tokens,
            generated_tokens: run.tokens.len(),
            prefill_seconds: run.prefill_seconds,
            generation_seconds: run.generation_seconds,
            stop: run.stop,
        };
        self.calls.push((&g).into());
        Ok(g)
    }

    fn take_calls(&mut self) -> Vec<super::LlmCall> {
        std::mem::take(&mut self.calls)
    }
}

/// Detects generation stuck in a loop: the output ending in the same n-gram repeated back to back.
///
/// A period of `p` tokens repeated `r` times counts as a loop when `r >= 3` and the repeats cover at
/// least [`RepetitionGuard::MIN_SPAN`] tokens, so one short phrase said twice, or a row of `=`, is not
/// cut, but a sentence said three times is.
#[derive(Debug, Default)]
pub struct RepetitionGuard;

impl RepetitionGuard {
    /// Tokens the repeats must cover before they count as a loop.
    pub const MIN_SPAN: usize = 48;
    /// Longest period looked for.
    pub const MAX_PERIOD: usize = 128;

    /// When `tokens` ends in a loop, how many tokens to keep: everything up to the end of its first
    /// occurrence.
    pub fn looping(&mut self, tokens: &[u32]) -> Option<usize> {
        let n = tokens.len();
        for p in 1..=Self::MAX_PERIOD.min(n / 3) {
            let needed = 3.max(Self::MIN_SPAN.div_ceil(p));
            if needed * p > n {
                continue;
            }
            let tail = &tokens[n - p..];
            let repeats = (1..needed).all(|r| &tokens[n - (r + 1) * p..n - r * p] == tail);
            if repeats {
                return Some(n - (needed - 1) * p);
            }
        }
        None
    }
}

/// Prefill and generation speed on stderr, when it is a terminal.
struct Progress {
    on: bool,
    last: Option<Instant>,
}

impl Progress {
    fn new(wanted: bool) -> Progress {
        Progress {
            on: wanted && std::io::stderr().is_terminal(),
            last: None,
        }
    }

    fn due(&mut self) -> bool {
        let due = self.on && self.last.is_none_or(|t| t.elapsed().as_millis() >= 250);
        if due {
            self.last = Some(Instant::now());
        }
        due
    }

    fn prefill(&mut self, done: usize, total: usize, since: Instant) {
        if self.due() || (self.on && done == total) {
            let rate = done as f64 / since.elapsed().as_secs_f64().max(1e-9);
            eprint!("\r\x1b[2Kwarta: reading prompt {done}/{total} tokens ({rate:.1} tok/s)");
            let _ = std::io::stderr().flush();
        }
    }

    fn generate(&mut self, done: usize, since: Instant) {
        if self.due() {
            let rate = done as f64 / since.elapsed().as_secs_f64().max(1e-9);
            eprint!("\r\x1b[2Kwarta: generated {done} tokens ({rate:.1} tok/s)");
            let _ = std::io::stderr().flush();
        }
    }

    fn finish(&mut self) {
        if self.on && self.last.is_some() {
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_repo_of_gguf_repos() {
        assert_eq!(
            tokenizer_repo("Qwen/Qwen2.5-1.5B-Instruct-GGUF").as_deref(),
            Some("Qwen/Qwen2.5-1.5B-Instruct")
        );
        assert_eq!(
            tokenizer_repo("org/Model-gguf").as_deref(),
            Some("org/Model")
        );
        assert_eq!(tokenizer_repo("org/Model"), None);
    }

    #[test]
    fn repetition_guard_cuts_loops_only() {
        let mut g = RepetitionGuard;
        // A sentence of 20 tokens said three times: keep the first.
        let sentence: Vec<u32> = (100..120).collect();
        let mut toks: Vec<u32> = (1..30).collect();
        for _ in 0..3 {
            toks.extend(&sentence);
        }
        assert_eq!(g.looping(&toks), Some(29 + 20));
        // Twice is not a loop yet.
        assert_eq!(g.looping(&toks[..29 + 40]), None);
        // A single token must repeat MIN_SPAN times.
        let mut row = vec![5u32; RepetitionGuard::MIN_SPAN - 1];
        assert_eq!(g.looping(&row), None);
        row.push(5);
        assert_eq!(g.looping(&row), Some(1));
        // Varied text is never cut.
        let varied: Vec<u32> = (0..500).map(|i| (i * 7919) % 1000).collect();
        assert_eq!(g.looping(&varied), None);
    }
}

#[cfg(test)]
mod smollm2 {
    use super::*;
    use std::sync::{Mutex, MutexGuard, OnceLock};

    const SMOLLM2: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    );

    /// One engine shared by the tests (loading takes a moment).
    fn engine() -> MutexGuard<'static, Engine> {
        static ENGINE: OnceLock<Mutex<Engine>> = OnceLock::new();
        ENGINE
            .get_or_init(|| {
                let e =
                    Engine::from_file(Path::new(SMOLLM2), "SmolLM2", None, &LoadOptions::default())
                        .unwrap();
                Mutex::new(e)
            })
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn greedy(n: usize) -> GenerationParams {
        GenerationParams {
            max_new_tokens: n,
            ..GenerationParams::default()
        }
    }

    #[test]
    fn greedy_generation_is_deterministic_english() {
        let mut e = engine();
        let messages = [ChatMessage::user(
            "Summarise in one sentence: The city council of Springfield voted on Monday to build a \
             new public library next to the central park. The library will cost 12 million dollars \
             and open in 2026.",
        )];
        let a = e.chat(&messages, &greedy(40)).unwrap();
        let b = e.chat(&messages, &greedy(40)).unwrap();
        assert_eq!(
            a,
            Generation {
                prefill_seconds: a.prefill_seconds,
                generation_seconds: a.generation_seconds,
                reused_tokens: a.reused_tokens,
                ..b.clone()
            }
        );
        // The second run found the whole prompt cached but its last token.
        assert_eq!(b.reused_tokens, b.prompt_tokens - 1);
        assert!(!a.text.is_empty());
        assert!(a.generated_tokens > 0 && a.prompt_tokens > 20, "{a:?}");
        let words: Vec<&str> = a.text.split_whitespace().collect();
        let english = words
            .iter()
            .filter(|w| {
                let w = w
                    .trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase();
                [
                    "the", "a", "of", "to", "in", "library", "city", "council", "new", "will",
                    "and",
                ]
                .contains(&w.as_str())
            })
            .count();
        assert!(english >= 2, "not English-looking: {:?}", a.text);
    }

    #[test]
    fn kv_cache_matches_full_recompute() {
        let mut e = engine();
        let prompt = e
            .prompt_ids(&[ChatMessage::user("Name three colours of the rainbow.")])
            .unwrap();
        let run = e.run(&prompt, &greedy(8), true).unwrap();
        assert_eq!(run.tokens.len(), 8);
        // Each generated token is also the argmax of a cache-free forward over everything before it.
        for i in 0..run.tokens.len() {
            let mut all = prompt.clone();
            all.extend(&run.tokens[..i]);
            let d = e.decoder();
            d.clear();
            let logits = d.forward(&all).unwrap();
            assert_eq!(
                super::super::decoder::argmax(&logits).unwrap(),
                run.tokens[i],
                "token {i}"
            );
        }
    }

    /// A chat that shares its start with the previous one prefills only the rest, and answers as
    /// a fresh engine does; an error or direct use of the decoder forgets the cache.
    #[test]
    fn a_shared_prefix_is_prefilled_once() {
        let mut e = engine();
        e.forget();
        e.take_calls();
        let system = ChatMessage::system(
            "You are a careful assistant. You answer in one short English sentence, plainly.",
        );
        let first = [
            system.clone(),
            ChatMessage::user("Name a colour of the sky."),
        ];
        let second = [system, ChatMessage::user("Name a fruit that is yellow.")];
        let a = e.chat(&first, &greedy(12)).unwrap();
        assert_eq!(a.reused_tokens, 0);
        let b = e.chat(&second, &greedy(12)).unwrap();
        let shared = e
            .prompt_ids(&first)
            .unwrap()
            .iter()
            .zip(&e.prompt_ids(&second).unwrap())
            .take_while(|(x, y)| x == y)
            .count();
        assert!(shared > 20, "{shared}");
        assert_eq!(b.reused_tokens, shared);
        // The same chat again reuses all of its prompt but the last token.
        let again = e.chat(&second, &greedy(12)).unwrap();
        assert_eq!(again.reused_tokens, again.prompt_tokens - 1);
        assert_eq!(again.text, b.text);
        // A fresh start gives the same answer.
        e.forget();
        let fresh = e.chat(&second, &greedy(12)).unwrap();
        assert_eq!(fresh.reused_tokens, 0);
        assert_eq!(fresh.text, b.text);
        let calls = e.take_calls();
        assert_eq!(calls.len(), 4);
        assert_eq!(calls[1].reused_tokens, shared);
        assert!(e.take_calls().is_empty());
        // Running the decoder directly leaves nothing to reuse.
        e.decoder().clear();
        assert_eq!(e.chat(&second, &greedy(2)).unwrap().reused_tokens, 0);
    }

    #[test]
    fn context_overflow_is_a_typed_error() {
        let mut e = engine();
        let prompt = vec![1u32; 100];
        let params = greedy(e.context_length());
        match e.run(&prompt, &params, false) {
            Err(LlmError::ContextExceeded {
                prompt_tokens: 100,
                context_length: 8192,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    /// SmolLM2 cannot read the Indonesian benchmark article and loops on "<article>": the guard
    /// stops it and keeps one copy.
    #[test]
    fn repetition_guard_stops_a_real_loop() {
        let mut e = engine();
        let g = e
            .chat(&super::super::bench::messages(), &greedy(200))
            .unwrap();
        assert_eq!(g.stop, StopReason::Repetition, "{g:?}");
        assert!(g.generated_tokens < 200, "{g:?}");
        assert!(g.text.matches("<article>").count() <= 1, "{:?}", g.text);
    }

    #[test]
    fn sampling_follows_the_seed() {
        let mut e = engine();
        let messages = [ChatMessage::user("Write a short line about the sea.")];
        let p = |seed| GenerationParams {
            temperature: 0.9,
            top_p: Some(0.95),
            seed,
            max_new_tokens: 16,
        };
        let a = e.chat(&messages, &p(1)).unwrap();
        let b = e.chat(&messages, &p(1)).unwrap();
        assert_eq!(a.text, b.text);
    }
}

/// Checks on the real Qwen2.5-Coder GGUFs, which are not available in CI (`cargo test -- --ignored`).
#[cfg(test)]
mod qwen_local {
    use super::*;

    const QWEN_05B: &str = "/work/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";
    const QWEN_15B: &str = "/work/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";

    fn load(path: &str, fast_quants: bool, f32_budget: usize) -> Engine {
        let opts = LoadOptions {
            fast_quants,
            f32_budget,
            ..LoadOptions::default()
        };
        Engine::from_file(Path::new(path), path, None, &opts).unwrap()
    }

    /// The 0.5B model's Q5_0 layers three ways: as stored (candle's scalar Q5_0 kernel), repacked for
    /// warta's kernels (`gemv`), and repacked plus f32 copies for prefill (warta's default). Greedy
    /// tokens on a summary prompt over the first paragraphs of the reference article.
    #[test]
    #[ignore = "needs /work/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf (local only); slow"]
    fn q5_0_repacking_keeps_greedy_tokens() {
        let body = super::super::bench::article_body();
        let start: String = body.split("\n\n").take(4).collect::<Vec<_>>().join("\n\n");
        let messages = [ChatMessage::user(format!(
            "Summarise this Indonesian news article in English:\n\n{start}"
        ))];
        let params = GenerationParams {
            max_new_tokens: 32,
            ..GenerationParams::default()
        };
        let mut runs = Vec::new();
        for (name, fast, budget) in [
            ("stored Q5_0", false, 0),
            ("repacked", true, 0),
            (
                "repacked + f32 prefill",
                true,
                LoadOptions::default().f32_budget,
            ),
        ] {
            let mut e = load(QWEN_05B, fast, budget);
            let prompt = e.prompt_ids(&messages).unwrap();
            let run = e.run(&prompt, &params, true).unwrap();
            eprintln!(
                "{name}: {} prompt tokens, prefill {:.1} s, generation {:.1} s: {:?}",
                prompt.len(),
                run.prefill_seconds,
                run.generation_seconds,
                e.tokenizer().decode(&run.tokens).unwrap()
            );
            runs.push(run.tokens);
        }
        // Float additions in another order flip near-ties sooner or later (see the drift test
        // below); the three agree on the opening of the answer.
        let agree = |a: &[u32], b: &[u32]| a.iter().zip(b).take_while(|(x, y)| x == y).count();
        eprintln!(
            "tokens in common with the stored Q5_0 output: {} (repacked), {} (+ f32 prefill)",
            agree(&runs[0], &runs[1]),
            agree(&runs[0], &runs[2])
        );
        assert!(agree(&runs[0], &runs[1]) >= 8 && agree(&runs[0], &runs[2]) >= 8);
    }

    /// How far repacking moves the logits, against a control. The same tokens (the stored model's
    /// greedy choices) go through the stored Q5_0 model and the repacked one; as a control the
    /// repacked model also reads the prompt in chunks of 5 instead of at once, which changes only
    /// the order of float additions in attention. Activations are rounded to 8 bits before every
    /// quantized product, so any change of addition order flips some roundings and moves the
    /// logits; repacking must move them no more than that.
    #[test]
    #[ignore = "needs /work/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf (local only); slow"]
    fn q5_0_repacking_logit_drift() {
        let mut stored = load(QWEN_05B, false, 0);
        let mut repacked = load(QWEN_05B, true, 0);
        let mut control = load(QWEN_05B, true, 0);
        let prompt = stored
            .prompt_ids(&[ChatMessage::user(
                "Rusia menghentikan misi diplomasi di NATO. Translate into English.",
            )])
            .unwrap();
        let logits = |e: &mut Engine, ids: &[u32], chunk: usize| {
            let mut last = None;
            for c in ids.chunks(chunk) {
                last = Some(e.decoder().forward(c).unwrap());
            }
            last.unwrap().to_vec1::<f32>().unwrap()
        };
        let max_diff =
            |a: &[f32], b: &[f32]| a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        let (mut la, mut lb, mut lc) = (
            logits(&mut stored, &prompt, prompt.len()),
            logits(&mut repacked, &prompt, prompt.len()),
            logits(&mut control, &prompt, 5),
        );
        let (mut drift, mut noise) = (0f32, 0f32);
        for step in 0..24 {
            let best = super::super::decoder::argmax(
                &candle_core::Tensor::new(la.as_slice(), &candle_core::Device::Cpu).unwrap(),
            )
            .unwrap();
            let (d, n) = (max_diff(&la, &lb), max_diff(&lb, &lc));
            eprintln!("step {step}: repacking moves logits by {d:.4}, chunking by {n:.4}");
            drift = drift.max(d);
            noise = noise.max(n);
            la = logits(&mut stored, &[best], 1);
            lb = logits(&mut repacked, &[best], 1);
            lc = logits(&mut control, &[best], 1);
        }
        eprintln!("largest move: repacking {drift:.4}, chunking {noise:.4}");
        assert!(noise > 0.0);
        assert!(
            drift <= 2.0 * noise,
            "repacking {drift} vs chunking {noise}"
        );
    }

    /// The 1.5B model summarises the reference article in English with its key facts.
    #[test]
    #[ignore = "needs /work/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf (local only); slow"]
    fn qwen_1_5b_summarises_the_reference_article() {
        let mut e = load(QWEN_15B, true, LoadOptions::default().f32_budget);
        let g = e
            .chat(
                &super::super::bench::messages(),
                &GenerationParams {
                    max_new_tokens: 160,
                    ..GenerationParams::default()
                },
            )
            .unwrap();
        eprintln!("{g:?}");
        let text = g.text.to_lowercase();
        assert!(
            text.contains("russia") && text.contains("nato"),
            "{}",
            g.text
        );
        assert!(text.contains('8') || text.contains("eight"), "{}", g.text);
    }
}
