//! Q4_K and Q6_K quads: 256-wide super-blocks, multiplied with activations quantized to Q8_K.
//!
//! The kernels follow candle's (llama.cpp's) AVX2 `vec_dot_q4k_q8k` and `vec_dot_q6k_q8k`, for four
//! weight rows and one or more activation rows at once, with the scales unpacked at load time: Q4_K's
//! twelve bytes of 6-bit scales and mins become eight bytes of each, and the f16 super-block scales
//! become f32. The offsets (Q4_K's mins, Q6_K's `- 32`) are applied through the activation sums of
//! each 16 values (`bsums`), so the weights multiply as unsigned bytes; Q4_K's mins for the four rows
//! of a block together.

use candle_core::quantized::GgmlDType;
use half::f16;

use super::{ActBlock, Quad};

const QK_K: usize = 256;

/// 256 activations as Q8_K, as candle's `BlockQ8K::from_float` makes them: `x = d * q` with
/// `d = max / -127`, `max` the value of largest magnitude (the first on ties) and `d` kept in f32,
/// and the sum of each 16 quants.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Q8KAct {
    d: f32,
    qs: [i8; QK_K],
    bsums: [i16; QK_K / 16],
}

impl Q8KAct {
    /// With the sums of each 16 quants filled in.
    fn summed(mut self) -> Self {
        for (s, qs) in self.bsums.iter_mut().zip(self.qs.chunks_exact(16)) {
            *s = qs.iter().map(|&q| i16::from(q)).sum();
        }
        self
    }
}

impl ActBlock for Q8KAct {
    const WIDTH: usize = QK_K;
    const ZERO: Self = Q8KAct {
        d: 0.0,
        qs: [0; QK_K],
        bsums: [0; QK_K / 16],
    };

    fn quantize(xs: &[f32]) -> Self {
        let mut out = Self::ZERO;
        let (mut max, mut amax) = (0f32, 0f32);
        for &x in xs {
            if amax < x.abs() {
                amax = x.abs();
                max = x;
            }
        }
        if amax == 0.0 {
            return out;
        }
        let iscale = -127.0 / max;
        for (q, &x) in out.qs.iter_mut().zip(xs) {
            *q = (iscale * x).round().clamp(-128.0, 127.0) as i8;
        }
        out.d = 1.0 / iscale;
        out.summed()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn quantize_avx2(xs: &[f32]) -> Self {
        let amax = super::avx2::max_abs(xs);
        let mut out = Self::ZERO;
        if amax == 0.0 {
            return out;
        }
        // The first value of that magnitude, with its sign.
        let max = xs.iter().copied().find(|x| x.abs() == amax).unwrap_or(amax);
        let iscale = -127.0 / max;
        for (qs, xs) in out.qs.chunks_exact_mut(32).zip(xs.chunks_exact(32)) {
            let q = super::avx2::quantize32(xs.as_ptr(), iscale);
            std::arch::x86_64::_mm256_storeu_si256(qs.as_mut_ptr() as *mut _, q);
        }
        out.d = 1.0 / iscale;
        out.summed()
    }
}

/// Q4_K: per 32-wide sub-block `s`, `w = d * sc[s] * q - dmin * m[s]` with 4-bit `q` and 6-bit
/// `sc`, `m`.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Q4Kx4 {
    d: [f32; 4],
    dmin: [f32; 4],
    /// Per row the eight sub-block scales, and the eight mins (the mins of the four rows together,
    /// for one pass over them).
    scales: [[u8; 8]; 4],
    mins: [[u8; 8]; 4],
    /// Per row 32-byte chunks `j`: sub-block `2j` in the low nibbles, `2j + 1` in the high ones.
    qs: [[u8; QK_K / 2]; 4],
}

/// Sub-block `j`'s scale and min from ggml's twelve packed bytes (`get_scale_min_k4`).
fn scale_min(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

fn f16_at(src: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([src[at], src[at + 1]]).to_f32()
}

impl Q4Kx4 {
    /// Row `r`'s quant `i` (0..256), 0..16.
    fn q(&self, r: usize, i: usize) -> u8 {
        let (chunk, sub, l) = (i / 64, i / 32 % 2, i % 32);
        (self.qs[r][chunk * 32 + l] >> (4 * sub)) & 0x0F
    }
}

impl Quad for Q4Kx4 {
    type Act = Q8KAct;
    const DTYPE: GgmlDType = GgmlDType::Q4K;
    const BLOCK: usize = 2 + 2 + 12 + QK_K / 2;
    const EMPTY: Self = Q4Kx4 {
        d: [0.0; 4],
        dmin: [0.0; 4],
        scales: [[0; 8]; 4],
        mins: [[0; 8]; 4],
        qs: [[0; QK_K / 2]; 4],
    };

    fn set(&mut self, r: usize, src: &[u8]) {
        // ggml block_q4_K: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles.
        self.d[r] = f16_at(src, 0);
        self.dmin[r] = f16_at(src, 2);
        for j in 0..8 {
            (self.scales[r][j], self.mins[r][j]) = scale_min(j, &src[4..16]);
        }
        self.qs[r].copy_from_slice(&src[16..16 + QK_K / 2]);
    }

    fn dot(&self, r: usize, y: &Q8KAct) -> f32 {
        let (mut sum, mut mins) = (0i32, 0i32);
        for (s, ys) in y.qs.chunks_exact(32).enumerate() {
            let dot: i32 = (0..32)
                .map(|l| i32::from(self.q(r, s * 32 + l)) * i32::from(ys[l]))
                .sum();
            sum += i32::from(self.scales[r][s]) * dot;
            let ysum = i32::from(y.bsums[2 * s]) + i32::from(y.bsums[2 * s + 1]);
            mins += i32::from(self.mins[r][s]) * ysum;
        }
        y.d * (self.d[r] * sum as f32) - y.d * (self.dmin[r] * mins as f32)
    }

    #[cfg(test)]
    fn weights(&self, r: usize) -> Vec<f32> {
        (0..QK_K)
            .map(|i| {
                let s = i / 32;
                let d = self.d[r] * f32::from(self.scales[r][s]);
                let m = self.dmin[r] * f32::from(self.mins[r][s]);
                d * f32::from(self.q(r, i)) - m
            })
            .collect()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot4_avx2<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; 4]; M] {
        q4k_dot4(w, y)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,avxvnni")]
    unsafe fn dot4_avxvnni<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; 4]; M] {
        q4k_dot4(w, y)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn dot4_avx512<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; 4]; M] {
        avx512::q4k_dot4(w, y)
    }
}

/// [`Quad::dot4_avx2`] of [`Q4Kx4`], inlined into the AVX2 and AVX-VNNI kernels' functions.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn q4k_dot4<const M: usize>(w: &[Q4Kx4], y: [&[Q8KAct]; M]) -> [[f32; 4]; M] {
    use std::arch::x86_64::*;
    let low = _mm256_set1_epi8(0x0F);
    let mut acc = [[_mm256_setzero_ps(); 4]; M];
    // The mins' share, -dmin·Σ m·(sum of 32 activations), per activation row for the four
    // weight rows at once.
    let mut offsets = [_mm_setzero_ps(); M];
    let span = super::avx2::span::<M>(QK_K);
    for start in (0..w.len()).step_by(span) {
        let blocks = start..w.len().min(start + span);
        super::avx2::prefetch_span::<M, _>(w.get_unchecked(blocks.clone()));
        q4k_offsets(w, &blocks, &y, &mut offsets);
        for r in 0..4 {
            // Weight row r's sums over the span, kept in registers.
            let mut row = [_mm256_setzero_ps(); M];
            for b in blocks.clone() {
                let quad = w.get_unchecked(b);
                let scales = _mm_loadl_epi64(quad.scales[r].as_ptr() as *const __m128i);
                let scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scales));
                let mut sums = [_mm256_setzero_si256(); M];
                for c in 0..super::avx2::chunks::<M>(4) {
                    let bits = quad.qs[r].as_ptr().add(32 * c);
                    let bits = _mm256_loadu_si256(bits as *const __m256i);
                    let qlo = _mm256_and_si256(bits, low);
                    let qhi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low);
                    let slo = _mm256_shuffle_epi8(scales, avx2::lane16(2 * c));
                    let shi = _mm256_shuffle_epi8(scales, avx2::lane16(2 * c + 1));
                    for (sum, y) in sums.iter_mut().zip(&y) {
                        let y = y.get_unchecked(b).qs.as_ptr().add(64 * c);
                        let ylo = _mm256_loadu_si256(y as *const __m256i);
                        let yhi = _mm256_loadu_si256(y.add(32) as *const __m256i);
                        let plo = _mm256_madd_epi16(slo, _mm256_maddubs_epi16(qlo, ylo));
                        let phi = _mm256_madd_epi16(shi, _mm256_maddubs_epi16(qhi, yhi));
                        *sum = _mm256_add_epi32(*sum, _mm256_add_epi32(plo, phi));
                    }
                }
                for a in 0..M {
                    let d = _mm256_set1_ps(quad.d[r] * y[a].get_unchecked(b).d);
                    row[a] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sums[a]), row[a]);
                }
            }
            for (acc, row) in acc.iter_mut().zip(row) {
                acc[r] = _mm256_add_ps(acc[r], row);
            }
        }
    }
    with_offsets(super::avx2::sums_m(acc), offsets)
}

/// Adds the mins' shares of [`q4k_offsets`] to the four rows' sums.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn with_offsets<const M: usize>(
    mut out: [[f32; 4]; M],
    offsets: [std::arch::x86_64::__m128; M],
) -> [[f32; 4]; M] {
    for (out, offset) in out.iter_mut().zip(offsets) {
        let mut o = [0f32; 4];
        std::arch::x86_64::_mm_storeu_ps(o.as_mut_ptr(), offset);
        for (out, o) in out.iter_mut().zip(o) {
            *out += o;
        }
    }
    out
}

/// The mins' share of Q4_K products, -dmin·Σ m·(sum of 32 activations), over `blocks`, added to
/// each activation row's `offsets` for the four weight rows at once.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn q4k_offsets<const M: usize>(
    w: &[Q4Kx4],
    blocks: &std::ops::Range<usize>,
    y: &[&[Q8KAct]; M],
    offsets: &mut [std::arch::x86_64::__m128; M],
) {
    use std::arch::x86_64::*;
    for b in blocks.clone() {
        let quad = w.get_unchecked(b);
        let mins = quad.mins.as_ptr() as *const __m128i;
        let mins01 = _mm256_cvtepu8_epi16(_mm_loadu_si128(mins));
        let mins23 = _mm256_cvtepu8_epi16(_mm_loadu_si128(mins.add(1)));
        let dmin = _mm_loadu_ps(quad.dmin.as_ptr());
        for (offset, y) in offsets.iter_mut().zip(y) {
            let y = y.get_unchecked(b);
            let bsums = _mm256_loadu_si256(y.bsums.as_ptr() as *const __m256i);
            let lo = _mm256_castsi256_si128(bsums);
            let ysums = _mm_hadd_epi16(lo, _mm256_extracti128_si256(bsums, 1));
            let ysums = _mm256_broadcastsi128_si256(ysums);
            // Lanes: rows 0 and 2, then rows 1 and 3, each summed down to one value.
            let t = _mm256_hadd_epi32(
                _mm256_madd_epi16(mins01, ysums),
                _mm256_madd_epi16(mins23, ysums),
            );
            let t = _mm256_hadd_epi32(t, t);
            let rows =
                _mm_unpacklo_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
            let dmin = _mm_mul_ps(dmin, _mm_set1_ps(-y.d));
            *offset = _mm_fmadd_ps(dmin, _mm_cvtepi32_ps(rows), *offset);
        }
    }
}

/// Q6_K: per 16-wide sub-block `s`, `w = d * sc[s] * (q - 32)` with 6-bit `q` and 8-bit signed `sc`.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Q6Kx4 {
    d: [f32; 4],
    scales: [[i8; QK_K / 16]; 4],
    /// ggml's layout, per 128-wide half: 64 bytes of low nibbles, 32 of high bit pairs.
    ql: [[u8; QK_K / 2]; 4],
    qh: [[u8; QK_K / 4]; 4],
}

impl Q6Kx4 {
    /// Row `r`'s quant `i` (0..256), 0..64.
    fn q(&self, r: usize, i: usize) -> u8 {
        // In each half, four 32-wide runs: low nibbles of ql[0..32], of ql[32..64], then the high
        // nibbles; their high bits are bit pairs 0, 1, 2, 3 of qh[0..32].
        let (half, run, l) = (i / 128, i / 32 % 4, i % 32);
        let low = (self.ql[r][half * 64 + (run % 2) * 32 + l] >> (4 * (run / 2))) & 0x0F;
        let high = (self.qh[r][half * 32 + l] >> (2 * run)) & 3;
        low | (high << 4)
    }
}

impl Quad for Q6Kx4 {
    type Act = Q8KAct;
    const DTYPE: GgmlDType = GgmlDType::Q6K;
    const BLOCK: usize = QK_K / 2 + QK_K / 4 + QK_K / 16 + 2;
    const EMPTY: Self = Q6Kx4 {
        d: [0.0; 4],
        scales: [[0; QK_K / 16]; 4],
        ql: [[0; QK_K / 2]; 4],
        qh: [[0; QK_K / 4]; 4],
    };

    fn set(&mut self, r: usize, src: &[u8]) {
        // ggml block_q6_K: ql (128 bytes), qh (64), 16 signed 8-bit scales, f16 d.
        let (ql, rest) = src.split_at(QK_K / 2);
        let (qh, rest) = rest.split_at(QK_K / 4);
        self.ql[r].copy_from_slice(ql);
        self.qh[r].copy_from_slice(qh);
        for (s, &b) in self.scales[r].iter_mut().zip(rest) {
            *s = b as i8;
        }
        self.d[r] = f16_at(rest, QK_K / 16);
    }

    fn dot(&self, r: usize, y: &Q8KAct) -> f32 {
        let mut sum = 0i32;
        for (s, ys) in y.qs.chunks_exact(16).enumerate() {
            let dot: i32 = (0..16)
                .map(|l| (i32::from(self.q(r, s * 16 + l)) - 32) * i32::from(ys[l]))
                .sum();
            sum += i32::from(self.scales[r][s]) * dot;
        }
        self.d[r] * y.d * sum as f32
    }

    #[cfg(test)]
    fn weights(&self, r: usize) -> Vec<f32> {
        (0..QK_K)
            .map(|i| {
                let q = i32::from(self.q(r, i)) - 32;
                self.d[r] * f32::from(self.scales[r][i / 16]) * q as f32
            })
            .collect()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot4_avx2<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; 4]; M] {
        q6k_dot4(w, y)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,avxvnni")]
    unsafe fn dot4_avxvnni<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; 4]; M] {
        q6k_dot4(w, y)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn dot4_avx512<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; 4]; M] {
        avx512::q6k_dot4(w, y)
    }
}

/// [`Quad::dot4_avx2`] of [`Q6Kx4`], inlined into the AVX2 and AVX-VNNI kernels' functions.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn q6k_dot4<const M: usize>(w: &[Q6Kx4], y: [&[Q8KAct]; M]) -> [[f32; 4]; M] {
    use std::arch::x86_64::*;
    let low = _mm256_set1_epi8(0x0F);
    let high = _mm256_set1_epi8(0x30);
    let mut acc = [[_mm256_setzero_ps(); 4]; M];
    let span = super::avx2::span::<M>(QK_K);
    for start in (0..w.len()).step_by(span) {
        let blocks = start..w.len().min(start + span);
        super::avx2::prefetch_span::<M, _>(w.get_unchecked(blocks.clone()));
        for r in 0..4 {
            // Weight row r's sums over the span, kept in registers.
            let mut row = [_mm256_setzero_ps(); M];
            for b in blocks.clone() {
                let quad = w.get_unchecked(b);
                let mut ys = [&Q8KAct::ZERO; M];
                for a in 0..M {
                    ys[a] = y[a].get_unchecked(b);
                }
                let scales = _mm_loadu_si128(quad.scales[r].as_ptr() as *const __m128i);
                // Σ sc·(q - 32)·y = Σ sc·q·y - 32·Σ sc·bsum: start from the offset's share.
                let wide = _mm256_cvtepi8_epi16(scales);
                let mut sums = [_mm256_setzero_si256(); M];
                for (sum, y) in sums.iter_mut().zip(ys) {
                    let bsums = _mm256_loadu_si256(y.bsums.as_ptr() as *const __m256i);
                    *sum = _mm256_sub_epi32(
                        *sum,
                        _mm256_slli_epi32(_mm256_madd_epi16(wide, bsums), 5),
                    );
                }
                for half in 0..super::avx2::chunks::<M>(2) {
                    let ql = quad.ql[r].as_ptr().add(64 * half);
                    let lo = _mm256_loadu_si256(ql as *const __m256i);
                    let hi = _mm256_loadu_si256(ql.add(32) as *const __m256i);
                    let qh = quad.qh[r].as_ptr().add(32 * half);
                    let qh = _mm256_loadu_si256(qh as *const __m256i);
                    let qs = [
                        _mm256_or_si256(
                            _mm256_and_si256(lo, low),
                            _mm256_and_si256(_mm256_slli_epi16(qh, 4), high),
                        ),
                        _mm256_or_si256(
                            _mm256_and_si256(hi, low),
                            _mm256_and_si256(_mm256_slli_epi16(qh, 2), high),
                        ),
                        _mm256_or_si256(
                            _mm256_and_si256(_mm256_srli_epi16(lo, 4), low),
                            _mm256_and_si256(qh, high),
                        ),
                        _mm256_or_si256(
                            _mm256_and_si256(_mm256_srli_epi16(hi, 4), low),
                            _mm256_and_si256(_mm256_srli_epi16(qh, 2), high),
                        ),
                    ];
                    for (i, q) in qs.into_iter().enumerate() {
                        // Run i of this half spans sub-blocks 8·half + 2i and the next.
                        let sc = _mm_shuffle_epi8(scales, avx2::bytes8(4 * half + i));
                        let sc = _mm256_cvtepi8_epi16(sc);
                        for (sum, y) in sums.iter_mut().zip(ys) {
                            let y = y.qs.as_ptr().add(128 * half + 32 * i);
                            let p =
                                _mm256_maddubs_epi16(q, _mm256_loadu_si256(y as *const __m256i));
                            *sum = _mm256_add_epi32(*sum, _mm256_madd_epi16(sc, p));
                        }
                    }
                }
                for a in 0..M {
                    let d = _mm256_set1_ps(quad.d[r] * ys[a].d);
                    row[a] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sums[a]), row[a]);
                }
            }
            for (acc, row) in acc.iter_mut().zip(row) {
                acc[r] = _mm256_add_ps(acc[r], row);
            }
        }
    }
    super::avx2::sums_m(acc)
}

/// The K-quant kernels on 512-bit registers (AVX-512 F/BW): each step takes 64 weights, two
/// sub-blocks, where AVX2 takes 32; the integer products are the same (`vpmaddubsw`, then
/// `vpmaddwd` by the sub-blocks' scales), only the float additions are grouped differently.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::super::ActBlock;
    use super::{Q4Kx4, Q6Kx4, Q8KAct, QK_K};
    use std::arch::x86_64::*;

    /// Shuffles of 16-bit elements within 128-bit lanes: element `2c` in the low 256 bits, `2c + 1`
    /// in the high (the scales of the two sub-blocks of Q4_K's chunk `c`).
    static PAIR16: [[u8; 64]; 4] = {
        let mut t = [[0; 64]; 4];
        let mut i = 0;
        while i < 64 * 4 {
            let (c, j) = (i / 64, i % 64);
            t[c][j] = (2 * (2 * c + j / 32) + j % 2) as u8;
            i += 1;
        }
        t
    };

    /// The sum of a 512-bit register's two halves.
    #[inline(always)]
    unsafe fn halves(v: __m512) -> __m256 {
        _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps::<1>(v))
    }

    #[inline(always)]
    pub unsafe fn q4k_dot4<const M: usize>(w: &[Q4Kx4], y: [&[Q8KAct]; M]) -> [[f32; 4]; M] {
        let low = _mm512_set1_epi8(0x0F);
        let mut acc = [[_mm256_setzero_ps(); 4]; M];
        let mut offsets = [_mm_setzero_ps(); M];
        let span = super::super::avx2::span::<M>(QK_K);
        for start in (0..w.len()).step_by(span) {
            let blocks = start..w.len().min(start + span);
            super::super::avx2::prefetch_span::<M, _>(w.get_unchecked(blocks.clone()));
            super::q4k_offsets(w, &blocks, &y, &mut offsets);
            for r in 0..4 {
                let mut row = [_mm512_setzero_ps(); M];
                for b in blocks.clone() {
                    let quad = w.get_unchecked(b);
                    let scales = _mm_loadl_epi64(quad.scales[r].as_ptr() as *const __m128i);
                    let scales = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(scales));
                    let mut sums = [_mm512_setzero_si512(); M];
                    for c in 0..super::super::avx2::chunks::<M>(4) {
                        // Chunk c: 32 bytes of nibble pairs, sub-block 2c low, 2c + 1 high; the
                        // activations of both lie together.
                        let bits = quad.qs[r].as_ptr().add(32 * c);
                        let bits = _mm256_loadu_si256(bits as *const __m256i);
                        let both = _mm512_inserti64x4::<1>(
                            _mm512_castsi256_si512(bits),
                            _mm256_srli_epi16(bits, 4),
                        );
                        let q = _mm512_and_si512(both, low);
                        let pick = _mm512_loadu_si512(PAIR16.get_unchecked(c).as_ptr() as *const _);
                        let sc = _mm512_shuffle_epi8(scales, pick);
                        for (sum, y) in sums.iter_mut().zip(&y) {
                            let y = y.get_unchecked(b).qs.as_ptr().add(64 * c);
                            let y = _mm512_loadu_si512(y as *const _);
                            let p = _mm512_madd_epi16(sc, _mm512_maddubs_epi16(q, y));
                            *sum = _mm512_add_epi32(*sum, p);
                        }
                    }
                    for a in 0..M {
                        let d = _mm512_set1_ps(quad.d[r] * y[a].get_unchecked(b).d);
                        row[a] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sums[a]), row[a]);
                    }
                }
                for (acc, row) in acc.iter_mut().zip(row) {
                    acc[r] = _mm256_add_ps(acc[r], halves(row));
                }
            }
        }
        super::with_offsets(super::super::avx2::sums_m(acc), offsets)
    }

    #[inline(always)]
    pub unsafe fn q6k_dot4<const M: usize>(w: &[Q6Kx4], y: [&[Q8KAct]; M]) -> [[f32; 4]; M] {
        let low = _mm512_set1_epi8(0x0F);
        let high = _mm512_set1_epi8(0x30);
        let mut acc = [[_mm256_setzero_ps(); 4]; M];
        let span = super::super::avx2::span::<M>(QK_K);
        for start in (0..w.len()).step_by(span) {
            let blocks = start..w.len().min(start + span);
            super::super::avx2::prefetch_span::<M, _>(w.get_unchecked(blocks.clone()));
            for r in 0..4 {
                let mut row = [_mm512_setzero_ps(); M];
                for b in blocks.clone() {
                    let quad = w.get_unchecked(b);
                    let mut ys = [&Q8KAct::ZERO; M];
                    for a in 0..M {
                        ys[a] = y[a].get_unchecked(b);
                    }
                    let scales = _mm_loadu_si128(quad.scales[r].as_ptr() as *const __m128i);
                    // The -32 offset's share, as in the AVX2 kernel, in the low half.
                    let wide = _mm256_cvtepi8_epi16(scales);
                    let mut sums = [_mm512_setzero_si512(); M];
                    for (sum, y) in sums.iter_mut().zip(ys) {
                        let bsums = _mm256_loadu_si256(y.bsums.as_ptr() as *const __m256i);
                        let off = _mm256_slli_epi32(_mm256_madd_epi16(wide, bsums), 5);
                        *sum =
                            _mm512_zextsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), off));
                    }
                    for half in 0..super::super::avx2::chunks::<M>(2) {
                        // ql's 64 bytes of this half: runs 0 and 1 in their low nibbles, 2 and 3
                        // in their high ones; qh's bit pairs 0-3 are the runs' high bits.
                        let ql = quad.ql[r].as_ptr().add(64 * half);
                        let ql = _mm512_loadu_si512(ql as *const _);
                        let qh = quad.qh[r].as_ptr().add(32 * half);
                        let qh = _mm256_loadu_si256(qh as *const __m256i);
                        let qh01 = _mm512_inserti64x4::<1>(
                            _mm512_castsi256_si512(_mm256_slli_epi16(qh, 4)),
                            _mm256_slli_epi16(qh, 2),
                        );
                        let qh23 = _mm512_inserti64x4::<1>(
                            _mm512_castsi256_si512(qh),
                            _mm256_srli_epi16(qh, 2),
                        );
                        let qs = [
                            _mm512_or_si512(
                                _mm512_and_si512(ql, low),
                                _mm512_and_si512(qh01, high),
                            ),
                            _mm512_or_si512(
                                _mm512_and_si512(_mm512_srli_epi16(ql, 4), low),
                                _mm512_and_si512(qh23, high),
                            ),
                        ];
                        for (j, q) in qs.into_iter().enumerate() {
                            // Runs 2j and 2j + 1: sub-blocks 8·half + 4j to 8·half + 4j + 3.
                            let pick = |i: usize| {
                                _mm_shuffle_epi8(scales, super::avx2::bytes8(4 * half + i))
                            };
                            let sc = _mm512_cvtepi8_epi16(_mm256_set_m128i(
                                pick(2 * j + 1),
                                pick(2 * j),
                            ));
                            for (sum, y) in sums.iter_mut().zip(ys) {
                                let y = y.qs.as_ptr().add(128 * half + 64 * j);
                                let p = _mm512_maddubs_epi16(q, _mm512_loadu_si512(y as *const _));
                                *sum = _mm512_add_epi32(*sum, _mm512_madd_epi16(sc, p));
                            }
                        }
                    }
                    for a in 0..M {
                        let d = _mm512_set1_ps(quad.d[r] * ys[a].d);
                        row[a] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sums[a]), row[a]);
                    }
                }
                for (acc, row) in acc.iter_mut().zip(row) {
                    acc[r] = _mm256_add_ps(acc[r], halves(row));
                }
            }
        }
        super::super::avx2::sums_m(acc)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Shuffles that fill each lane with its 16-bit element `i` (llama.cpp's `get_scale_shuffle_k4`).
    static LANE16: [[u8; 32]; 8] = {
        let mut t = [[0; 32]; 8];
        let mut i = 0;
        while i < 32 * 8 {
            t[i / 32][i % 32] = (2 * (i / 32) + i % 2) as u8;
            i += 1;
        }
        t
    };

    /// Shuffles whose low 8 bytes are byte `2i` and high 8 bytes byte `2i + 1` (llama.cpp's
    /// `get_scale_shuffle`).
    static BYTES8: [[u8; 16]; 8] = {
        let mut t = [[0; 16]; 8];
        let mut i = 0;
        while i < 16 * 8 {
            t[i / 16][i % 16] = (2 * (i / 16) + (i % 16) / 8) as u8;
            i += 1;
        }
        t
    };

    /// `LANE16[i]` (`i` < 8).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub unsafe fn lane16(i: usize) -> __m256i {
        _mm256_loadu_si256(LANE16.get_unchecked(i).as_ptr() as *const __m256i)
    }

    /// `BYTES8[i]` (`i` < 8).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub unsafe fn bytes8(i: usize) -> __m128i {
        _mm_loadu_si128(BYTES8.get_unchecked(i).as_ptr() as *const __m128i)
    }
}
