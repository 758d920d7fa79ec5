//! Qwen2 family (Qwen2, Qwen2.5 and Qwen2.5-Coder): biases on q/k/v, NeoX RoPE.

use super::decoder::{Hyper, RopeStyle};
use super::family::{common_hyper, Family};
use super::gguf::Gguf;
use super::LlmError;

pub struct Qwen2;

impl Family for Qwen2 {
    fn architectures(&self) -> &'static [&'static str] {
        &["qwen2"]
    }

    fn hyper(&self, g: &Gguf, arch: &str) -> Result<Hyper, LlmError> {
        Ok(Hyper {
            rope_style: RopeStyle::Neox,
            qkv_bias: true,
            ..common_hyper(g, arch)?
        })
    }
}
