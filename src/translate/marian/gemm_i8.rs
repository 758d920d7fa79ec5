//! int8 matrix products for `--dtype int8`: `y = x · Wᵀ + b` with W quantized once at load (8 bits,
//! one f32 scale per output row) and each row of activations quantized on the fly (8 bits, one scale
//! per row), the scheme CTranslate2 uses on CPUs.
//!
//! W is packed in panels of [`NR`] output columns; within a panel each group of four inputs holds the
//! 16 columns' four weights side by side (`[k/4][NR][4]`, 64 bytes), which is what one `vpdpbusd`
//! (AVX512-VNNI: four u8×i8 products summed into each of 16 i32 lanes) or two AVX2 `vpmaddubsw` +
//! `vpmaddwd` pairs consume. VNNI multiplies unsigned by signed bytes, so activations go in shifted by
//! +128 and `128 · Σ w` (kept per column) is taken off afterwards; AVX2 instead moves the activations'
//! signs onto the weights (`vpsignb`), so its 16-bit pair sums (at most 2 · 127 · 127) never saturate.
//! Integer sums are exact, so every path gives the same integers; only the final scaling is float.
//!
//! Paths chosen at run time: AVX512-VNNI (with AVX-512BW), AVX-VNNI (the VEX form, written the same
//! way), AVX2, portable.

use rayon::prelude::*;

/// Output columns per panel.
pub const NR: usize = 16;

/// Which kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsaI8 {
    Avx512Vnni,
    AvxVnni,
    Avx2,
    Portable,
}

impl IsaI8 {
    pub fn detect() -> IsaI8 {
        static BEST: std::sync::OnceLock<IsaI8> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| IsaI8::available()[0])
    }

    /// Every path this CPU can run, best first; the portable one last.
    pub fn available() -> Vec<IsaI8> {
        let mut v = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vnni")
            {
                v.push(IsaI8::Avx512Vnni);
            }
            if is_x86_feature_detected!("avxvnni") && is_x86_feature_detected!("avx2") {
                v.push(IsaI8::AvxVnni);
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                v.push(IsaI8::Avx2);
            }
        }
        v.push(IsaI8::Portable);
        v
    }

    /// Whether the path reads activations shifted by +128 (VNNI multiplies unsigned by signed
    /// bytes), so that `128 · Σw` must come off its sums again.
    fn shifted(self) -> bool {
        matches!(self, IsaI8::Avx512Vnni | IsaI8::AvxVnni)
    }
}

/// W `[n, k]` as int8 panels with per-row scales.
#[derive(Debug, Clone)]
pub struct PackedI8 {
    n: usize,
    k: usize,
    /// `k` rounded up to a multiple of 4 (zeros past `k`).
    k4: usize,
    panels: usize,
    /// Panel `p`: `[k4/4][NR][4]` bytes.
    data: Vec<i8>,
    /// Per output column (padded to whole panels): the weight scale, `Σₖ q` (for VNNI's shift), bias.
    scale: Vec<f32>,
    colsum: Vec<i32>,
    bias: Vec<f32>,
}

/// Round to nearest, ties away from zero, clamped to ±127.
#[inline(always)]
fn q8(v: f32) -> i8 {
    v.round().clamp(-127.0, 127.0) as i8
}

impl PackedI8 {
    /// Quantize W (row-major `[n, k]`, f32) with one scale per row: `s = max|w| / 127`.
    pub fn quantize(w: &[f32], b: &[f32], n: usize, k: usize) -> PackedI8 {
        assert_eq!(w.len(), n * k, "weights are not {n} x {k}");
        assert_eq!(b.len(), n, "bias is not {n} long");
        let k4 = k.div_ceil(4) * 4;
        let panels = n.div_ceil(NR);
        let mut data = vec![0i8; panels * k4 * NR];
        let mut scale = vec![0f32; panels * NR];
        let mut colsum = vec![0i32; panels * NR];
        data.par_chunks_mut(k4 * NR)
            .zip(scale.par_chunks_mut(NR).zip(colsum.par_chunks_mut(NR)))
            .enumerate()
            .for_each(|(p, (panel, (sc, cs)))| {
                for j in 0..NR.min(n - p * NR) {
                    let row = &w[(p * NR + j) * k..(p * NR + j + 1) * k];
                    let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
                    let s = amax / 127.0;
                    let inv = if s > 0.0 { 1.0 / s } else { 0.0 };
                    sc[j] = s;
                    for (kk, &v) in row.iter().enumerate() {
                        let q = q8(v * inv);
                        panel[(kk / 4) * NR * 4 + j * 4 + kk % 4] = q;
                        cs[j] += i32::from(q);
                    }
                }
            });
        let mut bias = vec![0f32; panels * NR];
        bias[..n].copy_from_slice(b);
        PackedI8 {
            n,
            k,
            k4,
            panels,
            data,
            scale,
            colsum,
            bias,
        }
    }

    pub fn out_dim(&self) -> usize {
        self.n
    }

    pub fn in_dim(&self) -> usize {
        self.k
    }

    /// The weights as the kernels see them (`q · s`), row-major `[n, k]`: for tests.
    pub fn dequantized(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.n * self.k];
        for c in 0..self.n {
            let (p, j) = (c / NR, c % NR);
            for kk in 0..self.k {
                let q = self.data[p * self.k4 * NR + (kk / 4) * NR * 4 + j * 4 + kk % 4];
                out[c * self.k + kk] = f32::from(q) * self.scale[c];
            }
        }
        out
    }

    /// `out[m, n] = x[m, k] · Wᵀ + b` on the best path of this CPU.
    pub fn matmul(&self, x: &[f32], m: usize, out: &mut [f32]) {
        self.matmul_with(IsaI8::detect(), x, m, out)
    }

    /// [`matmul`](Self::matmul) on a given path (one the CPU cannot run falls back to portable).
    pub fn matmul_with(&self, isa: IsaI8, x: &[f32], m: usize, out: &mut [f32]) {
        assert_eq!(x.len(), m * self.k, "activations are not {m} x {}", self.k);
        assert_eq!(out.len(), m * self.n, "output is not {m} x {}", self.n);
        if m == 0 || self.n == 0 {
            return;
        }
        let isa = if IsaI8::available().contains(&isa) {
            isa
        } else {
            IsaI8::Portable
        };
        let acts = QuantRows::new(x, m, self.k, self.k4, isa.shifted());
        let threads = rayon::current_num_threads().max(1);
        let groups = if m * self.n * self.k < 1 << 16 {
            1
        } else {
            (4 * threads).min(self.panels)
        };
        let per_group = self.panels.div_ceil(groups);
        let groups = self.panels.div_ceil(per_group);
        let out_ptr = SendPtr(out.as_mut_ptr());
        let task = |g: usize| {
            let panels = g * per_group..self.panels.min((g + 1) * per_group);
            // SAFETY: each task writes its own columns of `out`, which outlives it; `isa` is one
            // this CPU runs.
            unsafe {
                #[cfg(target_arch = "x86_64")]
                if isa != IsaI8::Portable && is_x86_feature_detected!("avx2") {
                    return self.block_avx2(isa, &acts, m, panels, out_ptr);
                }
                self.block(isa, &acts, m, panels, out_ptr)
            }
        };
        if groups == 1 {
            task(0);
        } else {
            (0..groups).into_par_iter().for_each(task);
        }
    }

    /// [`block`](Self::block) compiled for AVX2, so that the scaling epilogue vectorises (without
    /// FMA: the same roundings as the portable path).
    ///
    /// # Safety
    /// As for `block`; the CPU has AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn block_avx2(
        &self,
        isa: IsaI8,
        acts: &QuantRows,
        m: usize,
        panels: std::ops::Range<usize>,
        out: SendPtr,
    ) {
        self.block(isa, acts, m, panels, out)
    }

    /// All rows × panels `panels`.
    ///
    /// # Safety
    /// `out` holds `m × n` floats whose columns of these panels no other thread writes; the CPU runs
    /// `isa`.
    #[inline(always)]
    unsafe fn block(
        &self,
        isa: IsaI8,
        acts: &QuantRows,
        m: usize,
        panels: std::ops::Range<usize>,
        out: SendPtr,
    ) {
        let groups = self.k4 / 4;
        for p in panels.clone() {
            let w = &self.data[p * self.k4 * NR..(p + 1) * self.k4 * NR];
            let col = p * NR;
            let cols = NR.min(self.n - col);
            // The panel's scales, biases and offsets (128 · Σw on the shifted paths) as whole
            // arrays, so that the epilogue vectorises; padded columns are computed and not stored.
            let mut scale = [0f32; NR];
            let mut bias = [0f32; NR];
            let mut offset = [0i32; NR];
            scale.copy_from_slice(&self.scale[col..col + NR]);
            bias.copy_from_slice(&self.bias[col..col + NR]);
            if isa.shifted() {
                for (o, &c) in offset.iter_mut().zip(&self.colsum[col..col + NR]) {
                    *o = 128 * c;
                }
            }
            let mut r = 0;
            while r < m {
                let mr = 4.min(m - r);
                let mut sums = [[0i32; NR]; 4];
                // The next panel, fetched from memory while this one's row tiles run (by the first
                // tile, which otherwise alone would wait for memory).
                let next = if r == 0 && p + 1 < panels.end {
                    self.data.as_ptr().wrapping_add((p + 1) * self.k4 * NR)
                } else {
                    std::ptr::null()
                };
                match isa {
                    #[cfg(target_arch = "x86_64")]
                    IsaI8::Avx512Vnni => vnni512::panel(w, acts, r, mr, groups, next, &mut sums),
                    #[cfg(target_arch = "x86_64")]
                    IsaI8::AvxVnni => avxvnni::panel(w, acts, r, mr, groups, next, &mut sums),
                    #[cfg(target_arch = "x86_64")]
                    IsaI8::Avx2 => avx2::panel(w, acts, r, mr, groups, next, &mut sums),
                    _ => portable_panel(w, acts, r, mr, groups, &mut sums),
                }
                for (i, s) in sums.iter().enumerate().take(mr) {
                    let row = r + i;
                    let a = acts.scale[row];
                    let mut v = [0f32; NR];
                    for j in 0..NR {
                        v[j] = (s[j] - offset[j]) as f32 * (a * scale[j]) + bias[j];
                    }
                    std::ptr::copy_nonoverlapping(v.as_ptr(), out.0.add(row * self.n + col), cols);
                }
                r += mr;
            }
        }
    }
}

/// Rows of activations quantized to int8 with one scale each (`max|x| / 127`), `k4` wide (zeros
/// past `k`), and the same bytes shifted by +128 for the VNNI paths.
struct QuantRows {
    q: Vec<i8>,
    u: Vec<u8>,
    scale: Vec<f32>,
    k4: usize,
}

impl QuantRows {
    /// Rows in parallel when there are many (the encoder's 1,024 × 2,048 inputs took as long to
    /// quantize on one thread as their product on two); `u` only for the paths that read it.
    fn new(x: &[f32], m: usize, k: usize, k4: usize, shifted: bool) -> QuantRows {
        let mut q = vec![0i8; m * k4];
        let mut scale = vec![0f32; m];
        let threads = rayon::current_num_threads().max(1);
        let per_task = if m * k >= 1 << 16 {
            m.div_ceil(4 * threads).max(1)
        } else {
            m.max(1)
        };
        x.par_chunks(per_task * k.max(1))
            .zip(q.par_chunks_mut(per_task * k4.max(1)))
            .zip(scale.par_chunks_mut(per_task))
            .for_each(|((x, q), scale)| quantize_rows(x, q, scale, k, k4));
        let u = if shifted { shift(&q) } else { Vec::new() };
        QuantRows { q, u, scale, k4 }
    }

    /// One thread, the plain build: the reference for tests.
    #[cfg(test)]
    fn new_plain(x: &[f32], m: usize, k: usize, k4: usize) -> QuantRows {
        let mut q = vec![0i8; m * k4];
        let mut scale = vec![0f32; m];
        quantize_rows_plain(x, &mut q, &mut scale, k, k4);
        let u = shift(&q);
        QuantRows { q, u, scale, k4 }
    }
}

/// The bytes `q + 128` as unsigned, for the shifted paths.
fn shift(q: &[i8]) -> Vec<u8> {
    q.iter().map(|&v| (v as u8) ^ 0x80).collect()
}

/// Compiled for AVX2 where the CPU has it: built without, `round` is a libm call per value, which
/// cost small products (32 × 512 × 512) about as much as their arithmetic. Same values either way
/// (rounding and maxima are exact).
fn quantize_rows(x: &[f32], q: &mut [i8], scale: &mut [f32], k: usize, k4: usize) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { quantize_rows_avx2(x, q, scale, k, k4) };
    }
    quantize_rows_plain(x, q, scale, k, k4)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn quantize_rows_avx2(x: &[f32], q: &mut [i8], scale: &mut [f32], k: usize, k4: usize) {
    quantize_rows_plain(x, q, scale, k, k4)
}

/// Rows of `x` (`k` wide) into rows of `q` (`k4` wide, zeros past `k`) and their scales.
#[inline(always)]
fn quantize_rows_plain(x: &[f32], q: &mut [i8], scale: &mut [f32], k: usize, k4: usize) {
    if k == 0 {
        scale.fill(0.0);
        return;
    }
    for ((row, qr), s) in x.chunks_exact(k).zip(q.chunks_exact_mut(k4)).zip(scale) {
        // Eight running maxima, so that the loop vectorises (max is exact in any order).
        let mut lanes = [0f32; 8];
        for c in row.chunks(8) {
            for (l, v) in lanes.iter_mut().zip(c) {
                *l = l.max(v.abs());
            }
        }
        let amax = lanes.iter().fold(0f32, |a, &v| a.max(v));
        *s = amax / 127.0;
        let inv = if *s > 0.0 { 1.0 / *s } else { 0.0 };
        for (o, &v) in qr.iter_mut().zip(row) {
            *o = q8(v * inv);
        }
    }
}

#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: hands disjoint column blocks of one output to the tasks of one product.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

/// The integer sums of `mr` rows from `r` with one panel: the reference the others are tested
/// against (signed activations, no shift).
fn portable_panel(
    w: &[i8],
    acts: &QuantRows,
    r: usize,
    mr: usize,
    groups: usize,
    sums: &mut [[i32; NR]; 4],
) {
    for (i, s) in sums.iter_mut().enumerate().take(mr) {
        let x = &acts.q[(r + i) * acts.k4..(r + i + 1) * acts.k4];
        for g in 0..groups {
            let wg = &w[g * NR * 4..(g + 1) * NR * 4];
            let xg = &x[g * 4..g * 4 + 4];
            for (j, sj) in s.iter_mut().enumerate() {
                for t in 0..4 {
                    *sj += i32::from(xg[t]) * i32::from(wg[j * 4 + t]);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni512 {
    use super::{QuantRows, NR};
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX512-VNNI and AVX-512BW/F.
    pub unsafe fn panel(
        w: &[i8],
        acts: &QuantRows,
        r: usize,
        mr: usize,
        groups: usize,
        next: *const i8,
        sums: &mut [[i32; NR]; 4],
    ) {
        match mr {
            1 => kernel::<1>(w, acts, r, groups, next, sums),
            2 => kernel::<2>(w, acts, r, groups, next, sums),
            3 => kernel::<3>(w, acts, r, groups, next, sums),
            _ => kernel::<4>(w, acts, r, groups, next, sums),
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn kernel<const MR: usize>(
        w: &[i8],
        acts: &QuantRows,
        r: usize,
        groups: usize,
        next: *const i8,
        sums: &mut [[i32; NR]; 4],
    ) {
        let mut acc = [_mm512_setzero_si512(); MR];
        let wp = w.as_ptr();
        let xp = acts.u.as_ptr().add(r * acts.k4);
        for g in 0..groups {
            if !next.is_null() {
                // One 64-byte line of the next panel per step.
                _mm_prefetch::<_MM_HINT_T0>(next.wrapping_add(g * NR * 4));
            }
            let wv = _mm512_loadu_si512(wp.add(g * NR * 4) as *const _);
            for (i, a) in acc.iter_mut().enumerate() {
                let x4 = (xp.add(i * acts.k4 + g * 4) as *const i32).read_unaligned();
                *a = _mm512_dpbusd_epi32(*a, _mm512_set1_epi32(x4), wv);
            }
        }
        for (i, a) in acc.iter().enumerate() {
            _mm512_storeu_si512(sums[i].as_mut_ptr() as *mut _, *a);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avxvnni {
    use super::{QuantRows, NR};
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX-VNNI and AVX2. (Untested where warta is developed: that CPU has only the EVEX form.)
    pub unsafe fn panel(
        w: &[i8],
        acts: &QuantRows,
        r: usize,
        mr: usize,
        groups: usize,
        next: *const i8,
        sums: &mut [[i32; NR]; 4],
    ) {
        match mr {
            1 => kernel::<1>(w, acts, r, groups, next, sums),
            2 => kernel::<2>(w, acts, r, groups, next, sums),
            3 => kernel::<3>(w, acts, r, groups, next, sums),
            _ => kernel::<4>(w, acts, r, groups, next, sums),
        }
    }

    #[target_feature(enable = "avx2,avxvnni")]
    unsafe fn kernel<const MR: usize>(
        w: &[i8],
        acts: &QuantRows,
        r: usize,
        groups: usize,
        next: *const i8,
        sums: &mut [[i32; NR]; 4],
    ) {
        let mut acc = [[_mm256_setzero_si256(); 2]; MR];
        let wp = w.as_ptr();
        let xp = acts.u.as_ptr().add(r * acts.k4);
        for g in 0..groups {
            if !next.is_null() {
                // One 64-byte line of the next panel per step.
                _mm_prefetch::<_MM_HINT_T0>(next.wrapping_add(g * NR * 4));
            }
            let w0 = _mm256_loadu_si256(wp.add(g * NR * 4) as *const _);
            let w1 = _mm256_loadu_si256(wp.add(g * NR * 4 + 32) as *const _);
            for (i, a) in acc.iter_mut().enumerate() {
                let x4 = (xp.add(i * acts.k4 + g * 4) as *const i32).read_unaligned();
                let xv = _mm256_set1_epi32(x4);
                a[0] = _mm256_dpbusd_avx_epi32(a[0], xv, w0);
                a[1] = _mm256_dpbusd_avx_epi32(a[1], xv, w1);
            }
        }
        for (i, a) in acc.iter().enumerate() {
            _mm256_storeu_si256(sums[i].as_mut_ptr() as *mut _, a[0]);
            _mm256_storeu_si256(sums[i].as_mut_ptr().add(8) as *mut _, a[1]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{QuantRows, NR};
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX2.
    pub unsafe fn panel(
        w: &[i8],
        acts: &QuantRows,
        r: usize,
        mr: usize,
        groups: usize,
        next: *const i8,
        sums: &mut [[i32; NR]; 4],
    ) {
        match mr {
            1 => kernel::<1>(w, acts, r, groups, next, sums),
            2 => kernel::<2>(w, acts, r, groups, next, sums),
            3 => kernel::<3>(w, acts, r, groups, next, sums),
            _ => kernel::<4>(w, acts, r, groups, next, sums),
        }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn kernel<const MR: usize>(
        w: &[i8],
        acts: &QuantRows,
        r: usize,
        groups: usize,
        next: *const i8,
        sums: &mut [[i32; NR]; 4],
    ) {
        let ones = _mm256_set1_epi16(1);
        let mut acc = [[_mm256_setzero_si256(); 2]; MR];
        let wp = w.as_ptr();
        let xp = acts.q.as_ptr().add(r * acts.k4);
        for g in 0..groups {
            if !next.is_null() {
                // One 64-byte line of the next panel per step.
                _mm_prefetch::<_MM_HINT_T0>(next.wrapping_add(g * NR * 4));
            }
            let w0 = _mm256_loadu_si256(wp.add(g * NR * 4) as *const _);
            let w1 = _mm256_loadu_si256(wp.add(g * NR * 4 + 32) as *const _);
            for (i, a) in acc.iter_mut().enumerate() {
                let x4 = (xp.add(i * acts.k4 + g * 4) as *const i32).read_unaligned();
                let xv = _mm256_set1_epi32(x4);
                // |x| (unsigned) times w·sign(x): the same products, and no 16-bit saturation.
                let ax = _mm256_sign_epi8(xv, xv);
                let p0 = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w0, xv));
                let p1 = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w1, xv));
                a[0] = _mm256_add_epi32(a[0], _mm256_madd_epi16(p0, ones));
                a[1] = _mm256_add_epi32(a[1], _mm256_madd_epi16(p1, ones));
            }
        }
        for (i, a) in acc.iter().enumerate() {
            _mm256_storeu_si256(sums[i].as_mut_ptr() as *mut _, a[0]);
            _mm256_storeu_si256(sums[i].as_mut_ptr().add(8) as *mut _, a[1]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::test_values as values;

    /// Every path gives the portable path's result to the bit (integer sums are exact; the scaling
    /// is the same code), on many shapes.
    #[test]
    fn every_path_equals_the_portable_one() {
        for (m, n, k) in [
            (1, 1, 1),
            (1, 16, 4),
            (2, 17, 5),
            (3, 33, 24),
            (4, 100, 64),
            (5, 31, 130),
            (9, 48, 512),
            (32, 64, 2048),
        ] {
            let x = values(m * k, 1);
            let w = values(n * k, 2);
            let b = values(n, 3);
            let p = PackedI8::quantize(&w, &b, n, k);
            let mut want = vec![0f32; m * n];
            p.matmul_with(IsaI8::Portable, &x, m, &mut want);
            for isa in IsaI8::available() {
                let mut got = vec![f32::NAN; m * n];
                p.matmul_with(isa, &x, m, &mut got);
                assert_eq!(got, want, "{isa:?} m {m} n {n} k {k}");
            }
        }
    }

    /// Activations quantize to the same bytes and scales with and without AVX2, ties (x.5 steps)
    /// and zero rows included.
    #[test]
    fn activation_quantization_is_the_same_on_every_path() {
        let (m, k) = (5, 37);
        let mut x = values(m * k, 7);
        // Row 1: exact half steps (max 127 → scale 1), row 3: zeros.
        for (i, v) in x[k..2 * k].iter_mut().enumerate() {
            *v = if i == 0 {
                127.0
            } else {
                (i as f32 - 18.0) + 0.5
            };
        }
        x[3 * k..4 * k].fill(0.0);
        let plain = QuantRows::new_plain(&x, m, k, 40);
        let best = QuantRows::new(&x, m, k, 40, true);
        assert_eq!(plain.q, best.q);
        assert_eq!(plain.u, best.u);
        assert_eq!(plain.scale, best.scale);
        assert!(QuantRows::new(&x, m, k, 40, false).u.is_empty());
        // Many rows: quantized in parallel, the same bytes.
        let (m2, k2) = (300, 515);
        let x2 = values(m2 * k2, 11);
        let (plain2, best2) = (
            QuantRows::new_plain(&x2, m2, k2, 516),
            QuantRows::new(&x2, m2, k2, 516, true),
        );
        assert_eq!(plain2.q, best2.q);
        assert_eq!(plain2.u, best2.u);
        assert_eq!(plain2.scale, best2.scale);
        // Ties away from zero, and u is q shifted by 128.
        assert_eq!(plain.q[40 + 1], -18 + 1);
        assert_eq!(plain.q[40 + 36], 18 + 1);
        assert!(plain.q[3 * 40..4 * 40].iter().all(|&v| v == 0));
        for (q, u) in plain.q.iter().zip(&plain.u) {
            assert_eq!(i16::from(*u), i16::from(*q) + 128);
        }
    }

    /// The quantized product stays close to the f32 one: error within what 8-bit rounding of both
    /// sides allows.
    #[test]
    fn close_to_the_f32_product() {
        let (m, n, k) = (8, 40, 512);
        let x = values(m * k, 4);
        let w = values(n * k, 5);
        let b = values(n, 6);
        let p = PackedI8::quantize(&w, &b, n, k);
        let mut got = vec![0f32; m * n];
        p.matmul(&x, m, &mut got);
        let mut worst = 0f32;
        for r in 0..m {
            for c in 0..n {
                let exact: f32 = (0..k).map(|i| x[r * k + i] * w[c * k + i]).sum::<f32>() + b[c];
                worst = worst.max((got[r * n + c] - exact).abs());
            }
        }
        // Each product is off by at most ~(|x|·δw + |w|·δx) with δ = 1/254 of the row maxima.
        let bound = k as f32 * 2.0 / 254.0 * 0.6;
        assert!(worst < bound, "worst error {worst}, bound {bound}");
        // And the dequantized weights are within half a step of the originals.
        let deq = p.dequantized();
        for c in 0..n {
            let amax = w[c * k..(c + 1) * k]
                .iter()
                .fold(0f32, |a, v| a.max(v.abs()));
            for i in 0..k {
                assert!((deq[c * k + i] - w[c * k + i]).abs() <= amax / 254.0 + 1e-6);
            }
        }
    }
}

#[cfg(test)]
mod speed {
    use super::super::gemm::speed::{inputs, rate, weights, ROWS, SHAPES};
    use super::*;

    /// Integer GOP/s of each path on the shapes of [`gemm_speed`](super::super::gemm::speed)
    /// (`cargo test --release --lib -- --ignored gemm_i8_speed --nocapture`).
    #[test]
    #[ignore]
    fn gemm_i8_speed() {
        for (n, k) in SHAPES {
            let (w, b) = weights(n, k);
            let p = PackedI8::quantize(&w, &b, n, k);
            for m in ROWS {
                let x = inputs(m, k);
                let mut out = vec![0f32; m * n];
                for isa in IsaI8::available() {
                    let gops = rate(m, n, k, || p.matmul_with(isa, &x, m, &mut out));
                    eprintln!("{n}x{k} m={m} {isa:?}: {gops:.1} GOP/s");
                }
            }
        }
    }
}
