//! Llama family: Llama 3.x and models built on its architecture (SmolLM2).

use super::decoder::Hyper;
use super::family::{common_hyper, Family};
use super::gguf::Gguf;
use super::LlmError;

pub struct Llama;

impl Family for Llama {
    fn architectures(&self) -> &'static [&'static str] {
        &["llama"]
    }

    /// Plain Llama: llama.cpp's converter permutes q/k so RoPE pairs adjacent dimensions
    /// (`common_hyper`'s default).
    fn hyper(&self, g: &Gguf, arch: &str) -> Result<Hyper, LlmError> {
        common_hyper(g, arch)
    }
}
