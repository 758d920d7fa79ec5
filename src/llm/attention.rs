//! Attention of one new query position over the KV cache, on plain buffers, split over the threads.
//!
//! Decoding runs one position at a time. Through candle tensors that is a batched matmul of a few
//! query rows against the cache, a softmax and a second matmul, each allocating, with candle's
//! thread pool idle meanwhile (about a tenth of a 1.5B model's decoding step). Here the query heads
//! that share a K/V head are one work item of the pool (split further when there are more threads
//! than K/V heads): each cached key and value is read once for all of them.
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

/// Query heads handled together at most (their sums stay in L1).
const MAX_GROUP: usize = 16;

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

fn attend_with(
    simd: bool,
    h: Heads,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    keys: Range<usize>,
) -> Vec<f32> {
    let hd = h.head_dim;
    let mut out = vec![0f32; h.n_head * hd];
    if keys.is_empty() || h.n_kv_head == 0 {
        return out;
    }
    let rep = (h.n_head / h.n_kv_head).max(1);
    // Work items: runs of at most MAX_GROUP query heads of one K/V head, at least one per thread
    // where the heads allow.
    let threads = super::pool::pool().threads();
    let parts = threads
        .div_ceil(h.n_kv_head)
        .max(rep.div_ceil(MAX_GROUP))
        .min(rep);
    let per = rep.div_ceil(parts);
    let items: Vec<Range<usize>> = (0..h.n_kv_head)
        .flat_map(|g| {
            (0..rep)
                .step_by(per)
                .map(move |i| g * rep + i..g * rep + (i + per).min(rep))
        })
        .collect();
    let at = out.as_mut_ptr() as usize;
    let item = |heads: &Range<usize>| {
        let group = heads.start / rep;
        let (q, n) = (&q[heads.start * hd..heads.end * hd], heads.len());
        // SAFETY: each work item writes only its own heads' outputs.
        let o = unsafe {
            std::slice::from_raw_parts_mut((at as *mut f32).add(heads.start * hd), n * hd)
        };
        group_heads(simd, h, q, k, v, group, keys.clone(), o);
    };
    // A short cache is not worth handing to the other threads.
    if keys.len() * h.n_head < 512 {
        items.iter().for_each(item);
    } else {
        super::pool::pool().run(items.len(), |r| items[r].iter().for_each(item));
    }
    out
}

/// The query heads `q` (`n · hd`) of K/V head `group` over the positions `keys`, into `out`.
#[allow(clippy::too_many_arguments)]
fn group_heads(
    simd: bool,
    h: Heads,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    group: usize,
    keys: Range<usize>,
    out: &mut [f32],
) {
    let (hd, stride) = (h.head_dim, h.n_kv_head * h.head_dim);
    let n = q.len() / hd;
    let len = keys.len();
    let row = |x: &[f32], p: usize| -> *const f32 { x[p * stride + group * hd..][..hd].as_ptr() };
    // scores[i · len + j]: head i against position keys.start + j.
    let mut scores = vec![0f32; n * len];
    for (j, p) in keys.clone().enumerate() {
        let key = row(k, p);
        for i in 0..n {
            // SAFETY: `key` and the query are `hd` floats; AVX2 and FMA where `simd`.
            scores[i * len + j] = unsafe { dot(simd, q[i * hd..].as_ptr(), key, hd) };
        }
    }
    for s in scores.chunks_exact_mut(len) {
        let max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f32;
        for x in s.iter_mut() {
            *x = (*x - max).exp();
            sum += *x;
        }
        for x in s.iter_mut() {
            *x /= sum;
        }
    }
    out.fill(0.0);
    for (j, p) in keys.enumerate() {
        let value = row(v, p);
        for i in 0..n {
            let o = out[i * hd..].as_mut_ptr();
            // SAFETY: as above.
            unsafe { axpy(simd, scores[i * len + j], value, o, hd) };
        }
    }
}

/// `Σ a·b` over `n` floats.
///
/// # Safety
/// `a` and `b` hold `n` floats; with `simd`, the CPU has AVX2 and FMA and `n` is a multiple of 8.
#[inline(always)]
unsafe fn dot(simd: bool, a: *const f32, b: *const f32, n: usize) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if simd {
        return x86::dot(a, b, n);
    }
    let _ = simd;
    let (a, b) = (
        std::slice::from_raw_parts(a, n),
        std::slice::from_raw_parts(b, n),
    );
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

/// `out += w · x` over `n` floats.
///
/// # Safety
/// As [`dot`]; `out` does not overlap `x`.
#[inline(always)]
unsafe fn axpy(simd: bool, w: f32, x: *const f32, out: *mut f32, n: usize) {
    #[cfg(target_arch = "x86_64")]
    if simd {
        return x86::axpy(w, x, out, n);
    }
    let _ = simd;
    let (x, out) = (
        std::slice::from_raw_parts(x, n),
        std::slice::from_raw_parts_mut(out, n),
    );
    for (o, x) in out.iter_mut().zip(x) {
        *o += w * x;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX2 and FMA; `n` a multiple of 8.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
        let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        while i + 16 <= n {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)), s0);
            s1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(a.add(i + 8)),
                _mm256_loadu_ps(b.add(i + 8)),
                s1,
            );
            i += 16;
        }
        if i < n {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)), s0);
        }
        let s = _mm256_add_ps(s0, s1);
        let s = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    /// # Safety
    /// As [`dot`].
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn axpy(w: f32, x: *const f32, out: *mut f32, n: usize) {
        let w = _mm256_set1_ps(w);
        for i in (0..n).step_by(8) {
            let o = out.add(i);
            _mm256_storeu_ps(
                o,
                _mm256_fmadd_ps(w, _mm256_loadu_ps(x.add(i)), _mm256_loadu_ps(o)),
            );
        }
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
        for (n_head, n_kv_head, head_dim) in
            [(1, 1, 8), (4, 2, 16), (6, 1, 13), (12, 2, 64), (40, 2, 24)]
        {
            let h = Heads {
                n_head,
                n_kv_head,
                head_dim,
            };
            for len in [1, 3, 40, 300] {
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

    #[test]
    fn dot_is_the_plain_sum() {
        for n in [0, 8, 16, 24, 128, 136] {
            let (a, b) = (values(n, 4), values(n, 5));
            let want: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| f64::from(*x) * f64::from(*y))
                .sum();
            for simd in [false, simd_here()] {
                // SAFETY: both hold n floats, a multiple of 8; AVX2 and FMA where simd.
                let got = unsafe { dot(simd, a.as_ptr(), b.as_ptr(), n) };
                assert!((f64::from(got) - want).abs() < 1e-4, "{n} simd {simd}");
            }
        }
    }
}
