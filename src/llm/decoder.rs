//! The decoder-only transformer that all supported families share, written out explicitly so that the
//! KV cache, chunked prefill and attention are under our control.
//!
//! The families differ only in details captured by [`Hyper`]: biases on q/k/v (Qwen2), per-head q/k
//! RMS norms (Qwen3, Gemma 3), the RoPE pairing (interleaved for Llama, "NeoX" halves for the others),
//! Gemma's embedding scale, GELU, extra post-norms and sliding-window layers. Each family file reads its
//! GGUF metadata into a `Hyper` and this module loads the tensors, which GGUF names the same way for all.
//!
//! Attention handles grouped-query heads without copying K/V per query head: the query heads that share
//! one K/V head are stacked along the sequence axis, so one batched matmul per K/V head does the work.
//! The KV cache is a preallocated buffer per layer written in place, so a generated token costs no copy
//! of the cache.

use candle_core::quantized::QTensor;
use candle_core::{Device, Result, Tensor, D};

use super::attention;
use super::gguf::RawTensor;
use super::quant::Weight;
use super::LlmError;

/// How RoPE pairs the dimensions of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Pairs (2i, 2i+1): GGUF Llama, whose q/k weights llama.cpp's converter permuted.
    Interleaved,
    /// Pairs (i, i + d/2): Qwen, Gemma.
    Neox,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Silu,
    /// GELU with the tanh approximation (Gemma's `gelu_pytorch_tanh`).
    GeluTanh,
}

/// Sliding-window attention on some layers (Gemma 3: five local layers, then one global).
#[derive(Debug, Clone, PartialEq)]
pub struct SlidingWindow {
    pub window: usize,
    /// Every `pattern`-th layer (1-based) is global, the others local.
    pub pattern: usize,
    /// RoPE base of the local layers.
    pub local_rope_base: f32,
}

/// Hyper-parameters of one model, read from the GGUF metadata by its family.
#[derive(Debug, Clone, PartialEq)]
pub struct Hyper {
    pub n_layer: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
    pub hidden: usize,
    pub context_length: usize,
    pub rms_eps: f64,
    pub rope_base: f32,
    /// Linear RoPE scaling of the global layers (positions divided by this); 1 for none.
    pub rope_scale: f32,
    pub rope_style: RopeStyle,
    pub qkv_bias: bool,
    pub qk_norm: bool,
    pub activation: Activation,
    /// Multiply the embeddings by this (Gemma: sqrt(hidden)).
    pub embed_scale: Option<f64>,
    /// Extra RMS norms after attention and after the MLP (Gemma 3).
    pub post_norms: bool,
    /// Attention score scale; 1/sqrt(head_dim) unless the model says otherwise.
    pub attn_scale: f64,
    pub sliding: Option<SlidingWindow>,
}

impl Hyper {
    fn is_local(&self, layer: usize) -> bool {
        self.sliding
            .as_ref()
            .is_some_and(|s| s.pattern > 0 && (layer + 1) % s.pattern != 0)
    }
}

/// A linear layer over quantized weights, with an optional bias (also as plain values for the
/// decoding step).
struct Linear {
    w: Weight,
    b: Option<Tensor>,
    bv: Option<Vec<f32>>,
}

impl Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.bias(self.w.forward(x)?)
    }

    fn bias(&self, y: Tensor) -> Result<Tensor> {
        match &self.b {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }

    /// [`Linear::forward_all`] of one row of plain values, giving plain values.
    fn forward_plain<const N: usize>(ls: [&Linear; N], x: &[f32]) -> Result<[Vec<f32>; N]> {
        let ys = Weight::forward_all(&ls.map(|l| &l.w), &row(x)?)?;
        let ys: Vec<Vec<f32>> = ls
            .iter()
            .zip(ys)
            .map(|(l, y)| {
                let mut y = plain_of(&y)?;
                if let Some(b) = &l.bv {
                    y.iter_mut().zip(b).for_each(|(y, b)| *y += b);
                }
                Ok(y)
            })
            .collect::<Result<_>>()?;
        ys.try_into()
            .map_err(|_| candle_core::Error::Msg("fused products: wrong count".into()))
    }

    /// Several linear layers of the same input in one pass where their weights allow it.
    fn forward_all<const N: usize>(ls: [&Linear; N], x: &Tensor) -> Result<[Tensor; N]> {
        let ys = Weight::forward_all(&ls.map(|l| &l.w), x)?;
        let ys: Vec<Tensor> = ls
            .iter()
            .zip(ys)
            .map(|(l, y)| l.bias(y))
            .collect::<Result<_>>()?;
        ys.try_into()
            .map_err(|_| candle_core::Error::Msg("fused products: wrong count".into()))
    }
}

struct RmsNorm {
    w: Tensor,
    wv: Vec<f32>,
    eps: f32,
}

impl RmsNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::rms_norm(&x.contiguous()?, &self.w, self.eps)
    }

    /// Each run of `wv.len()` values of `x` normalised in place, with candle's arithmetic.
    fn apply(&self, x: &mut [f32]) {
        let n = self.wv.len();
        for row in x.chunks_exact_mut(n) {
            let sum2 = row.iter().map(|&v| v * v).sum::<f32>();
            let m = (sum2 / n as f32 + self.eps).sqrt();
            for (v, a) in row.iter_mut().zip(&self.wv) {
                *v = *v / m * a;
            }
        }
    }

    fn applied(&self, x: &[f32]) -> Vec<f32> {
        let mut y = x.to_vec();
        self.apply(&mut y);
        y
    }
}

/// Keys and values of one layer, position-major (position `p`'s K/V heads at `p · kv_dim`, see
/// [`attention`]), so that a position is appended without moving the others.
#[derive(Default)]
struct KvCache {
    k: Vec<f32>,
    v: Vec<f32>,
}

impl KvCache {
    /// Append `(1, n_kv, t, hd)` keys and values (the batched path's layout); return everything
    /// cached so far in that layout.
    fn append(&mut self, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
        let (b, h, _, d) = k.dims4()?;
        let rows = |x: &Tensor| x.transpose(1, 2)?.flatten_all()?.to_vec1::<f32>();
        self.k.extend(rows(k)?);
        self.v.extend(rows(v)?);
        let len = self.k.len() / (b * h * d);
        let cached = |x: &[f32]| {
            Tensor::from_slice(x, (b, len, h, d), &Device::Cpu)?
                .transpose(1, 2)?
                .contiguous()
        };
        Ok((cached(&self.k)?, cached(&self.v)?))
    }

    /// Keep the first `n` positions.
    fn truncate(&mut self, n: usize, kv_dim: usize) {
        self.k.truncate(n * kv_dim);
        self.v.truncate(n * kv_dim);
    }
}

struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    q_norm: Option<RmsNorm>,
    k_norm: Option<RmsNorm>,
    attn_norm: RmsNorm,
    post_attn_norm: Option<RmsNorm>,
    ffn_norm: RmsNorm,
    post_ffn_norm: Option<RmsNorm>,
    gate: Weight,
    up: Weight,
    down: Weight,
    local: bool,
    cache: KvCache,
}

/// A loaded model: weights plus the KV cache of the current conversation.
pub struct Decoder {
    hp: Hyper,
    embed: QTensor,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: Weight,
    /// Tokens in the KV cache.
    pos: usize,
    /// Inverse RoPE frequencies of global and local layers.
    inv_freq: Vec<f32>,
    inv_freq_local: Vec<f32>,
}

/// Where the decoder reads its tensors: a GGUF file, by GGUF tensor name.
pub trait TensorSource {
    /// A tensor's bytes as stored, for weights repacked without an intermediate copy.
    fn raw(&self, name: &str) -> std::result::Result<RawTensor<'_>, LlmError>;
    fn tensor(&self, name: &str) -> std::result::Result<QTensor, LlmError>;
    fn has_tensor(&self, name: &str) -> bool;
    /// Done with the bytes of a tensor from [`TensorSource::raw`].
    fn release(&self, raw: RawTensor<'_>) {
        drop(raw);
    }
}

impl TensorSource for super::gguf::Gguf {
    fn raw(&self, name: &str) -> std::result::Result<RawTensor<'_>, LlmError> {
        super::gguf::Gguf::raw(self, name)
    }
    fn tensor(&self, name: &str) -> std::result::Result<QTensor, LlmError> {
        super::gguf::Gguf::tensor(self, name)
    }
    fn has_tensor(&self, name: &str) -> bool {
        super::gguf::Gguf::has_tensor(self, name)
    }
    fn release(&self, raw: RawTensor<'_>) {
        super::gguf::Gguf::release(self, raw)
    }
}

/// Reads the tensors of a model and prepares each for its use.
struct Loader<'a> {
    src: &'a dyn TensorSource,
    fast: bool,
    f32_budget: usize,
    eps: f32,
}

impl Loader<'_> {
    fn dense(&mut self, name: &str) -> std::result::Result<Tensor, LlmError> {
        self.src
            .tensor(name)?
            .dequantize(&Device::Cpu)
            .map_err(|e| LlmError::inference(&format!("read {name}"), e))
    }

    fn matmul(&mut self, name: &str) -> std::result::Result<Weight, LlmError> {
        self.matmul_for(name, true)
    }

    /// A weight matrix; `prefill` is false for those that only ever see one row of activations.
    fn matmul_for(&mut self, name: &str, prefill: bool) -> std::result::Result<Weight, LlmError> {
        let t = self.src.raw(name)?;
        let m = if self.fast {
            Weight::fast(&t, prefill, &mut self.f32_budget)
        } else {
            t.qtensor().and_then(Weight::plain)
        };
        self.src.release(t);
        m.map_err(|e| LlmError::inference(&format!("prepare {name}"), e))
    }

    fn linear(&mut self, name: &str, bias: bool) -> std::result::Result<Linear, LlmError> {
        let w = self.matmul(&format!("{name}.weight"))?;
        let b = if bias {
            Some(self.dense(&format!("{name}.bias"))?)
        } else {
            None
        };
        let bv = b.as_ref().map(plain).transpose()?;
        Ok(Linear { w, b, bv })
    }

    fn norm(&mut self, name: &str) -> std::result::Result<RmsNorm, LlmError> {
        let w = self.dense(name)?;
        Ok(RmsNorm {
            wv: plain(&w)?,
            w,
            eps: self.eps,
        })
    }

    fn norm_if(&mut self, on: bool, name: &str) -> std::result::Result<Option<RmsNorm>, LlmError> {
        if on {
            self.norm(name).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// A small tensor's values (a bias, a norm's weights).
fn plain(t: &Tensor) -> std::result::Result<Vec<f32>, LlmError> {
    t.flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(|e| LlmError::inference("read a vector of the model", e))
}

/// Whether the query at position `q` must not see the key at position `k`: keys after it, and with a
/// sliding window of `w`, keys `w` or more positions back (the window holds `w` tokens, itself
/// included, as in Hugging Face's and llama.cpp's Gemma).
fn masked(q: usize, k: usize, window: Option<usize>) -> bool {
    k > q || window.is_some_and(|w| q - k >= w)
}

/// Softmax over the keys each query may see, for prefill's scores `(.., rows, pos + t)` whose rows are
/// the `t` new queries, repeated for the query heads stacked per K/V head. The same numbers as adding
/// a mask of −∞ and taking candle's `softmax_last_dim` (a masked score's exponential is exactly 0, and
/// the sum runs over the whole row in candle's order), without building the mask, adding it, or
/// taking the exponential of the masked half of a causal prompt.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MaskedSoftmax {
    pos: usize,
    t: usize,
    window: Option<usize>,
}

impl MaskedSoftmax {
    /// The keys row `row` may see.
    fn visible(&self, row: usize) -> std::ops::RangeInclusive<usize> {
        let q = self.pos + row % self.t;
        let first = self.window.map_or(0, |w| (q + 1).saturating_sub(w));
        debug_assert!(!masked(q, first, self.window) && masked(q, q + 1, self.window));
        first..=q
    }
}

impl candle_core::CustomOp1 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        "masked-softmax"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> Result<(candle_core::CpuStorage, candle_core::Shape)> {
        use candle_core::cpu::kernels::VecOps;
        use rayon::prelude::*;
        let candle_core::CpuStorage::F32(src) = storage else {
            candle_core::bail!("masked softmax takes f32 scores");
        };
        let Some((o1, o2)) = layout.contiguous_offsets() else {
            candle_core::bail!("masked softmax of a non-contiguous tensor");
        };
        let kv = layout.dims().last().copied().unwrap_or(0);
        if kv != self.pos + self.t || self.t == 0 {
            candle_core::bail!("scores of {kv} keys for {} new queries", self.t);
        }
        let mut dst = vec![0f32; o2 - o1];
        src[o1..o2]
            .par_chunks(kv)
            .zip(dst.par_chunks_mut(kv))
            .enumerate()
            .for_each(|(row, (src, dst))| {
                let seen = self.visible(row);
                let max = src[seen.clone()]
                    .iter()
                    .fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                for j in seen.clone() {
                    dst[j] = (src[j] - max).exp();
                }
                let mut sum = 0f32;
                // SAFETY: `dst` holds `kv` values.
                unsafe { f32::vec_reduce_sum(dst.as_ptr(), &mut sum, kv) };
                dst[seen].iter_mut().for_each(|d| *d /= sum);
            });
        Ok((candle_core::CpuStorage::F32(dst), layout.shape().clone()))
    }
}

fn inv_freq(head_dim: usize, base: f32, scale: f32) -> Vec<f32> {
    (0..head_dim / 2)
        .map(|i| 1.0 / base.powf(2.0 * i as f32 / head_dim as f32) / scale)
        .collect()
}

/// Load options that change how weights are held in memory (never what they compute).
#[derive(Debug, Clone, Copy)]
pub struct WeightOptions {
    /// Hold weight types that candle multiplies slowly in forms that multiply fast, where that is
    /// exact (see [`quant`]).
    pub fast_quants: bool,
    /// Bytes of f32 weight copies `quant` may make (Q4_1/Q5_1 models, prefill copies).
    pub f32_budget: usize,
}

impl Default for WeightOptions {
    fn default() -> Self {
        WeightOptions {
            fast_quants: true,
            f32_budget: 2 << 30,
        }
    }
}

impl Decoder {
    pub fn load(
        hp: Hyper,
        src: &dyn TensorSource,
        opts: WeightOptions,
    ) -> std::result::Result<Decoder, LlmError> {
        let mut ld = Loader {
            src,
            fast: opts.fast_quants,
            f32_budget: if opts.fast_quants { opts.f32_budget } else { 0 },
            eps: hp.rms_eps as f32,
        };
        let embed = ld.src.tensor("token_embd.weight")?;
        // Without an output matrix the embeddings are tied: the output projection is the embedding.
        // Logits are computed for the last position only, so the output matrix never sees prefill.
        let output = if ld.src.has_tensor("output.weight") {
            ld.matmul_for("output.weight", false)?
        } else {
            ld.matmul_for("token_embd.weight", false)?
        };
        let mut layers = Vec::with_capacity(hp.n_layer);
        for i in 0..hp.n_layer {
            let p = format!("blk.{i}");
            layers.push(Layer {
                q: ld.linear(&format!("{p}.attn_q"), hp.qkv_bias)?,
                k: ld.linear(&format!("{p}.attn_k"), hp.qkv_bias)?,
                v: ld.linear(&format!("{p}.attn_v"), hp.qkv_bias)?,
                o: ld.linear(&format!("{p}.attn_output"), false)?,
                q_norm: ld.norm_if(hp.qk_norm, &format!("{p}.attn_q_norm.weight"))?,
                k_norm: ld.norm_if(hp.qk_norm, &format!("{p}.attn_k_norm.weight"))?,
                attn_norm: ld.norm(&format!("{p}.attn_norm.weight"))?,
                post_attn_norm: ld
                    .norm_if(hp.post_norms, &format!("{p}.post_attention_norm.weight"))?,
                ffn_norm: ld.norm(&format!("{p}.ffn_norm.weight"))?,
                post_ffn_norm: ld.norm_if(hp.post_norms, &format!("{p}.post_ffw_norm.weight"))?,
                gate: ld.matmul(&format!("{p}.ffn_gate.weight"))?,
                up: ld.matmul(&format!("{p}.ffn_up.weight"))?,
                down: ld.matmul(&format!("{p}.ffn_down.weight"))?,
                local: hp.is_local(i),
                cache: KvCache::default(),
            });
        }
        let norm = ld.norm("output_norm.weight")?;
        let mut inv_freq_global = inv_freq(hp.head_dim, hp.rope_base, hp.rope_scale);
        // Llama 3.1+ stretches the low RoPE frequencies; the GGUF stores the per-pair factors.
        if ld.src.has_tensor("rope_freqs.weight") {
            let factors = ld
                .dense("rope_freqs.weight")?
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| LlmError::inference("read rope_freqs.weight", e))?;
            if factors.len() != inv_freq_global.len() {
                return Err(LlmError::inference(
                    "read rope_freqs.weight",
                    candle_core::Error::Msg(format!(
                        "{} factors for {} frequencies",
                        factors.len(),
                        inv_freq_global.len()
                    )),
                ));
            }
            for (f, s) in inv_freq_global.iter_mut().zip(factors) {
                *f /= s;
            }
        }
        let inv_freq_local = match &hp.sliding {
            Some(s) => inv_freq(hp.head_dim, s.local_rope_base, 1.0),
            None => inv_freq_global.clone(),
        };
        Ok(Decoder {
            hp,
            embed,
            layers,
            norm,
            output,
            pos: 0,
            inv_freq: inv_freq_global,
            inv_freq_local,
        })
    }

    pub fn hyper(&self) -> &Hyper {
        &self.hp
    }

    /// Tokens currently in the KV cache.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Forget the conversation (the buffers are kept for reuse).
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Keep the first `n` positions of the conversation and forget the rest: the next `forward`
    /// continues after them. Keys and values depend only on the tokens up to their own position, so
    /// what is kept is what a fresh run over those `n` tokens would compute.
    pub fn truncate(&mut self, n: usize) {
        self.pos = self.pos.min(n);
        let kv_dim = self.hp.n_kv_head * self.hp.head_dim;
        for l in &mut self.layers {
            l.cache.truncate(self.pos, kv_dim);
        }
    }

    fn rope_tables(&self, inv_freq: &[f32], t: usize) -> Result<(Tensor, Tensor)> {
        let half = inv_freq.len();
        let mut cos = Vec::with_capacity(t * half);
        let mut sin = Vec::with_capacity(t * half);
        for p in self.pos..self.pos + t {
            for f in inv_freq {
                let a = p as f32 * f;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
        Ok((
            Tensor::from_vec(cos, (t, half), &Device::Cpu)?,
            Tensor::from_vec(sin, (t, half), &Device::Cpu)?,
        ))
    }

    /// Run `tokens` (continuing the cached conversation) and return the logits after the last one.
    pub fn forward(&mut self, tokens: &[u32]) -> Result<Tensor> {
        let t = tokens.len();
        if t == 0 {
            candle_core::bail!("no tokens to run");
        }
        if self.pos + t > self.hp.context_length {
            candle_core::bail!(
                "{} tokens exceed the context length {}",
                self.pos + t,
                self.hp.context_length
            );
        }
        if let [token] = *tokens {
            return self.step(token);
        }
        let hp = self.hp.clone();
        let ids = Tensor::new(tokens, &Device::Cpu)?;
        let mut x = self.embed.embedding(&ids)?.unsqueeze(0)?;
        if let Some(s) = hp.embed_scale {
            x = (x * s)?;
        }
        let rope = self.rope_tables(&self.inv_freq, t)?;
        let rope_local = self.rope_tables(&self.inv_freq_local, t)?;
        let mask = MaskedSoftmax {
            pos: self.pos,
            t,
            window: None,
        };
        let mask_local = MaskedSoftmax {
            window: hp.sliding.as_ref().map(|s| s.window),
            ..mask
        };
        for layer in &mut self.layers {
            let (cos, sin) = if layer.local { &rope_local } else { &rope };
            let mask = if layer.local { &mask_local } else { &mask };
            let h = layer.attn_norm.forward(&x)?;
            let mut a = layer.attention(&hp, &h, cos, sin, mask)?;
            if let Some(n) = &layer.post_attn_norm {
                a = n.forward(&a)?;
            }
            x = (x + a)?;
            let h = layer.ffn_norm.forward(&x)?;
            let gu = Weight::forward_all(&[&layer.gate, &layer.up], &h)?;
            let [g, u]: [Tensor; 2] = gu
                .try_into()
                .map_err(|_| candle_core::Error::Msg("fused products: wrong count".into()))?;
            let g = match hp.activation {
                Activation::Silu => candle_nn::ops::silu(&g)?,
                Activation::GeluTanh => g.gelu()?,
            };
            let mut m = layer.down.forward(&(g * u)?)?;
            if let Some(n) = &layer.post_ffn_norm {
                m = n.forward(&m)?;
            }
            x = (x + m)?;
        }
        self.pos += t;
        let last = self.norm.forward(&x.narrow(1, t - 1, 1)?)?;
        self.output.forward(&last)?.flatten_all()
    }
}

impl Decoder {
    /// One position (decoding): the same computation as [`Decoder::forward`] on plain buffers,
    /// candle tensors only around the weight products, attention split over the threads
    /// ([`attention`]). Only the order of some float additions differs from the batched path.
    fn step(&mut self, token: u32) -> Result<Tensor> {
        let hp = &self.hp;
        let cpu = &Device::Cpu;
        let (nh, nkv, hd) = (hp.n_head, hp.n_kv_head, hp.head_dim);
        let mut x = plain_of(&self.embed.embedding(&Tensor::new(&[token], cpu)?)?)?;
        if let Some(s) = hp.embed_scale {
            x.iter_mut().for_each(|v| *v *= s as f32);
        }
        let angles = |inv_freq: &[f32]| -> (Vec<f32>, Vec<f32>) {
            let a: Vec<f32> = inv_freq.iter().map(|f| self.pos as f32 * f).collect();
            (
                a.iter().map(|a| a.cos()).collect(),
                a.iter().map(|a| a.sin()).collect(),
            )
        };
        let rope = angles(&self.inv_freq);
        let rope_local = angles(&self.inv_freq_local);
        let heads = attention::Heads {
            n_head: nh,
            n_kv_head: nkv,
            head_dim: hd,
        };
        for layer in &mut self.layers {
            let (cos, sin) = if layer.local { &rope_local } else { &rope };
            let h = layer.attn_norm.applied(&x);
            let [mut q, mut k, v] = Linear::forward_plain([&layer.q, &layer.k, &layer.v], &h)?;
            if let (Some(qn), Some(kn)) = (&layer.q_norm, &layer.k_norm) {
                qn.apply(&mut q);
                kn.apply(&mut k);
            }
            rotate(hp.rope_style, &mut q, hd, cos, sin);
            rotate(hp.rope_style, &mut k, hd, cos, sin);
            q.iter_mut().for_each(|v| *v *= hp.attn_scale as f32);
            layer.cache.k.extend_from_slice(&k);
            layer.cache.v.extend_from_slice(&v);
            let window = hp
                .sliding
                .as_ref()
                .filter(|_| layer.local)
                .map(|s| s.window);
            let first = window.map_or(0, |w| (self.pos + 1).saturating_sub(w));
            let y = attention::attend(
                heads,
                &q,
                &layer.cache.k,
                &layer.cache.v,
                first..self.pos + 1,
            );
            let [mut a] = Linear::forward_plain([&layer.o], &y)?;
            if let Some(n) = &layer.post_attn_norm {
                n.apply(&mut a);
            }
            x.iter_mut().zip(&a).for_each(|(x, a)| *x += a);
            let h = layer.ffn_norm.applied(&x);
            let gu = Weight::forward_all(&[&layer.gate, &layer.up], &row(&h)?)?;
            let [g, u]: [Tensor; 2] = gu
                .try_into()
                .map_err(|_| candle_core::Error::Msg("fused products: wrong count".into()))?;
            let mut g = plain_of(&g)?;
            let act: fn(f32) -> f32 = match hp.activation {
                Activation::Silu => |v| v / (1.0 + (-v).exp()),
                Activation::GeluTanh => |v| {
                    const SQRT_TWO_OVER_PI: f32 = 0.797_884_6;
                    0.5 * v * (1.0 + f32::tanh(SQRT_TWO_OVER_PI * v * (1.0 + 0.044715 * v * v)))
                },
            };
            g.iter_mut()
                .zip(plain_of(&u)?)
                .for_each(|(g, u)| *g = act(*g) * u);
            let mut m = plain_of(&layer.down.forward(&row(&g)?)?)?;
            if let Some(n) = &layer.post_ffn_norm {
                n.apply(&mut m);
            }
            x.iter_mut().zip(&m).for_each(|(x, m)| *x += m);
        }
        self.pos += 1;
        self.norm.apply(&mut x);
        self.output.forward(&row(&x)?)?.flatten_all()
    }
}

/// Values as the `(1, 1, n)` row a weight product takes.
fn row(x: &[f32]) -> Result<Tensor> {
    Tensor::from_slice(x, (1, 1, x.len()), &Device::Cpu)
}

fn plain_of(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// RoPE of each `hd`-wide head of `x` in place: candle's `rope` (pairs `i`, `i + hd/2`) or
/// `rope_i` (pairs `2i`, `2i + 1`) for one position.
fn rotate(style: RopeStyle, x: &mut [f32], hd: usize, cos: &[f32], sin: &[f32]) {
    let half = hd / 2;
    for head in x.chunks_exact_mut(hd) {
        for i in 0..half {
            let (a, b) = match style {
                RopeStyle::Neox => (i, i + half),
                RopeStyle::Interleaved => (2 * i, 2 * i + 1),
            };
            let (x0, x1) = (head[a], head[b]);
            head[a] = x0 * cos[i] - x1 * sin[i];
            head[b] = x0 * sin[i] + x1 * cos[i];
        }
    }
}

impl Layer {
    fn attention(
        &mut self,
        hp: &Hyper,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: &MaskedSoftmax,
    ) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let (nh, nkv, hd) = (hp.n_head, hp.n_kv_head, hp.head_dim);
        let [q, k, v] = Linear::forward_all([&self.q, &self.k, &self.v], x)?;
        let q = q.reshape((b, t, nh, hd))?;
        let k = k.reshape((b, t, nkv, hd))?;
        let v = v.reshape((b, t, nkv, hd))?;
        let (q, k) = match (&self.q_norm, &self.k_norm) {
            (Some(qn), Some(kn)) => (qn.forward(&q)?, kn.forward(&k)?),
            _ => (q, k),
        };
        let q = q.transpose(1, 2)?.contiguous()?;
        let k = k.transpose(1, 2)?.contiguous()?;
        let v = v.transpose(1, 2)?.contiguous()?;
        let (q, k) = match hp.rope_style {
            RopeStyle::Interleaved => (
                candle_nn::rotary_emb::rope_i(&q, cos, sin)?,
                candle_nn::rotary_emb::rope_i(&k, cos, sin)?,
            ),
            RopeStyle::Neox => (
                candle_nn::rotary_emb::rope(&q, cos, sin)?,
                candle_nn::rotary_emb::rope(&k, cos, sin)?,
            ),
        };
        let (k, v) = self.cache.append(&k, &v)?;
        // Stack the query heads of each K/V group along the sequence axis (heads are group-major).
        let rep = nh / nkv;
        let q = (q * hp.attn_scale)?.reshape((b, nkv, rep * t, hd))?;
        let att = q.matmul(&k.t()?)?;
        let att = att.apply_op1_no_bwd(mask)?;
        let y = att.matmul(&v)?;
        let y = y
            .reshape((b, nh, t, hd))?
            .transpose(1, 2)?
            .reshape((b, t, nh * hd))?;
        self.o.forward(&y)
    }
}

/// The index of the largest logit (greedy choice).
pub fn argmax(logits: &Tensor) -> Result<u32> {
    logits.argmax(D::Minus1)?.to_scalar::<u32>()
}

#[cfg(test)]
mod tests {
    use super::{masked, MaskedSoftmax};
    use candle_core::{Device, Tensor};

    /// The mask the op replaces: −∞ where a query must not see a key.
    fn additive_mask(pos: usize, t: usize, rep: usize, window: Option<usize>) -> Vec<f32> {
        let mut m = Vec::new();
        for _ in 0..rep {
            for i in 0..t {
                m.extend((0..pos + t).map(|j| {
                    if masked(pos + i, j, window) {
                        f32::NEG_INFINITY
                    } else {
                        0.0
                    }
                }));
            }
        }
        m
    }

    #[test]
    fn masked_softmax_is_mask_plus_candles_softmax_to_the_bit() {
        let dev = Device::Cpu;
        for (pos, t, rep, window, heads) in [
            (0, 2, 1, None, 1),
            (0, 7, 6, None, 2),
            (13, 5, 3, None, 2),
            (0, 37, 2, None, 1),
            (100, 33, 6, None, 2),
            (0, 9, 2, Some(4), 1),
            (10, 6, 2, Some(3), 3),
            (3, 20, 1, Some(64), 2),
        ] {
            let kv = pos + t;
            let n = heads * rep * t * kv;
            // Scores of either sign and a wide range, some exactly zero or negative zero.
            let scores: Vec<f32> = (0..n)
                .map(|i| match i % 17 {
                    0 => 0.0,
                    5 => -0.0,
                    _ => ((i as f32 * 0.37).sin() * 30.0) + (i % 7) as f32,
                })
                .collect();
            let att = Tensor::from_vec(scores, (1, heads, rep * t, kv), &dev).unwrap();
            let mask =
                Tensor::from_vec(additive_mask(pos, t, rep, window), (rep * t, kv), &dev).unwrap();
            let want = candle_nn::ops::softmax_last_dim(&att.broadcast_add(&mask).unwrap())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let got = att
                .apply_op1_no_bwd(&MaskedSoftmax { pos, t, window })
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&got),
                bits(&want),
                "pos {pos} t {t} rep {rep} window {window:?}"
            );
        }
    }

    #[test]
    fn causal_and_sliding_masks() {
        assert!(!masked(5, 5, None) && !masked(5, 0, None) && masked(5, 6, None));
        // A window of 3 at position 5 sees 3, 4, 5.
        let seen: Vec<usize> = (0..8).filter(|&k| !masked(5, k, Some(3))).collect();
        assert_eq!(seen, vec![3, 4, 5]);
    }
}
