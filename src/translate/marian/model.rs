//! The MarianMT transformer (`MarianMTModel` of `transformers`) in explicit candle tensor code.
//!
//! Post-norm encoder and decoder layers, sinusoidal positions (sin in the first half of each vector, cos
//! in the second), embeddings scaled by √d_model when `scale_embedding`, an output layer tied to the
//! embeddings (or not) plus `final_logits_bias`.
//!
//! Built for batched decoding on the CPU: a batch of padded source sentences goes through the encoder
//! once with a padding mask; each decoder layer's cross-attention keys and values are computed once per
//! batch and kept; the decoder runs one token per row per step with a self-attention KV cache. Beams of
//! one sentence share its cross-attention K/V: their queries are stacked so the cross-attention is one
//! matrix product per sentence and head instead of one per beam. Projection weights are stored
//! transposed and contiguous (q, k, v fused for self-attention, k, v for cross-attention) so every
//! projection is one plain row-major matmul over all rows of the batch.
//!
//! The linear layers (attention projections, feed-forward, output layer) can hold their weights in a
//! narrower type ([`WeightType`]): bf16/f16 (the activations are rounded to it for the product), or
//! q8_0 blocks multiplied by candle's quantised matmul. Everything else — embeddings, layer norms,
//! softmax, attention, biases and the residual stream — stays f32, so f32 weights give exactly the
//! reference's arithmetic.

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, IndexOp, Module, Tensor};

use rayon::prelude::*;

use super::attention::{self, CrossKv, KvCache};
use super::config::{Activation, MarianConfig};
use super::{gemm, gemm_i8};

type Result<T> = candle_core::Result<T>;

const LAYER_NORM_EPS: f32 = 1e-5;

/// Named tensors of a checkpoint (safetensors or PyTorch pickle), read on demand.
pub trait WeightSource {
    fn get(&self, name: &str) -> Result<Option<Tensor>>;
}

impl WeightSource for std::collections::HashMap<String, Tensor> {
    fn get(&self, name: &str) -> Result<Option<Tensor>> {
        Ok(std::collections::HashMap::get(self, name).cloned())
    }
}

/// The type the linear layers' weights are kept and multiplied in (`--dtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightType {
    /// The checkpoint's own precision: outputs equal the reference's.
    #[default]
    F32,
    Bf16,
    F16,
    /// 8-bit blocks of 32 weights with one f16 scale (ggml's Q8_0), through candle's quantised
    /// matmul. A layer whose input width is not a multiple of 32 cannot be cut into blocks and stays
    /// f32.
    Q8_0,
    /// 8-bit weights with one scale per output row and activations quantised per row on the fly,
    /// through warta's own integer kernels ([`gemm_i8`]: VNNI or AVX2), as CTranslate2 does. CPU only
    /// (elsewhere the layers stay f32).
    Int8,
}

impl WeightType {
    pub const NAMES: [&'static str; 5] = ["f32", "bf16", "f16", "q8_0", "int8"];

    pub fn name(self) -> &'static str {
        match self {
            WeightType::F32 => "f32",
            WeightType::Bf16 => "bf16",
            WeightType::F16 => "f16",
            WeightType::Q8_0 => "q8_0",
            WeightType::Int8 => "int8",
        }
    }
}

impl std::str::FromStr for WeightType {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<WeightType, String> {
        match s.to_ascii_lowercase().as_str() {
            "f32" => Ok(WeightType::F32),
            "bf16" => Ok(WeightType::Bf16),
            "f16" => Ok(WeightType::F16),
            "q8_0" | "q8" => Ok(WeightType::Q8_0),
            "int8" | "i8" => Ok(WeightType::Int8),
            _ => Err(format!(
                "unknown weight type {s:?}; use one of {}",
                WeightType::NAMES.join(", ")
            )),
        }
    }
}

impl std::fmt::Display for WeightType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The weight matrix of a linear layer in the form it is multiplied in.
#[derive(Debug, Clone)]
enum Weight {
    /// Wᵀ, `[in, out]`, contiguous, in f32, bf16 or f16.
    Dense(Tensor),
    /// W, `[out, in]`, in q8_0 blocks along `in`.
    Quantized(QMatMul),
    /// f32 on the CPU: W packed in panels for warta's own kernels ([`gemm`]), bias included.
    Packed(std::sync::Arc<gemm::PackedF32>),
    /// int8 on the CPU ([`gemm_i8`]), bias included.
    Int8(std::sync::Arc<gemm_i8::PackedI8>),
}

/// A linear layer's weights in one of warta's own packed forms.
#[derive(Clone, Copy)]
enum Kernel<'a> {
    F32(&'a gemm::PackedF32),
    I8(&'a gemm_i8::PackedI8),
}

impl Kernel<'_> {
    fn out_dim(self) -> usize {
        match self {
            Kernel::F32(p) => p.out_dim(),
            Kernel::I8(p) => p.out_dim(),
        }
    }

    /// `out = x · Wᵀ + b` for `m` rows.
    fn matmul(self, x: &[f32], m: usize, out: &mut [f32]) {
        match self {
            Kernel::F32(p) => p.matmul(x, m, out),
            Kernel::I8(p) => p.matmul(x, m, out),
        }
    }

    fn of(w: &Weight) -> Option<Kernel<'_>> {
        match w {
            Weight::Packed(p) => Some(Kernel::F32(p)),
            Weight::Int8(p) => Some(Kernel::I8(p)),
            _ => None,
        }
    }
}

/// `f` applied to the values of a contiguous f32 tensor on the CPU, without copying them; `None` for
/// any other tensor.
fn with_cpu_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<Option<R>> {
    if t.dtype() != DType::F32 {
        return Ok(None);
    }
    let (storage, layout) = t.storage_and_layout();
    let candle_core::Storage::Cpu(cpu) = &*storage else {
        return Ok(None);
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        return Ok(None);
    };
    Ok(Some(f(&cpu.as_slice::<f32>()?[start..end])))
}

/// A linear layer as `y = x · Wᵀ + b` (bias in f32).
#[derive(Debug, Clone)]
struct Linear {
    w: Weight,
    b: Tensor,
}

impl Linear {
    /// From W `[out, in]` (f32) and b `[out]`, kept as `ty` asks. Returns whether `ty` could be used
    /// (q8_0 needs an input width that is a multiple of its 32-weight blocks; else the layer stays f32).
    fn new(w: Tensor, b: Tensor, ty: WeightType) -> Result<(Linear, bool)> {
        let dense = |w: Tensor, dtype: DType| -> Result<Weight> {
            Ok(Weight::Dense(w.t()?.contiguous()?.to_dtype(dtype)?))
        };
        let block = GgmlDType::Q8_0.block_size();
        let (n, k) = w.dims2()?;
        // f32, asked for or kept (q8_0 on widths its blocks do not divide).
        let f32_kept = ty == WeightType::Q8_0 && k % block != 0;
        if ty == WeightType::F32 || f32_kept {
            let bias = b.to_vec1::<f32>()?;
            let packed = with_cpu_f32(&w.contiguous()?, |w| gemm::PackedF32::pack(w, &bias, n, k))?;
            if let Some(p) = packed {
                let w = Weight::Packed(std::sync::Arc::new(p));
                return Ok((Linear { w, b }, !f32_kept));
            }
        }
        if ty == WeightType::Int8 {
            let bias = b.to_vec1::<f32>()?;
            let q = with_cpu_f32(&w.contiguous()?, |w| {
                gemm_i8::PackedI8::quantize(w, &bias, n, k)
            })?;
            if let Some(q) = q {
                let w = Weight::Int8(std::sync::Arc::new(q));
                return Ok((Linear { w, b }, true));
            }
        }
        let (w, honoured) = match ty {
            WeightType::F32 => (dense(w, DType::F32)?, true),
            WeightType::Bf16 => (dense(w, DType::BF16)?, true),
            WeightType::F16 => (dense(w, DType::F16)?, true),
            WeightType::Q8_0 if w.dim(1)? % block == 0 => {
                let q = QTensor::quantize(&w, GgmlDType::Q8_0)?;
                (Weight::Quantized(QMatMul::from_qtensor(q)?), true)
            }
            WeightType::Q8_0 | WeightType::Int8 => (dense(w, DType::F32)?, false),
        };
        Ok((Linear { w, b }, honoured))
    }

    /// `x`: `[rows, in]` (f32) → `[rows, out]` (f32).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = match &self.w {
            // Bias included.
            Weight::Packed(p) => return packed_forward(Kernel::F32(p), x),
            Weight::Int8(p) => return packed_forward(Kernel::I8(p), x),
            Weight::Dense(w_t) if w_t.dtype() == DType::F32 => x.matmul(w_t)?,
            Weight::Dense(w_t) => x.to_dtype(w_t.dtype())?.matmul(w_t)?.to_dtype(DType::F32)?,
            Weight::Quantized(q) => q.forward(&x.contiguous()?)?,
        };
        y.broadcast_add(&self.b)
    }
}

/// `x · Wᵀ + b` through the packed kernels.
fn packed_forward(p: Kernel<'_>, x: &Tensor) -> Result<Tensor> {
    let x = x.contiguous()?;
    let m = x.dim(0)?;
    let mut out = vec![0f32; m * p.out_dim()];
    with_cpu_f32(&x, |xs| p.matmul(xs, m, &mut out))?
        .ok_or_else(|| candle_core::Error::msg("packed f32 weights need f32 CPU input"))?;
    Tensor::from_vec(out, (m, p.out_dim()), x.device())
}

#[derive(Debug, Clone)]
struct LayerNorm {
    w: Tensor,
    b: Tensor,
    /// The same weights and biases as plain values, for the decoder step on buffers.
    wv: Vec<f32>,
    bv: Vec<f32>,
}

impl LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.w, &self.b, LAYER_NORM_EPS)
    }

    /// `x = LayerNorm(x + y)` row by row, in place: the residual add fused, then candle's layer-norm
    /// arithmetic (one pass of sums, `var = E[x²] - mean²`), so the result is the tensor path's.
    fn add_norm(&self, x: &mut [f32], y: &[f32]) {
        let d = self.wv.len();
        for (x, y) in x.chunks_exact_mut(d).zip(y.chunks_exact(d)) {
            let (mut sum, mut sum2) = (0f32, 0f32);
            for (a, &b) in x.iter_mut().zip(y) {
                *a += b;
                sum += *a;
                sum2 += *a * *a;
            }
            let mean = sum / d as f32;
            let var = sum2 / d as f32 - mean * mean;
            let inv_std = (var + LAYER_NORM_EPS).sqrt().recip();
            for ((v, &w), &b) in x.iter_mut().zip(&self.wv).zip(&self.bv) {
                *v = (*v - mean) * inv_std * w + b;
            }
        }
    }
}

#[derive(Debug, Clone)]
struct SelfAttention {
    /// q, k, v fused; q's part pre-multiplied by head_dim^-½.
    qkv: Linear,
    out: Linear,
    heads: usize,
    head_dim: usize,
}

#[derive(Debug, Clone)]
struct CrossAttention {
    /// q pre-multiplied by head_dim^-½.
    q: Linear,
    /// k, v fused, applied to the encoder output once per batch.
    kv: Linear,
    out: Linear,
    heads: usize,
    head_dim: usize,
}

#[derive(Debug, Clone)]
struct FeedForward {
    fc1: Linear,
    fc2: Linear,
    act: Activation,
}

impl FeedForward {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.fc1.forward(x)?;
        if h.dtype() == DType::F32 && h.device().is_cpu() && in_place(self.act) {
            let mut v = h.flatten_all()?.to_vec1::<f32>()?;
            activate_in_place(self.act, &mut v);
            return self
                .fc2
                .forward(&Tensor::from_vec(v, h.shape(), h.device())?);
        }
        self.fc2.forward(&activate(self.act, &h)?)
    }
}

fn in_place(act: Activation) -> bool {
    matches!(act, Activation::Silu | Activation::Relu)
}

/// SiLU or ReLU over plain values, in parallel chunks (candle's unary ops run on one thread, and
/// the encoder's 1,024 × 2,048 SiLU was ~10% of its time): candle's arithmetic, so the same bits.
/// Returns false, leaving `h` as it was, for the other activations.
fn activate_in_place(act: Activation, h: &mut [f32]) -> bool {
    const CHUNK: usize = 8192;
    match act {
        Activation::Silu => h
            .par_chunks_mut(CHUNK)
            .for_each(|c| c.iter_mut().for_each(|v| *v = *v / (1.0 + (-*v).exp()))),
        Activation::Relu => h
            .par_chunks_mut(CHUNK)
            .for_each(|c| c.iter_mut().for_each(|v| *v = v.max(0.0))),
        _ => return false,
    }
    true
}

fn activate(act: Activation, h: &Tensor) -> Result<Tensor> {
    match act {
        Activation::Gelu => h.gelu_erf(),
        Activation::GeluTanh => h.gelu(),
        Activation::QuickGelu => h * candle_nn::ops::sigmoid(&(h * 1.702)?)?,
        Activation::Relu => h.relu(),
        Activation::Silu => h.silu(),
        Activation::Tanh => h.tanh(),
        Activation::Sigmoid => candle_nn::ops::sigmoid(h),
    }
}

/// The packed decoder weights, layer by layer: self-attention q/k/v and out, cross-attention q and
/// out, fc1, fc2.
struct FastDecoder<'a> {
    layers: Vec<[Kernel<'a>; 6]>,
    lm_head: Kernel<'a>,
    act: Activation,
}

#[derive(Debug, Clone)]
struct EncoderLayer {
    attn: SelfAttention,
    attn_norm: LayerNorm,
    ffn: FeedForward,
    ffn_norm: LayerNorm,
}

/// A decoder layer: the encoder layer's self-attention and feed-forward blocks with cross-attention
/// between them.
#[derive(Debug, Clone)]
struct DecoderLayer {
    base: EncoderLayer,
    cross: CrossAttention,
    cross_norm: LayerNorm,
}

/// A loaded Marian model.
#[derive(Debug, Clone)]
pub struct Marian {
    config: MarianConfig,
    enc_embed: Tensor,
    dec_embed: Tensor,
    enc_positions: Tensor,
    dec_positions: Tensor,
    embed_scale: f64,
    encoder: Vec<EncoderLayer>,
    decoder: Vec<DecoderLayer>,
    /// Output layer with `final_logits_bias` as its bias.
    lm_head: Linear,
    weight_type: WeightType,
    /// Linear layers kept in f32 although `weight_type` asked otherwise (see [`WeightType::Q8_0`]).
    kept_f32: usize,
    linear_layers: usize,
    device: Device,
}

/// The encoded source batch and everything the decoder reuses at every step.
pub struct EncoderState {
    /// Per decoder layer: cross-attention keys and values of the encoder output.
    cross: Vec<CrossKv>,
    /// Real (unpadded) length of each batch entry.
    lens: Vec<usize>,
}

impl EncoderState {
    pub fn batch_size(&self) -> usize {
        self.lens.len()
    }

    /// Keep only the batch entries `keep` (in that order).
    pub fn select(&self, keep: &[u32]) -> Result<EncoderState> {
        let cross = self
            .cross
            .iter()
            .map(|kv| {
                let block = kv.heads * kv.src_len * kv.head_dim;
                let pick = |all: &[f32]| -> Vec<f32> {
                    keep.iter()
                        .flat_map(|&b| &all[b as usize * block..(b as usize + 1) * block])
                        .copied()
                        .collect()
                };
                CrossKv {
                    k: pick(&kv.k),
                    v: pick(&kv.v),
                    heads: kv.heads,
                    head_dim: kv.head_dim,
                    src_len: kv.src_len,
                }
            })
            .collect();
        Ok(EncoderState {
            cross,
            lens: keep.iter().map(|&b| self.lens[b as usize]).collect(),
        })
    }
}

/// The decoder's self-attention cache, one [`KvCache`] per layer.
#[derive(Default)]
pub struct DecoderCache {
    layers: Vec<KvCache>,
    steps: usize,
}

impl DecoderCache {
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Reorder (and drop) rows: row `i` of the new cache is row `rows[i]` of the old one.
    pub fn select_rows(&mut self, rows: &[u32]) -> Result<()> {
        let Some(first) = self.layers.first() else {
            return Ok(());
        };
        let identity =
            rows.len() == first.rows() && rows.iter().enumerate().all(|(i, &r)| i as u32 == r);
        if !identity {
            for layer in self.layers.iter_mut() {
                layer.select_rows(rows, self.steps);
            }
        }
        Ok(())
    }
}

impl Marian {
    /// Build the model from a checkpoint's tensors. Key names follow `MarianMTModel`'s state dict,
    /// with or without the `model.` prefix; tied copies may be missing. The linear layers are kept as
    /// `weight_type` says.
    pub fn load(
        config: MarianConfig,
        weights: &dyn WeightSource,
        device: &Device,
        weight_type: WeightType,
    ) -> Result<Marian> {
        config.validate().map_err(candle_core::Error::msg)?;
        let act =
            Activation::parse(&config.activation_function).map_err(candle_core::Error::msg)?;
        let w = Weights {
            src: weights,
            device,
            weight_type,
            linear_layers: std::cell::Cell::new(0),
            kept_f32: std::cell::Cell::new(0),
        };
        let d = config.d_model;
        let vocab = config.vocab_size;
        let target_vocab = config.target_vocab_size();
        let enc_embed = if config.share_encoder_decoder_embeddings {
            w.first(
                &["model.shared.weight", "model.encoder.embed_tokens.weight"],
                &[vocab, d],
            )?
        } else {
            w.first(&["model.encoder.embed_tokens.weight"], &[vocab, d])?
        };
        let dec_embed = if config.share_encoder_decoder_embeddings {
            enc_embed.clone()
        } else {
            w.first(&["model.decoder.embed_tokens.weight"], &[target_vocab, d])?
        };
        let lm_head = if config.tie_word_embeddings {
            dec_embed.clone()
        } else {
            w.first(&["lm_head.weight"], &[target_vocab, d])?
        };
        let final_logits_bias = match w.optional("final_logits_bias", &[1, target_vocab])? {
            Some(b) => b.reshape(target_vocab)?,
            None => Tensor::zeros(target_vocab, DType::F32, device)?,
        };
        let positions = |side: &str| -> Result<Tensor> {
            let name = format!("model.{side}.embed_positions.weight");
            match w.optional(&name, &[config.max_position_embeddings, d])? {
                Some(t) => Ok(t),
                None => sinusoidal_positions(config.max_position_embeddings, d, device),
            }
        };
        let encoder = (0..config.encoder_layers)
            .map(|i| {
                let p = format!("model.encoder.layers.{i}");
                w.block(
                    &p,
                    d,
                    config.encoder_attention_heads,
                    config.encoder_ffn_dim,
                    act,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let decoder = (0..config.decoder_layers)
            .map(|i| {
                let p = format!("model.decoder.layers.{i}");
                let heads = config.decoder_attention_heads;
                Ok(DecoderLayer {
                    base: w.block(&p, d, heads, config.decoder_ffn_dim, act)?,
                    cross: w.cross_attention(&format!("{p}.encoder_attn"), d, heads)?,
                    cross_norm: w.layer_norm(&format!("{p}.encoder_attn_layer_norm"), d)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let embed_scale = if config.scale_embedding {
            (d as f64).sqrt()
        } else {
            1.0
        };
        Ok(Marian {
            enc_positions: positions("encoder")?,
            dec_positions: positions("decoder")?,
            lm_head: w.made(Linear::new(lm_head, final_logits_bias, weight_type)?),
            enc_embed,
            dec_embed,
            embed_scale,
            encoder,
            decoder,
            weight_type,
            kept_f32: w.kept_f32.get(),
            linear_layers: w.linear_layers.get(),
            device: device.clone(),
            config,
        })
    }

    pub fn config(&self) -> &MarianConfig {
        &self.config
    }

    /// The type the linear layers were asked to be kept in.
    pub fn weight_type(&self) -> WeightType {
        self.weight_type
    }

    /// How many of the linear layers (fused projections counted once) stayed f32 although
    /// [`weight_type`](Self::weight_type) asked otherwise, out of how many.
    pub fn kept_f32(&self) -> (usize, usize) {
        (self.kept_f32, self.linear_layers)
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Encode a batch of source sentences (token ids, `</s>` included, any lengths up to the position
    /// limit). Rows are right-padded internally; padding never influences the real tokens.
    pub fn encode(&self, batch: &[Vec<u32>]) -> Result<EncoderState> {
        let b = batch.len();
        let s = batch.iter().map(Vec::len).max().unwrap_or(0);
        if b == 0 || s == 0 {
            candle_core::bail!("cannot encode an empty batch or an empty sentence");
        }
        if s > self.config.max_position_embeddings {
            candle_core::bail!(
                "a source sentence of {s} tokens exceeds the model's {} positions",
                self.config.max_position_embeddings
            );
        }
        let pad = self.config.pad_token_id.unwrap_or(0);
        let mut ids = Vec::with_capacity(b * s);
        let mut mask = Vec::with_capacity(b * s);
        for row in batch {
            ids.extend_from_slice(row);
            ids.extend(std::iter::repeat_n(pad, s - row.len()));
            mask.extend(std::iter::repeat_n(0f32, row.len()));
            mask.extend(std::iter::repeat_n(f32::NEG_INFINITY, s - row.len()));
        }
        let d = self.config.d_model;
        let ids = Tensor::from_vec(ids, b * s, &self.device)?;
        let mask = Tensor::from_vec(mask, (b, 1, 1, s), &self.device)?;
        let x = (self.enc_embed.index_select(&ids, 0)? * self.embed_scale)?.reshape((b, s, d))?;
        let x = x.broadcast_add(&self.enc_positions.narrow(0, 0, s)?)?;
        let mut x = x.reshape((b * s, d))?;
        for layer in &self.encoder {
            let a = layer.attn.forward_full(&x, b, s, &mask)?;
            x = layer.attn_norm.forward(&(x + a)?)?;
            let f = layer.ffn.forward(&x)?;
            x = layer.ffn_norm.forward(&(x + f)?)?;
        }
        let cross = self
            .decoder
            .iter()
            .map(|layer| {
                let (k, v) = layer.cross.keys_values(&x, b, s)?;
                Ok(CrossKv {
                    k: k.flatten_all()?.to_vec1::<f32>()?,
                    v: v.flatten_all()?.to_vec1::<f32>()?,
                    heads: layer.cross.heads,
                    head_dim: layer.cross.head_dim,
                    src_len: s,
                })
            })
            .collect::<Result<_>>()?;
        Ok(EncoderState {
            cross,
            lens: batch.iter().map(Vec::len).collect(),
        })
    }

    /// One decoder step: `tokens` holds the last token of every row; rows are grouped by batch entry,
    /// `rows / batch` consecutive rows (beams) per entry of `enc`. Returns logits `[rows, vocab]`.
    pub fn decode_step(
        &self,
        tokens: &[u32],
        enc: &EncoderState,
        cache: &mut DecoderCache,
    ) -> Result<Tensor> {
        let hidden = self.decode_hidden(tokens, enc, cache)?;
        self.logits(&hidden)
    }

    /// [`decode_step`](Self::decode_step) with the logits as plain row-major values, written into
    /// `out` (kept from step to step by the search).
    pub fn decode_step_rows(
        &self,
        tokens: &[u32],
        enc: &EncoderState,
        cache: &mut DecoderCache,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        if let Some(fast) = self.fast_decoder() {
            let hidden = self.decode_buffers(&fast, tokens, enc, cache)?;
            // Every entry is overwritten: only growth is zero-filled (a step's logits are megabytes).
            out.resize(tokens.len() * fast.lm_head.out_dim(), 0.0);
            fast.lm_head.matmul(&hidden, tokens.len(), out);
            return Ok(());
        }
        *out = self
            .decode_step(tokens, enc, cache)?
            .flatten_all()?
            .to_vec1()?;
        Ok(())
    }

    /// The output layer: hidden states `[rows, d_model]` → logits `[rows, vocab]`.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        self.lm_head.forward(hidden)
    }

    /// The packed weights of every decoder linear layer, when all are f32 on the CPU: the decoder
    /// step then runs on plain buffers instead of tensors.
    fn fast_decoder(&self) -> Option<FastDecoder<'_>> {
        fn packed(l: &Linear) -> Option<Kernel<'_>> {
            Kernel::of(&l.w)
        }
        let layers = self
            .decoder
            .iter()
            .map(|l| {
                Some([
                    packed(&l.base.attn.qkv)?,
                    packed(&l.base.attn.out)?,
                    packed(&l.cross.q)?,
                    packed(&l.cross.out)?,
                    packed(&l.base.ffn.fc1)?,
                    packed(&l.base.ffn.fc2)?,
                ])
            })
            .collect::<Option<Vec<_>>>()?;
        let act = self.decoder.first().map(|l| l.base.ffn.act)?;
        Some(FastDecoder {
            layers,
            lm_head: packed(&self.lm_head)?,
            act,
        })
    }

    /// The decoder layers of one step on buffers (see [`decode_hidden`](Self::decode_hidden)):
    /// `[rows, d_model]`, row-major.
    fn decode_buffers(
        &self,
        fast: &FastDecoder<'_>,
        tokens: &[u32],
        enc: &EncoderState,
        cache: &mut DecoderCache,
    ) -> Result<Vec<f32>> {
        let n = tokens.len();
        let pos = self.step_checks(n, enc, cache)?;
        let d = self.config.d_model;
        let mut x = vec![0f32; n * d];
        self.embed_rows(tokens, pos, &mut x)?;
        let mm = |w: Kernel<'_>, x: &[f32]| -> Vec<f32> {
            let mut out = vec![0f32; n * w.out_dim()];
            w.matmul(x, n, &mut out);
            out
        };
        for (i, (layer, w)) in self.decoder.iter().zip(&fast.layers).enumerate() {
            let qkv = mm(w[0], &x);
            let a = attention::self_attention(&qkv, &mut cache.layers[i], pos);
            layer.base.attn_norm.add_norm(&mut x, &mm(w[1], &a));
            let q = mm(w[2], &x);
            let c = attention::cross_attention(&q, &enc.cross[i], &enc.lens);
            layer.cross_norm.add_norm(&mut x, &mm(w[3], &c));
            let mut h = mm(w[4], &x);
            if !activate_in_place(fast.act, &mut h) {
                let cols = h.len() / n.max(1);
                let t = Tensor::from_vec(h, (n, cols), &Device::Cpu)?;
                h = activate(fast.act, &t)?.flatten_all()?.to_vec1()?;
            }
            layer.base.ffn_norm.add_norm(&mut x, &mm(w[5], &h));
        }
        cache.steps += 1;
        Ok(x)
    }

    /// `x[r] = embedding(tokens[r]) · scale + position(pos)`, read from the tables in place.
    fn embed_rows(&self, tokens: &[u32], pos: usize, x: &mut [f32]) -> Result<()> {
        let d = self.config.d_model;
        let scale = self.embed_scale as f32;
        let done = with_cpu_f32(&self.dec_embed, |table| -> Result<bool> {
            let filled = with_cpu_f32(&self.dec_positions, |positions| -> Result<()> {
                let positions = &positions[pos * d..(pos + 1) * d];
                for (row, &t) in x.chunks_exact_mut(d).zip(tokens) {
                    let Some(e) = table.get(t as usize * d..(t as usize + 1) * d) else {
                        candle_core::bail!("token {t} is outside the decoder's vocabulary");
                    };
                    for ((o, &e), &p) in row.iter_mut().zip(e).zip(positions) {
                        *o = e * scale + p;
                    }
                }
                Ok(())
            })?;
            filled.map(|r| r.map(|()| true)).unwrap_or(Ok(false))
        })?;
        match done {
            Some(Ok(true)) => Ok(()),
            Some(Err(e)) => Err(e),
            _ => candle_core::bail!("the decoder's embedding tables are not f32 values on the CPU"),
        }
    }

    /// Checks before a decoder step; makes the cache on the first. Returns the position.
    fn step_checks(&self, n: usize, enc: &EncoderState, cache: &mut DecoderCache) -> Result<usize> {
        let b = enc.batch_size();
        if b == 0 || n % b != 0 {
            candle_core::bail!("{n} decoder rows do not divide into {b} batch entries");
        }
        let pos = cache.steps;
        if pos >= self.config.max_position_embeddings {
            candle_core::bail!(
                "the translation reached the model's {} positions",
                self.config.max_position_embeddings
            );
        }
        if cache.layers.is_empty() {
            cache.layers = self
                .decoder
                .iter()
                .map(|l| KvCache::new(n, l.base.attn.heads, l.base.attn.head_dim, 32))
                .collect();
        }
        Ok(pos)
    }

    /// The decoder layers of one step (see [`decode_step`](Self::decode_step)), without the output
    /// layer: `[rows, d_model]`.
    pub fn decode_hidden(
        &self,
        tokens: &[u32],
        enc: &EncoderState,
        cache: &mut DecoderCache,
    ) -> Result<Tensor> {
        let n = tokens.len();
        if let Some(fast) = self.fast_decoder() {
            let x = self.decode_buffers(&fast, tokens, enc, cache)?;
            return Tensor::from_vec(x, (n, self.config.d_model), &self.device);
        }
        let pos = self.step_checks(n, enc, cache)?;
        let ids = Tensor::new(tokens, &self.device)?;
        let x = (self.dec_embed.index_select(&ids, 0)? * self.embed_scale)?;
        let mut x = x.broadcast_add(&self.dec_positions.i(pos)?)?;
        let d = self.config.d_model;
        let rows = |v: Vec<f32>| Tensor::from_vec(v, (n, d), &self.device);
        for (i, layer) in self.decoder.iter().enumerate() {
            let qkv = layer
                .base
                .attn
                .qkv
                .forward(&x)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            let a = attention::self_attention(&qkv, &mut cache.layers[i], pos);
            let a = layer.base.attn.out.forward(&rows(a)?)?;
            x = layer.base.attn_norm.forward(&(x + a)?)?;
            let q = layer.cross.q.forward(&x)?.flatten_all()?.to_vec1::<f32>()?;
            let c = attention::cross_attention(&q, &enc.cross[i], &enc.lens);
            let c = layer.cross.out.forward(&rows(c)?)?;
            x = layer.cross_norm.forward(&(x + c)?)?;
            let f = layer.base.ffn.forward(&x)?;
            x = layer.base.ffn_norm.forward(&(x + f)?)?;
        }
        cache.steps += 1;
        Ok(x)
    }
}

impl SelfAttention {
    /// Full (encoder) self-attention over `[b*s, d]` with an additive key mask `[b, 1, 1, s]`.
    fn forward_full(&self, x: &Tensor, b: usize, s: usize, mask: &Tensor) -> Result<Tensor> {
        let (h, dh) = (self.heads, self.head_dim);
        let qkv = self
            .qkv
            .forward(x)?
            .reshape((b, s, 3, h, dh))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        let (q, k, v) = (qkv.i(0)?, qkv.i(1)?, qkv.i(2)?);
        let scores = q.matmul(&k.t()?)?.broadcast_add(mask)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b * s, h * dh))?;
        self.out.forward(&out)
    }
}

impl CrossAttention {
    /// Keys and values of the encoder output `[b*s, d]`, as `[b, heads, s, head_dim]` each.
    fn keys_values(&self, enc: &Tensor, b: usize, s: usize) -> Result<(Tensor, Tensor)> {
        let (h, dh) = (self.heads, self.head_dim);
        let kv = self
            .kv
            .forward(enc)?
            .reshape((b, s, 2, h, dh))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        Ok((kv.i(0)?, kv.i(1)?))
    }
}

/// The sinusoidal table of `MarianSinusoidalPositionalEmbedding`: computed in f64 like numpy, then
/// rounded to f32; sin features first, cos features after.
pub fn sinusoidal_positions(n_pos: usize, dim: usize, device: &Device) -> Result<Tensor> {
    let sentinel = dim / 2 + dim % 2;
    let mut out = vec![0f32; n_pos * dim];
    for pos in 0..n_pos {
        let row = &mut out[pos * dim..(pos + 1) * dim];
        for j in 0..dim {
            let angle = pos as f64 / 10000f64.powf(2.0 * (j / 2) as f64 / dim as f64);
            if j % 2 == 0 {
                row[j / 2] = angle.sin() as f32;
            } else {
                row[sentinel + j / 2] = angle.cos() as f32;
            }
        }
    }
    Tensor::from_vec(out, (n_pos, dim), device)
}

/// Checkpoint access with shape checks and the name variants checkpoints use.
struct Weights<'a> {
    src: &'a dyn WeightSource,
    device: &'a Device,
    weight_type: WeightType,
    /// Linear layers built so far, and how many of them could not take `weight_type`.
    linear_layers: std::cell::Cell<usize>,
    kept_f32: std::cell::Cell<usize>,
}

impl Weights<'_> {
    /// Count a built linear layer.
    fn made(&self, (linear, honoured): (Linear, bool)) -> Linear {
        self.linear_layers.set(self.linear_layers.get() + 1);
        if !honoured {
            self.kept_f32.set(self.kept_f32.get() + 1);
        }
        linear
    }

    fn optional(&self, name: &str, shape: &[usize]) -> Result<Option<Tensor>> {
        let bare = name.strip_prefix("model.");
        let found = match self.src.get(name)? {
            Some(t) => Some(t),
            None => match bare {
                Some(b) => self.src.get(b)?,
                None => None,
            },
        };
        let Some(t) = found else { return Ok(None) };
        if t.dims() != shape {
            candle_core::bail!(
                "tensor {name} has shape {:?}, the config implies {shape:?}",
                t.dims()
            );
        }
        Ok(Some(t.to_dtype(DType::F32)?.to_device(self.device)?))
    }

    fn first(&self, names: &[&str], shape: &[usize]) -> Result<Tensor> {
        for name in names {
            if let Some(t) = self.optional(name, shape)? {
                return Ok(t);
            }
        }
        candle_core::bail!("the checkpoint has no tensor {}", names.join(" or "))
    }

    fn linear_parts(&self, p: &str, d_in: usize, d_out: usize) -> Result<(Tensor, Tensor)> {
        Ok((
            self.first(&[&format!("{p}.weight")], &[d_out, d_in])?,
            self.first(&[&format!("{p}.bias")], &[d_out])?,
        ))
    }

    /// Linear layers applied to the same input, fused along the output dimension; the first one's
    /// weights and bias multiplied by `first_scale`.
    fn fused(
        &self,
        names: &[String],
        d_in: usize,
        d_out: usize,
        first_scale: f64,
    ) -> Result<Linear> {
        let mut ws = Vec::new();
        let mut bs = Vec::new();
        for (i, p) in names.iter().enumerate() {
            let (w, b) = self.linear_parts(p, d_in, d_out)?;
            if i == 0 && first_scale != 1.0 {
                ws.push((w * first_scale)?);
                bs.push((b * first_scale)?);
            } else {
                ws.push(w);
                bs.push(b);
            }
        }
        let w = Tensor::cat(&ws, 0)?;
        Ok(self.made(Linear::new(w, Tensor::cat(&bs, 0)?, self.weight_type)?))
    }

    fn linear(&self, p: &str, d_in: usize, d_out: usize) -> Result<Linear> {
        self.fused(&[p.to_string()], d_in, d_out, 1.0)
    }

    fn self_attention(&self, p: &str, d: usize, heads: usize) -> Result<SelfAttention> {
        let head_dim = d / heads;
        let names = ["q_proj", "k_proj", "v_proj"].map(|n| format!("{p}.{n}"));
        Ok(SelfAttention {
            qkv: self.fused(&names, d, d, (head_dim as f64).powf(-0.5))?,
            out: self.linear(&format!("{p}.out_proj"), d, d)?,
            heads,
            head_dim,
        })
    }

    fn cross_attention(&self, p: &str, d: usize, heads: usize) -> Result<CrossAttention> {
        let head_dim = d / heads;
        let names = ["k_proj", "v_proj"].map(|n| format!("{p}.{n}"));
        Ok(CrossAttention {
            q: self.fused(&[format!("{p}.q_proj")], d, d, (head_dim as f64).powf(-0.5))?,
            kv: self.fused(&names, d, d, 1.0)?,
            out: self.linear(&format!("{p}.out_proj"), d, d)?,
            heads,
            head_dim,
        })
    }

    /// Self-attention and feed-forward with their norms (a whole encoder layer).
    fn block(
        &self,
        p: &str,
        d: usize,
        heads: usize,
        ffn: usize,
        act: Activation,
    ) -> Result<EncoderLayer> {
        Ok(EncoderLayer {
            attn: self.self_attention(&format!("{p}.self_attn"), d, heads)?,
            attn_norm: self.layer_norm(&format!("{p}.self_attn_layer_norm"), d)?,
            ffn: self.ffn(p, d, ffn, act)?,
            ffn_norm: self.layer_norm(&format!("{p}.final_layer_norm"), d)?,
        })
    }

    fn layer_norm(&self, p: &str, d: usize) -> Result<LayerNorm> {
        let w = self.first(&[&format!("{p}.weight")], &[d])?;
        let b = self.first(&[&format!("{p}.bias")], &[d])?;
        Ok(LayerNorm {
            wv: w.to_device(&Device::Cpu)?.to_vec1()?,
            bv: b.to_device(&Device::Cpu)?.to_vec1()?,
            w,
            b,
        })
    }

    fn ffn(&self, p: &str, d: usize, ffn: usize, act: Activation) -> Result<FeedForward> {
        Ok(FeedForward {
            fc1: self.linear(&format!("{p}.fc1"), d, ffn)?,
            fc2: self.linear(&format!("{p}.fc2"), ffn, d)?,
            act,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinusoidal_layout_matches_marian() {
        let t = sinusoidal_positions(3, 4, &Device::Cpu).unwrap();
        let rows = t.to_vec2::<f32>().unwrap();
        // Position 0: sin 0 = 0 (first half), cos 0 = 1 (second half).
        assert_eq!(rows[0], vec![0.0, 0.0, 1.0, 1.0]);
        // Position 1: sin(1), sin(1/100), cos(1), cos(1/100).
        let want = [1f64.sin(), 0.01f64.sin(), 1f64.cos(), 0.01f64.cos()].map(|x| x as f32);
        assert_eq!(rows[1], want.to_vec());
    }
}
