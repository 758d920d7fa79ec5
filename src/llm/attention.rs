//! Attention of one new query position over the KV cache, on plain buffers, split over the threads.
//!
//! Decoding runs one position at a time. Through candle tensors that is a batched matmul of a few
//! query rows against the cache, a softmax and a second matmul, each allocating, with candle's
//! thread pool idle meanwhile (about a tenth of a 1.5B model's decoding step). Here each thread
//! takes a run of cached positions for every head, as flash-decoding does, and the runs' softmax
//! sums are combined at the end: each thread streams whole cache rows from memory, and each key
//! and value is read once for all the query heads that share it.
//!
//! The cache is position-major: position `p`'s keys for all K/V heads at `p · kv_dim`, so a new
//! position is appended without moving the others.
//!
//! Paths chosen at run time: AVX2+FMA for head sizes that are a multiple of 8, else portable.

use std::ops::Range;

/// The shape of one attention call.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    /// Query heads; those sharing a K/V head are consecutive (group-major).
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
}

impl Heads {
    /// Query heads per K/V head.
    fn rep(&self) -> usize {
        (self.n_head / self.n_kv_head).max(1)
    }

    /// Floats of one cached position (all K/V heads).
    fn stride(&self) -> usize {
        self.n_kv_head * self.head_dim
    }
}

/// Cached positions a thread takes at least: fewer are not worth a hand-off.
const MIN_RUN: usize = 64;

/// `softmax(q·Kᵀ)·V` for each query head of one position over the cached positions `keys`
/// (a range of positions: a sliding window sees only its last ones). `q` is `n_head · head_dim`
/// (already scaled), `k` and `v` the position-major cache; the result is `n_head · head_dim`.
pub fn attend(h: Heads, q: &[f32], k: &[f32], v: &[f32], keys: Range<usize>) -> Vec<f32> {
    let simd = simd_here() && h.head_dim % 8 == 0;
    attend_with(simd, h, q, k, v, keys)
}

fn simd_here() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// One run of positions' share: per head the largest score, the sum of `exp(score − max)`, and
/// the values weighted by those terms, not yet divided by the sum.
struct Partial {
    max: Vec<f32>,
    sum: Vec<f32>,
    out: Vec<f32>,
}

fn attend_with(
    simd: bool,
    h: Heads,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    keys: Range<usize>,
) -> Vec<f32> {
    let hd = h.head_dim;
    if keys.is_empty() || h.n_kv_head == 0 {
        return vec![0f32; h.n_head * hd];
    }
    // The kernels read the rows of `keys` through pointers.
    let cache = keys.end * h.stride();
    assert!(
        q.len() >= h.n_head * hd && k.len() >= cache && v.len() >= cache,
        "attention over {keys:?} of a cache of {} positions",
        k.len().min(v.len()) / h.stride().max(1)
    );
    let threads = super::pool::pool().threads();
    let parts = threads.min(keys.len().div_ceil(MIN_RUN)).max(1);
    let per = keys.len().div_ceil(parts);
    let runs: Vec<Range<usize>> = keys
        .clone()
        .step_by(per)
        .map(|p| p..keys.end.min(p + per))
        .collect();
    let mut partials: Vec<Option<Partial>> = runs.iter().map(|_| None).collect();
    let at = partials.as_mut_ptr() as usize;
    // One run is done on this thread (the pool runs a single item inline).
    super::pool::pool().run(runs.len(), |r| {
        for i in r {
            let p = partial(simd, h, q, k, v, runs[i].clone());
            // SAFETY: each work item writes only its own run's slot, which outlives the call.
            unsafe { *(at as *mut Option<Partial>).add(i) = Some(p) };
        }
    });
    combine(h, partials.into_iter().flatten().collect())
}

/// The runs' shares as one softmax: each rescaled to the largest score over all of them.
fn combine(h: Heads, parts: Vec<Partial>) -> Vec<f32> {
    let hd = h.head_dim;
    let mut out = vec![0f32; h.n_head * hd];
    for i in 0..h.n_head {
        let max = parts
            .iter()
            .map(|p| p.max[i])
            .fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f32;
        let o = &mut out[i * hd..][..hd];
        for p in &parts {
            let scale = (p.max[i] - max).exp();
            sum += p.sum[i] * scale;
            for (o, x) in o.iter_mut().zip(&p.out[i * hd..][..hd]) {
                *o += scale * x;
            }
        }
        o.iter_mut().for_each(|x| *x /= sum);
    }
    out
}

/// Every head over the positions `run`.
fn partial(simd: bool, h: Heads, q: &[f32], k: &[f32], v: &[f32], run: Range<usize>) -> Partial {
    let (hd, stride, rep) = (h.head_dim, h.stride(), h.rep());
    let (n, len) = (h.n_head, run.len());
    let first = run.start * stride;
    // scores[i · len + j]: head i against position run.start + j.
    let mut scores = vec![0f32; n * len];
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: AVX2 and FMA where `simd`, with `hd` a multiple of 8 (`attend`); the rows of
        // `run` lie inside `k` (asserted in `attend_with`).
        unsafe { x86::scores(h, q, k[first..].as_ptr(), len, &mut scores) };
    }
    if !simd {
        for j in 0..len {
            for i in 0..n {
                let key = &k[first + j * stride + i / rep * hd..][..hd];
                scores[i * len + j] = dot(&q[i * hd..][..hd], key);
            }
        }
    }
    let mut max = vec![f32::NEG_INFINITY; n];
    let mut sum = vec![0f32; n];
    for (i, s) in scores.chunks_exact_mut(len).enumerate() {
        max[i] = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for x in s.iter_mut() {
            *x = (*x - max[i]).exp();
            sum[i] += *x;
        }
    }
    let mut out = vec![0f32; n * hd];
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: as above, for `v`.
        unsafe { x86::weighted(h, &scores, v[first..].as_ptr(), len, &mut out) };
    }
    if !simd {
        for j in 0..len {
            for i in 0..n {
                let value = &v[first + j * stride + i / rep * hd..][..hd];
                let w = scores[i * len + j];
                for (o, x) in out[i * hd..][..hd].iter_mut().zip(value) {
                    *o += w * x;
                }
            }
        }
    }
    Partial { max, sum, out }
}

/// `Σ a·b` (the portable path).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight lanes: a plain `.sum()` is one serial chain the compiler does not vectorise.
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The AVX2 path works on blocks of positions so that each K or V row is loaded once for all the
/// query heads and the sums stay in registers. A row at a time, with one horizontal sum per score
/// and the output read and written back per position, ran at ~3 GB/s on the AMD EPYC (17 ms of a
/// 1.5B decoding step at 1,000 positions), a third of what the weight products stream.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Heads;
    use std::arch::x86_64::*;

    /// Positions whose V rows are summed together (16 KB of a 1.5B's cache: in L1 across the
    /// heads).
    const V_BLOCK: usize = 16;

    /// Positions ahead whose rows are asked for while a block is worked on.
    const AHEAD: usize = 16;

    /// Ask for the cache rows (positions) `rows` after `x`.
    #[inline(always)]
    unsafe fn prefetch_rows(x: *const f32, stride: usize, rows: std::ops::Range<usize>) {
        // A prefetch is a hint: it never faults, even past the cache.
        let x = x as *const i8;
        for at in (rows.start * stride * 4..rows.end * stride * 4).step_by(64) {
            _mm_prefetch::<_MM_HINT_T0>(x.wrapping_add(at));
        }
    }

    /// `scores[i · len + j] = q_i · k_j` for every query head `i` and the `len` positions from `k`.
    ///
    /// # Safety
    /// AVX2 and FMA; `head_dim` a multiple of 8; `k` points at `len` cache rows; `q` holds
    /// `n_head · head_dim` floats and `scores` `n_head · len`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn scores(h: Heads, q: &[f32], k: *const f32, len: usize, scores: &mut [f32]) {
        let (hd, stride, rep) = (h.head_dim, h.stride(), h.rep());
        debug_assert!(q.len() >= h.n_head * hd && scores.len() >= h.n_head * len);
        let mut j = 0;
        // Four positions a pass: four sums in registers, one shuffle tree for the four.
        while j + 4 <= len {
            prefetch_rows(k, stride, j + AHEAD..(j + AHEAD + 4).min(len));
            for i in 0..h.n_head {
                let rows: [*const f32; 4] =
                    std::array::from_fn(|r| k.add((j + r) * stride + i / rep * hd));
                let qi = q.as_ptr().add(i * hd);
                let mut acc = [_mm256_setzero_ps(); 4];
                for d in (0..hd).step_by(8) {
                    let x = _mm256_loadu_ps(qi.add(d));
                    for r in 0..4 {
                        acc[r] = _mm256_fmadd_ps(x, _mm256_loadu_ps(rows[r].add(d)), acc[r]);
                    }
                }
                let s = _mm256_hadd_ps(
                    _mm256_hadd_ps(acc[0], acc[1]),
                    _mm256_hadd_ps(acc[2], acc[3]),
                );
                let s = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
                _mm_storeu_ps(scores.as_mut_ptr().add(i * len + j), s);
            }
            j += 4;
        }
        for j in j..len {
            for i in 0..h.n_head {
                let key = k.add(j * stride + i / rep * hd);
                scores[i * len + j] = dot(q.as_ptr().add(i * hd), key, hd);
            }
        }
    }

    /// `out_i += Σ_j scores[i · len + j] · v_j` for every query head, rows as in [`scores`].
    ///
    /// # Safety
    /// As [`scores`], with `out` holding `n_head · head_dim` floats.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn weighted(h: Heads, scores: &[f32], v: *const f32, len: usize, out: &mut [f32]) {
        let (hd, stride, rep) = (h.head_dim, h.stride(), h.rep());
        debug_assert!(out.len() >= h.n_head * hd && scores.len() >= h.n_head * len);
        for start in (0..len).step_by(V_BLOCK) {
            let block = start..len.min(start + V_BLOCK);
            prefetch_rows(v, stride, block.start + AHEAD..(block.end + AHEAD).min(len));
            for i in 0..h.n_head {
                let w = scores.as_ptr().add(i * len);
                let o = out.as_mut_ptr().add(i * hd);
                let v = v.add(i / rep * hd);
                let mut d = 0;
                // Eight output vectors in registers over the block's positions.
                while d + 64 <= hd {
                    let mut acc: [__m256; 8] =
                        std::array::from_fn(|c| _mm256_loadu_ps(o.add(d + 8 * c)));
                    for j in block.clone() {
                        let x = _mm256_broadcast_ss(&*w.add(j));
                        let row = v.add(j * stride + d);
                        for (c, a) in acc.iter_mut().enumerate() {
                            *a = _mm256_fmadd_ps(x, _mm256_loadu_ps(row.add(8 * c)), *a);
                        }
                    }
                    for (c, a) in acc.iter().enumerate() {
                        _mm256_storeu_ps(o.add(d + 8 * c), *a);
                    }
                    d += 64;
                }
                while d < hd {
                    let mut acc = _mm256_loadu_ps(o.add(d));
                    for j in block.clone() {
                        let x = _mm256_broadcast_ss(&*w.add(j));
                        acc = _mm256_fmadd_ps(x, _mm256_loadu_ps(v.add(j * stride + d)), acc);
                    }
                    _mm256_storeu_ps(o.add(d), acc);
                    d += 8;
                }
            }
        }
    }

    /// `Σ a·b` over `n` floats.
    ///
    /// # Safety
    /// AVX2 and FMA; `n` a multiple of 8; `a` and `b` hold `n` floats.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
        let mut s = _mm256_setzero_ps();
        for i in (0..n).step_by(8) {
            s = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)), s);
        }
        let s = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0
            })
            .collect()
    }

    /// The plain computation: per head, scores, a softmax over all of them, the weighted sum.
    fn reference(h: Heads, q: &[f32], k: &[f32], v: &[f32], keys: Range<usize>) -> Vec<f32> {
        let hd = h.head_dim;
        let stride = h.n_kv_head * hd;
        let mut out = vec![0f32; h.n_head * hd];
        for i in 0..h.n_head {
            let g = i / (h.n_head / h.n_kv_head);
            let s: Vec<f64> = keys
                .clone()
                .map(|p| {
                    (0..hd)
                        .map(|d| f64::from(q[i * hd + d]) * f64::from(k[p * stride + g * hd + d]))
                        .sum()
                })
                .collect();
            let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = s.iter().map(|x| (x - m).exp()).sum();
            for d in 0..hd {
                out[i * hd + d] = keys
                    .clone()
                    .zip(&s)
                    .map(|(p, x)| (x - m).exp() / z * f64::from(v[p * stride + g * hd + d]))
                    .sum::<f64>() as f32;
            }
        }
        out
    }

    /// Grouped heads (more query heads per K/V head than one item takes too), odd head sizes, one to
    /// many positions, windows: the reference within float rounding, on the AVX2 path where the
    /// CPU has it and the portable one; threaded and inline alike.
    #[test]
    fn matches_the_reference() {
        for (n_head, n_kv_head, head_dim) in [
            (1, 1, 8),
            (4, 2, 16),
            (6, 1, 13),
            (12, 2, 64),
            (40, 2, 24),
            (12, 2, 128),
            (4, 1, 80),
        ] {
            let h = Heads {
                n_head,
                n_kv_head,
                head_dim,
            };
            for len in [1, 3, 4, 17, 40, 300] {
                let q = values(n_head * head_dim, 1);
                let k = values(len * n_kv_head * head_dim, 2);
                let v = values(len * n_kv_head * head_dim, 3);
                for keys in [0..len, len.saturating_sub(5)..len] {
                    let want = reference(h, &q, &k, &v, keys.clone());
                    for simd in [false, simd_here() && head_dim % 8 == 0] {
                        let got = attend_with(simd, h, &q, &k, &v, keys.clone());
                        for (a, b) in got.iter().zip(&want) {
                            assert!(
                                (a - b).abs() < 1e-5,
                                "{h:?} simd {simd} len {len} {keys:?}: {a} vs {b}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Runs of positions combined as the threads' shares are, whatever the pool's size: one
    /// position, uneven runs, a run whose scores all lie far below another's.
    #[test]
    fn runs_combine_into_one_softmax() {
        let h = Heads {
            n_head: 12,
            n_kv_head: 2,
            head_dim: 128,
        };
        let len = 300;
        // Scaled as the decoder scales it.
        let q: Vec<f32> = values(h.n_head * h.head_dim, 1)
            .iter()
            .map(|x| x / (h.head_dim as f32).sqrt())
            .collect();
        let k = values(len * h.stride(), 2);
        let v = values(len * h.stride(), 3);
        // Keys that make the first run's scores tiny next to the rest.
        let mut k_far = k.clone();
        k_far[..50 * h.stride()].iter_mut().for_each(|x| *x -= 40.0);
        for k in [&k, &k_far] {
            for splits in [
                vec![0, 1, 300],
                vec![0, 50, 51, 177, 300],
                vec![0, 299, 300],
            ] {
                let want = reference(h, &q, k, &v, 0..len);
                for simd in [false, simd_here()] {
                    let parts = splits
                        .windows(2)
                        .map(|w| partial(simd, h, &q, k, &v, w[0]..w[1]))
                        .collect();
                    let got = combine(h, parts);
                    for (a, b) in got.iter().zip(&want) {
                        assert!((a - b).abs() < 1e-5, "{splits:?} simd {simd}: {a} vs {b}");
                    }
                }
            }
        }
    }

    #[test]
    fn dot_is_the_plain_sum() {
        for n in [0, 8, 16, 24, 128, 136] {
            let (a, b) = (values(n, 4), values(n, 5));
            let want: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| f64::from(*x) * f64::from(*y))
                .sum();
            let got = dot(&a, &b);
            assert!((f64::from(got) - want).abs() < 1e-4, "{n} portable");
            #[cfg(target_arch = "x86_64")]
            if simd_here() {
                // SAFETY: n floats, a multiple of 8; AVX2 and FMA present.
                let got = unsafe { x86::dot(a.as_ptr(), b.as_ptr(), n) };
                assert!((f64::from(got) - want).abs() < 1e-4, "{n} avx2");
            }
        }
    }
}

#[cfg(test)]
mod speed {
    use super::*;

    /// Decoding attention over a 1.5B-like cache (12 query heads on 2 K/V heads of 128, 28 layers
    /// of ~1,000 positions: more than the caches hold), as GB/s of K/V read
    /// (`cargo test --release --lib -- --ignored attend_speed --nocapture`; `LAYERS=1` for a cache
    /// that stays in L2).
    #[test]
    #[ignore]
    fn attend_speed() {
        let h = Heads {
            n_head: 12,
            n_kv_head: 2,
            head_dim: 128,
        };
        let layers: usize = std::env::var("LAYERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(28);
        let len = 1000;
        let kv = len * h.n_kv_head * h.head_dim;
        let caches: Vec<(Vec<f32>, Vec<f32>)> = (0..layers)
            .map(|l| {
                let v = |s| {
                    (0..kv)
                        .map(|i| ((i * 7 + s) % 13) as f32 / 13.0 - 0.5)
                        .collect()
                };
                (v(l), v(l + 1))
            })
            .collect();
        let q: Vec<f32> = (0..h.n_head * h.head_dim)
            .map(|i| (i % 5) as f32 * 0.01)
            .collect();
        let bytes = (layers * 2 * kv * 4) as f64;
        let mut rates = Vec::new();
        for _ in 0..20 {
            let t = std::time::Instant::now();
            for (k, v) in &caches {
                std::hint::black_box(attend(h, &q, k, v, 0..len));
            }
            rates.push(bytes / t.elapsed().as_secs_f64() / 1e9);
        }
        rates.sort_by(|a, b| a.total_cmp(b));
        eprintln!(
            "{:.0} MB of K/V, {} threads: median {:.1} GB/s ({:.2} ms a token; min {:.1}, max {:.1})",
            bytes / 1e6,
            crate::llm::pool::pool().threads(),
            rates[rates.len() / 2],
            bytes / rates[rates.len() / 2] / 1e6,
            rates[0],
            rates[rates.len() - 1]
        );
    }
}
