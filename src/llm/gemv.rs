//! Matrix products for quantized weights repacked at load time: Q8_0 and Q5_0 four rows at a time
//! ("quads"), Q4_K and Q6_K in 16-row tiles ([`tiles`]).
//!
//! candle 0.11 multiplies a Q8_0 matrix by one row of activations one weight row at a time, with one
//! accumulator and two out-of-line f16 conversions per 32-wide block, and Q5_0 through a scalar loop.
//! On Qwen2.5-0.5B, whose layers are mostly Q5_0, decoding ran at half of llama.cpp's speed on the same
//! machine even with Q5_0 re-encoded as Q8_0, that loop taking most of the time. Here the weights are
//! repacked at load time: for each group of four rows, each block's four scales (already f32) and the
//! four rows' quants lie together, so a pass streams memory linearly, each block of activations is
//! loaded once for four rows, and four independent sums keep the multiply units busy. Q5_0 stays five
//! bits wide (22 bytes a block instead of Q8_0's 34): decoding reads every weight once per token, so
//! fewer bytes is faster once the arithmetic keeps up. The K-quants (256-wide super-blocks) go into
//! tiles whose lanes are weight rows (see [`tiles`] for why); candle's one-row K-quant products also
//! take one weight row at a time.
//!
//! Several rows of activations (prefill) go through the same quads and tiles, eight or four rows at
//! once: each weight row's blocks are unpacked once for all of them, and a run of them that fits in
//! L2 meets each group of rows in turn. For Q4_K and Q6_K this is faster than candle's own prefill
//! kernel (16-row tiles it keeps beside the original blocks), so no other copy is needed.
//!
//! The integer products are those of candle and llama.cpp: activations are quantized to Q8_0 or Q8_K
//! with the same rounding (the f16 scale of Q8_0 included), to the bit. Only the order of the float
//! additions differs.

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use half::f16;
use std::ops::Range;

mod kquants;
mod tiles;
pub use kquants::Q8KAct;
pub use tiles::{Q4KTiles, Q6KTiles};

const QK: usize = 32;

/// Bytes of weights a run of quads may take so that it stays in a core's L2 cache beside the
/// activations.
const L2_SHARE: usize = 128 * 1024;
/// How far ahead of the block being multiplied one-row kernels prefetch weights (see
/// `tiles::x86::prefetch`).
const PREFETCH_AHEAD: usize = 8192;

/// A block of activations quantized to 8 bits, the form a weight type's integer products need.
pub trait ActBlock: Copy + Send + Sync + 'static {
    /// Activations a block holds: the block width of the weight types that use it.
    const WIDTH: usize;
    const ZERO: Self;
    /// `xs` (`WIDTH` values) quantized exactly as candle quantizes the activations of those types.
    fn quantize(xs: &[f32]) -> Self;
    /// [`ActBlock::quantize`] with AVX2, the same values (`f32::round` replaced by vector code that
    /// rounds the same way, half away from zero).
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA, and `xs` has `WIDTH` values.
    #[cfg(target_arch = "x86_64")]
    unsafe fn quantize_avx2(xs: &[f32]) -> Self;
}

/// 32 activations as Q8_0: `x = d * q`, per block `d = max|x| / 127` (rounded to f16, as candle
/// stores it) and `q = round(x / d)`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Q8_0Act {
    d: f32,
    qs: [i8; QK],
}

impl ActBlock for Q8_0Act {
    const WIDTH: usize = QK;
    const ZERO: Self = Q8_0Act {
        d: 0.0,
        qs: [0; QK],
    };

    fn quantize(xs: &[f32]) -> Self {
        let amax = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = amax / 127.0;
        let inv = if scale != 0.0 { 1.0 / scale } else { 0.0 };
        let mut out = Self::ZERO;
        for (q, &v) in out.qs.iter_mut().zip(xs) {
            *q = (v * inv).round() as i8;
        }
        out.d = f16::from_f32(scale).to_f32();
        out
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn quantize_avx2(xs: &[f32]) -> Self {
        let scale = avx2::max_abs(xs) / 127.0;
        let inv = if scale != 0.0 { 1.0 / scale } else { 0.0 };
        let mut out = Self::ZERO;
        let q = avx2::quantize32(xs.as_ptr(), inv);
        std::arch::x86_64::_mm256_storeu_si256(out.qs.as_mut_ptr() as *mut _, q);
        out.d = f16::from_f32(scale).to_f32();
        out
    }
}

/// A block layout of four weight rows.
pub trait Quad: Copy + Send + Sync + 'static {
    /// The activations' quantized form; its width is the block width of this type.
    type Act: ActBlock;
    const DTYPE: GgmlDType;
    /// Bytes of one ggml block of this type.
    const BLOCK: usize;
    const EMPTY: Self;
    /// Put ggml block `src` of weight row `r` (0..4) into this quad.
    fn set(&mut self, r: usize, src: &[u8]);
    /// Row `r`'s dot product with one block of activations, integer products first and then the
    /// scales, as candle and llama.cpp compute it: the portable kernel, and the AVX2 kernels' reference.
    fn dot(&self, r: usize, y: &Self::Act) -> f32;
    /// Row `r`'s weights, computed as candle dequantizes them.
    #[cfg(test)]
    fn weights(&self, r: usize) -> Vec<f32>;
    /// The four rows' dot products with each of `M` rows of quantized activations (one block per
    /// quad each), AVX2. Several rows at once (prefill) share the unpacking of the weights.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA, and each row of `y` is as long as `w`.
    #[cfg(target_arch = "x86_64")]
    unsafe fn dot4_avx2<const M: usize>(w: &[Self], y: [&[Self::Act]; M]) -> [[f32; 4]; M];
    /// [`Quad::dot4_avx2`] with VEX-encoded VNNI (`vpdpbusd` for the byte products).
    ///
    /// # Safety
    /// The CPU has AVX2, FMA and AVX-VNNI, and each row of `y` is as long as `w`.
    #[cfg(target_arch = "x86_64")]
    unsafe fn dot4_avxvnni<const M: usize>(w: &[Self], y: [&[Self::Act]; M]) -> [[f32; 4]; M];
    /// [`Quad::dot4_avx2`] with AVX-512 (F, BW, VL: 32 vector registers) and AVX512-VNNI.
    ///
    /// # Safety
    /// The CPU has AVX2, FMA, AVX-512 F/BW/VL and AVX512-VNNI, and each row of `y` is as long as `w`.
    #[cfg(target_arch = "x86_64")]
    unsafe fn dot4_avx512<const M: usize>(w: &[Self], y: [&[Self::Act]; M]) -> [[f32; 4]; M];
}

/// The kernels a matrix product runs, chosen at run time from the CPU's features (one binary for
/// every x86-64 machine); tests force each one the machine can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Plain Rust: any CPU.
    Portable,
    /// AVX2 and FMA.
    Avx2,
    /// AVX2 with the VEX-encoded VNNI byte products (`avxvnni`, Intel since Alder Lake / Sapphire
    /// Rapids).
    AvxVnni,
    /// AVX-512 F/BW/VL with AVX512-VNNI (EVEX `vpdpbusd`, 32 vector registers): Intel since Ice
    /// Lake, AMD since Zen 4.
    Avx512Vnni,
}

impl Kernel {
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::Avx2 => "avx2",
            Kernel::AvxVnni => "avx-vnni",
            Kernel::Avx512Vnni => "avx512-vnni",
        }
    }

    /// Whether this CPU runs these kernels.
    pub fn runs_here(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            match self {
                Kernel::Portable => true,
                Kernel::Avx2 => avx2,
                Kernel::AvxVnni => avx2 && is_x86_feature_detected!("avxvnni"),
                Kernel::Avx512Vnni => {
                    avx2 && is_x86_feature_detected!("avx512f")
                        && is_x86_feature_detected!("avx512bw")
                        && is_x86_feature_detected!("avx512vl")
                        && is_x86_feature_detected!("avx512vnni")
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Kernel::Portable
        }
    }

    /// Every kernel this CPU runs, the portable one first.
    pub fn available() -> Vec<Kernel> {
        [
            Kernel::Portable,
            Kernel::Avx2,
            Kernel::AvxVnni,
            Kernel::Avx512Vnni,
        ]
        .into_iter()
        .filter(|k| k.runs_here())
        .collect()
    }

    /// The fastest kernels this CPU runs.
    pub fn best() -> Kernel {
        static BEST: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| Kernel::available().pop().unwrap_or(Kernel::Portable))
    }
}

/// The name of the kernels this CPU runs (reports).
pub fn kernels() -> &'static str {
    Kernel::best().name()
}

/// `Σ a·b` over two blocks of 8-bit integers.
fn int_dot(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&a, &b)| i32::from(a) * i32::from(b))
        .sum()
}

/// Q8_0: `w = d * q` with 8-bit `q`.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Q8_0x4 {
    d: [f32; 4],
    qs: [[i8; QK]; 4],
}

impl Quad for Q8_0x4 {
    type Act = Q8_0Act;
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

    fn dot(&self, r: usize, y: &Q8_0Act) -> f32 {
        int_dot(&self.qs[r], &y.qs) as f32 * (self.d[r] * y.d)
    }

    #[cfg(test)]
    fn weights(&self, r: usize) -> Vec<f32> {
        self.qs[r]
            .iter()
            .map(|&q| f32::from(q) * self.d[r])
            .collect()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot4_avx2<const M: usize>(w: &[Self], y: [&[Q8_0Act]; M]) -> [[f32; 4]; M] {
        avx2::dot4::<avx2::Madd, _, M>(w, y)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,avxvnni")]
    unsafe fn dot4_avxvnni<const M: usize>(w: &[Self], y: [&[Q8_0Act]; M]) -> [[f32; 4]; M] {
        avx2::dot4::<avx2::AvxVnni, _, M>(w, y)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn dot4_avx512<const M: usize>(w: &[Self], y: [&[Q8_0Act]; M]) -> [[f32; 4]; M] {
        avx2::dot4::<avx2::Vnni512, _, M>(w, y)
    }
}

#[cfg(target_arch = "x86_64")]
impl avx2::Ints for Q8_0x4 {
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn ints(&self, r: usize) -> std::arch::x86_64::__m256i {
        std::arch::x86_64::_mm256_loadu_si256(self.qs[r].as_ptr() as *const _)
    }

    fn scale(&self, r: usize) -> f32 {
        self.d[r]
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

impl Q5_0x4 {
    /// Row `r`'s 32 weights as integers (`w = d * q`).
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
}

impl Quad for Q5_0x4 {
    type Act = Q8_0Act;
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

    fn dot(&self, r: usize, y: &Q8_0Act) -> f32 {
        int_dot(&self.ints(r), &y.qs) as f32 * (self.d[r] * y.d)
    }

    #[cfg(test)]
    fn weights(&self, r: usize) -> Vec<f32> {
        self.ints(r)
            .iter()
            .map(|&q| f32::from(q) * self.d[r])
            .collect()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot4_avx2<const M: usize>(w: &[Self], y: [&[Q8_0Act]; M]) -> [[f32; 4]; M] {
        avx2::dot4::<avx2::Madd, _, M>(w, y)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,avxvnni")]
    unsafe fn dot4_avxvnni<const M: usize>(w: &[Self], y: [&[Q8_0Act]; M]) -> [[f32; 4]; M] {
        avx2::dot4::<avx2::AvxVnni, _, M>(w, y)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn dot4_avx512<const M: usize>(w: &[Self], y: [&[Q8_0Act]; M]) -> [[f32; 4]; M] {
        avx2::dot4::<avx2::Vnni512, _, M>(w, y)
    }
}

#[cfg(target_arch = "x86_64")]
impl avx2::Ints for Q5_0x4 {
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn ints(&self, r: usize) -> std::arch::x86_64::__m256i {
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
        let packed = _mm_loadu_si128(self.qs[r].as_ptr() as *const __m128i);
        let nibbles = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), low);
        let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(self.qh[r] as i32), spread);
        let set = _mm256_cmpeq_epi8(_mm256_or_si256(bytes, bit), all);
        // Fifth bit clear: q - 16 = nibble - 16, i.e. the nibble with the top bits set.
        _mm256_or_si256(nibbles, _mm256_andnot_si256(set, high))
    }

    fn scale(&self, r: usize) -> f32 {
        self.d[r]
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Q8_0Act, Quad, PREFETCH_AHEAD};
    use std::arch::x86_64::*;

    /// How many blocks of `width` activations a kernel with `M` rows of activations takes at a time.
    /// One row (decoding) streams the weights once, block by block, the four rows of a block together as
    /// they lie. Several rows (prefill, the weights in cache) take one weight row at a time through a
    /// span of blocks whose activations stay in L1, which keeps that row's sums in registers.
    #[inline(always)]
    pub fn span<const M: usize>(width: usize) -> usize {
        if M == 1 {
            1
        } else {
            2048 / width
        }
    }

    /// A 32-wide type whose rows unpack to one register of signed bytes times a scale.
    pub trait Ints: Quad<Act = Q8_0Act> {
        /// Row `r`'s 32 integers (`w = d * q`).
        ///
        /// # Safety
        /// The CPU has AVX2 and FMA.
        unsafe fn ints(&self, r: usize) -> __m256i;
        fn scale(&self, r: usize) -> f32;
    }

    /// `acc + Σ u·s` in each 32-bit lane over four unsigned by signed byte products: the one step the
    /// AVX2 and VNNI kernels do differently. The same sums: AVX2's 16-bit pair sums saturate only
    /// beyond 2·128·127, which the signed factors here (|s| ≤ 127) never reach.
    pub trait Dot {
        /// # Safety
        /// The CPU has the instructions of the implementation.
        unsafe fn dot(acc: __m256i, u: __m256i, s: __m256i) -> __m256i;

        /// A sub-block's sums of nibble products (`u` ≤ 15): at most eight calls from a zero
        /// accumulator, finished by [`Dot::nibble_scaled`].
        ///
        /// # Safety
        /// As [`Dot::dot`].
        #[inline(always)]
        unsafe fn nibble_dot(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
            Self::dot(acc, u, s)
        }

        /// The per-lane scales (32-bit, below 2¹⁵) as [`Dot::nibble_scaled`] takes them.
        ///
        /// # Safety
        /// As [`Dot::dot`].
        #[inline(always)]
        unsafe fn nibble_scales(scales: __m256i) -> __m256i {
            scales
        }

        /// The 32-bit sums of `acc` times the prepared per-lane `scales`.
        ///
        /// # Safety
        /// As [`Dot::dot`].
        #[inline(always)]
        unsafe fn nibble_scaled(acc: __m256i, scales: __m256i) -> __m256i {
            _mm256_mullo_epi32(acc, scales)
        }
    }

    /// AVX2: `vpmaddubsw` then `vpmaddwd` by ones. Nibble products keep `vpmaddubsw`'s 16-bit
    /// pair sums until the scale: eight of them stay within 16 bits (|8 · 2 · 15 · 128| = 30,720),
    /// so one `vpmaddwd` by the scale in both halves of each lane replaces eight `vpmaddwd` by ones,
    /// their additions and the `vpmulld` (the same integer sums).
    pub struct Madd;
    impl Dot for Madd {
        #[inline(always)]
        unsafe fn dot(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
            let pairs = _mm256_maddubs_epi16(u, s);
            _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
        }

        #[inline(always)]
        unsafe fn nibble_dot(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
            _mm256_add_epi16(acc, _mm256_maddubs_epi16(u, s))
        }

        #[inline(always)]
        unsafe fn nibble_scales(scales: __m256i) -> __m256i {
            _mm256_or_si256(scales, _mm256_slli_epi32(scales, 16))
        }

        #[inline(always)]
        unsafe fn nibble_scaled(acc: __m256i, scales: __m256i) -> __m256i {
            _mm256_madd_epi16(acc, scales)
        }
    }

    /// VEX-encoded `vpdpbusd` (AVX-VNNI).
    pub struct AvxVnni;
    impl Dot for AvxVnni {
        #[inline(always)]
        unsafe fn dot(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
            _mm256_dpbusd_avx_epi32(acc, u, s)
        }
    }

    /// EVEX-encoded `vpdpbusd` on 256-bit registers (AVX512-VNNI with VL).
    pub struct Vnni512;
    impl Dot for Vnni512 {
        #[inline(always)]
        unsafe fn dot(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
            _mm256_dpbusd_epi32(acc, u, s)
        }
    }

    /// [`Quad::dot4_avx2`] for the 32-wide types: each row's block unpacked once for all `M`
    /// activation rows. Inlined into each kernel's function with that kernel's CPU features.
    #[inline(always)]
    pub unsafe fn dot4<D: Dot, Q: Ints, const M: usize>(
        w: &[Q],
        y: [&[Q8_0Act]; M],
    ) -> [[f32; 4]; M] {
        let mut acc = [[_mm256_setzero_ps(); 4]; M];
        let span = span::<M>(super::QK);
        for start in (0..w.len()).step_by(span) {
            let blocks = start..w.len().min(start + span);
            prefetch_span::<M, _>(w.get_unchecked(blocks.clone()));
            for r in 0..4 {
                for b in blocks.clone() {
                    let quad = w.get_unchecked(b);
                    let x = quad.ints(r);
                    for (acc, y) in acc.iter_mut().zip(&y) {
                        let y = y.get_unchecked(b);
                        let yq = _mm256_loadu_si256(y.qs.as_ptr() as *const __m256i);
                        acc[r] = fma_block::<D>(acc[r], x, yq, quad.scale(r) * y.d);
                    }
                }
            }
        }
        sums_m(acc)
    }

    /// The horizontal sums of each activation row's four accumulators.
    #[inline(always)]
    pub unsafe fn sums_m<const M: usize>(acc: [[__m256; 4]; M]) -> [[f32; 4]; M] {
        let mut out = [[0f32; 4]; M];
        for (out, acc) in out.iter_mut().zip(acc) {
            *out = sums(acc);
        }
        out
    }

    /// With several rows of activations, brings a span of blocks into L1 whole before a kernel
    /// reads it one weight row at a time: from memory, row by row would read each block's cache
    /// lines out of order. With one row (decoding, the weights streaming from memory), asks for
    /// what lies [`PREFETCH_AHEAD`] bytes further on instead (as the K-quant tiles do).
    #[inline(always)]
    pub unsafe fn prefetch_span<const M: usize, T>(blocks: &[T]) {
        let at = blocks.as_ptr() as *const i8;
        // A prefetch past the allocation is only a hint: it never faults.
        let from = if M > 1 {
            at
        } else {
            at.wrapping_add(PREFETCH_AHEAD)
        };
        for line in (0..std::mem::size_of_val(blocks)).step_by(64) {
            _mm_prefetch::<_MM_HINT_T0>(from.wrapping_add(line));
        }
    }

    /// The largest magnitude among `xs` (whole groups of 8); NaNs are passed over, as `f32::max`
    /// and candle's quantizers do.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn max_abs(xs: &[f32]) -> f32 {
        let sign = _mm256_set1_ps(-0.0);
        let mut m = _mm256_setzero_ps();
        for c in xs.chunks_exact(8) {
            // max_ps returns its second operand where either is NaN.
            m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(c.as_ptr())), m);
        }
        let m = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)))
    }

    /// 32 values `x * scale` from `xs`, rounded half away from zero (as `f32::round`) and
    /// saturated to i8 (as `as i8`), in order.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn quantize32(xs: *const f32, scale: f32) -> __m256i {
        let (scale, sign) = (_mm256_set1_ps(scale), _mm256_set1_ps(-0.0));
        let (one, half) = (_mm256_set1_ps(1.0), _mm256_set1_ps(0.5));
        let mut q = [_mm256_setzero_si256(); 4];
        for (i, q) in q.iter_mut().enumerate() {
            let v = _mm256_mul_ps(_mm256_loadu_ps(xs.add(8 * i)), scale);
            let t = _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(v);
            // v - t is exact; a fraction of one half or more moves one away from zero.
            let frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
            let away = _mm256_or_ps(_mm256_and_ps(v, sign), one);
            let up = _mm256_and_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(frac, half), away);
            *q = _mm256_cvtps_epi32(_mm256_add_ps(t, up));
        }
        // The packs work within 128-bit lanes: 4-byte groups come out as values 0-3, 8-11, 16-19,
        // 24-27, then 4-7, 12-15, 20-23, 28-31.
        let bytes = _mm256_packs_epi16(
            _mm256_packs_epi32(q[0], q[1]),
            _mm256_packs_epi32(q[2], q[3]),
        );
        _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
    }

    /// `acc + d * Σ x·y` over one block of 32 signed bytes each.
    #[inline(always)]
    pub unsafe fn fma_block<D: Dot>(acc: __m256, x: __m256i, y: __m256i, d: f32) -> __m256 {
        // The byte products take unsigned by signed bytes: move x's sign onto y.
        let ax = _mm256_sign_epi8(x, x);
        let sy = _mm256_sign_epi8(y, x);
        let dots = _mm256_cvtepi32_ps(D::dot(_mm256_setzero_si256(), ax, sy));
        _mm256_fmadd_ps(_mm256_set1_ps(d), dots, acc)
    }

    #[inline(always)]
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
    kernel: Kernel,
}

/// The blocks in each row of an `n`×`k` matrix of `dtype` stored row after row as `data`, `block`
/// bytes for every `width` values; an error where a row is not whole blocks or `data` is not the
/// matrix.
pub(crate) fn row_blocks(
    dtype: GgmlDType,
    n: usize,
    k: usize,
    width: usize,
    block: usize,
    data: &[u8],
) -> Result<usize> {
    if k % width != 0 {
        candle_core::bail!("{dtype:?} rows of {k} are not whole blocks");
    }
    let kb = k / width;
    if Some(data.len()) != n.checked_mul(kb * block) {
        candle_core::bail!(
            "{dtype:?} data of {} bytes for a {n}x{k} matrix",
            data.len()
        );
    }
    Ok(kb)
}

/// The blocks of `n` rows of `kb` blocks each (`data`, row after row, `block` bytes a block) regrouped
/// `rows` rows at a time: group `g`'s `b`-th entry holds block `b` of rows `g * rows ..`, the rows past
/// `n` left `empty`. Made on all threads: for a model's weights, writing the new memory the first time
/// (the page faults) is most of the cost of loading.
pub(crate) fn interleave<G: Copy + Send + Sync>(
    n: usize,
    kb: usize,
    rows: usize,
    block: usize,
    data: &[u8],
    empty: G,
    set: impl Fn(&mut G, usize, &[u8]) + Sync,
) -> Vec<G> {
    use rayon::prelude::*;
    debug_assert_eq!(data.len(), n * kb * block);
    (0..n.div_ceil(rows) * kb)
        .into_par_iter()
        .map(|i| {
            let (g, b) = (i / kb, i % kb);
            let mut t = empty;
            for r in 0..rows.min(n - g * rows) {
                let at = ((g * rows + r) * kb + b) * block;
                set(&mut t, r, &data[at..at + block]);
            }
            t
        })
        .collect()
}

impl<Q: Quad> Quads<Q> {
    pub fn new(t: &QTensor) -> Result<Quads<Q>> {
        if t.dtype() != Q::DTYPE {
            candle_core::bail!("expected a {:?} tensor, got {:?}", Q::DTYPE, t.dtype());
        }
        let (n, k) = t.shape().dims2()?;
        Quads::from_raw(n, k, &t.data()?)
    }

    /// An `n`×`k` matrix from its ggml blocks of type `Q::DTYPE`, row after row.
    pub fn from_raw(n: usize, k: usize, data: &[u8]) -> Result<Quads<Q>> {
        let kb = row_blocks(Q::DTYPE, n, k, Q::Act::WIDTH, Q::BLOCK, data)?;
        Ok(Quads {
            n,
            k,
            quads: interleave(n, kb, 4, Q::BLOCK, data, Q::EMPTY, |q, r, b| q.set(r, b)),
            kernel: Kernel::best(),
        })
    }

    /// `x · Wᵀ` for activations `x` of shape `(.., k)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.apply_op1_no_bwd(self)
    }

    /// The dot products of four weight rows with each of `M` rows of quantized activations.
    fn dot4<const M: usize>(&self, w: &[Q], y: [&[Q::Act]; M]) -> [[f32; 4]; M] {
        debug_assert!(y.iter().all(|y| y.len() == w.len()));
        // SAFETY: the CPU has each kernel's features (`Kernel::runs_here`, checked when it was
        // chosen); lengths as asserted.
        #[cfg(target_arch = "x86_64")]
        match self.kernel {
            Kernel::Avx2 => return unsafe { Q::dot4_avx2(w, y) },
            Kernel::AvxVnni => return unsafe { Q::dot4_avxvnni(w, y) },
            Kernel::Avx512Vnni => return unsafe { Q::dot4_avx512(w, y) },
            Kernel::Portable => {}
        }
        portable_dot4(w, y)
    }

    /// The products of `quads` with the activation rows of `rows` in groups of `M`, as far as whole
    /// groups go; returns the first row left.
    fn rows<const M: usize>(
        &self,
        quads: Range<usize>,
        rows: Range<usize>,
        y: &[Q::Act],
        out: &Out,
    ) -> usize {
        let kb = self.k / Q::Act::WIDTH;
        let mut row = rows.start;
        while row + M <= rows.end {
            let ys: [&[Q::Act]; M] = std::array::from_fn(|i| &y[(row + i) * kb..][..kb]);
            for q in quads.clone() {
                let sums = self.dot4(&self.quads[q * kb..][..kb], ys);
                for (i, sums) in sums.into_iter().enumerate() {
                    // SAFETY: row + i < rows.end, at most the number of rows of the output, and
                    // quads are split between work items.
                    unsafe { out.store(q, row + i, sums) };
                }
            }
            row += M;
        }
        row
    }
}

/// Where a product's outputs go: rows of `n` f32, written by the work items of disjoint quads.
pub(crate) struct Out {
    ptr: usize,
    n: usize,
}

impl Out {
    /// # Safety
    /// `row` is a row of the output, and only the caller writes quad `q`'s columns.
    unsafe fn store(&self, q: usize, row: usize, sums: [f32; 4]) {
        self.store_cols(q * 4, row, &sums);
    }

    /// # Safety
    /// `row` is a row of the output, and only the caller writes columns `col..col + sums.len()`.
    unsafe fn store_cols(&self, col: usize, row: usize, sums: &[f32]) {
        let len = sums.len().min(self.n.saturating_sub(col));
        let dst = (self.ptr as *mut f32).add(row * self.n + col);
        std::ptr::copy_nonoverlapping(sums.as_ptr(), dst, len);
    }
}

fn portable_dot4<Q: Quad, const M: usize>(w: &[Q], y: [&[Q::Act]; M]) -> [[f32; 4]; M] {
    let mut out = [[0f32; 4]; M];
    for (sums, y) in out.iter_mut().zip(y) {
        for (quad, y) in w.iter().zip(y) {
            for (r, sum) in sums.iter_mut().enumerate() {
                *sum += quad.dot(r, y);
            }
        }
    }
    out
}

/// A matrix whose product runs as work items of quads, so that several matrices multiplying the
/// same activations can share one quantization of them and one pass of the thread pool.
pub(crate) trait QuadMatrix<A: ActBlock>: Sync {
    /// Output columns (weight rows).
    fn n(&self) -> usize;
    /// Input columns.
    fn k(&self) -> usize;
    /// Work items: groups of weight rows that one call of `run` takes whole.
    fn items(&self) -> usize;
    /// The products of work items `items` with the `m` rows of `y`, into `out`.
    fn run(&self, items: Range<usize>, m: usize, y: &[A], out: &Out);
}

impl<Q: Quad> QuadMatrix<Q::Act> for Quads<Q> {
    fn n(&self) -> usize {
        self.n
    }

    fn k(&self) -> usize {
        self.k
    }

    fn items(&self) -> usize {
        self.n.div_ceil(4)
    }

    fn run(&self, range: Range<usize>, m: usize, y: &[Q::Act], out: &Out) {
        // With many activation rows (prefill), a run of quads whose blocks fit in L2 meets each
        // group of rows in turn, so the rows are read once per run, not per quad.
        let kb = self.k / Q::Act::WIDTH;
        let run = (L2_SHARE / (kb * std::mem::size_of::<Q>())).max(1);
        for start in range.clone().step_by(run) {
            let quads = start..range.end.min(start + run);
            let row = self.rows::<8>(quads.clone(), 0..m, y, out);
            let row = self.rows::<4>(quads.clone(), row..m, y, out);
            self.rows::<1>(quads, row..m, y, out);
        }
    }
}

impl<Q: Quad> CustomOp1 for Quads<Q> {
    fn name(&self) -> &'static str {
        "quads-gemv"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, k) = (self.n, self.k);
        let x = rows(self.name(), storage, layout, k)?;
        let m = x.len() / k;
        let y = quantize::<Q::Act>(x);
        let mut dst = vec![0f32; m * n];
        let out = Out {
            ptr: dst.as_mut_ptr() as usize,
            n,
        };
        // Each work item is one quad of weight rows against every activation row; items write
        // disjoint outputs.
        super::pool::pool().run(n.div_ceil(4), |range| self.run(range, m, &y, &out));
        Ok((CpuStorage::F32(dst), out_shape(layout, n)))
    }
}

/// `x · Wᵢᵀ` for several matrices of one activation type (q, k and v; gate and up): the
/// activations are quantized once and all the products are one pass of the thread pool, so a
/// decoding step hands work to the other threads fewer times. Each product is the one
/// [`Quads::forward`] computes, to the bit.
pub(crate) fn fused<A: ActBlock>(x: &Tensor, mats: &[&dyn QuadMatrix<A>]) -> Result<Vec<Tensor>> {
    let Some(k) = mats.first().map(|w| w.k()) else {
        return Ok(Vec::new());
    };
    if mats.iter().any(|w| w.k() != k) {
        candle_core::bail!("fused products of matrices with different inputs");
    }
    let (storage, layout) = x.storage_and_layout();
    let candle_core::Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("fused quads products run on the CPU");
    };
    let xs = rows("fused quads-gemv", cpu, layout, k)?;
    let m = xs.len() / k;
    let y = quantize::<A>(xs);
    let mut dsts: Vec<Vec<f32>> = mats.iter().map(|w| vec![0f32; m * w.n()]).collect();
    let outs: Vec<Out> = dsts
        .iter_mut()
        .zip(mats)
        .map(|(d, w)| Out {
            ptr: d.as_mut_ptr() as usize,
            n: w.n(),
        })
        .collect();
    // Work items are the quads of all matrices in turn.
    let mut starts = vec![0];
    for w in mats {
        starts.push(starts[starts.len() - 1] + w.items());
    }
    let total = starts[mats.len()];
    super::pool::pool().run(total, |range| {
        for (i, w) in mats.iter().enumerate() {
            let (lo, hi) = (range.start.max(starts[i]), range.end.min(starts[i + 1]));
            if lo < hi {
                w.run(lo - starts[i]..hi - starts[i], m, &y, &outs[i]);
            }
        }
    });
    let shapes: Vec<Shape> = mats.iter().map(|w| out_shape(layout, w.n())).collect();
    drop(storage);
    dsts.into_iter()
        .zip(shapes)
        .map(|(d, shape)| Tensor::from_vec(d, shape, x.device()))
        .collect()
}

/// `x · Wᵀ` for one matrix through [`fused`].
pub(crate) fn product<A: ActBlock>(w: &dyn QuadMatrix<A>, x: &Tensor) -> Result<Tensor> {
    fused(x, &[w])?
        .pop()
        .ok_or_else(|| candle_core::Error::Msg("no product".into()))
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

/// Activations quantized block by block; the blocks of many rows (prefill) on all threads.
fn quantize<A: ActBlock>(x: &[f32]) -> Vec<A> {
    let block = |xs: &[f32]| {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the CPU has AVX2 and FMA; `xs` is one block.
            return unsafe { A::quantize_avx2(xs) };
        }
        A::quantize(xs)
    };
    let blocks = x.len() / A::WIDTH;
    if x.len() < 16 * 1024 {
        return x.chunks_exact(A::WIDTH).map(block).collect();
    }
    let mut y = vec![A::ZERO; blocks];
    let y_ptr = y.as_mut_ptr() as usize;
    super::pool::pool().run(blocks, |range| {
        for b in range {
            let q = block(&x[b * A::WIDTH..(b + 1) * A::WIDTH]);
            // SAFETY: b < blocks, the length of `y`, and only this item writes block b.
            unsafe { *(y_ptr as *mut A).add(b) = q };
        }
    });
    y
}

/// Whether this CPU runs the AVX2 kernels.
pub fn has_avx2() -> bool {
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

    pub(crate) fn matrix(n: usize, k: usize) -> Tensor {
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

    /// Rows of `k` activations, some several times the largest, as after a norm.
    pub(crate) fn activations(m: usize, k: usize) -> Tensor {
        let x: Vec<f32> = (0..m * k)
            .map(|i| (i as f32 * 0.37).sin() * if i % 97 == 0 { 9.0 } else { 1.0 })
            .collect();
        Tensor::from_vec(x, (1, m, k), &Device::Cpu).unwrap()
    }

    /// Every row count (quads with 1-3 padding rows too), one and several activation rows (enough
    /// for the activations to be quantized in parallel), every kernel this CPU runs (portable
    /// included): the same result as candle's own matmul of the type up to the order of float
    /// additions.
    fn matches_candle<Q: Quad>() {
        // Four blocks: candle's Q5_0 reference wants an even number.
        let k = 4 * Q::Act::WIDTH;
        for n in [4, 5, 6, 7, 64] {
            let q = QTensor::quantize(&matrix(n, k), Q::DTYPE).unwrap();
            let mut quads = Quads::<Q>::new(&q).unwrap();
            let reference = QMatMul::from_qtensor(q).unwrap();
            // Rows one at a time; eight, four and one at a time; in parallel quantized eights.
            for m in [1, 3, 13, 16 * 1024 / k] {
                let x = activations(m, k);
                let want = reference.forward(&x).unwrap();
                for kernel in Kernel::available() {
                    quads.kernel = kernel;
                    let got = quads.forward(&x).unwrap();
                    assert_eq!(got.dims(), &[1, m, n]);
                    let diff = max_abs_diff(&got, &want);
                    assert!(diff < 1e-4, "{:?} n={n} m={m} {kernel:?}: {diff}", Q::DTYPE);
                }
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

    /// The unpacked weights are the type's own values, and the AVX2 kernels give the portable sums,
    /// for one, four and eight activation rows at once.
    fn kernels_agree<Q: Quad>() {
        let width = Q::Act::WIDTH;
        let (n, k) = (8, 4 * width);
        let w = matrix(n, k);
        let q = QTensor::quantize(&w, Q::DTYPE).unwrap();
        let values = q
            .dequantize(&Device::Cpu)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let mut quads = Quads::<Q>::new(&q).unwrap();
        for (row, want) in values.iter().enumerate() {
            for b in 0..k / width {
                let got = quads.quads[row / 4 * (k / width) + b].weights(row % 4);
                let want = &want[b * width..(b + 1) * width];
                assert_eq!(got, want, "{:?} row {row} block {b}", Q::DTYPE);
            }
        }
        let x = activations(8, k).flatten_all().unwrap().to_vec1().unwrap();
        let y = quantize::<Q::Act>(&x);
        let y: Vec<&[Q::Act]> = y.chunks_exact(k / width).collect();
        let y8: [&[Q::Act]; 8] = std::array::from_fn(|i| y[i]);
        let y4: [&[Q::Act]; 4] = std::array::from_fn(|i| y[i]);
        for kernel in Kernel::available() {
            quads.kernel = kernel;
            for w in quads.quads.chunks_exact(k / width) {
                let portable = portable_dot4(w, y8);
                let (eight, four) = (quads.dot4(w, y8), quads.dot4(w, y4));
                for (a, y) in y.iter().enumerate() {
                    let one = quads.dot4(w, [y])[0];
                    for r in 0..4 {
                        let want = portable[a][r];
                        let mut got = vec![eight[a][r], one[r]];
                        got.extend(four.get(a).map(|f| f[r]));
                        for got in got {
                            assert!(
                                (want - got).abs() < 1e-4,
                                "{:?} {kernel:?}: {want} vs {got}",
                                Q::DTYPE
                            );
                        }
                    }
                }
            }
        }
    }

    /// The kernels chosen are ones this CPU runs, and on x86-64 with AVX2 at least those.
    #[test]
    fn the_best_kernels_run_here() {
        assert!(Kernel::best().runs_here());
        assert_eq!(Kernel::available()[0], Kernel::Portable);
        if has_avx2() {
            assert_ne!(Kernel::best(), Kernel::Portable);
        }
        eprintln!("kernels here: {:?}", Kernel::available());
    }

    #[test]
    fn q8_0_kernels_agree() {
        kernels_agree::<Q8_0x4>();
    }

    #[test]
    fn q5_0_kernels_agree() {
        kernels_agree::<Q5_0x4>();
    }

    /// Activations that test the quantizers' corners: 1024 values in which one 256-wide block
    /// has its largest magnitude twice with both signs (the first wins) and scales to whole
    /// numbers plus exact halves (rounded away from zero), one is all zeros, one is tiny, and one
    /// is ordinary.
    fn corners() -> Vec<f32> {
        let mut x: Vec<f32> = (0..1024).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
        for (j, v) in x[256..512].iter_mut().enumerate() {
            *v = (j as f32 - 128.0) / 2.0 + 0.25 * (j % 3) as f32;
        }
        (x[256], x[300]) = (-127.0, 127.0);
        x[512..768].fill(0.0);
        for (j, v) in x[768..].iter_mut().enumerate() {
            *v = (j as f32 - 100.0) * 1e-30;
        }
        x[770] = 0.499_999_97;
        x
    }

    /// The Q8_0 and Q8_K activations are candle's to the bit, with and without AVX2.
    #[test]
    fn activations_are_quantized_as_candle_does() {
        use candle_core::quantized::k_quants::{BlockQ8K, BlockQ8_0, GgmlType};
        let x = corners();
        let mut want = vec![BlockQ8_0::zeros(); x.len() / QK];
        BlockQ8_0::from_float(&x, &mut want);
        let got = quantize::<Q8_0Act>(&x);
        for (i, (want, got)) in want.iter().zip(&got).enumerate() {
            // SAFETY: BlockQ8_0 is repr(C): an f16 scale, then 32 quants.
            let bytes: &[u8; 34] = unsafe { &*(want as *const BlockQ8_0 as *const [u8; 34]) };
            let d = f16::from_le_bytes([bytes[0], bytes[1]]).to_f32();
            let qs: Vec<i8> = bytes[2..].iter().map(|&b| b as i8).collect();
            assert_eq!((got.d, &got.qs[..]), (d, &qs[..]), "Q8_0 block {i}");
            assert_eq!(
                *got,
                Q8_0Act::quantize(&x[i * QK..(i + 1) * QK]),
                "Q8_0 block {i}"
            );
        }
        let mut want = vec![BlockQ8K::zeros(); x.len() / 256];
        BlockQ8K::from_float(&x, &mut want);
        let got = quantize::<Q8KAct>(&x);
        for (i, (want, got)) in want.iter().zip(&got).enumerate() {
            // SAFETY: both are repr(C) structs of an f32 scale, 256 quants and 16 sums.
            let want: &Q8KAct = unsafe { &*(want as *const BlockQ8K as *const Q8KAct) };
            assert_eq!(got, want, "Q8_K block {i}");
            assert_eq!(
                *got,
                Q8KAct::quantize(&x[i * 256..(i + 1) * 256]),
                "Q8_K block {i}"
            );
        }
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
