//! The Marian engine: Helsinki-NLP opus-mt models (by default `Helsinki-NLP/opus-mt-id-en`) run through
//! candle, with the tokenizer, forward pass and search of `transformers` reproduced token for token
//! (see `tests/marian_fixtures.rs` and `scripts/marian-fixtures/`).
//!
//! Sentences are sorted by length and translated in batches of `--batch-size` (less padding, one
//! encoder pass and one cached cross-attention per batch), then put back in order. Nothing is silently
//! truncated: a sentence longer than the model's position table is split at clause boundaries, the
//! parts are translated and rejoined, and a warning says so.

mod attention;
pub mod bench;
pub mod config;
pub mod gemm;
pub mod gemm_i8;
pub mod guard;
mod legacy_pth;
pub mod model;
pub mod pickle;
mod pth_zip;
mod rowops;
pub mod search;
pub mod spm;
pub mod tokenizer;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use crate::models::{Hub, ModelError, RepoSpec};
use crate::translate::{EngineInfo, TranslateError, Translator};

pub use config::{GenerationConfig, MarianConfig};
pub use model::{Marian, WeightType};
pub use tokenizer::MarianTokenizer;

/// The model `warta` uses unless `--model` names another.
pub const DEFAULT_MODEL: &str = "Helsinki-NLP/opus-mt-id-en";

/// The files of an opus-mt model directory (the Hub layout).
pub const CONFIG: &str = "config.json";
pub const GENERATION_CONFIG: &str = "generation_config.json";
pub const SOURCE_SPM: &str = "source.spm";
pub const TARGET_SPM: &str = "target.spm";
pub const VOCAB: &str = "vocab.json";
pub const TARGET_VOCAB: &str = "target_vocab.json";
pub const TOKENIZER_CONFIG: &str = "tokenizer_config.json";
pub const SAFETENSORS: &str = "model.safetensors";
pub const PYTORCH_BIN: &str = "pytorch_model.bin";

/// What a Marian model directory must (or may) hold, for loading and for `warta models`. The weights
/// are one of `model.safetensors` (preferred) or `pytorch_model.bin` (what older opus-mt repos,
/// opus-mt-id-en among them, ship).
pub const FILES: &[(&str, bool)] = &[
    (CONFIG, true),
    (GENERATION_CONFIG, false),
    (SOURCE_SPM, true),
    (TARGET_SPM, true),
    (VOCAB, true),
    (TOKENIZER_CONFIG, false),
];

/// Why the Marian engine failed.
#[derive(Debug, thiserror::Error)]
pub enum MarianError {
    /// A model file is missing, cannot be fetched or is invalid (names the file and what to do).
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("Marian model {model}: {source}")]
    Tensor {
        model: String,
        source: Box<candle_core::Error>,
    },
}

impl MarianError {
    fn io(path: &Path, e: std::io::Error) -> MarianError {
        MarianError::Model(ModelError::Invalid {
            path: path.to_path_buf(),
            reason: format!("cannot read: {e}"),
        })
    }

    fn invalid(path: &Path, reason: impl Into<String>) -> MarianError {
        MarianError::Model(ModelError::Invalid {
            path: path.to_path_buf(),
            reason: reason.into(),
        })
    }
}

impl From<MarianError> for crate::Error {
    fn from(e: MarianError) -> crate::Error {
        match e {
            MarianError::Model(m) => crate::Error::Model(m),
            other => crate::Error::Translate(TranslateError::Marian(other)),
        }
    }
}

/// Run-time choices for the Marian translator (`--beams`, `--batch-size`, `--dtype`, `--no-guard`).
#[derive(Debug, Clone, Copy)]
pub struct MarianOptions {
    pub beams: usize,
    pub batch_size: usize,
    pub weight_type: WeightType,
    /// Stop a translation that falls into a loop ([`guard`]); on by default.
    pub guard: bool,
}

impl Default for MarianOptions {
    fn default() -> Self {
        MarianOptions {
            beams: 4,
            batch_size: 16,
            weight_type: WeightType::F32,
            guard: true,
        }
    }
}

/// A loaded Marian model with its tokenizer and generation settings.
pub struct MarianTranslator {
    model: Marian,
    tokenizer: MarianTokenizer,
    generation: GenerationConfig,
    options: MarianOptions,
    id: String,
    warnings: Vec<String>,
}

/// The located files of a model.
struct ModelFiles {
    config: PathBuf,
    generation: Option<PathBuf>,
    source_spm: PathBuf,
    target_spm: PathBuf,
    vocab: PathBuf,
    tokenizer_config: Option<PathBuf>,
    weights: PathBuf,
}

/// `file` of the model when it exists; `None` when the repo or directory does not have it. Offline, only
/// the cache is consulted.
fn optional_file(spec: &RepoSpec, hub: &Hub, file: &str) -> Result<Option<PathBuf>, ModelError> {
    if let Some(p) = spec.cached(hub, file) {
        return Ok(Some(p));
    }
    match spec {
        RepoSpec::Local(_) => Ok(None),
        RepoSpec::Hub { .. } if hub.is_offline() => Ok(None),
        RepoSpec::Hub { .. } => match spec.get(hub, file) {
            Ok(p) => Ok(Some(p)),
            Err(ModelError::Download { reason, .. }) if reason.contains("404") => Ok(None),
            Err(e) => Err(e),
        },
    }
}

impl ModelFiles {
    fn locate(spec: &RepoSpec, hub: &Hub) -> Result<ModelFiles, ModelError> {
        // config.json first: small, and the first thing to fail on when the model is unavailable.
        let config = spec.get(hub, CONFIG)?;
        let weights = match optional_file(spec, hub, SAFETENSORS)? {
            Some(p) => p,
            None => match (spec, optional_file(spec, hub, PYTORCH_BIN)?) {
                (_, Some(p)) => p,
                (RepoSpec::Local(dir), None) => {
                    return Err(ModelError::Invalid {
                        path: dir.clone(),
                        reason: format!(
                            "the model directory has neither {SAFETENSORS} nor {PYTORCH_BIN}"
                        ),
                    })
                }
                (RepoSpec::Hub { .. }, None) => match spec.get(hub, PYTORCH_BIN) {
                    Ok(p) => p,
                    // Offline with neither cached: name both files.
                    Err(ModelError::Offline {
                        repo,
                        revision,
                        cache,
                        why,
                        ..
                    }) => {
                        return Err(ModelError::Offline {
                            repo,
                            revision,
                            file: format!("{SAFETENSORS} (or {PYTORCH_BIN})"),
                            cache,
                            why,
                        })
                    }
                    Err(e) => return Err(e),
                },
            },
        };
        Ok(ModelFiles {
            generation: optional_file(spec, hub, GENERATION_CONFIG)?,
            source_spm: spec.get(hub, SOURCE_SPM)?,
            target_spm: spec.get(hub, TARGET_SPM)?,
            vocab: spec.get(hub, VOCAB)?,
            tokenizer_config: optional_file(spec, hub, TOKENIZER_CONFIG)?,
            config,
            weights,
        })
    }
}

/// The device the model runs on: the first CUDA GPU when warta was built with the `cuda` feature and
/// one can be opened, else the CPU, with a warning saying why when the GPU was wanted but failed.
pub fn device() -> (Device, Option<String>) {
    if !candle_core::utils::cuda_is_available() {
        return (Device::Cpu, None);
    }
    match Device::new_cuda(0) {
        Ok(gpu) => (gpu, None),
        Err(e) => (
            Device::Cpu,
            Some(format!(
                "built with CUDA but no GPU could be opened ({e}); running on the CPU"
            )),
        ),
    }
}

/// Download whatever files of the model are not cached yet (`warta models --fetch`).
pub fn fetch_files(spec: &RepoSpec, hub: &Hub) -> Result<(), ModelError> {
    ModelFiles::locate(spec, hub).map(|_| ())
}

/// Open `path` as the Marian loader opens a checkpoint and read every tensor in it (for the fuzz
/// targets: errors are expected, panics and unbounded allocations are bugs).
#[doc(hidden)]
pub fn fuzz_checkpoint(path: &Path) {
    use model::WeightSource;
    let Ok(checkpoint) = Checkpoint::open(path) else {
        return;
    };
    let names = match &checkpoint {
        Checkpoint::Safetensors(_, names) => names.iter().cloned().collect(),
        Checkpoint::Pth(p) => p.names(),
        Checkpoint::LegacyPth(p) => p.names(),
    };
    for name in names {
        let _ = checkpoint.get(&name);
    }
}

/// Checkpoint tensors from `model.safetensors` (memory-mapped) or `pytorch_model.bin` (PyTorch's zip
/// format, or its pre-1.6 legacy format).
enum Checkpoint {
    Safetensors(candle_core::safetensors::MmapedSafetensors, HashSet<String>),
    Pth(pth_zip::PthZip),
    LegacyPth(legacy_pth::LegacyPth),
}

impl Checkpoint {
    fn open(path: &Path) -> Result<Checkpoint, MarianError> {
        let bad = |e: candle_core::Error| {
            MarianError::invalid(
                path,
                format!("cannot read the weights ({e}); the file is damaged or incomplete: download it again"),
            )
        };
        if path.extension().is_some_and(|e| e == "safetensors") {
            // SAFETY: the file is mapped read-only and only read while the model loads; like every
            // mmap-based loader this assumes nobody truncates the file during those few seconds.
            let st =
                unsafe { candle_core::safetensors::MmapedSafetensors::new(path) }.map_err(bad)?;
            let names = st.tensors().into_iter().map(|(n, _)| n).collect();
            Ok(Checkpoint::Safetensors(st, names))
        } else if legacy_pth::is_legacy(path) {
            Ok(Checkpoint::LegacyPth(
                legacy_pth::LegacyPth::open(path).map_err(bad)?,
            ))
        } else {
            Ok(Checkpoint::Pth(pth_zip::PthZip::open(path).map_err(bad)?))
        }
    }
}

impl model::WeightSource for Checkpoint {
    fn get(&self, name: &str) -> candle_core::Result<Option<Tensor>> {
        match self {
            Checkpoint::Safetensors(st, names) if names.contains(name) => {
                Ok(Some(st.load(name, &Device::Cpu)?))
            }
            Checkpoint::Safetensors(..) => Ok(None),
            Checkpoint::Pth(p) => p.get(name),
            Checkpoint::LegacyPth(p) => p.get(name),
        }
    }
}

impl MarianTranslator {
    /// Load the model `spec` names, fetching missing files through the Hub cache.
    pub fn load(
        spec: &RepoSpec,
        hub: &Hub,
        options: MarianOptions,
    ) -> Result<MarianTranslator, MarianError> {
        let files = ModelFiles::locate(spec, hub)?;
        let read_json = tokenizer::read_json::<serde_json::Value>;
        let config_json = read_json(&files.config)?;
        let config: MarianConfig = serde_json::from_value(config_json.clone()).map_err(|e| {
            MarianError::invalid(&files.config, format!("not a Marian config: {e}"))
        })?;
        config
            .validate()
            .map_err(|e| MarianError::invalid(&files.config, e))?;
        let generation_json = files.generation.as_deref().map(read_json).transpose()?;
        let generation = GenerationConfig::resolve(&config, &config_json, generation_json.as_ref())
            .map_err(|e| {
                let p = files.generation.as_ref().unwrap_or(&files.config);
                MarianError::invalid(p, e)
            })?;
        let tokenizer = MarianTokenizer::load(
            &files.source_spm,
            &files.target_spm,
            &files.vocab,
            files.tokenizer_config.as_deref(),
            || spec.get(hub, TARGET_VOCAB).map_err(MarianError::from),
        )?;
        if tokenizer.vocab_size() > config.vocab_size {
            return Err(MarianError::invalid(
                &files.vocab,
                format!(
                    "{} entries, more than the model's vocab_size {}",
                    tokenizer.vocab_size(),
                    config.vocab_size
                ),
            ));
        }
        let checkpoint = Checkpoint::open(&files.weights)?;
        let (device, device_warning) = device();
        let model = Marian::load(config, &checkpoint, &device, options.weight_type)
            .map_err(|e| MarianError::invalid(&files.weights, e.to_string()))?;
        let mut warnings: Vec<String> = device_warning.into_iter().collect();
        let (kept, linear) = model.kept_f32();
        if kept > 0 {
            warnings.push(format!(
                "{}: {kept} of {linear} linear layers stay f32 (--dtype {} needs input widths that \
                 are multiples of 32)",
                spec.id(),
                options.weight_type
            ));
        }
        if !generation.ignored.is_empty() {
            warnings.push(format!(
                "{}: generation settings warta does not apply: {}",
                spec.id(),
                generation.ignored.join(", ")
            ));
        }
        Ok(MarianTranslator {
            model,
            tokenizer,
            generation,
            options: MarianOptions {
                beams: options.beams.max(1),
                batch_size: options.batch_size.max(1),
                ..options
            },
            id: spec.id(),
            warnings,
        })
    }

    pub fn tokenizer(&self) -> &MarianTokenizer {
        &self.tokenizer
    }

    pub fn model(&self) -> &Marian {
        &self.model
    }

    pub fn generation(&self) -> &GenerationConfig {
        &self.generation
    }

    /// Generate target ids for already tokenized sources, as one batch (with the repetition guard
    /// unless the options turned it off).
    pub fn generate_ids(
        &self,
        sources: &[Vec<u32>],
        beams: usize,
    ) -> Result<Vec<Vec<u32>>, MarianError> {
        Ok(self
            .generate(sources, beams)?
            .into_iter()
            .map(|g| g.ids)
            .collect())
    }

    /// [`generate_ids`](Self::generate_ids), saying which outputs the repetition guard cut.
    pub fn generate(
        &self,
        sources: &[Vec<u32>],
        beams: usize,
    ) -> Result<Vec<search::Generated>, MarianError> {
        search::generate_guarded(
            &self.model,
            sources,
            &self.generation,
            beams,
            self.options.guard,
        )
        .map_err(|source| MarianError::Tensor {
            model: self.id.clone(),
            source: Box::new(source),
        })
    }

    /// The longest source (in tokens, `</s>` included) the model can take.
    pub fn max_source_tokens(&self) -> usize {
        self.model.config().max_position_embeddings
    }

    /// Translate `segments`: tokenize, split what is too long, deduplicate, batch by length, decode.
    fn translate_all(&mut self, segments: &[String]) -> Result<Vec<String>, MarianError> {
        let limit = self.max_source_tokens();
        // Each segment becomes one or more parts (more when it had to be split).
        let mut parts_of: Vec<Vec<usize>> = Vec::with_capacity(segments.len());
        let mut jobs: Vec<Vec<u32>> = Vec::new();
        let mut job_index: HashMap<Vec<u32>, usize> = HashMap::new();
        for (n, segment) in segments.iter().enumerate() {
            if segment.trim().is_empty() {
                parts_of.push(Vec::new());
                continue;
            }
            let ids = self.tokenizer.encode(segment);
            let pieces = if ids.len() <= limit {
                vec![ids]
            } else {
                let parts = split_to_fit(segment, limit, &|t| self.tokenizer.encode(t).len());
                self.warnings.push(format!(
                    "segment {} is {} tokens long, more than the model's limit of {limit}; translated in \
                     {} parts split at clause boundaries",
                    n + 1,
                    ids.len(),
                    parts.len()
                ));
                parts.iter().map(|p| self.tokenizer.encode(p)).collect()
            };
            let mut idx = Vec::new();
            for p in pieces {
                if p.len() <= 1 {
                    continue; // nothing but </s>: nothing to translate
                }
                let next = jobs.len();
                let j = *job_index.entry(p.clone()).or_insert(next);
                if j == next {
                    jobs.push(p);
                }
                idx.push(j);
            }
            parts_of.push(idx);
        }
        // Longest first, so padding within a batch is small and memory peaks early.
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        order.sort_by_key(|&j| std::cmp::Reverse(jobs[j].len()));
        let mut outputs: Vec<String> = vec![String::new(); jobs.len()];
        let max_len = self
            .generation
            .max_length
            .min(self.model.config().max_position_embeddings);
        let mut at_limit = 0;
        let mut looped = vec![false; jobs.len()];
        for chunk in order.chunks(self.options.batch_size) {
            let batch: Vec<Vec<u32>> = chunk.iter().map(|&j| jobs[j].clone()).collect();
            let out = self.generate(&batch, self.options.beams)?;
            for (&j, g) in chunk.iter().zip(out) {
                at_limit += usize::from(g.ids.len() >= max_len);
                looped[j] = g.loop_cut;
                outputs[j] = self.tokenizer.decode(&g.ids);
            }
        }
        for (n, idx) in parts_of.iter().enumerate() {
            if idx.iter().any(|&j| looped[j]) {
                self.warnings.push(format!(
                    "segment {}: the translation started repeating itself and was stopped at the \
                     repeat (--no-guard turns this off)",
                    n + 1
                ));
            }
        }
        if at_limit > 0 {
            self.warnings.push(format!(
                "{at_limit} translation(s) reached the model's output limit of {max_len} tokens and may \
                 be cut short"
            ));
        }
        Ok(parts_of
            .into_iter()
            .map(|idx| {
                idx.iter()
                    .map(|&j| outputs[j].as_str())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect())
    }
}

impl Translator for MarianTranslator {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            translator: "marian".into(),
            model: self.id.clone(),
        }
    }

    fn translate_segments(&mut self, segments: &[String]) -> Result<Vec<String>, TranslateError> {
        Ok(self.translate_all(segments)?)
    }

    fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }
}

/// Split `text` into parts of at most `limit` tokens (as `count` measures them), cutting at the
/// strongest boundary nearest the middle: sentence punctuation, then `;`/`:`, then commas and dashes,
/// then spaces, and only as a last resort inside a word.
pub fn split_to_fit(text: &str, limit: usize, count: &dyn Fn(&str) -> usize) -> Vec<String> {
    let text = text.trim();
    if text.is_empty() {
        return Vec::new();
    }
    if count(text) <= limit {
        return vec![text.to_string()];
    }
    const BOUNDARIES: &[&[&str]] = &[
        &[". ", "! ", "? ", "\u{2026} "],
        &["; ", ": "],
        &[", ", " \u{2014} ", " \u{2013} ", " - ", "\u{2014}"],
        &[" "],
    ];
    let middle = text.len() / 2;
    let cut = BOUNDARIES.iter().find_map(|seps| {
        seps.iter()
            .flat_map(|sep| text.match_indices(sep).map(move |(i, s)| i + s.len()))
            .filter(|&i| i > 0 && i < text.len())
            .min_by_key(|&i| i.abs_diff(middle))
    });
    let cut = cut.unwrap_or_else(|| {
        // One enormous word: cut at the character boundary nearest the middle.
        (middle..text.len())
            .find(|&i| text.is_char_boundary(i))
            .filter(|&i| i > 0 && i < text.len())
            .unwrap_or(text.len())
    });
    if cut >= text.len() {
        return vec![text.to_string()]; // a single character: cannot be split further
    }
    let (a, b) = text.split_at(cut);
    let mut parts = split_to_fit(a, limit, count);
    parts.extend(split_to_fit(b, limit, count));
    parts
}

/// Deterministic values in [-1, 1) for the kernels' tests.
#[cfg(test)]
fn test_values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> usize {
        s.split_whitespace().count() + 1
    }

    #[test]
    fn splits_at_the_strongest_boundary_first() {
        let text = "Satu dua tiga, empat lima enam. Tujuh delapan, sembilan sepuluh.";
        let parts = split_to_fit(text, 7, &words);
        assert_eq!(
            parts,
            [
                "Satu dua tiga, empat lima enam.",
                "Tujuh delapan, sembilan sepuluh."
            ]
        );
        let parts = split_to_fit(text, 4, &words);
        assert!(parts.iter().all(|p| words(p) <= 4), "{parts:?}");
        assert_eq!(parts.join(" "), text);
    }

    #[test]
    fn a_giant_word_is_still_split() {
        let word = "x".repeat(100);
        let parts = split_to_fit(&word, 10, &|s: &str| s.len() / 10 + 1);
        assert!(parts.iter().all(|p| p.len() / 10 < 10), "{parts:?}");
        assert_eq!(parts.concat(), word);
    }
}
