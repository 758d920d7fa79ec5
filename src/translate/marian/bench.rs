//! `warta bench --engine marian`: decoding speed of a model of the real opus-mt-id-en shape (random
//! weights, so no download), in the setting of the published anchors (`../shared/docs/anchors.md`):
//! 32 source tokens → 40 target tokens with no early `</s>`, target tokens per second for batch 1, 8
//! and 32 greedy and batch 8 with 4 beams.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use serde::Serialize;

use super::config::{EarlyStopping, GenerationConfig, MarianConfig, TokenIds};
use super::model::{Marian, WeightType};
use super::search;

/// `config.json` of Helsinki-NLP/opus-mt-id-en (vocabulary 54,796; pad/decoder start 54,795).
pub fn opus_mt_id_en_config() -> MarianConfig {
    MarianConfig {
        vocab_size: 54796,
        decoder_vocab_size: Some(54796),
        max_position_embeddings: 512,
        encoder_layers: 6,
        encoder_ffn_dim: 2048,
        encoder_attention_heads: 8,
        decoder_layers: 6,
        decoder_ffn_dim: 2048,
        decoder_attention_heads: 8,
        activation_function: "swish".into(),
        d_model: 512,
        decoder_start_token_id: 54795,
        scale_embedding: true,
        pad_token_id: Some(54795),
        eos_token_id: Some(TokenIds::One(0)),
        forced_eos_token_id: Some(TokenIds::One(0)),
        share_encoder_decoder_embeddings: true,
        tie_word_embeddings: true,
    }
}

/// One measured setting.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    pub batch: usize,
    pub beams: usize,
    pub target_tokens: usize,
    /// Median of the timed runs.
    pub seconds: f64,
    pub tokens_per_s: f64,
}

/// Where the time of one greedy run goes (milliseconds per decoder step, encoder once).
#[derive(Debug, Clone, Serialize)]
pub struct Breakdown {
    pub batch: usize,
    pub encoder_ms: f64,
    pub decoder_layers_ms_per_step: f64,
    pub output_layer_ms_per_step: f64,
    pub search_ms_per_step: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub model: String,
    /// `--dtype`: the type of the linear layers.
    pub weights: String,
    /// `CPU`, or `CUDA GPU 0` with the `cuda` feature.
    pub device: String,
    /// Building the model from tensors in memory (conversion/quantisation included).
    pub load_s: f64,
    pub source_tokens: usize,
    pub target_tokens: usize,
    pub threads: usize,
    pub cpu: String,
    pub load_average: String,
    pub runs: usize,
    pub rows: Vec<BenchRow>,
    pub breakdown: Vec<Breakdown>,
}

const SOURCE_TOKENS: usize = 32;
const TARGET_TOKENS: usize = 40;

/// Adds one named tensor (`true`: ones, for layer-norm weights; else small random values).
type Put<'a> = dyn FnMut(String, &[usize], bool) -> candle_core::Result<()> + 'a;

/// Random weights in the layout of a `MarianMTModel` checkpoint.
fn random_weights(c: &MarianConfig, dev: &Device) -> candle_core::Result<HashMap<String, Tensor>> {
    let mut w = HashMap::new();
    let d = c.d_model;
    let mut put = |name: String, shape: &[usize], ones: bool| -> candle_core::Result<()> {
        let t = if ones {
            Tensor::ones(shape, DType::F32, dev)?
        } else {
            Tensor::randn(0f32, 0.05, shape, dev)?
        };
        w.insert(name, t);
        Ok(())
    };
    put("model.shared.weight".into(), &[c.vocab_size, d], false)?;
    let attn = |p: &str, put: &mut Put| {
        for n in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            put(format!("{p}.{n}.weight"), &[d, d], false)?;
            put(format!("{p}.{n}.bias"), &[d], false)?;
        }
        Ok::<(), candle_core::Error>(())
    };
    for (side, layers, ffn) in [
        ("encoder", c.encoder_layers, c.encoder_ffn_dim),
        ("decoder", c.decoder_layers, c.decoder_ffn_dim),
    ] {
        for i in 0..layers {
            let p = format!("model.{side}.layers.{i}");
            attn(&format!("{p}.self_attn"), &mut put)?;
            let mut norms = vec!["self_attn_layer_norm", "final_layer_norm"];
            if side == "decoder" {
                attn(&format!("{p}.encoder_attn"), &mut put)?;
                norms.push("encoder_attn_layer_norm");
            }
            for n in norms {
                put(format!("{p}.{n}.weight"), &[d], true)?;
                put(format!("{p}.{n}.bias"), &[d], false)?;
            }
            put(format!("{p}.fc1.weight"), &[ffn, d], false)?;
            put(format!("{p}.fc1.bias"), &[ffn], false)?;
            put(format!("{p}.fc2.weight"), &[d, ffn], false)?;
            put(format!("{p}.fc2.bias"), &[d], false)?;
        }
    }
    Ok(w)
}

/// The weights of a model directory of the opus-mt-id-en shape (`config.json`, `model.safetensors`),
/// e.g. the random model `scripts/bench-marian-peers.py` saves so that warta and its peers run the
/// very same weights.
fn dir_weights(dir: &Path) -> candle_core::Result<HashMap<String, Tensor>> {
    let config = dir.join(super::CONFIG);
    let text = std::fs::read_to_string(&config)
        .map_err(|e| candle_core::Error::msg(format!("{}: {e}", config.display())))?;
    let c: MarianConfig = serde_json::from_str(&text)
        .map_err(|e| candle_core::Error::msg(format!("{}: {e}", config.display())))?;
    let want = opus_mt_id_en_config();
    let same = (c.vocab_size, c.d_model, c.encoder_layers, c.decoder_layers, c.encoder_ffn_dim)
        == (want.vocab_size, want.d_model, want.encoder_layers, want.decoder_layers, want.encoder_ffn_dim);
    if !same {
        candle_core::bail!(
            "{}: the benchmark needs the opus-mt-id-en shape (vocab 54796, d_model 512, 6+6 layers, FFN 2048)",
            config.display()
        );
    }
    candle_core::safetensors::load(dir.join(super::SAFETENSORS), &Device::Cpu)
}

/// Run the benchmark: `runs` timed repetitions per setting after one warm-up, linear layers in
/// `weight_type`; random weights, or those of `model_dir` (a local model of the same shape).
pub fn run(
    runs: usize,
    weight_type: WeightType,
    model_dir: Option<&Path>,
    mut progress: impl FnMut(&str),
) -> candle_core::Result<BenchReport> {
    let runs = runs.max(1);
    // Read before the runs: it says how busy the machine was before we added to it.
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let (dev, device_warning) = super::device();
    if let Some(w) = &device_warning {
        progress(w);
    }
    let config = opus_mt_id_en_config();
    let weights = match model_dir {
        Some(dir) => dir_weights(dir)?,
        None => random_weights(&config, &dev)?,
    };
    let load_started = Instant::now();
    let model = Marian::load(config.clone(), &weights, &dev, weight_type)?;
    let load_s = load_started.elapsed().as_secs_f64();
    drop(weights);
    // </s> may not come before the 40th target token, and comes exactly there.
    let gen = GenerationConfig {
        num_beams: 1,
        max_length: TARGET_TOKENS + 1,
        min_length: TARGET_TOKENS,
        length_penalty: 1.0,
        early_stopping: EarlyStopping::No,
        bad_words_ids: vec![vec![54795]],
        forced_eos_token_id: Some(0),
        renormalize_logits: false,
        decoder_start_token_id: 54795,
        eos_token_ids: vec![0],
        pad_token_id: 54795,
        ignored: Vec::new(),
    };
    let source = |seed: usize| -> Vec<u32> {
        let mut ids: Vec<u32> = (0..SOURCE_TOKENS - 1)
            .map(|i| (((seed * 7919 + i * 104_729) % 54_000) + 10) as u32)
            .collect();
        ids.push(0);
        ids
    };
    let mut rows = Vec::new();
    for (batch, beams) in [(1, 1), (8, 1), (32, 1), (8, 4)] {
        progress(&format!("batch {batch}, beams {beams}"));
        let sources: Vec<Vec<u32>> = (0..batch).map(source).collect();
        let mut times = Vec::new();
        for run in 0..=runs {
            let t0 = Instant::now();
            let out = search::generate(&model, &sources, &gen, beams)?;
            let elapsed = t0.elapsed().as_secs_f64();
            let produced: usize = out.iter().map(|o| o.len() - 1).sum();
            if produced != batch * TARGET_TOKENS {
                candle_core::bail!(
                    "expected {} target tokens, got {produced}",
                    batch * TARGET_TOKENS
                );
            }
            if run > 0 {
                times.push(elapsed);
            }
        }
        times.sort_by(f64::total_cmp);
        let seconds = times[times.len() / 2];
        let target_tokens = batch * TARGET_TOKENS;
        rows.push(BenchRow {
            batch,
            beams,
            target_tokens,
            seconds,
            tokens_per_s: target_tokens as f64 / seconds,
        });
    }
    let mut breakdown = Vec::new();
    for batch in [1, 32] {
        progress(&format!("breakdown, batch {batch}"));
        let sources: Vec<Vec<u32>> = (0..batch).map(source).collect();
        breakdown.push(profile(&model, &sources)?);
    }
    Ok(BenchReport {
        model: format!(
            "opus-mt-id-en shape (d_model 512, 6+6 layers, 8 heads, FFN 2048, vocab 54796), {}",
            match model_dir {
                Some(d) => format!("weights of {}", d.display()),
                None => "random weights".into(),
            }
        ),
        weights: weight_type.to_string(),
        device: if dev.is_cuda() { "CUDA GPU 0" } else { "CPU" }.into(),
        load_s,
        source_tokens: SOURCE_TOKENS,
        target_tokens: TARGET_TOKENS,
        threads: candle_core::utils::get_num_threads(),
        cpu: cpu_model(),
        load_average,
        runs,
        rows,
        breakdown,
    })
}

/// Time the parts of a forced 40-token greedy run separately.
fn profile(model: &Marian, sources: &[Vec<u32>]) -> candle_core::Result<Breakdown> {
    use super::model::DecoderCache;
    let t0 = Instant::now();
    let enc = model.encode(sources)?;
    let encoder_ms = t0.elapsed().as_secs_f64() * 1e3;
    let mut cache = DecoderCache::default();
    let mut tokens = vec![54795u32; sources.len()];
    let (mut layers, mut output, mut search) = (0.0, 0.0, 0.0);
    for _ in 0..TARGET_TOKENS {
        let t = Instant::now();
        let hidden = model.decode_hidden(&tokens, &enc, &mut cache)?;
        let t_layers = t.elapsed().as_secs_f64();
        let logits = model.logits(&hidden)?;
        let t_output = t.elapsed().as_secs_f64();
        let flat = logits.flatten_all()?.to_vec1::<f32>()?;
        let vocab = flat.len() / tokens.len();
        for (r, tok) in tokens.iter_mut().enumerate() {
            let row = &flat[r * vocab..(r + 1) * vocab];
            // Best token other than </s> and pad, as the forced run picks.
            *tok = (1..vocab - 1)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a)))
                .unwrap_or(1) as u32;
        }
        layers += t_layers;
        output += t_output - t_layers;
        search += t.elapsed().as_secs_f64() - t_output;
    }
    let per_step = 1e3 / TARGET_TOKENS as f64;
    Ok(Breakdown {
        batch: sources.len(),
        encoder_ms,
        decoder_layers_ms_per_step: layers * per_step,
        output_layer_ms_per_step: output * per_step,
        search_ms_per_step: search * per_step,
    })
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

impl BenchReport {
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "Marian: {}\nlinear layers {} (built in {:.2} s) on the {}, {} source -> {} target tokens (forced), {} threads, {}\nload average before: {}\n\n",
            self.model, self.weights, self.load_s, self.device, self.source_tokens, self.target_tokens, self.threads, self.cpu, self.load_average
        );
        s.push_str("batch  beams  target tok/s  seconds (median of runs)\n");
        for r in &self.rows {
            s.push_str(&format!(
                "{:>5}  {:>5}  {:>12.1}  {:.3} ({} runs)\n",
                r.batch, r.beams, r.tokens_per_s, r.seconds, self.runs
            ));
        }
        s.push_str("\ngreedy breakdown: batch  encoder ms  decoder layers ms/step  output layer ms/step  search ms/step\n");
        for b in &self.breakdown {
            s.push_str(&format!(
                "                  {:>5}  {:>10.1}  {:>22.2}  {:>20.2}  {:>14.2}\n",
                b.batch,
                b.encoder_ms,
                b.decoder_layers_ms_per_step,
                b.output_layer_ms_per_step,
                b.search_ms_per_step
            ));
        }
        s
    }
}
