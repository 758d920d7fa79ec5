//! Qwen3 family: no q/k/v biases but per-head RMS norms on queries and keys, NeoX RoPE, and a head
//! size given explicitly (`attention.key_length`, not hidden / heads).

use super::decoder::{Hyper, RopeStyle};
use super::family::{common_hyper, Family};
use super::gguf::Gguf;
use super::LlmError;

pub struct Qwen3;

impl Family for Qwen3 {
    fn architectures(&self) -> &'static [&'static str] {
        &["qwen3"]
    }

    fn hyper(&self, g: &Gguf, arch: &str) -> Result<Hyper, LlmError> {
        Ok(Hyper {
            rope_style: RopeStyle::Neox,
            qk_norm: true,
            ..common_hyper(g, arch)?
        })
    }
}
