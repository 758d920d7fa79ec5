//! Load-time re-encoding of weight types that candle's CPU backend multiplies slowly.
//!
//! candle 0.11 has AVX2 dot products for Q4_0, Q8_0 and the K-quants, but Q5_0 (and Q4_1, Q5_1) fall back
//! to a scalar loop that unpacks the fifth bit of every weight one at a time (`BlockQ5_0::vec_dot` calls
//! `vec_dot_unopt`). llama.cpp's Q4_K_M files quantize most layers of small models such as
//! Qwen2.5-0.5B to Q5_0 (their row length is not a multiple of the 256-wide K-quant blocks), so those
//! models ran ~10x slower than llama.cpp.
//!
//! A Q5_0 block is 32 weights `d * (q - 16)` with one f16 scale `d` and 5-bit `q`; a Q8_0 block is 32
//! weights `d * q` with one f16 scale and 8-bit signed `q`. So every Q5_0 block is exactly a Q8_0 block
//! with the same scale and `q - 16` as its integers: the conversion is lossless, and both types are
//! multiplied against the same Q8_0-quantized activations. Only the order of the float additions in
//! the dot product changes (SIMD lanes instead of a serial loop). The price is memory: 34 bytes per
//! block instead of 22.
//!
//! Q4_1 and Q5_1 blocks are `d * q + m`: no other quantized type holds that offset exactly, so small
//! models in these types (SmolLM2's Q4_1 file) are dequantized to f32, which holds the weights exactly
//! and multiplies through candle's f32 GEMM; the activations are then no longer rounded to 8 bits,
//! which is closer to the unquantized model. A memory budget keeps big models in their own type.

use std::borrow::Cow;

use candle_core::quantized::{ggml_file::qtensor_from_ggml, GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Result};

const Q5_0_BLOCK: usize = 22;
const Q8_0_BLOCK: usize = 34;

/// A weight matrix ready for candle's matmul, in a form candle multiplies fast where that is exact:
/// Q5_0 becomes Q8_0 (same values); Q4_1 and Q5_1 (no SIMD kernel, and no exact quantized
/// equivalent because of their per-block offset) become f32 while `f32_budget` (bytes) lasts;
/// everything else is kept as it is.
pub fn fast_matmul(t: QTensor, f32_budget: &mut usize) -> Result<QMatMul> {
    match t.dtype() {
        GgmlDType::Q5_0 => QMatMul::from_qtensor(q5_0_to_q8_0(&t)?),
        GgmlDType::Q4_1 | GgmlDType::Q5_1 if t.shape().elem_count() * 4 <= *f32_budget => {
            *f32_budget -= t.shape().elem_count() * 4;
            Ok(QMatMul::Tensor(t.dequantize(&Device::Cpu)?))
        }
        _ => QMatMul::from_qtensor(t),
    }
}

/// Re-encode Q5_0 blocks as Q8_0 blocks holding the same values.
pub fn q5_0_to_q8_0(t: &QTensor) -> Result<QTensor> {
    if t.dtype() != GgmlDType::Q5_0 {
        candle_core::bail!("expected a Q5_0 tensor, got {:?}", t.dtype());
    }
    let data: Cow<[u8]> = t.data()?;
    if data.len() % Q5_0_BLOCK != 0 {
        candle_core::bail!("Q5_0 data of {} bytes is not whole blocks", data.len());
    }
    let mut out = vec![0u8; data.len() / Q5_0_BLOCK * Q8_0_BLOCK];
    for (src, dst) in data
        .chunks_exact(Q5_0_BLOCK)
        .zip(out.chunks_exact_mut(Q8_0_BLOCK))
    {
        // Layout (ggml block_q5_0): f16 d, u32 qh (fifth bits), 16 bytes of nibble pairs.
        dst[..2].copy_from_slice(&src[..2]);
        let qh = u32::from_le_bytes([src[2], src[3], src[4], src[5]]);
        let qs = &src[6..];
        for j in 0..16 {
            let hi0 = ((qh >> j) & 1) << 4;
            let hi1 = ((qh >> (j + 16)) & 1) << 4;
            let x0 = ((u32::from(qs[j]) & 0x0F) | hi0) as i32 - 16;
            let x1 = ((u32::from(qs[j]) >> 4) | hi1) as i32 - 16;
            dst[2 + j] = x0 as i8 as u8;
            dst[2 + 16 + j] = x1 as i8 as u8;
        }
    }
    qtensor_from_ggml(
        GgmlDType::Q8_0,
        &out,
        t.shape().dims().to_vec(),
        &Device::Cpu,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Module, Tensor};

    #[test]
    fn q5_0_to_q8_0_is_exact() {
        let dev = Device::Cpu;
        // Values spread over the whole 5-bit range, with blocks of different scales.
        let w: Vec<f32> = (0..64 * 128)
            .map(|i| ((i * 7919 % 613) as f32 / 613.0 - 0.5) * (1.0 + (i / 32 % 5) as f32))
            .collect();
        let w = Tensor::from_vec(w, (64, 128), &dev).unwrap();
        let q5 = QTensor::quantize(&w, GgmlDType::Q5_0).unwrap();
        let q8 = q5_0_to_q8_0(&q5).unwrap();
        assert_eq!(q8.dtype(), GgmlDType::Q8_0);
        let a = q5.dequantize(&dev).unwrap().flatten_all().unwrap();
        let b = q8.dequantize(&dev).unwrap().flatten_all().unwrap();
        assert_eq!(a.to_vec1::<f32>().unwrap(), b.to_vec1::<f32>().unwrap());

        // The matmuls agree up to the order of float additions.
        let x = Tensor::from_vec(
            (0..3 * 128).map(|i| (i as f32 * 0.37).sin()).collect(),
            (3, 128),
            &dev,
        )
        .unwrap();
        let ya = candle_core::quantized::QMatMul::from_qtensor(q5)
            .unwrap()
            .forward(&x)
            .unwrap();
        let yb = candle_core::quantized::QMatMul::from_qtensor(q8)
            .unwrap()
            .forward(&x)
            .unwrap();
        let diff = (ya - yb)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-4, "{diff}");
    }

    #[test]
    fn other_types_pass_through() {
        let w = Tensor::ones((4, 32), candle_core::DType::F32, &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, GgmlDType::Q4_0).unwrap();
        let mut budget = usize::MAX;
        assert!(
            matches!(fast_matmul(q, &mut budget).unwrap(), QMatMul::QTensor(q) if q.dtype() == GgmlDType::Q4_0)
        );
        // Q4_1 becomes f32 within the budget, and stays Q4_1 beyond it.
        let q = QTensor::quantize(&w, GgmlDType::Q4_1).unwrap();
        let mut budget = 4 * 32 * 4;
        assert!(matches!(
            fast_matmul(q, &mut budget).unwrap(),
            QMatMul::Tensor(_)
        ));
        assert_eq!(budget, 0);
        let q = QTensor::quantize(&w, GgmlDType::Q4_1).unwrap();
        assert!(matches!(
            fast_matmul(q, &mut budget).unwrap(),
            QMatMul::QTensor(_)
        ));
    }
}
