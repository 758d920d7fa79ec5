//! Weight matrices in the forms candle's CPU backend (or warta's own kernels) multiply fastest.
//!
//! Decoding multiplies each weight matrix by one row of activations. candle 0.11 has AVX2 dot
//! products for Q4_0, Q8_0 and the K-quants, but Q5_0 (and Q4_1, Q5_1) fall back to a scalar loop that
//! unpacks the fifth bit of every weight one at a time (`BlockQ5_0::vec_dot` calls `vec_dot_unopt`), and
//! its Q8_0 loop takes one row at a time. llama.cpp's Q4_K_M files quantize most layers of small models
//! such as Qwen2.5-0.5B to Q5_0 (their row length is not a multiple of the 256-wide K-quant blocks), so
//! those models ran ~10x slower than llama.cpp. Q5_0 and Q8_0 matrices are therefore repacked for
//! warta's four-row AVX2 kernels (`gemv`), in their own type: the same weights, the same integer
//! products.
//!
//! candle's K-quant products also take one weight row at a time for a single row of activations,
//! and for several rows it repacks Q4_K and Q6_K into 16-row tiles kept beside the original blocks
//! (a third to a half more memory again). On CPUs with AVX2, Q4_K and Q6_K matrices are instead
//! repacked once into warta's 16-row tiles (`gemv::tiles`), whose kernels serve decoding and prefill
//! alike, and the original blocks are dropped: Qwen2.5-Coder-1.5B's resident memory falls by about
//! 1 GB. Elsewhere (NEON) candle's own kernels stay.
//!
//! Q4_1 and Q5_1 blocks are `d * q + m`: no other quantized type holds that offset exactly, so small
//! models in these types (SmolLM2's Q4_1 file) are dequantized to f32, which holds the weights exactly
//! and multiplies through candle's f32 GEMM; the activations are then no longer rounded to 8 bits,
//! which is closer to the unquantized model. A memory budget keeps big models in their own type.
//!
//! Prefill is a matrix-matrix product. candle multiplies Q8_0, Q5_0 and Q4_0 through loops of dot
//! products, several times slower than its f32 GEMM (and warta's quads, though they take several
//! rows at once, are still slower than the f32 GEMM), so those matrices also get an exact f32 copy for
//! prefill, within the same memory budget.

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Result, Tensor, D};

use super::gemv::{self, Q4KTiles, Q5_0x4, Q6KTiles, Q8KAct, Q8_0Act, Q8_0x4, QuadMatrix, Quads};
use super::gguf::RawTensor;

/// Rows of activations from which a dense copy, when there is one, does the multiplication.
pub const DENSE_MIN_ROWS: usize = 16;

/// A weight matrix prepared for the CPU: the quantized matrix for decoding (one row of activations
/// at a time, where reading fewer bytes wins) and, for types whose prefill candle only runs through
/// its generic dot-product loop (Q8_0, Q5_0, Q4_0), an f32 copy multiplied by the f32 GEMM when many
/// rows come at once (prefill). Memory for f32 copies is bounded by a budget.
pub struct Weight {
    q: Quantized,
    dense: Option<Tensor>,
}

enum Quantized {
    Candle(QMatMul),
    /// Q8_0 and Q5_0 in warta's own layout (see `gemv`).
    Q8_0(Quads<Q8_0x4>),
    Q5_0(Quads<Q5_0x4>),
    /// Q4_K and Q6_K in 16-row tiles (`gemv::tiles`), on CPUs with AVX2, for any number of
    /// rows (no other copy).
    Q4K(Q4KTiles),
    Q6K(Q6KTiles),
}

impl Quantized {
    /// As a matrix of quads multiplying Q8_K activations.
    fn q8k(&self) -> Option<&dyn QuadMatrix<Q8KAct>> {
        match self {
            Quantized::Q4K(q) => Some(q),
            Quantized::Q6K(q) => Some(q),
            _ => None,
        }
    }

    /// As a matrix of quads multiplying Q8_0 activations.
    fn q8_0(&self) -> Option<&dyn QuadMatrix<Q8_0Act>> {
        match self {
            Quantized::Q8_0(q) => Some(q),
            Quantized::Q5_0(q) => Some(q),
            _ => None,
        }
    }
}

impl Weight {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match &self.dense {
            Some(w) if x.elem_count() / x.dim(D::Minus1)? >= DENSE_MIN_ROWS => {
                let w = match *x.dims() {
                    [b, _, _] => w.broadcast_left(b)?.t()?,
                    _ => w.t()?,
                };
                x.matmul(&w)
            }
            _ => match &self.q {
                Quantized::Q8_0(q) => q.forward(x),
                Quantized::Q5_0(q) => q.forward(x),
                Quantized::Q4K(q) => gemv::product(q, x),
                Quantized::Q6K(q) => gemv::product(q, x),
                Quantized::Candle(q) => q.forward(x),
            },
        }
    }

    /// `x · Wᵀ` for each of `ws`: one pass for all where they are warta's quads of one activation
    /// type (see [`gemv::fused`]), the same results as one [`Weight::forward`] each.
    pub fn forward_all(ws: &[&Weight], x: &Tensor) -> Result<Vec<Tensor>> {
        let rows = x.elem_count() / x.dim(D::Minus1)?.max(1);
        let dense = ws
            .iter()
            .any(|w| w.dense.is_some() && rows >= DENSE_MIN_ROWS);
        if !dense && ws.len() > 1 {
            if let Some(ms) = ws.iter().map(|w| w.q.q8k()).collect::<Option<Vec<_>>>() {
                return gemv::fused(x, &ms);
            }
            if let Some(ms) = ws.iter().map(|w| w.q.q8_0()).collect::<Option<Vec<_>>>() {
                return gemv::fused(x, &ms);
            }
        }
        ws.iter().map(|w| w.forward(x)).collect()
    }

    /// The quantized form only, as candle prepares it.
    pub fn plain(t: QTensor) -> Result<Weight> {
        Ok(Weight {
            q: Quantized::Candle(QMatMul::from_qtensor(t)?),
            dense: None,
        })
    }

    /// The form candle multiplies fastest, converted exactly (see the module docs); `prefill` says
    /// whether the matrix ever sees more than one row (the output projection does not). warta's own
    /// forms are repacked straight from the stored bytes; candle's get their own copy.
    pub fn fast(t: &RawTensor, prefill: bool, f32_budget: &mut usize) -> Result<Weight> {
        let f32_bytes = t.dims.iter().product::<usize>() * 4;
        let mut take = |bytes: usize| {
            let ok = bytes <= *f32_budget;
            if ok {
                *f32_budget -= bytes;
            }
            ok
        };
        let dims2 = || match t.dims[..] {
            [n, k] => Ok((n, k)),
            _ => candle_core::bail!("a {:?} weight matrix of shape {:?}", t.dtype, t.dims),
        };
        match t.dtype {
            // No SIMD kernel at all and no exact quantized equivalent: f32 for everything.
            GgmlDType::Q4_1 | GgmlDType::Q5_1 if take(f32_bytes) => Ok(Weight {
                q: Quantized::Candle(QMatMul::Tensor(t.qtensor()?.dequantize(&Device::Cpu)?)),
                dense: None,
            }),
            GgmlDType::Q5_0 | GgmlDType::Q8_0 | GgmlDType::Q4_0 => {
                let (n, k) = dims2()?;
                // Q4_0 stays candle's: one copy serves it and the dense form.
                let candle = match t.dtype {
                    GgmlDType::Q4_0 => Some(t.qtensor()?),
                    _ => None,
                };
                let dense = if prefill && take(f32_bytes) {
                    let dense = match &candle {
                        Some(c) => c.dequantize(&Device::Cpu)?,
                        None => t.qtensor()?.dequantize(&Device::Cpu)?,
                    };
                    Some(dense)
                } else {
                    None
                };
                let q = match (t.dtype, candle) {
                    (_, Some(c)) => Quantized::Candle(QMatMul::from_qtensor(c)?),
                    (GgmlDType::Q5_0, None) => Quantized::Q5_0(Quads::from_raw(n, k, t.data)?),
                    _ => Quantized::Q8_0(Quads::from_raw(n, k, t.data)?),
                };
                Ok(Weight { q, dense })
            }
            GgmlDType::Q4K | GgmlDType::Q6K if gemv::has_avx2() => {
                let (n, k) = dims2()?;
                let q = match t.dtype {
                    GgmlDType::Q4K => Quantized::Q4K(Q4KTiles::from_raw(n, k, t.data)?),
                    _ => Quantized::Q6K(Q6KTiles::from_raw(n, k, t.data)?),
                };
                Ok(Weight { q, dense: None })
            }
            _ => Weight::plain(t.qtensor()?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::gemv::tests::max_abs_diff;
    use candle_core::Tensor;

    /// [`Weight::fast`] of a tensor made in memory, as the loader gives it a tensor of the file.
    fn fast(q: QTensor, prefill: bool, budget: &mut usize) -> Result<Weight> {
        let data = q.data()?;
        let raw = RawTensor {
            dtype: q.dtype(),
            dims: q.shape().dims().to_vec(),
            data: &data,
        };
        Weight::fast(&raw, prefill, budget)
    }

    #[test]
    fn weights_get_the_fast_form_within_budget() {
        let dev = Device::Cpu;
        let w = Tensor::from_vec(
            (0..64 * 256).map(|i| (i as f32 * 0.1).sin()).collect(),
            (64, 256),
            &dev,
        )
        .unwrap();
        let x1 = Tensor::from_vec(
            (0..256).map(|i| (i as f32 * 0.3).cos()).collect(),
            (1, 1, 256),
            &dev,
        )
        .unwrap();
        let xs = x1.repeat((1, DENSE_MIN_ROWS, 1)).unwrap();
        let close = |a: &Tensor, b: &Tensor| {
            let d = max_abs_diff(a, b);
            assert!(d < 0.05, "{d}");
        };
        for dtype in [
            GgmlDType::Q4K,
            GgmlDType::Q6K,
            GgmlDType::Q5_0,
            GgmlDType::Q8_0,
            GgmlDType::Q4_0,
            GgmlDType::Q4_1,
        ] {
            let q = QTensor::quantize(&w, dtype).unwrap();
            let reference = q.dequantize(&dev).unwrap();
            let mut budget = usize::MAX;
            let fast = fast(q, true, &mut budget).unwrap();
            let quads = matches!(dtype, GgmlDType::Q5_0 | GgmlDType::Q8_0);
            let expected_dense = quads || dtype == GgmlDType::Q4_0;
            assert_eq!(fast.dense.is_some(), expected_dense, "{dtype:?}");
            assert_eq!(
                matches!(fast.q, Quantized::Candle(QMatMul::Tensor(_))),
                dtype == GgmlDType::Q4_1,
                "{dtype:?}"
            );
            assert_eq!(
                matches!(fast.q, Quantized::Q8_0(_) | Quantized::Q5_0(_)),
                quads,
                "{dtype:?}"
            );
            assert_eq!(
                matches!(fast.q, Quantized::Candle(QMatMul::QTensor(_))),
                dtype == GgmlDType::Q4_0,
                "{dtype:?}"
            );
            let k_quant = matches!(dtype, GgmlDType::Q4K | GgmlDType::Q6K);
            assert_eq!(
                matches!(fast.q, Quantized::Q4K(_) | Quantized::Q6K(_)),
                k_quant && gemv::has_avx2(),
                "{dtype:?}"
            );
            // One row (decode) and many rows (prefill) both compute x · wᵀ.
            let want = x1.broadcast_matmul(&reference.t().unwrap()).unwrap();
            close(&fast.forward(&x1).unwrap(), &want);
            let rows = fast.forward(&xs).unwrap();
            close(&rows.narrow(1, DENSE_MIN_ROWS - 1, 1).unwrap(), &want);
        }
        // Out of budget: the quantized form only.
        let q = QTensor::quantize(&w, GgmlDType::Q4_1).unwrap();
        let mut budget = 100;
        let w1 = fast(q, true, &mut budget).unwrap();
        assert!(
            matches!(w1.q, Quantized::Candle(QMatMul::QTensor(_)))
                && w1.dense.is_none()
                && budget == 100
        );
    }

    /// Fused products (q/k/v, gate/up) are each matrix's own product to the bit, for mixed types
    /// of one activation type, one and several rows; where a dense copy takes over, too.
    #[test]
    fn fused_products_are_the_single_ones() {
        let dev = Device::Cpu;
        let mat = |n: usize, k: usize, seed: f32| {
            Tensor::from_vec(
                (0..n * k).map(|i| (i as f32 * 0.1 + seed).sin()).collect(),
                (n, k),
                &dev,
            )
            .unwrap()
        };
        let k = 512;
        for types in [
            [GgmlDType::Q4K, GgmlDType::Q4K, GgmlDType::Q6K],
            [GgmlDType::Q5_0, GgmlDType::Q5_0, GgmlDType::Q8_0],
            [GgmlDType::Q4K, GgmlDType::Q5_0, GgmlDType::Q6K],
        ] {
            let mut budget = usize::MAX;
            let ws: Vec<Weight> = types
                .iter()
                .zip([64, 12, 20])
                .enumerate()
                .map(|(i, (&t, n))| {
                    let q = QTensor::quantize(&mat(n, k, i as f32), t).unwrap();
                    fast(q, true, &mut budget).unwrap()
                })
                .collect();
            let refs: Vec<&Weight> = ws.iter().collect();
            for m in [1, 3, DENSE_MIN_ROWS + 1] {
                let x = Tensor::from_vec(
                    (0..m * k).map(|i| (i as f32 * 0.37).cos()).collect(),
                    (1, m, k),
                    &dev,
                )
                .unwrap();
                let all = Weight::forward_all(&refs, &x).unwrap();
                assert_eq!(all.len(), ws.len());
                for (w, got) in ws.iter().zip(&all) {
                    let want = w.forward(&x).unwrap();
                    assert_eq!(got.dims(), want.dims());
                    assert_eq!(
                        got.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                        want.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                        "{types:?} m={m}"
                    );
                }
            }
        }
    }
}
