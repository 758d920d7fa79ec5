//! Q4_K and Q6_K in tiles of 16 weight rows whose products keep one weight row per 32-bit lane.
//!
//! Laying each weight row's quants out along the register (candle's and warta's earlier four-row
//! "quads") reduces across lanes at the end; each 64 products cost a `vpmaddubsw`, a `vpmaddwd` by
//! the sub-block's scales and an add. Here a register holds four consecutive quants of each of 16 rows (one row per
//! lane), so `vpdpbusd` with four broadcast activation bytes adds 64 products straight into the
//! rows' own sums: one instruction per 64 products, the sub-block scale one `vpmulld` per 32 quants
//! of a row, and no horizontal sums (the lanes are the outputs). That is llama.cpp's trick for its
//! repacked Q4_K GEMM, and it serves decoding (one activation row: the weights stream once, as
//! before, at the same 4.75 bits a weight) and prefill (four activation rows per pass over a tile).
//!
//! Q6_K's six bits lie as a nibble register (the same layout) plus two-bit pairs, four to a byte,
//! joined in registers; its `- 32` starts each sub-block's sum at `-32·Σy` of its 16 activations.
//!
//! The integer products are candle's (and llama.cpp's): activations as Q8_K, Q4_K's mins through the
//! sums of each 32 activations. Only the order of the float additions differs.
//!
//! On CPUs without AVX-512 the 256-bit kernels take the tile as two halves of eight rows; AVX2
//! without VNNI emulates `vpdpbusd` with `vpmaddubsw` + `vpmaddwd` by ones (the same sums: the
//! quants are at most 15, so the 16-bit pair sums never saturate).

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Result;
use std::ops::Range;

use super::kquants::{f16_at, scale_min};
use super::{ActBlock, Kernel, Out, Q8KAct, QuadMatrix, L2_SHARE, PREFETCH_AHEAD};

const QK_K: usize = 256;
/// Weight rows per tile: one per 32-bit lane of a 512-bit register.
pub const ROWS: usize = 16;

/// A 256-wide super-block of 16 weight rows of one K-quant type, with its kernels.
pub trait Tile: Copy + Send + Sync + 'static {
    const DTYPE: GgmlDType;
    /// Bytes of one row's ggml block.
    const BLOCK: usize;
    const EMPTY: Self;
    /// Row `r` from its ggml block.
    fn set(&mut self, r: usize, src: &[u8]);
    /// Row `r`'s product with one block of activations (the portable kernel).
    fn dot(&self, r: usize, y: &Q8KAct) -> f32;
    #[cfg(test)]
    fn weights(&self, r: usize) -> Vec<f32>;

    /// The 16 rows' products with each of `M` rows of activations over the blocks `w`.
    ///
    /// # Safety
    /// The CPU has AVX-512 F/BW/VL and AVX512-VNNI; `y`'s rows are as long as `w`.
    #[cfg(target_arch = "x86_64")]
    unsafe fn dot_avx512<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; ROWS]; M];
    /// # Safety
    /// The CPU has AVX2, FMA and AVX-VNNI; lengths as above.
    #[cfg(target_arch = "x86_64")]
    unsafe fn dot_avxvnni<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; ROWS]; M];
    /// # Safety
    /// The CPU has AVX2 and FMA; lengths as above.
    #[cfg(target_arch = "x86_64")]
    unsafe fn dot_avx2<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; ROWS]; M];
    /// Tests only: the 256-bit body with the EVEX `vpdpbusd`, so that it runs where AVX-512
    /// VNNI is but AVX-VNNI is not (the instruction sums as the VEX one does).
    ///
    /// # Safety
    /// As [`Tile::dot_avx512`].
    #[cfg(all(test, target_arch = "x86_64"))]
    unsafe fn dot_vnni256<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; ROWS]; M];
}

/// Q4_K: per 32-wide sub-block `s`, `w = d·sc[s]·q - dmin·m[s]` with 4-bit `q`, 6-bit `sc`, `m`.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub struct Q4KTile {
    /// `[sub-block s][step t][4·row + j]`: the low nibble holds quant `32s + 8t + j` of the row,
    /// the high nibble quant `32s + 8t + 4 + j`. Rows 0-7 fill the first 32 bytes of each step.
    qs: [[[u8; 4 * ROWS]; 4]; 8],
    /// `[sub-block][row]`.
    scales: [[u8; ROWS]; 8],
    /// `[pair p][row]`: the mins of sub-blocks `2p` and `2p + 1`, as `vpmaddwd` takes them.
    mins: [[[u8; 2]; ROWS]; 4],
    d: [f32; ROWS],
    dmin: [f32; ROWS],
}

impl Q4KTile {
    /// Row `r`'s quant `i` (0..256), 0..16.
    fn q(&self, r: usize, i: usize) -> u8 {
        nibble_at(&self.qs[i / 32], r, i % 32)
    }
}

/// Quant `l` (0..32) of row `r` in one span of the nibble layout (`Q4KTile::qs[s]`).
fn nibble_at(steps: &[[u8; 4 * ROWS]; 4], r: usize, l: usize) -> u8 {
    let (t, j) = (l / 8, l % 8);
    (steps[t][4 * r + j % 4] >> (4 * (j / 4))) & 0x0F
}

/// Puts the low nibbles of row `r`'s quants `q(l)` (0..32) into one span of the nibble layout.
fn set_nibbles(steps: &mut [[u8; 4 * ROWS]; 4], r: usize, q: impl Fn(usize) -> u8) {
    for (t, step) in steps.iter_mut().enumerate() {
        for j in 0..4 {
            let l = 8 * t + j;
            step[4 * r + j] = (q(l) & 0x0F) | ((q(l + 4) & 0x0F) << 4);
        }
    }
}

impl Tile for Q4KTile {
    const DTYPE: GgmlDType = GgmlDType::Q4K;
    const BLOCK: usize = 2 + 2 + 12 + QK_K / 2;
    const EMPTY: Q4KTile = Q4KTile {
        qs: [[[0; 4 * ROWS]; 4]; 8],
        scales: [[0; ROWS]; 8],
        mins: [[[0; 2]; ROWS]; 4],
        d: [0.0; ROWS],
        dmin: [0.0; ROWS],
    };

    /// ggml's `block_q4_K`: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, 128 bytes of
    /// nibbles (32-byte chunk `c`: sub-block `2c` low, `2c + 1` high).
    fn set(&mut self, r: usize, src: &[u8]) {
        self.d[r] = f16_at(src, 0);
        self.dmin[r] = f16_at(src, 2);
        for s in 0..8 {
            let (sc, m) = scale_min(s, &src[4..16]);
            self.scales[s][r] = sc;
            self.mins[s / 2][r][s % 2] = m;
        }
        for (s, steps) in self.qs.iter_mut().enumerate() {
            set_nibbles(steps, r, |l| {
                let i = 32 * s + l;
                src[16 + 32 * (i / 64) + i % 32] >> (4 * (i / 32 % 2))
            });
        }
    }

    fn dot(&self, r: usize, y: &Q8KAct) -> f32 {
        let (mut sum, mut mins) = (0i32, 0i32);
        for s in 0..8 {
            let dot: i32 = (0..32)
                .map(|l| i32::from(self.q(r, 32 * s + l)) * i32::from(y.qs[32 * s + l]))
                .sum();
            sum += i32::from(self.scales[s][r]) * dot;
            let ysum = i32::from(y.bsums[2 * s]) + i32::from(y.bsums[2 * s + 1]);
            mins += i32::from(self.mins[s / 2][r][s % 2]) * ysum;
        }
        y.d * (self.d[r] * sum as f32) - y.d * (self.dmin[r] * mins as f32)
    }

    #[cfg(test)]
    fn weights(&self, r: usize) -> Vec<f32> {
        (0..QK_K)
            .map(|i| {
                let s = i / 32;
                let d = self.d[r] * f32::from(self.scales[s][r]);
                let m = self.dmin[r] * f32::from(self.mins[s / 2][r][s % 2]);
                d * f32::from(self.q(r, i)) - m
            })
            .collect()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn dot_avx512<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; ROWS]; M] {
        x86::q4k_512(w, y)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,avxvnni")]
    unsafe fn dot_avxvnni<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; ROWS]; M] {
        x86::q4k_256::<x86::AvxVnni, M>(w, y)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_avx2<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; ROWS]; M] {
        x86::q4k_256::<x86::Madd, M>(w, y)
    }

    #[cfg(all(test, target_arch = "x86_64"))]
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn dot_vnni256<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; ROWS]; M] {
        x86::q4k_256::<x86::Vnni512, M>(w, y)
    }
}

/// Q6_K: per 16-wide sub-block `s`, `w = d·sc[s]·(q - 32)` with 6-bit `q` and signed 8-bit `sc`.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub struct Q6KTile {
    /// Per 32-wide span, its low and high bits together: decoding then reads one stream (two
    /// arrays side by side read ~30% slower from memory on the development machine).
    spans: [Q6KSpan; 8],
    /// `[sub-block][row]`.
    scales: [[i8; ROWS]; 16],
    d: [f32; ROWS],
}

#[derive(Clone, Copy)]
#[repr(C)]
struct Q6KSpan {
    /// The quants' low four bits, laid out as a span of [`Q4KTile::qs`].
    qs: [[u8; 4 * ROWS]; 4],
    /// `[step pair u][4·row + j]`: the high two bits of the quants of steps `2u` and `2u + 1`,
    /// four to a byte: bits 0-1 for step `2u`'s low nibble, 2-3 for its high nibble, 4-5 and 6-7
    /// for step `2u + 1`'s.
    qh: [[u8; 4 * ROWS]; 2],
}

impl Q6KTile {
    /// Row `r`'s quant `i` (0..256), 0..64.
    fn q(&self, r: usize, i: usize) -> u8 {
        let (span, t, j) = (&self.spans[i / 32], i % 32 / 8, i % 8);
        let high = (span.qh[t / 2][4 * r + j % 4] >> (4 * (t % 2) + 2 * (j / 4))) & 3;
        nibble_at(&span.qs, r, i % 32) | (high << 4)
    }
}

impl Tile for Q6KTile {
    const DTYPE: GgmlDType = GgmlDType::Q6K;
    const BLOCK: usize = QK_K / 2 + QK_K / 4 + QK_K / 16 + 2;
    const EMPTY: Q6KTile = Q6KTile {
        spans: [Q6KSpan {
            qs: [[0; 4 * ROWS]; 4],
            qh: [[0; 4 * ROWS]; 2],
        }; 8],
        scales: [[0; ROWS]; 16],
        d: [0.0; ROWS],
    };

    /// ggml's `block_q6_K`: ql (128 bytes), qh (64), 16 signed scales, f16 d. Per 128-wide half,
    /// four 32-wide runs: the low nibbles of ql[0..32] and ql[32..64], then their high nibbles;
    /// their high bits are the bit pairs 0, 1, 2, 3 of qh[0..32].
    fn set(&mut self, r: usize, src: &[u8]) {
        let (ql, rest) = src.split_at(QK_K / 2);
        let (qh, rest) = rest.split_at(QK_K / 4);
        let q = |i: usize| {
            let (half, run, l) = (i / 128, i / 32 % 4, i % 32);
            let low = (ql[half * 64 + (run % 2) * 32 + l] >> (4 * (run / 2))) & 0x0F;
            let high = (qh[half * 32 + l] >> (2 * run)) & 3;
            low | (high << 4)
        };
        for (s, span) in self.spans.iter_mut().enumerate() {
            set_nibbles(&mut span.qs, r, |l| q(32 * s + l));
            for (u, pair) in span.qh.iter_mut().enumerate() {
                for j in 0..4 {
                    let mut bits = 0;
                    for (n, t) in [2 * u, 2 * u + 1].into_iter().enumerate() {
                        let i = 32 * s + 8 * t + j;
                        bits |= ((q(i) >> 4) << (4 * n)) | ((q(i + 4) >> 4) << (4 * n + 2));
                    }
                    pair[4 * r + j] = bits;
                }
            }
        }
        for (s, &b) in rest[..QK_K / 16].iter().enumerate() {
            self.scales[s][r] = b as i8;
        }
        self.d[r] = f16_at(rest, QK_K / 16);
    }

    fn dot(&self, r: usize, y: &Q8KAct) -> f32 {
        let mut sum = 0i32;
        for s in 0..16 {
            let dot: i32 = (0..16)
                .map(|l| (i32::from(self.q(r, 16 * s + l)) - 32) * i32::from(y.qs[16 * s + l]))
                .sum();
            sum += i32::from(self.scales[s][r]) * dot;
        }
        self.d[r] * y.d * sum as f32
    }

    #[cfg(test)]
    fn weights(&self, r: usize) -> Vec<f32> {
        (0..QK_K)
            .map(|i| {
                let q = i32::from(self.q(r, i)) - 32;
                self.d[r] * f32::from(self.scales[i / 16][r]) * q as f32
            })
            .collect()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn dot_avx512<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; ROWS]; M] {
        x86::q6k_512(w, y)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,avxvnni")]
    unsafe fn dot_avxvnni<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; ROWS]; M] {
        x86::q6k_256::<x86::AvxVnni, M>(w, y)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_avx2<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; ROWS]; M] {
        x86::q6k_256::<x86::Madd, M>(w, y)
    }

    #[cfg(all(test, target_arch = "x86_64"))]
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn dot_vnni256<const M: usize>(w: &[Self], y: [&[Q8KAct]; M]) -> [[f32; ROWS]; M] {
        x86::q6k_256::<x86::Vnni512, M>(w, y)
    }
}

/// A K-quant matrix as tiles: tile `t`'s super-block `b` at `t·kb + b`.
pub struct Tiles<T: Tile> {
    n: usize,
    k: usize,
    tiles: Vec<T>,
    pub(super) kernel: Kernel,
}

pub type Q4KTiles = Tiles<Q4KTile>;
pub type Q6KTiles = Tiles<Q6KTile>;

impl<T: Tile> Tiles<T> {
    pub fn new(t: &QTensor) -> Result<Tiles<T>> {
        if t.dtype() != T::DTYPE {
            candle_core::bail!("expected a {:?} tensor, got {:?}", T::DTYPE, t.dtype());
        }
        let (n, k) = t.shape().dims2()?;
        Tiles::from_raw(n, k, &t.data()?)
    }

    /// An `n`×`k` matrix from its ggml blocks of type `T::DTYPE`, row after row.
    pub fn from_raw(n: usize, k: usize, data: &[u8]) -> Result<Tiles<T>> {
        let kb = super::row_blocks(T::DTYPE, n, k, QK_K, T::BLOCK, data)?;
        Ok(Tiles {
            n,
            k,
            tiles: super::interleave(n, kb, ROWS, T::BLOCK, data, T::EMPTY, |t, r, b| t.set(r, b)),
            kernel: Kernel::best(),
        })
    }

    /// The products of one tile's blocks `w` with each of `M` rows of activations: 16 outputs per
    /// activation row.
    fn dot<const M: usize>(&self, w: &[T], y: [&[Q8KAct]; M]) -> [[f32; ROWS]; M] {
        debug_assert!(y.iter().all(|y| y.len() == w.len()));
        // SAFETY: the CPU has each kernel's features (`Kernel::runs_here`, checked when it was
        // chosen); lengths as asserted.
        #[cfg(target_arch = "x86_64")]
        match self.kernel {
            Kernel::Avx512Vnni => return unsafe { T::dot_avx512(w, y) },
            Kernel::AvxVnni => return unsafe { T::dot_avxvnni(w, y) },
            Kernel::Avx2 => return unsafe { T::dot_avx2(w, y) },
            Kernel::Portable => {}
        }
        portable_dot(w, y)
    }

    /// The products of `tiles` with the activation rows of `rows` in groups of `M`, as far as whole
    /// groups go; returns the first row left.
    fn rows<const M: usize>(
        &self,
        tiles: Range<usize>,
        rows: Range<usize>,
        y: &[Q8KAct],
        out: &Out,
    ) -> usize {
        let kb = self.k / QK_K;
        let mut row = rows.start;
        while row + M <= rows.end {
            let ys: [&[Q8KAct]; M] = std::array::from_fn(|i| &y[(row + i) * kb..][..kb]);
            for t in tiles.clone() {
                let sums = self.dot(&self.tiles[t * kb..][..kb], ys);
                for (i, sums) in sums.iter().enumerate() {
                    // SAFETY: row + i < rows.end, at most the output's rows; tiles are split
                    // between work items.
                    unsafe { out.store_cols(t * ROWS, row + i, sums) };
                }
            }
            row += M;
        }
        row
    }
}

fn portable_dot<T: Tile, const M: usize>(w: &[T], y: [&[Q8KAct]; M]) -> [[f32; ROWS]; M] {
    let mut out = [[0f32; ROWS]; M];
    for (sums, y) in out.iter_mut().zip(y) {
        for (tile, y) in w.iter().zip(y) {
            for (r, sum) in sums.iter_mut().enumerate() {
                *sum += tile.dot(r, y);
            }
        }
    }
    out
}

impl<T: Tile> QuadMatrix<Q8KAct> for Tiles<T> {
    fn n(&self) -> usize {
        self.n
    }

    fn k(&self) -> usize {
        self.k
    }

    fn items(&self) -> usize {
        self.n.div_ceil(ROWS)
    }

    fn run(&self, range: Range<usize>, m: usize, y: &[Q8KAct], out: &Out) {
        // Prefill: a run of tiles that fits in L2 meets each group of activation rows in turn.
        let kb = self.k / Q8KAct::WIDTH;
        let run = (L2_SHARE / (kb * std::mem::size_of::<T>())).max(1);
        for start in range.clone().step_by(run) {
            let tiles = start..range.end.min(start + run);
            let row = self.rows::<4>(tiles.clone(), 0..m, y, out);
            self.rows::<1>(tiles, row..m, y, out);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    #[cfg(test)]
    pub use super::super::avx2::Vnni512;
    pub use super::super::avx2::{AvxVnni, Dot, Madd};
    use super::{Q4KTile, Q6KTile, Q8KAct, PREFETCH_AHEAD, ROWS};
    use std::arch::x86_64::*;

    /// Decoding streams the weights from memory, a tile row per work item: ask for what lies
    /// [`PREFETCH_AHEAD`] bytes beyond the block being multiplied, across the ends of tile rows
    /// (the hardware prefetcher alone restarts at each, and left the 512-bit Q6_K kernel at
    /// ~20 GB/s). On the AVX2-only AMD EPYC a 1.5B-like layer sequence read from memory went from
    /// 12.5 to 15.2 GB/s with 8 KB ahead (4 KB: 14.1, 16 KB: 14.9; into L2 or non-temporal: no
    /// better), in one interleaved run of `decode_bandwidth` where plain streaming reads reach
    /// ~21 GB/s.
    #[inline(always)]
    unsafe fn prefetch<T>(block: &T) {
        // A prefetch past the allocation is only a hint: it never faults.
        let at = (block as *const T as *const i8).wrapping_add(PREFETCH_AHEAD);
        for line in (0..std::mem::size_of::<T>()).step_by(64) {
            _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(line));
        }
    }

    /// Activation bytes `at..at + 4` of a block as one 32-bit value, for a broadcast.
    #[inline(always)]
    unsafe fn four(y: &Q8KAct, at: usize) -> i32 {
        (y.qs.as_ptr().add(at) as *const i32).read_unaligned()
    }

    /// The sums of each 32 activations of a block, pairs of sub-blocks as 32-bit values: the
    /// second operand of the mins' `vpmaddwd`.
    #[inline(always)]
    unsafe fn pair_sums(y: &Q8KAct) -> [i32; 4] {
        let bsums = _mm256_loadu_si256(y.bsums.as_ptr() as *const __m256i);
        let lo = _mm256_castsi256_si128(bsums);
        let sums = _mm_hadd_epi16(lo, _mm256_extracti128_si256(bsums, 1));
        std::mem::transmute::<__m128i, [i32; 4]>(sums)
    }

    #[inline(always)]
    pub unsafe fn q4k_512<const M: usize>(w: &[Q4KTile], y: [&[Q8KAct]; M]) -> [[f32; ROWS]; M] {
        let low = _mm512_set1_epi8(0x0F);
        let mut out = [_mm512_setzero_ps(); M];
        for (b, tile) in w.iter().enumerate() {
            prefetch(tile);
            let ys: [&Q8KAct; M] = std::array::from_fn(|a| y[a].get_unchecked(b));
            let mut isum = [_mm512_setzero_si512(); M];
            for s in 0..8 {
                let mut acc = [_mm512_setzero_si512(); M];
                for t in 0..4 {
                    let q = _mm512_load_si512(tile.qs[s][t].as_ptr() as *const _);
                    let lo = _mm512_and_si512(q, low);
                    let hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low);
                    for a in 0..M {
                        let at = 32 * s + 8 * t;
                        let y0 = _mm512_set1_epi32(four(ys[a], at));
                        let y1 = _mm512_set1_epi32(four(ys[a], at + 4));
                        acc[a] = _mm512_dpbusd_epi32(acc[a], lo, y0);
                        acc[a] = _mm512_dpbusd_epi32(acc[a], hi, y1);
                    }
                }
                let sc = _mm512_cvtepu8_epi32(_mm_load_si128(tile.scales[s].as_ptr() as *const _));
                for a in 0..M {
                    isum[a] = _mm512_add_epi32(isum[a], _mm512_mullo_epi32(acc[a], sc));
                }
            }
            let d = _mm512_load_ps(tile.d.as_ptr());
            let dmin = _mm512_load_ps(tile.dmin.as_ptr());
            for a in 0..M {
                let pairs = pair_sums(ys[a]);
                let mut mins = _mm512_setzero_si512();
                for (p, &pair) in pairs.iter().enumerate() {
                    let m = _mm256_load_si256(tile.mins[p].as_ptr() as *const _);
                    let m = _mm512_cvtepu8_epi16(m);
                    mins = _mm512_add_epi32(mins, _mm512_madd_epi16(m, _mm512_set1_epi32(pair)));
                }
                let dy = _mm512_set1_ps(ys[a].d);
                out[a] = _mm512_fmadd_ps(_mm512_mul_ps(d, dy), _mm512_cvtepi32_ps(isum[a]), out[a]);
                out[a] =
                    _mm512_fnmadd_ps(_mm512_mul_ps(dmin, dy), _mm512_cvtepi32_ps(mins), out[a]);
            }
        }
        out.map(|v| std::mem::transmute::<__m512, [f32; ROWS]>(v))
    }

    /// The tile as two halves of eight rows on 256-bit registers, both halves of a block before
    /// the next block so that the weights still stream through memory once.
    #[inline(always)]
    pub unsafe fn q4k_256<D: Dot, const M: usize>(
        w: &[Q4KTile],
        y: [&[Q8KAct]; M],
    ) -> [[f32; ROWS]; M] {
        let low = _mm256_set1_epi8(0x0F);
        let mut out = [[0f32; ROWS]; M];
        for (b, tile) in w.iter().enumerate() {
            prefetch(tile);
            let ys: [&Q8KAct; M] = std::array::from_fn(|a| y[a].get_unchecked(b));
            for half in 0..2 {
                let mut isum = [_mm256_setzero_si256(); M];
                for s in 0..8 {
                    let mut acc = [_mm256_setzero_si256(); M];
                    for t in 0..4 {
                        let q = tile.qs[s][t].as_ptr().add(32 * half);
                        let q = _mm256_load_si256(q as *const __m256i);
                        let lo = _mm256_and_si256(q, low);
                        let hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
                        for a in 0..M {
                            let at = 32 * s + 8 * t;
                            let y0 = _mm256_set1_epi32(four(ys[a], at));
                            acc[a] = D::nibble_dot(acc[a], lo, y0);
                            let y1 = _mm256_set1_epi32(four(ys[a], at + 4));
                            acc[a] = D::nibble_dot(acc[a], hi, y1);
                        }
                    }
                    let sc = tile.scales[s].as_ptr().add(8 * half);
                    let sc = _mm256_cvtepu8_epi32(_mm_loadl_epi64(sc as *const __m128i));
                    let sc = D::nibble_scales(sc);
                    for a in 0..M {
                        isum[a] = _mm256_add_epi32(isum[a], D::nibble_scaled(acc[a], sc));
                    }
                }
                let d = _mm256_loadu_ps(tile.d.as_ptr().add(8 * half));
                let dmin = _mm256_loadu_ps(tile.dmin.as_ptr().add(8 * half));
                for a in 0..M {
                    let pairs = pair_sums(ys[a]);
                    let mut mins = _mm256_setzero_si256();
                    for (p, &pair) in pairs.iter().enumerate() {
                        let m = tile.mins[p].as_ptr().add(8 * half);
                        let m = _mm256_cvtepu8_epi16(_mm_loadu_si128(m as *const __m128i));
                        let prod = _mm256_madd_epi16(m, _mm256_set1_epi32(pair));
                        mins = _mm256_add_epi32(mins, prod);
                    }
                    let dy = _mm256_set1_ps(ys[a].d);
                    // The sums live in `out` (L1) between blocks: 16 registers hold no more.
                    let o = out[a].as_mut_ptr().add(8 * half);
                    let f = _mm256_fmadd_ps(
                        _mm256_mul_ps(d, dy),
                        _mm256_cvtepi32_ps(isum[a]),
                        _mm256_loadu_ps(o),
                    );
                    let f = _mm256_fnmadd_ps(_mm256_mul_ps(dmin, dy), _mm256_cvtepi32_ps(mins), f);
                    _mm256_storeu_ps(o, f);
                }
            }
        }
        out
    }
    /// The sums of each 16 activations of a block times -32: where Q6_K's sub-block sums start.
    #[inline(always)]
    fn offsets(y: &Q8KAct) -> [i32; 16] {
        std::array::from_fn(|s| -32 * i32::from(y.bsums[s]))
    }

    /// Q6_K step `t` of span `s`: its low and high quants (six bits) as bytes, from the nibbles
    /// `q` and the step pair's high bits `h` (bits 4·(t % 2)..+4 of each byte).
    #[inline(always)]
    unsafe fn q6k_512_step(q: __m512i, h: __m512i, odd: bool) -> (__m512i, __m512i) {
        let low = _mm512_set1_epi8(0x0F);
        let top = _mm512_set1_epi8(0x30);
        let (hl, hh) = if odd {
            (h, _mm512_srli_epi16(h, 2))
        } else {
            (_mm512_slli_epi16(h, 4), _mm512_slli_epi16(h, 2))
        };
        let lo = _mm512_or_si512(_mm512_and_si512(q, low), _mm512_and_si512(hl, top));
        let hi = _mm512_or_si512(
            _mm512_and_si512(_mm512_srli_epi16(q, 4), low),
            _mm512_and_si512(hh, top),
        );
        (lo, hi)
    }

    #[inline(always)]
    pub unsafe fn q6k_512<const M: usize>(w: &[Q6KTile], y: [&[Q8KAct]; M]) -> [[f32; ROWS]; M] {
        let mut out = [_mm512_setzero_ps(); M];
        for (b, tile) in w.iter().enumerate() {
            prefetch(tile);
            let ys: [&Q8KAct; M] = std::array::from_fn(|a| y[a].get_unchecked(b));
            let offs: [[i32; 16]; M] = std::array::from_fn(|a| offsets(ys[a]));
            let mut isum = [_mm512_setzero_si512(); M];
            for s in 0..8 {
                for u in 0..2 {
                    // Steps 2u and 2u + 1 are sub-block 2s + u.
                    let sub = 2 * s + u;
                    let mut acc: [__m512i; M] =
                        std::array::from_fn(|a| _mm512_set1_epi32(offs[a][sub]));
                    let h = _mm512_load_si512(tile.spans[s].qh[u].as_ptr() as *const _);
                    for odd in [false, true] {
                        let t = 2 * u + usize::from(odd);
                        let q = _mm512_load_si512(tile.spans[s].qs[t].as_ptr() as *const _);
                        let (lo, hi) = q6k_512_step(q, h, odd);
                        for a in 0..M {
                            let at = 32 * s + 8 * t;
                            let y0 = _mm512_set1_epi32(four(ys[a], at));
                            let y1 = _mm512_set1_epi32(four(ys[a], at + 4));
                            acc[a] = _mm512_dpbusd_epi32(acc[a], lo, y0);
                            acc[a] = _mm512_dpbusd_epi32(acc[a], hi, y1);
                        }
                    }
                    let sc = _mm_load_si128(tile.scales[sub].as_ptr() as *const _);
                    let sc = _mm512_cvtepi8_epi32(sc);
                    for a in 0..M {
                        isum[a] = _mm512_add_epi32(isum[a], _mm512_mullo_epi32(acc[a], sc));
                    }
                }
            }
            let d = _mm512_load_ps(tile.d.as_ptr());
            for a in 0..M {
                let dy = _mm512_mul_ps(d, _mm512_set1_ps(ys[a].d));
                out[a] = _mm512_fmadd_ps(dy, _mm512_cvtepi32_ps(isum[a]), out[a]);
            }
        }
        out.map(|v| std::mem::transmute::<__m512, [f32; ROWS]>(v))
    }

    #[inline(always)]
    unsafe fn q6k_256_step(q: __m256i, h: __m256i, odd: bool) -> (__m256i, __m256i) {
        let low = _mm256_set1_epi8(0x0F);
        let top = _mm256_set1_epi8(0x30);
        let (hl, hh) = if odd {
            (h, _mm256_srli_epi16(h, 2))
        } else {
            (_mm256_slli_epi16(h, 4), _mm256_slli_epi16(h, 2))
        };
        let lo = _mm256_or_si256(_mm256_and_si256(q, low), _mm256_and_si256(hl, top));
        let hi = _mm256_or_si256(
            _mm256_and_si256(_mm256_srli_epi16(q, 4), low),
            _mm256_and_si256(hh, top),
        );
        (lo, hi)
    }

    /// As [`q4k_256`]: two halves of eight rows, both for each block in turn.
    #[inline(always)]
    pub unsafe fn q6k_256<D: Dot, const M: usize>(
        w: &[Q6KTile],
        y: [&[Q8KAct]; M],
    ) -> [[f32; ROWS]; M] {
        let mut out = [[0f32; ROWS]; M];
        for (b, tile) in w.iter().enumerate() {
            prefetch(tile);
            let ys: [&Q8KAct; M] = std::array::from_fn(|a| y[a].get_unchecked(b));
            let offs: [[i32; 16]; M] = std::array::from_fn(|a| offsets(ys[a]));
            for half in 0..2 {
                let mut isum = [_mm256_setzero_si256(); M];
                for s in 0..8 {
                    for u in 0..2 {
                        let sub = 2 * s + u;
                        let mut acc: [__m256i; M] =
                            std::array::from_fn(|a| _mm256_set1_epi32(offs[a][sub]));
                        let h = tile.spans[s].qh[u].as_ptr().add(32 * half);
                        let h = _mm256_load_si256(h as *const __m256i);
                        for odd in [false, true] {
                            let t = 2 * u + usize::from(odd);
                            let q = tile.spans[s].qs[t].as_ptr().add(32 * half);
                            let q = _mm256_load_si256(q as *const __m256i);
                            let (lo, hi) = q6k_256_step(q, h, odd);
                            for a in 0..M {
                                let at = 32 * s + 8 * t;
                                acc[a] = D::dot(acc[a], lo, _mm256_set1_epi32(four(ys[a], at)));
                                let y1 = _mm256_set1_epi32(four(ys[a], at + 4));
                                acc[a] = D::dot(acc[a], hi, y1);
                            }
                        }
                        let sc = tile.scales[sub].as_ptr().add(8 * half);
                        let sc = _mm256_cvtepi8_epi32(_mm_loadl_epi64(sc as *const __m128i));
                        for a in 0..M {
                            isum[a] = _mm256_add_epi32(isum[a], _mm256_mullo_epi32(acc[a], sc));
                        }
                    }
                }
                let d = _mm256_loadu_ps(tile.d.as_ptr().add(8 * half));
                for a in 0..M {
                    let dy = _mm256_mul_ps(d, _mm256_set1_ps(ys[a].d));
                    let o = out[a].as_mut_ptr().add(8 * half);
                    let f = _mm256_fmadd_ps(dy, _mm256_cvtepi32_ps(isum[a]), _mm256_loadu_ps(o));
                    _mm256_storeu_ps(o, f);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::gemv::tests::{activations, matrix, max_abs_diff};
    use crate::llm::gemv::{fused, quantize};
    use candle_core::quantized::QMatMul;
    use candle_core::{Device, Module, Tensor};

    fn product<T: Tile>(tiles: &Tiles<T>, x: &Tensor) -> Tensor {
        fused(x, &[tiles as &dyn QuadMatrix<Q8KAct>])
            .unwrap()
            .pop()
            .unwrap()
    }

    /// The unpacked weights are the type's own values.
    fn tiles_hold_the_weights<T: Tile>() {
        let (n, k) = (20, 2 * QK_K);
        let q = QTensor::quantize(&matrix(n, k), T::DTYPE).unwrap();
        let values = q
            .dequantize(&Device::Cpu)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let tiles = Tiles::<T>::new(&q).unwrap();
        for (row, want) in values.iter().enumerate() {
            for b in 0..k / QK_K {
                let got = tiles.tiles[row / ROWS * (k / QK_K) + b].weights(row % ROWS);
                let want = &want[b * QK_K..(b + 1) * QK_K];
                assert_eq!(got, want, "{:?} row {row} block {b}", T::DTYPE);
            }
        }
    }

    /// Every row count (tiles with padding rows too), one to many activation rows, every kernel
    /// this CPU runs (portable included): candle's own matmul of the type up to the order of float
    /// additions.
    fn tiles_match_candle<T: Tile>() {
        let k = 4 * QK_K;
        for n in [16, 1, 5, 17, 31, 64] {
            let q = QTensor::quantize(&matrix(n, k), T::DTYPE).unwrap();
            let mut tiles = Tiles::<T>::new(&q).unwrap();
            let reference = QMatMul::from_qtensor(q).unwrap();
            for m in [1, 3, 4, 13, 16 * 1024 / k] {
                let x = activations(m, k);
                let want = reference.forward(&x).unwrap();
                for kernel in Kernel::available() {
                    tiles.kernel = kernel;
                    let got = product(&tiles, &x);
                    assert_eq!(got.dims(), &[1, m, n]);
                    let diff = max_abs_diff(&got, &want);
                    assert!(diff < 1e-4, "{:?} n={n} m={m} {kernel:?}: {diff}", T::DTYPE);
                }
            }
        }
    }

    /// Each SIMD body gives the portable sums for one and four activation rows, the 256-bit body
    /// with each of its `vpdpbusd` forms the machine runs.
    fn tile_kernels_agree<T: Tile>() {
        let (n, k) = (32, 3 * QK_K);
        let q = QTensor::quantize(&matrix(n, k), T::DTYPE).unwrap();
        let mut tiles = Tiles::<T>::new(&q).unwrap();
        let x = activations(4, k).flatten_all().unwrap().to_vec1().unwrap();
        let y = quantize::<Q8KAct>(&x);
        let y: Vec<&[Q8KAct]> = y.chunks_exact(k / QK_K).collect();
        let y4: [&[Q8KAct]; 4] = std::array::from_fn(|i| y[i]);
        let close = |want: &[[f32; ROWS]], got: &[[f32; ROWS]], what: &str| {
            for (want, got) in want.iter().zip(got) {
                for (w, g) in want.iter().zip(got) {
                    assert!((w - g).abs() < 1e-4, "{:?} {what}: {w} vs {g}", T::DTYPE);
                }
            }
        };
        for w in tiles.tiles.clone().chunks_exact(k / QK_K) {
            let want = portable_dot(w, y4);
            for kernel in Kernel::available() {
                tiles.kernel = kernel;
                close(&want, &tiles.dot(w, y4), &format!("{kernel:?} x4"));
                for (a, y) in y.iter().enumerate() {
                    close(
                        &want[a..a + 1],
                        &tiles.dot(w, [*y]),
                        &format!("{kernel:?} x1"),
                    );
                }
            }
            #[cfg(target_arch = "x86_64")]
            if Kernel::Avx512Vnni.runs_here() {
                // SAFETY: the CPU has AVX-512 F/BW/VL and VNNI; lengths match.
                let got = unsafe { T::dot_vnni256(w, y4) };
                close(&want, &got, "256-bit EVEX vpdpbusd");
            }
        }
    }

    /// The largest sums a Q4_K sub-block can reach (every quant 15, every scale and min 63,
    /// activations all −128 or all 127) come out of every kernel as out of the portable one: the
    /// AVX2 body keeps a sub-block's pair sums in 16 bits.
    #[test]
    fn q4k_extreme_blocks_do_not_overflow() {
        let (n, k) = (16, 2 * QK_K);
        let mut raw = Vec::new();
        for _ in 0..n * k / QK_K {
            raw.extend_from_slice(&half::f16::from_f32(1.0).to_le_bytes()); // d
            raw.extend_from_slice(&half::f16::from_f32(0.5).to_le_bytes()); // dmin
            raw.extend_from_slice(&[0xFF; 12]); // scales and mins: 63
            raw.extend_from_slice(&[0xFF; QK_K / 2]); // quants: 15
        }
        let q = candle_core::quantized::ggml_file::qtensor_from_ggml(
            GgmlDType::Q4K,
            &raw,
            vec![n, k],
            &Device::Cpu,
        )
        .unwrap();
        let mut tiles = Tiles::<Q4KTile>::new(&q).unwrap();
        for value in [-1f32, 1.0] {
            // Five rows: the four-row body and the one-row body.
            let x = Tensor::full(value, (5, k), &Device::Cpu).unwrap();
            tiles.kernel = Kernel::Portable;
            let want: Vec<f32> = product(&tiles, &x)
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            for kernel in Kernel::available() {
                tiles.kernel = kernel;
                let got: Vec<f32> = product(&tiles, &x)
                    .flatten_all()
                    .unwrap()
                    .to_vec1()
                    .unwrap();
                for (w, g) in want.iter().zip(&got) {
                    assert!(
                        (w - g).abs() <= 1e-5 * w.abs(),
                        "{kernel:?} {value}: {w} vs {g}"
                    );
                }
            }
        }
    }

    #[test]
    fn q4k_tiles_hold_the_weights() {
        tiles_hold_the_weights::<Q4KTile>();
    }

    #[test]
    fn q6k_tiles_hold_the_weights() {
        tiles_hold_the_weights::<Q6KTile>();
    }

    #[test]
    fn q4k_tiles_match_candle() {
        tiles_match_candle::<Q4KTile>();
    }

    #[test]
    fn q6k_tiles_match_candle() {
        tiles_match_candle::<Q6KTile>();
    }

    #[test]
    fn q4k_tile_kernels_agree() {
        tile_kernels_agree::<Q4KTile>();
    }

    #[test]
    fn q6k_tile_kernels_agree() {
        tile_kernels_agree::<Q6KTile>();
    }

    #[test]
    fn other_types_are_refused() {
        let q8 = QTensor::quantize(&matrix(4, 256), GgmlDType::Q8_0).unwrap();
        assert!(Q4KTiles::new(&q8).is_err());
        assert!(Q6KTiles::new(&q8).is_err());
        let q4 = QTensor::quantize(&matrix(4, 256), GgmlDType::Q4K).unwrap();
        assert!(Q6KTiles::new(&q4).is_err());
    }

    /// Throughput of the tiles against candle's own matmul of the type on Qwen2.5-1.5B's shapes, one
    /// and 256 activation rows, each SIMD kernel, alternating
    /// (`cargo test --release --lib -- --ignored tile_speed --nocapture`).
    fn tile_speed<T: Tile>() {
        // The last shape is larger than L3: decoding streams the weights from memory.
        for (n, k) in [(1536, 1536), (8960, 1536), (1536, 8960), (49152, 1536)] {
            let q = QTensor::quantize(&matrix(n, k), T::DTYPE).unwrap();
            let mut tiles = Tiles::<T>::new(&q).unwrap();
            let candle = QMatMul::from_qtensor(q).unwrap();
            for (kernel, m) in Kernel::available()
                .into_iter()
                .filter(|&k| k != Kernel::Portable)
                .flat_map(|k| [(k, 1), (k, 256)])
                .filter(|&(_, m)| m == 1 || n < 49152)
            {
                tiles.kernel = kernel;
                let x = activations(m, k);
                let reps = if m > 1 {
                    4
                } else if n < 49152 {
                    200
                } else {
                    20
                };
                let ops = 2.0 * (n * k * m * reps) as f64;
                let (mut t_tiles, mut t_candle) = (f64::MAX, f64::MAX);
                for _ in 0..3 {
                    let t = std::time::Instant::now();
                    for _ in 0..reps {
                        std::hint::black_box(product(&tiles, &x));
                    }
                    t_tiles = t_tiles.min(t.elapsed().as_secs_f64());
                    let t = std::time::Instant::now();
                    for _ in 0..reps {
                        std::hint::black_box(candle.forward(&x).unwrap());
                    }
                    t_candle = t_candle.min(t.elapsed().as_secs_f64());
                }
                eprintln!(
                    "{:?} {n}x{k} m={m} ({}): tiles {:.1} GOP/s, candle {:.1} GOP/s ({:.2}x)",
                    T::DTYPE,
                    kernel.name(),
                    ops / t_tiles / 1e9,
                    ops / t_candle / 1e9,
                    t_candle / t_tiles
                );
            }
        }
    }

    /// Memory bandwidth of one-row products over a 1.5B-like layer sequence too large for the
    /// caches (gate and up fused, down, q), as decoding reads it
    /// (`cargo test --release --lib -- --ignored decode_bandwidth --nocapture`).
    #[test]
    #[ignore]
    fn decode_bandwidth() {
        let k = 1536;
        let tiles = |n: usize, k: usize, dtype| QTensor::quantize(&matrix(n, k), dtype).unwrap();
        let layers: Vec<_> = (0..20)
            .map(|_| {
                (
                    Tiles::<Q4KTile>::new(&tiles(8960, k, GgmlDType::Q4K)).unwrap(),
                    Tiles::<Q4KTile>::new(&tiles(8960, k, GgmlDType::Q4K)).unwrap(),
                    Tiles::<Q6KTile>::new(&tiles(1536, 8960, GgmlDType::Q6K)).unwrap(),
                    Tiles::<Q4KTile>::new(&tiles(1536, k, GgmlDType::Q4K)).unwrap(),
                )
            })
            .collect();
        let size = |t: &[Q4KTile]| std::mem::size_of_val(t);
        let bytes: usize = layers
            .iter()
            .map(|(g, u, d, q)| {
                size(&g.tiles)
                    + size(&u.tiles)
                    + size(&q.tiles)
                    + std::mem::size_of_val(&d.tiles[..])
            })
            .sum();
        let (x, x2) = (activations(1, k), activations(1, 8960));
        let mut rates = Vec::new();
        for _ in 0..10 {
            let t = std::time::Instant::now();
            for (g, u, d, q) in &layers {
                std::hint::black_box(fused(&x, &[g as &dyn QuadMatrix<Q8KAct>, u]).unwrap());
                std::hint::black_box(product(d, &x2));
                std::hint::black_box(product(q, &x));
            }
            rates.push(bytes as f64 / t.elapsed().as_secs_f64() / 1e9);
        }
        rates.sort_by(|a, b| a.total_cmp(b));
        eprintln!(
            "{:.0} MB of weights: median {:.1} GB/s (min {:.1}, max {:.1}), kernel {}",
            bytes as f64 / 1e6,
            rates[rates.len() / 2],
            rates[0],
            rates[rates.len() - 1],
            Kernel::best().name()
        );
    }

    #[test]
    #[ignore]
    fn q4k_tile_speed() {
        tile_speed::<Q4KTile>();
    }

    #[test]
    #[ignore]
    fn q6k_tile_speed() {
        tile_speed::<Q6KTile>();
    }
}
