//! Gemma 3 family: scaled embeddings, GELU, norms before and after attention and MLP, per-head q/k
//! norms, and five sliding-window (local) layers for every global one, each kind with its own RoPE.
//!
//! GGUF Gemma norms already include the `1 +` of Gemma's RMSNorm (llama.cpp's converter adds it).

use super::decoder::{Activation, Hyper, RopeStyle, SlidingWindow};
use super::family::{common_hyper, Family};
use super::gguf::Gguf;
use super::LlmError;

pub struct Gemma3;

/// One global layer in six (Gemma 3 technical report; llama.cpp hard-codes it too).
const SLIDING_PATTERN: usize = 6;
/// RoPE base of the local layers (llama.cpp: `rope_freq_base_train_swa`).
const LOCAL_ROPE_BASE: f32 = 10_000.0;

impl Family for Gemma3 {
    fn architectures(&self) -> &'static [&'static str] {
        &["gemma3"]
    }

    fn hyper(&self, g: &Gguf, arch: &str) -> Result<Hyper, LlmError> {
        let base = common_hyper(g, arch)?;
        let key = |k: &str| format!("{arch}.{k}");
        let window = g.usize(&key("attention.sliding_window"))?;
        let rope_scale = if g.has(&key("rope.scaling.factor")) {
            g.f32(&key("rope.scaling.factor"))?
        } else {
            1.0
        };
        // 27B scales queries by hidden / heads instead of the head size (as llama.cpp does).
        let query_scalar = if base.n_layer == 62 {
            base.hidden / base.n_head
        } else {
            base.head_dim
        };
        Ok(Hyper {
            rope_style: RopeStyle::Neox,
            rope_scale: if rope_scale > 0.0 { rope_scale } else { 1.0 },
            qk_norm: true,
            activation: Activation::GeluTanh,
            embed_scale: Some((base.hidden as f64).sqrt()),
            post_norms: true,
            attn_scale: 1.0 / (query_scalar as f64).sqrt(),
            sliding: Some(SlidingWindow {
                window,
                pattern: SLIDING_PATTERN,
                local_rope_base: LOCAL_ROPE_BASE,
            }),
            ..base
        })
    }
}
