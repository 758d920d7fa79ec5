//! Model families: each reads its hyper-parameters from the GGUF metadata (`{arch}.*` keys) into the
//! shared [`Hyper`]; supporting a new family is one new file implementing [`Family`] plus one line in
//! [`FAMILIES`].

use super::decoder::{Activation, Hyper, RopeStyle};
use super::gguf::Gguf;
use super::LlmError;

/// One architecture family.
pub trait Family: Sync {
    /// The `general.architecture` values it handles.
    fn architectures(&self) -> &'static [&'static str];
    /// Hyper-parameters of the model in `g`, whose architecture is `arch`.
    fn hyper(&self, g: &Gguf, arch: &str) -> Result<Hyper, LlmError>;
}

/// Every supported family.
pub const FAMILIES: &[&dyn Family] = &[
    &super::llama::Llama,
    &super::qwen2::Qwen2,
    &super::qwen3::Qwen3,
    &super::gemma3::Gemma3,
];

/// The family of architecture `arch`, or an error that lists the supported ones.
pub fn find(arch: &str, model: &str) -> Result<&'static dyn Family, LlmError> {
    FAMILIES
        .iter()
        .copied()
        .find(|f| f.architectures().contains(&arch))
        .ok_or_else(|| LlmError::UnsupportedArchitecture {
            model: model.to_string(),
            architecture: arch.to_string(),
            supported: FAMILIES
                .iter()
                .flat_map(|f| f.architectures().iter().copied())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The hyper-parameters every family stores the same way, with Llama's defaults for the rest
/// (interleaved RoPE, SiLU, no biases or extra norms); families override what differs.
pub fn common_hyper(g: &Gguf, arch: &str) -> Result<Hyper, LlmError> {
    let key = |k: &str| format!("{arch}.{k}");
    let n_head = g.usize(&key("attention.head_count"))?;
    let hidden = g.usize(&key("embedding_length"))?;
    let n_kv_head = if g.has(&key("attention.head_count_kv")) {
        g.usize(&key("attention.head_count_kv"))?
    } else {
        n_head
    };
    let head_dim = if g.has(&key("attention.key_length")) {
        g.usize(&key("attention.key_length"))?
    } else {
        hidden / n_head.max(1)
    };
    if n_head == 0 || n_kv_head == 0 || n_head % n_kv_head != 0 || head_dim % 2 != 0 {
        return Err(LlmError::Corrupt {
            path: g.path().to_path_buf(),
            reason: format!(
                "inconsistent attention shape: {n_head} heads, {n_kv_head} KV heads, head size \
                 {head_dim}"
            ),
        });
    }
    // Sizes warta allocates from before any tensor is read: bounded, since nothing in the file backs
    // them (the tensors then have to match).
    let n_layer = g.usize(&key("block_count"))?;
    if n_layer > 4096 || head_dim > 1 << 16 || n_head > 1 << 16 {
        return Err(LlmError::Corrupt {
            path: g.path().to_path_buf(),
            reason: format!(
                "implausible model shape: {n_layer} layers, {n_head} heads, head size {head_dim}"
            ),
        });
    }
    let rope_base = if g.has(&key("rope.freq_base")) {
        g.f32(&key("rope.freq_base"))?
    } else {
        10_000.0
    };
    Ok(Hyper {
        n_layer,
        n_head,
        n_kv_head,
        head_dim,
        hidden,
        context_length: g.usize(&key("context_length"))?,
        rms_eps: f64::from(g.f32(&key("attention.layer_norm_rms_epsilon"))?),
        rope_base,
        rope_scale: 1.0,
        rope_style: RopeStyle::Interleaved,
        qkv_bias: false,
        qk_norm: false,
        activation: Activation::Silu,
        embed_scale: None,
        post_norms: false,
        attn_scale: 1.0 / (head_dim as f64).sqrt(),
        sliding: None,
    })
}

/// Each family against candle-transformers' own implementation of it, on tiny random models written
/// as GGUF files: same logits after a prefill and after a cached decoding step.
#[cfg(test)]
mod tests {
    use std::path::Path;

    use candle_core::quantized::gguf_file::{self, Value};
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};
    use candle_transformers::models as ct;

    use super::*;
    use crate::llm::decoder::{Decoder, WeightOptions};

    const HIDDEN: usize = 64;
    const HEADS: usize = 4;
    const KV_HEADS: usize = 2;
    const HEAD_DIM: usize = 16;
    const FFN: usize = 96;
    const VOCAB: usize = 80;

    /// Deterministic pseudo-random weights.
    fn weights(shape: &[usize], seed: usize, scale: f32) -> QTensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|i| {
                let x = ((i + 1) * 2654435761 + seed * 40503) % 10007;
                (x as f32 / 10007.0 - 0.5) * scale
            })
            .collect();
        let t = Tensor::from_vec(v, shape, &Device::Cpu).unwrap();
        QTensor::quantize(&t, GgmlDType::F32).unwrap()
    }

    fn norm_weights(seed: usize) -> QTensor {
        let v: Vec<f32> = (0..HIDDEN)
            .map(|i| 1.0 + ((i * 7 + seed) % 5) as f32 * 0.05)
            .collect();
        QTensor::quantize(&Tensor::new(v, &Device::Cpu).unwrap(), GgmlDType::F32).unwrap()
    }

    /// Write a tiny model of `arch` and return its path.
    fn write_model(dir: &Path, arch: &str, layers: usize) -> std::path::PathBuf {
        let k = |s: &str| format!("{arch}.{s}");
        let mut md: Vec<(String, Value)> = vec![
            ("general.architecture".into(), Value::String(arch.into())),
            (k("block_count"), Value::U32(layers as u32)),
            (k("context_length"), Value::U32(256)),
            (k("embedding_length"), Value::U32(HIDDEN as u32)),
            (k("feed_forward_length"), Value::U32(FFN as u32)),
            (k("attention.head_count"), Value::U32(HEADS as u32)),
            (k("attention.head_count_kv"), Value::U32(KV_HEADS as u32)),
            (k("attention.key_length"), Value::U32(HEAD_DIM as u32)),
            (k("attention.value_length"), Value::U32(HEAD_DIM as u32)),
            (k("attention.layer_norm_rms_epsilon"), Value::F32(1e-6)),
            (k("rope.freq_base"), Value::F32(10_000.0)),
            (k("rope.dimension_count"), Value::U32(HEAD_DIM as u32)),
        ];
        if arch == "gemma3" {
            md.push((k("attention.sliding_window"), Value::U32(64)));
        }
        let mut ts: Vec<(String, QTensor)> = vec![
            (
                "token_embd.weight".into(),
                weights(&[VOCAB, HIDDEN], 1, 1.0),
            ),
            ("output_norm.weight".into(), norm_weights(2)),
            ("output.weight".into(), weights(&[VOCAB, HIDDEN], 3, 0.5)),
        ];
        let q_dim = HEADS * HEAD_DIM;
        let kv_dim = KV_HEADS * HEAD_DIM;
        for l in 0..layers {
            let p = |s: &str| format!("blk.{l}.{s}");
            let s = 10 + 20 * l;
            ts.push((p("attn_norm.weight"), norm_weights(s)));
            ts.push((p("attn_q.weight"), weights(&[q_dim, HIDDEN], s + 1, 0.6)));
            ts.push((p("attn_k.weight"), weights(&[kv_dim, HIDDEN], s + 2, 0.6)));
            ts.push((p("attn_v.weight"), weights(&[kv_dim, HIDDEN], s + 3, 0.6)));
            ts.push((
                p("attn_output.weight"),
                weights(&[HIDDEN, q_dim], s + 4, 0.4),
            ));
            ts.push((p("ffn_norm.weight"), norm_weights(s + 5)));
            ts.push((p("ffn_gate.weight"), weights(&[FFN, HIDDEN], s + 6, 0.4)));
            ts.push((p("ffn_up.weight"), weights(&[FFN, HIDDEN], s + 7, 0.4)));
            ts.push((p("ffn_down.weight"), weights(&[HIDDEN, FFN], s + 8, 0.4)));
            if arch == "qwen2" {
                ts.push((p("attn_q.bias"), weights(&[q_dim], s + 9, 0.2)));
                ts.push((p("attn_k.bias"), weights(&[kv_dim], s + 10, 0.2)));
                ts.push((p("attn_v.bias"), weights(&[kv_dim], s + 11, 0.2)));
            }
            if arch == "qwen3" || arch == "gemma3" {
                let n = |seed| {
                    let v: Vec<f32> = (0..HEAD_DIM)
                        .map(|i| 0.9 + ((i + seed) % 3) as f32 * 0.1)
                        .collect();
                    QTensor::quantize(&Tensor::new(v, &Device::Cpu).unwrap(), GgmlDType::F32)
                        .unwrap()
                };
                ts.push((p("attn_q_norm.weight"), n(s + 12)));
                ts.push((p("attn_k_norm.weight"), n(s + 13)));
            }
            if arch == "gemma3" {
                ts.push((p("post_attention_norm.weight"), norm_weights(s + 14)));
                ts.push((p("post_ffw_norm.weight"), norm_weights(s + 15)));
            }
        }
        let path = dir.join(format!("{arch}.gguf"));
        let mut f = std::fs::File::create(&path).unwrap();
        let md_refs: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let ts_refs: Vec<(&str, &QTensor)> = ts.iter().map(|(k, v)| (k.as_str(), v)).collect();
        gguf_file::write(&mut f, &md_refs, &ts_refs).unwrap();
        path
    }

    /// Logits of ours and candle's after a 9-token prefill and after one more cached token.
    fn compare(arch: &str, layers: usize) {
        let tmp = tempfile::tempdir().unwrap();
        let path = write_model(tmp.path(), arch, layers);
        let prompt: Vec<u32> = vec![3, 17, 42, 5, 66, 23, 8, 79, 11];
        let next = 31u32;

        let g = Gguf::open(&path).unwrap();
        let mut hp = find(arch, "test").unwrap().hyper(&g, arch).unwrap();
        if arch == "gemma3" {
            // candle's quantized_gemma3 uses SiLU where Gemma uses GELU (tanh), and masks one token
            // more than HF and llama.cpp; the window (64) is longer than the test sequence.
            hp.activation = crate::llm::decoder::Activation::Silu;
        }
        let mut ours = Decoder::load(hp, &g, WeightOptions::default()).unwrap();
        let a1 = ours.forward(&prompt).unwrap();
        let a2 = ours.forward(&[next]).unwrap();

        let mut file = std::fs::File::open(&path).unwrap();
        let content = gguf_file::Content::read(&mut file).unwrap();
        let dev = Device::Cpu;
        let input = Tensor::new(prompt.as_slice(), &dev)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let step = Tensor::new(&[next], &dev).unwrap().unsqueeze(0).unwrap();
        let (b1, b2) = match arch {
            "llama" => {
                let mut m =
                    ct::quantized_llama::ModelWeights::from_gguf(content, &mut file, &dev).unwrap();
                (
                    m.forward(&input, 0).unwrap(),
                    m.forward(&step, prompt.len()).unwrap(),
                )
            }
            "qwen2" => {
                let mut m =
                    ct::quantized_qwen2::ModelWeights::from_gguf(content, &mut file, &dev).unwrap();
                (
                    m.forward(&input, 0).unwrap(),
                    m.forward(&step, prompt.len()).unwrap(),
                )
            }
            "qwen3" => {
                let mut m =
                    ct::quantized_qwen3::ModelWeights::from_gguf(content, &mut file, &dev).unwrap();
                (
                    m.forward(&input, 0).unwrap(),
                    m.forward(&step, prompt.len()).unwrap(),
                )
            }
            "gemma3" => {
                let mut m = ct::quantized_gemma3::ModelWeights::from_gguf(content, &mut file, &dev)
                    .unwrap();
                (
                    m.forward(&input, 0).unwrap(),
                    m.forward(&step, prompt.len()).unwrap(),
                )
            }
            _ => unreachable!(),
        };
        for (ours, theirs, what) in [(a1, b1, "prefill"), (a2, b2, "decode")] {
            let ours = ours.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let theirs = theirs.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(ours.len(), VOCAB, "{arch} {what}");
            let scale = theirs.iter().fold(0f32, |m, x| m.max(x.abs()));
            let diff = ours
                .iter()
                .zip(&theirs)
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(scale > 0.1, "{arch} {what}: degenerate logits");
            assert!(
                diff <= 1e-3 * scale.max(1.0),
                "{arch} {what}: max diff {diff} (scale {scale})"
            );
        }
    }

    #[test]
    fn llama_matches_candle() {
        compare("llama", 2);
    }

    #[test]
    fn qwen2_matches_candle() {
        compare("qwen2", 2);
    }

    #[test]
    fn qwen3_matches_candle() {
        compare("qwen3", 2);
    }

    /// Six layers: five sliding-window layers and one global, each with its own RoPE.
    #[test]
    fn gemma3_matches_candle() {
        compare("gemma3", 6);
    }

    /// Decoding one position at a time (the plain step, `attention`) gives the logits of the
    /// batched path over the same tokens, for every family; Gemma's window is shortened to 4 so
    /// that its local layers drop early positions in both.
    fn steps_match_batched(arch: &str, layers: usize) {
        let tmp = tempfile::tempdir().unwrap();
        let path = write_model(tmp.path(), arch, layers);
        let tokens: Vec<u32> = vec![3, 17, 42, 5, 66, 23, 8, 79, 11, 31, 2, 54];
        let load = || {
            let g = Gguf::open(&path).unwrap();
            let mut hp = find(arch, "test").unwrap().hyper(&g, arch).unwrap();
            if let Some(s) = &mut hp.sliding {
                s.window = 4;
            }
            Decoder::load(hp, &g, WeightOptions::default()).unwrap()
        };
        let (mut stepped, mut batched) = (load(), load());
        let mut last = stepped.forward(&tokens[..3]).unwrap();
        for &t in &tokens[3..] {
            last = stepped.forward(&[t]).unwrap();
        }
        let want = batched.forward(&tokens).unwrap();
        assert_eq!(stepped.position(), batched.position());
        let ours = last.to_vec1::<f32>().unwrap();
        let theirs = want.to_vec1::<f32>().unwrap();
        let scale = theirs.iter().fold(0f32, |m, x| m.max(x.abs()));
        let diff = ours
            .iter()
            .zip(&theirs)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(scale > 0.1, "{arch}: degenerate logits");
        assert!(
            diff <= 1e-4 * scale.max(1.0),
            "{arch}: max diff {diff} (scale {scale})"
        );
        // After truncating back into the prompt, steps continue as a fresh run would.
        stepped.truncate(5);
        let mut again = None;
        for &t in &tokens[5..] {
            again = Some(stepped.forward(&[t]).unwrap());
        }
        let again = again.unwrap().to_vec1::<f32>().unwrap();
        let diff = again
            .iter()
            .zip(&theirs)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            diff <= 1e-4 * scale.max(1.0),
            "{arch} after truncate: max diff {diff}"
        );
    }

    #[test]
    fn decoding_steps_match_the_batched_path() {
        for (arch, layers) in [("llama", 2), ("qwen2", 2), ("qwen3", 2), ("gemma3", 6)] {
            steps_match_batched(arch, layers);
        }
    }

    #[test]
    fn unsupported_architecture_lists_the_supported_ones() {
        let err = find("falcon", "m.gguf").err().unwrap().to_string();
        assert!(err.contains("falcon") && err.contains("m.gguf"), "{err}");
        for arch in ["llama", "qwen2", "qwen3", "gemma3"] {
            assert!(err.contains(arch), "{err}");
        }
    }
}
