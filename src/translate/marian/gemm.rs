//! f32 matrix products for the Marian linear layers: `y = x · Wᵀ + b` with W packed once at load.
//!
//! candle 0.11 sends a one-row product (batch 1 decoding) to a single-threaded GEMV that rewrites the
//! whole output once per input column, and reads an unpacked `[in, out]` matrix at large strides for
//! 2–64 rows. Here W (`[out, in]`) is repacked into panels of [`NR`] output columns, each panel laid out
//! `[in][NR]`, so a microkernel streams one panel linearly while it multiplies it by a few rows of
//! activations held in registers; the panels are split over all threads (rows too, for the encoder's
//! large products). Bias is added in the epilogue. Every output element is the plain sum
//! `Σₖ x[k]·w[k]` in the order of `k` (FMA), then `+ b`: the same product as the reference, rounded
//! a little differently than candle's blocked sums (tests: within 1e-5 relative).
//!
//! Kernels are chosen at run time: AVX-512F (8 rows × 32 columns per tile), AVX2+FMA (6 × 16) and a
//! portable one (4 × 16), all reading the same packed layout.

use rayon::prelude::*;

/// Output columns per panel.
pub const NR: usize = 16;

/// Rows of activations a task takes at most: with the panels it meets, they stay in L2.
const ROW_BLOCK: usize = 64;

/// Which kernel family runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    Avx512,
    Avx2,
    Portable,
}

impl Isa {
    /// The best this CPU can run.
    pub fn detect() -> Isa {
        static BEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                if is_x86_feature_detected!("avx512f") {
                    return Isa::Avx512;
                }
                if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                    return Isa::Avx2;
                }
            }
            Isa::Portable
        })
    }

    /// Every kernel family this CPU can run (for tests), best first.
    pub fn available() -> Vec<Isa> {
        let mut v = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") {
                v.push(Isa::Avx512);
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                v.push(Isa::Avx2);
            }
        }
        v.push(Isa::Portable);
        v
    }
}

/// W `[n, k]` packed as `ceil(n / NR)` panels of `[k][NR]` (columns past `n` zero), and the bias
/// padded the same way.
#[derive(Debug, Clone)]
pub struct PackedF32 {
    n: usize,
    k: usize,
    panels: usize,
    data: Vec<f32>,
    bias: Vec<f32>,
}

impl PackedF32 {
    /// From W row-major `[n, k]` and b `[n]`.
    pub fn pack(w: &[f32], b: &[f32], n: usize, k: usize) -> PackedF32 {
        assert_eq!(w.len(), n * k, "weights are not {n} x {k}");
        assert_eq!(b.len(), n, "bias is not {n} long");
        let panels = n.div_ceil(NR);
        let mut data = vec![0f32; panels * k * NR];
        data.par_chunks_mut(k * NR)
            .enumerate()
            .for_each(|(p, panel)| {
                for j in 0..NR.min(n - p * NR) {
                    let row = &w[(p * NR + j) * k..(p * NR + j + 1) * k];
                    for (kk, &v) in row.iter().enumerate() {
                        panel[kk * NR + j] = v;
                    }
                }
            });
        let mut bias = vec![0f32; panels * NR];
        bias[..n].copy_from_slice(b);
        PackedF32 {
            n,
            k,
            panels,
            data,
            bias,
        }
    }

    pub fn out_dim(&self) -> usize {
        self.n
    }

    pub fn in_dim(&self) -> usize {
        self.k
    }

    /// `out[m, n] = x[m, k] · Wᵀ + b` with the kernels of [`Isa::detect`].
    pub fn matmul(&self, x: &[f32], m: usize, out: &mut [f32]) {
        self.matmul_with(Isa::detect(), x, m, out)
    }

    /// [`matmul`](Self::matmul) with a given kernel family (which the CPU must support; the
    /// portable one always works).
    pub fn matmul_with(&self, isa: Isa, x: &[f32], m: usize, out: &mut [f32]) {
        assert_eq!(x.len(), m * self.k, "activations are not {m} x {}", self.k);
        assert_eq!(out.len(), m * self.n, "output is not {m} x {}", self.n);
        if m == 0 || self.n == 0 {
            return;
        }
        let isa = match isa {
            Isa::Portable => Isa::Portable,
            _ if Isa::available().contains(&isa) => isa,
            _ => Isa::Portable,
        };
        // Panels a kernel call takes together (the AVX-512 tile is two panels wide).
        let step = if isa == Isa::Avx512 { 2 } else { 1 };
        let row_blocks = m.div_ceil(ROW_BLOCK);
        let threads = rayon::current_num_threads().max(1);
        let work = m * self.n * self.k;
        // Panel groups per row block: enough tasks to keep every thread busy, in whole steps.
        let groups = if work < 1 << 16 {
            1
        } else {
            (4 * threads)
                .div_ceil(row_blocks)
                .clamp(1, self.panels.div_ceil(step))
        };
        let per_group = self.panels.div_ceil(groups).div_ceil(step) * step;
        let groups = self.panels.div_ceil(per_group);
        let out_ptr = SendPtr(out.as_mut_ptr());
        let task = |t: usize| {
            let (rb, g) = (t / groups, t % groups);
            let rows = rb * ROW_BLOCK..(m.min((rb + 1) * ROW_BLOCK));
            let panels = g * per_group..self.panels.min((g + 1) * per_group);
            // SAFETY: tasks write disjoint (row, column) blocks of `out`, which outlives them.
            unsafe { self.block(isa, x, rows, panels, out_ptr) };
        };
        let tasks = row_blocks * groups;
        if tasks == 1 {
            task(0);
        } else {
            (0..tasks).into_par_iter().for_each(task);
        }
    }

    /// Rows `rows` × panels `panels` of the product.
    ///
    /// # Safety
    /// `out` points to `m × n` floats that no other thread writes in this block; the CPU runs `isa`.
    unsafe fn block(
        &self,
        isa: Isa,
        x: &[f32],
        rows: std::ops::Range<usize>,
        panels: std::ops::Range<usize>,
        out: SendPtr,
    ) {
        let (k, n) = (self.k, self.n);
        let mr_max = match isa {
            Isa::Avx512 => 8,
            Isa::Avx2 => 6,
            Isa::Portable => 4,
        };
        let mut p = panels.start;
        while p < panels.end {
            let np = if isa == Isa::Avx512 && p + 1 < panels.end {
                2
            } else {
                1
            };
            let col = p * NR;
            let cols = (np * NR).min(n - col);
            let w = self.data.as_ptr().add(p * k * NR);
            let bias = self.bias.as_ptr().add(col);
            // The panels after these: fetched from memory while the row tiles below use these
            // (the first tile reads them; otherwise it alone would wait for memory).
            let next = w.wrapping_add(np * k * NR);
            let mut r = rows.start;
            while r < rows.end {
                let mr = mr_max.min(rows.end - r);
                let t = Tile {
                    x: x.as_ptr().add(r * k),
                    k,
                    w,
                    bias,
                    out: out.0.add(r * n + col),
                    ldo: n,
                    cols,
                    next: if r == rows.start && p + np < panels.end {
                        next
                    } else {
                        std::ptr::null()
                    },
                };
                match isa {
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx512 => avx512::tile(mr, np, &t),
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2 => avx2::tile(mr, &t),
                    _ => portable_tile(mr, &t),
                }
                r += mr;
            }
            p += np;
        }
    }
}

#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: only used to hand disjoint output blocks to the tasks of one product.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

/// One microkernel call: `mr` rows of `x` (stride `k`) times one or two panels at `w` (the second
/// right after the first, `k × NR` later), `cols` valid output columns written at `out` (stride `ldo`).
struct Tile {
    x: *const f32,
    k: usize,
    w: *const f32,
    bias: *const f32,
    out: *mut f32,
    ldo: usize,
    cols: usize,
    /// Panels to prefetch while this tile runs (as many as it reads), or null.
    next: *const f32,
}

/// The portable microkernel (and the reference for the others' order of operations).
///
/// # Safety
/// `t` describes valid memory for `mr` rows and one panel.
unsafe fn portable_tile(mr: usize, t: &Tile) {
    match mr {
        1 => portable::<1>(t),
        2 => portable::<2>(t),
        3 => portable::<3>(t),
        _ => portable::<4>(t),
    }
}

unsafe fn portable<const MR: usize>(t: &Tile) {
    let mut acc = [[0f32; NR]; MR];
    for kk in 0..t.k {
        let w = std::slice::from_raw_parts(t.w.add(kk * NR), NR);
        for (r, a) in acc.iter_mut().enumerate() {
            let xv = *t.x.add(r * t.k + kk);
            for (s, &wv) in a.iter_mut().zip(w) {
                *s = xv.mul_add(wv, *s);
            }
        }
    }
    for (r, a) in acc.iter().enumerate() {
        for (j, &s) in a.iter().enumerate().take(t.cols) {
            *t.out.add(r * t.ldo + j) = s + *t.bias.add(j);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Tile, NR};
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX-512F; `t` valid for `mr` (1..=8) rows and `np` (1 or 2) panels.
    pub unsafe fn tile(mr: usize, np: usize, t: &Tile) {
        macro_rules! go {
            ($($m:literal)*) => {
                match (mr, np) {
                    $( ($m, 2) => kernel::<$m, 2>(t), ($m, _) => kernel::<$m, 1>(t), )*
                    _ => unreachable!("tile of {mr} rows"),
                }
            };
        }
        go!(1 2 3 4 5 6 7 8)
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn kernel<const MR: usize, const NP: usize>(t: &Tile) {
        let mut acc = [[_mm512_setzero_ps(); NP]; MR];
        let panel = t.k * NR;
        let prefetch = !t.next.is_null();
        for kk in 0..t.k {
            if prefetch {
                for p in 0..NP {
                    _mm_prefetch::<_MM_HINT_T0>(
                        t.next.wrapping_add(p * panel + kk * NR) as *const i8
                    );
                }
            }
            let mut w = [_mm512_setzero_ps(); NP];
            for (p, wv) in w.iter_mut().enumerate() {
                *wv = _mm512_loadu_ps(t.w.add(p * panel + kk * NR));
            }
            for (r, a) in acc.iter_mut().enumerate() {
                let xv = _mm512_set1_ps(*t.x.add(r * t.k + kk));
                for (s, &wv) in a.iter_mut().zip(&w) {
                    *s = _mm512_fmadd_ps(xv, wv, *s);
                }
            }
        }
        for (p, _) in (0..NP).enumerate() {
            let left = t.cols.saturating_sub(p * NR).min(NR);
            if left == 0 {
                break;
            }
            let mask: __mmask16 = if left == NR {
                0xffff
            } else {
                (1u16 << left) - 1
            };
            let b = _mm512_maskz_loadu_ps(mask, t.bias.add(p * NR));
            for (r, a) in acc.iter().enumerate() {
                let y = _mm512_add_ps(a[p], b);
                _mm512_mask_storeu_ps(t.out.add(r * t.ldo + p * NR), mask, y);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Tile, NR};
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX2 and FMA; `t` valid for `mr` (1..=6) rows and one panel.
    pub unsafe fn tile(mr: usize, t: &Tile) {
        match mr {
            1 => kernel::<1>(t),
            2 => kernel::<2>(t),
            3 => kernel::<3>(t),
            4 => kernel::<4>(t),
            5 => kernel::<5>(t),
            6 => kernel::<6>(t),
            _ => unreachable!("tile of {mr} rows"),
        }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn kernel<const MR: usize>(t: &Tile) {
        let mut acc = [[_mm256_setzero_ps(); 2]; MR];
        let prefetch = !t.next.is_null();
        for kk in 0..t.k {
            if prefetch {
                // One 64-byte line of the next panel per step: the panel's row `kk`.
                _mm_prefetch::<_MM_HINT_T0>(t.next.wrapping_add(kk * NR) as *const i8);
            }
            let w0 = _mm256_loadu_ps(t.w.add(kk * NR));
            let w1 = _mm256_loadu_ps(t.w.add(kk * NR + 8));
            for (r, a) in acc.iter_mut().enumerate() {
                let xv = _mm256_set1_ps(*t.x.add(r * t.k + kk));
                a[0] = _mm256_fmadd_ps(xv, w0, a[0]);
                a[1] = _mm256_fmadd_ps(xv, w1, a[1]);
            }
        }
        let b0 = _mm256_loadu_ps(t.bias);
        let b1 = _mm256_loadu_ps(t.bias.add(8));
        for (r, a) in acc.iter().enumerate() {
            let y0 = _mm256_add_ps(a[0], b0);
            let y1 = _mm256_add_ps(a[1], b1);
            let dst = t.out.add(r * t.ldo);
            if t.cols == NR {
                _mm256_storeu_ps(dst, y0);
                _mm256_storeu_ps(dst.add(8), y1);
            } else {
                let mut tmp = [0f32; NR];
                _mm256_storeu_ps(tmp.as_mut_ptr(), y0);
                _mm256_storeu_ps(tmp.as_mut_ptr().add(8), y1);
                std::ptr::copy_nonoverlapping(tmp.as_ptr(), dst, t.cols);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    /// Deterministic values in [-1, 1).
    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// candle's `x · Wᵀ + b`, the reference the Marian model used before.
    fn reference(x: &[f32], w: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
        let dev = Device::Cpu;
        let x = Tensor::from_slice(x, (m, k), &dev).unwrap();
        let w = Tensor::from_slice(w, (n, k), &dev).unwrap();
        let b = Tensor::from_slice(b, n, &dev).unwrap();
        x.matmul(&w.t().unwrap().contiguous().unwrap())
            .unwrap()
            .broadcast_add(&b)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    /// Largest difference relative to the largest reference value.
    fn rel_diff(got: &[f32], want: &[f32]) -> f32 {
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-30);
        got.iter()
            .zip(want)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
            / scale
    }

    #[test]
    fn every_kernel_matches_candle_on_many_shapes() {
        let isas = Isa::available();
        // Rows: one (GEMV), a few, tile sizes and past them, more than a row block.
        let rows = [1, 2, 3, 5, 6, 7, 8, 9, 13, 32, 33, 64, 65, 130];
        // Columns: less than, equal to and past a panel (padded panels), odd, several panel pairs.
        let cols = [1, 7, 16, 17, 31, 32, 33, 100, 517];
        let inner = [1, 3, 24, 64, 129];
        let mut checked = 0;
        for (i, &m) in rows.iter().enumerate() {
            for (j, &n) in cols.iter().enumerate() {
                for (l, &k) in inner.iter().enumerate() {
                    let seed = (i * 100 + j * 10 + l) as u64;
                    let x = values(m * k, seed);
                    let w = values(n * k, seed + 1000);
                    let b = values(n, seed + 2000);
                    let want = reference(&x, &w, &b, m, n, k);
                    let packed = PackedF32::pack(&w, &b, n, k);
                    for &isa in &isas {
                        let mut got = vec![f32::NAN; m * n];
                        packed.matmul_with(isa, &x, m, &mut got);
                        let d = rel_diff(&got, &want);
                        assert!(
                            d <= 1e-5,
                            "{isa:?} m {m} n {n} k {k}: relative difference {d}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, rows.len() * cols.len() * inner.len() * isas.len());
    }

    /// The real layer shapes (d_model 512, FFN 2048, an output layer with a padded last panel), on
    /// every kernel, with the thread split.
    #[test]
    fn marian_shapes_match_candle() {
        for (m, n, k) in [
            (1, 1536, 512),
            (8, 2048, 512),
            (32, 512, 2048),
            (4, 5011, 512),
        ] {
            let x = values(m * k, 7);
            let w = values(n * k, 8);
            let b = values(n, 9);
            let want = reference(&x, &w, &b, m, n, k);
            let packed = PackedF32::pack(&w, &b, n, k);
            for isa in Isa::available() {
                let mut got = vec![f32::NAN; m * n];
                packed.matmul_with(isa, &x, m, &mut got);
                let d = rel_diff(&got, &want);
                assert!(
                    d <= 1e-5,
                    "{isa:?} m {m} n {n} k {k}: relative difference {d}"
                );
            }
        }
    }
}

/// The speed harness, shared with `gemm_i8`'s.
#[cfg(test)]
pub(super) mod speed {
    use super::*;

    /// The Marian products `(n, k)`: attention, FFN up, FFN down, output layer.
    pub const SHAPES: [(usize, usize); 4] = [(512, 512), (2048, 512), (512, 2048), (54796, 512)];
    /// Rows: one sentence, batches of 8 and 32, the encoder at 32 sentences of 32.
    pub const ROWS: [usize; 4] = [1, 8, 32, 1024];

    /// W `[n, k]` and its bias.
    pub fn weights(n: usize, k: usize) -> (Vec<f32>, Vec<f32>) {
        let w = (0..n * k)
            .map(|i| ((i * 7919 % 613) as f32 / 613.0) - 0.5)
            .collect();
        (w, vec![0.1f32; n])
    }

    pub fn inputs(m: usize, k: usize) -> Vec<f32> {
        (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect()
    }

    /// Billions of operations (2 per multiply-add) a second of `product`, an `m × n × k` product:
    /// the best of three timings of ~2 G operations each.
    pub fn rate(m: usize, n: usize, k: usize, mut product: impl FnMut()) -> f64 {
        let reps = (2_000_000_000 / (2 * m * n * k)).clamp(1, 2000);
        let mut best = f64::MAX;
        for _ in 0..3 {
            let t = std::time::Instant::now();
            for _ in 0..reps {
                product();
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        2.0 * (m * n * k * reps) as f64 / best / 1e9
    }

    /// GFLOP/s of each kernel family on [`SHAPES`] × [`ROWS`]
    /// (`cargo test --release --lib -- --ignored gemm_speed --nocapture`).
    #[test]
    #[ignore]
    fn gemm_speed() {
        for (n, k) in SHAPES {
            let (w, b) = weights(n, k);
            let p = PackedF32::pack(&w, &b, n, k);
            for m in ROWS {
                let x = inputs(m, k);
                let mut out = vec![0f32; m * n];
                for isa in Isa::available() {
                    let gflops = rate(m, n, k, || p.matmul_with(isa, &x, m, &mut out));
                    eprintln!("{n}x{k} m={m} {isa:?}: {gflops:.1} GFLOP/s");
                }
            }
        }
    }
}
