//! One-row matrix products (decoding) for quantized weights: Q8_0 and Q5_0 matrices repacked four
//! rows at a time, and Q4_K through candle's plain K-quant GEMV ([`Q4KRow`]).
//!
//! candle 0.11 multiplies a Q8_0 matrix by one row of activations one weight row at a time, with one
//! accumulator and two out-of-line f16 conversions per 32-wide block, and Q5_0 through a scalar loop.
//! On Qwen2.5-0.5B, whose layers are mostly Q5_0, decoding ran at half of llama.cpp's speed on the same
//! machine even with Q5_0 re-encoded as Q8_0, that loop taking most of the time. Here the weights are
//! repacked at load time: for each group of four rows, each block's four scales (already f32) and the
//! four rows' quants lie together, so a pass streams memory linearly, each block of activations is
//! loaded once for four rows, and four independent sums keep the multiply units busy. Q5_0 stays five
//! bits wide (22 bytes a block instead of Q8_0's 34): decoding reads every weight once per token, so
//! fewer bytes is faster once the arithmetic keeps up.
//!
//! The integer products are those of candle and llama.cpp: activations are quantized to Q8_0 with the
//! same rounding (f16 scale included). Only the order of the float additions differs.

use candle_core::quantized::k_quants::{self, BlockQ4K, QK_K};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use half::f16;

const QK: usize = 32;

/// A block layout of four weight rows.
pub trait Quad: Copy + Send + Sync + 'static {
    const DTYPE: GgmlDType;
    /// Bytes of one ggml block of this type.
    const BLOCK: usize;
    const EMPTY: Self;
    /// Put ggml block `src` of weight row `r` (0..4) into this quad.
    fn set(&mut self, r: usize, src: &[u8]);
    /// Row `r`'s 32 weights as integers (`w = d * q`).
    fn ints(&self, r: usize) -> [i8; QK];
    fn scale(&self, r: usize) -> f32;
    /// The four rows' dot products with quantized activations, AVX2.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA; `yq` has 32 values and `yd` one scale per quad in `w`.
    #[cfg(target_arch = "x86_64")]
    unsafe fn dot4_avx2(w: &[Self], yq: &[i8], yd: &[f32]) -> [f32; 4];
}

/// Q8_0: `w = d * q` with 8-bit `q`.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Q8_0x4 {
    d: [f32; 4],
    qs: [[i8; QK]; 4],
}

impl Quad for Q8_0x4 {
    const DTYPE: GgmlDType = GgmlDType::Q8_0;
    const BLOCK: usize = 2 + QK;
    const EMPTY: Self = Q8_0x4 {
        d: [0.0; 4],
        qs: [[0; QK]; 4],
    };

    fn set(&mut self, r: usize, src: &[u8]) {
        self.d[r] = f16::from_le_bytes([src[0], src[1]]).to_f32();
        for (q, &s) in self.qs[r].iter_mut().zip(&src[2..]) {
            *q = s as i8;
        }
    }

    fn ints(&self, r: usize) -> [i8; QK] {
        self.qs[r]
    }

    fn scale(&self, r: usize) -> f32 {
        self.d[r]
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot4_avx2(w: &[Self], yq: &[i8], yd: &[f32]) -> [f32; 4] {
        use std::arch::x86_64::*;
        let mut acc = [_mm256_setzero_ps(); 4];
        for (b, quad) in w.iter().enumerate() {
            let y = _mm256_loadu_si256(yq.as_ptr().add(b * QK) as *const __m256i);
            let dy = *yd.get_unchecked(b);
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_loadu_si256(quad.qs[r].as_ptr() as *const __m256i);
                *acc = avx2::fma_block(*acc, x, y, quad.d[r] * dy);
            }
        }
        avx2::sums(acc)
    }
}

/// Q5_0: `w = d * (q - 16)` with 5-bit `q`, its fifth bits gathered in `qh`.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Q5_0x4 {
    d: [f32; 4],
    qh: [u32; 4],
    qs: [[u8; QK / 2]; 4],
}

impl Quad for Q5_0x4 {
    const DTYPE: GgmlDType = GgmlDType::Q5_0;
    const BLOCK: usize = 2 + 4 + QK / 2;
    const EMPTY: Self = Q5_0x4 {
        d: [0.0; 4],
        // All fifth bits set: q - 16 = 0, so padding rows hold zeros.
        qh: [u32::MAX; 4],
        qs: [[0; QK / 2]; 4],
    };

    fn set(&mut self, r: usize, src: &[u8]) {
        // ggml block_q5_0: f16 d, u32 qh, 16 bytes of nibble pairs (weights j and j + 16).
        self.d[r] = f16::from_le_bytes([src[0], src[1]]).to_f32();
        self.qh[r] = u32::from_le_bytes([src[2], src[3], src[4], src[5]]);
        self.qs[r].copy_from_slice(&src[6..6 + QK / 2]);
    }

    fn ints(&self, r: usize) -> [i8; QK] {
        let (qh, qs) = (self.qh[r], &self.qs[r]);
        let mut out = [0i8; QK];
        for j in 0..QK / 2 {
            let lo = (qs[j] & 0x0F) | ((((qh >> j) & 1) as u8) << 4);
            let hi = (qs[j] >> 4) | ((((qh >> (j + 16)) & 1) as u8) << 4);
            out[j] = lo as i8 - 16;
            out[j + QK / 2] = hi as i8 - 16;
        }
        out
    }

    fn scale(&self, r: usize) -> f32 {
        self.d[r]
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot4_avx2(w: &[Self], yq: &[i8], yd: &[f32]) -> [f32; 4] {
        use std::arch::x86_64::*;
        let low = _mm256_set1_epi8(0x0F);
        let high = _mm256_set1_epi8(0xF0u8 as i8);
        // Byte i of the broadcast qh word picks byte i / 8 of qh; each byte then tests its bit.
        let spread = _mm256_set_epi64x(
            0x0303030303030303,
            0x0202020202020202,
            0x0101010101010101,
            0,
        );
        let bit = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
        let all = _mm256_set1_epi64x(-1);
        let mut acc = [_mm256_setzero_ps(); 4];
        for (b, quad) in w.iter().enumerate() {
            let y = _mm256_loadu_si256(yq.as_ptr().add(b * QK) as *const __m256i);
            let dy = *yd.get_unchecked(b);
            for (r, acc) in acc.iter_mut().enumerate() {
                let packed = _mm_loadu_si128(quad.qs[r].as_ptr() as *const __m128i);
                let nibbles =
                    _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), low);
                let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(quad.qh[r] as i32), spread);
                let set = _mm256_cmpeq_epi8(_mm256_or_si256(bytes, bit), all);
                // Fifth bit clear: q - 16 = nibble - 16, i.e. the nibble with the top bits set.
                let x = _mm256_or_si256(nibbles, _mm256_andnot_si256(set, high));
                *acc = avx2::fma_block(*acc, x, y, quad.d[r] * dy);
            }
        }
        avx2::sums(acc)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// `acc + d * Σ x·y` over one block of 32 signed bytes each.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn fma_block(acc: __m256, x: __m256i, y: __m256i, d: f32) -> __m256 {
        // maddubs multiplies unsigned by signed bytes: move x's sign onto y.
        let ax = _mm256_sign_epi8(x, x);
        let sy = _mm256_sign_epi8(y, x);
        let pairs = _mm256_maddubs_epi16(ax, sy);
        let dots = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
        _mm256_fmadd_ps(_mm256_set1_ps(d), dots, acc)
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn sums(acc: [__m256; 4]) -> [f32; 4] {
        let mut out = [0f32; 4];
        for (o, a) in out.iter_mut().zip(acc) {
            let s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_movehdup_ps(s));
            *o = _mm_cvtss_f32(s);
        }
        out
    }
}

/// A weight matrix of `n` rows (outputs) by `k` columns as quads: quad-row major, then block.
pub struct Quads<Q: Quad> {
    n: usize,
    k: usize,
    quads: Vec<Q>,
    avx2: bool,
}

impl<Q: Quad> Quads<Q> {
    pub fn new(t: &QTensor) -> Result<Quads<Q>> {
        if t.dtype() != Q::DTYPE {
            candle_core::bail!("expected a {:?} tensor, got {:?}", Q::DTYPE, t.dtype());
        }
        let (n, k) = t.shape().dims2()?;
        if k % QK != 0 {
            candle_core::bail!("{:?} rows of {k} are not whole blocks", Q::DTYPE);
        }
        let data = t.data()?;
        let kb = k / QK;
        if data.len() != n * kb * Q::BLOCK {
            candle_core::bail!(
                "{:?} data of {} bytes for a {n}x{k} matrix",
                Q::DTYPE,
                data.len()
            );
        }
        let mut quads = vec![Q::EMPTY; n.div_ceil(4) * kb];
        for (i, src) in data.chunks_exact(Q::BLOCK).enumerate() {
            let (row, b) = (i / kb, i % kb);
            quads[row / 4 * kb + b].set(row % 4, src);
        }
        Ok(Quads {
            n,
            k,
            quads,
            avx2: has_avx2(),
        })
    }

    /// `x · Wᵀ` for activations `x` of shape `(.., k)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.apply_op1_no_bwd(self)
    }

    /// The dot products of four weight rows with one row of quantized activations.
    fn dot4(&self, w: &[Q], yq: &[i8], yd: &[f32]) -> [f32; 4] {
        debug_assert!(yq.len() == w.len() * QK && yd.len() == w.len());
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: the CPU has AVX2 and FMA (checked at construction); lengths as asserted.
            return unsafe { Q::dot4_avx2(w, yq, yd) };
        }
        portable_dot4(w, yq, yd)
    }
}

fn portable_dot4<Q: Quad>(w: &[Q], yq: &[i8], yd: &[f32]) -> [f32; 4] {
    let mut sums = [0f32; 4];
    for ((quad, ys), &dy) in w.iter().zip(yq.chunks_exact(QK)).zip(yd) {
        for (r, sum) in sums.iter_mut().enumerate() {
            let dot: i32 = quad
                .ints(r)
                .iter()
                .zip(ys)
                .map(|(&a, &b)| i32::from(a) * i32::from(b))
                .sum();
            *sum += dot as f32 * (quad.scale(r) * dy);
        }
    }
    sums
}

impl<Q: Quad> CustomOp1 for Quads<Q> {
    fn name(&self) -> &'static str {
        "quads-gemv"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, k) = (self.n, self.k);
        let x = rows(self.name(), storage, layout, k)?;
        let m = x.len() / k;
        let kb = k / QK;
        let (xq, xd) = quantize(x);
        let mut dst = vec![0f32; m * n];
        let dst_ptr = dst.as_mut_ptr() as usize;
        // Each work item is one quad of weight rows against every activation row, so the quad's
        // blocks stay in cache while the rows go by; items write disjoint outputs.
        candle_core::utils::barrier_pool().execute_chunked(n.div_ceil(4), |range| {
            for q in range {
                let w = &self.quads[q * kb..(q + 1) * kb];
                for row in 0..m {
                    let (yq, yd) = (&xq[row * k..(row + 1) * k], &xd[row * kb..(row + 1) * kb]);
                    for (r, s) in self.dot4(w, yq, yd).into_iter().enumerate() {
                        let col = q * 4 + r;
                        if col < n {
                            // SAFETY: row < m and col < n index inside `dst` (m * n long), and only
                            // the work item of quad `q` writes columns 4q..4q+4.
                            unsafe { *(dst_ptr as *mut f32).add(row * n + col) = s };
                        }
                    }
                }
            }
        });
        Ok((CpuStorage::F32(dst), out_shape(layout, n)))
    }
}

/// `x · Wᵀ` for one row `x` of a Q4_K matrix through candle's plain K-quant GEMV on the matrix's
/// own blocks, not the repacked tiles candle's `QMatMul` also uses for single rows, which are slower
/// there.
pub struct Q4KRow<'a>(pub &'a QTensor);

impl CustomOp1 for Q4KRow<'_> {
    fn name(&self) -> &'static str {
        "q4k-gemv"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, k) = self.0.shape().dims2()?;
        let x = rows(self.name(), storage, layout, k)?;
        if x.len() != k {
            candle_core::bail!("q4k-gemv: {} values for one row of {k}", x.len());
        }
        let bytes = self.0.data()?;
        let size = std::mem::size_of::<BlockQ4K>();
        if bytes.len() != n * k / QK_K * size
            || bytes.as_ptr() as usize % std::mem::align_of::<BlockQ4K>() != 0
        {
            candle_core::bail!("q4k-gemv: unexpected Q4_K storage");
        }
        // SAFETY: the bytes are candle's own Vec<BlockQ4K> storage (checked length and alignment);
        // BlockQ4K is plain old data.
        let blocks = unsafe {
            std::slice::from_raw_parts(bytes.as_ptr() as *const BlockQ4K, bytes.len() / size)
        };
        let mut dst = vec![0f32; n];
        k_quants::matmul((1, k, n), x, blocks, &mut dst)?;
        Ok((CpuStorage::F32(dst), out_shape(layout, n)))
    }
}

/// The activations of a GEMV op: contiguous f32 rows of `k`.
fn rows<'a>(op: &str, storage: &'a CpuStorage, layout: &Layout, k: usize) -> Result<&'a [f32]> {
    if layout.shape().dims().last() != Some(&k) {
        candle_core::bail!("{op}: input {:?} for rows of {k}", layout.shape());
    }
    match layout.contiguous_offsets() {
        Some((a, b)) => Ok(&storage.as_slice::<f32>()?[a..b]),
        None => candle_core::bail!("{op} needs a contiguous input"),
    }
}

/// The product's shape: the input's, with `n` outputs in place of its last dimension.
fn out_shape(layout: &Layout, n: usize) -> Shape {
    let mut dims = layout.shape().dims().to_vec();
    if let Some(last) = dims.last_mut() {
        *last = n;
    }
    Shape::from(dims)
}

/// Activations as Q8_0, exactly as candle quantizes them: per block `d = max|x| / 127` (kept as f16)
/// and `q = round(x / d)`.
fn quantize(x: &[f32]) -> (Vec<i8>, Vec<f32>) {
    let mut q = vec![0i8; x.len()];
    let mut d = Vec::with_capacity(x.len() / QK);
    for (xs, qs) in x.chunks_exact(QK).zip(q.chunks_exact_mut(QK)) {
        let amax = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = amax / 127.0;
        let inv = if scale != 0.0 { 1.0 / scale } else { 0.0 };
        for (q, &v) in qs.iter_mut().zip(xs) {
            *q = (v * inv).round() as i8;
        }
        d.push(f16::from_f32(scale).to_f32());
    }
    (q, d)
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use candle_core::quantized::QMatMul;
    use candle_core::{Device, Module};

    fn matrix(n: usize, k: usize) -> Tensor {
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i * 7919 % 613) as f32 / 613.0 - 0.5) * (1.0 + (i / 32 % 5) as f32))
            .collect();
        Tensor::from_vec(w, (n, k), &Device::Cpu).unwrap()
    }

    pub(crate) fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .and_then(|d| d.abs())
            .and_then(|d| d.max_all())
            .and_then(|d| d.to_scalar::<f32>())
            .unwrap()
    }

    /// Every row count (quads with 1-3 padding rows too), one and several activation rows: the same
    /// result as candle's own matmul of the type up to the order of float additions.
    fn matches_candle<Q: Quad>() {
        for n in [4, 5, 6, 7, 64] {
            // candle's Q5_0 reference wants an even number of blocks.
            let k = 128;
            let q = QTensor::quantize(&matrix(n, k), Q::DTYPE).unwrap();
            let quads = Quads::<Q>::new(&q).unwrap();
            let reference = QMatMul::from_qtensor(q).unwrap();
            for m in [1, 3] {
                let x: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
                let x = Tensor::from_vec(x, (1, m, k), &Device::Cpu).unwrap();
                let want = reference.forward(&x).unwrap();
                let got = quads.forward(&x).unwrap();
                assert_eq!(got.dims(), &[1, m, n]);
                let diff = max_abs_diff(&got, &want);
                assert!(diff < 1e-4, "{:?} n={n} m={m}: {diff}", Q::DTYPE);
            }
        }
    }

    #[test]
    fn q8_0_matches_candle() {
        matches_candle::<Q8_0x4>();
    }

    #[test]
    fn q5_0_matches_candle() {
        matches_candle::<Q5_0x4>();
    }

    /// The unpacked integers are the type's own values, and the AVX2 kernels give the portable sums.
    fn kernels_agree<Q: Quad>() {
        let (n, k) = (8, 128);
        let w = matrix(n, k);
        let q = QTensor::quantize(&w, Q::DTYPE).unwrap();
        let values = q
            .dequantize(&Device::Cpu)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let quads = Quads::<Q>::new(&q).unwrap();
        for (row, want) in values.iter().enumerate() {
            for b in 0..k / QK {
                let quad = &quads.quads[row / 4 * (k / QK) + b];
                let ints = quad.ints(row % 4);
                for j in 0..QK {
                    let got = f32::from(ints[j]) * quad.scale(row % 4);
                    assert_eq!(got, want[b * QK + j], "{:?} row {row} block {b}", Q::DTYPE);
                }
            }
        }
        let x: Vec<f32> = (0..k).map(|i| (i as f32 * 0.11).cos()).collect();
        let (yq, yd) = quantize(&x);
        let w = &quads.quads[..k / QK];
        let portable = portable_dot4(w, &yq, &yd);
        let fast = quads.dot4(w, &yq, &yd);
        for (a, b) in portable.iter().zip(fast) {
            assert!((a - b).abs() < 1e-4, "{:?}: {a} vs {b}", Q::DTYPE);
        }
    }

    #[test]
    fn q8_0_kernels_agree() {
        kernels_agree::<Q8_0x4>();
    }

    #[test]
    fn q5_0_kernels_agree() {
        kernels_agree::<Q5_0x4>();
    }

    #[test]
    fn other_types_and_other_widths_are_refused() {
        let q4 = QTensor::quantize(&matrix(4, 256), GgmlDType::Q4K).unwrap();
        assert!(Quads::<Q8_0x4>::new(&q4).is_err());
        assert!(Quads::<Q5_0x4>::new(&q4).is_err());
        let q8 = QTensor::quantize(&matrix(4, 64), GgmlDType::Q8_0).unwrap();
        let quads = Quads::<Q8_0x4>::new(&q8).unwrap();
        let x = Tensor::zeros((1, 96), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(quads.forward(&x).is_err());
    }
}
