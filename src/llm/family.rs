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
    let rope_base = if g.has(&key("rope.freq_base")) {
        g.f32(&key("rope.freq_base"))?
    } else {
        10_000.0
    };
    Ok(Hyper {
        n_layer: g.usize(&key("block_count"))?,
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
