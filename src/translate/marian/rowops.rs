//! The search's passes over a row of 54,796 logits: maximum, `Σ exp(x − max)` and log-softmax,
//! first maximum, and the top-k of a beam's continuations.
//!
//! Beam search runs these over every row at every step, and scalar code (a libm `expf` per logit,
//! a compare-and-insert per logit) took about a fifth of a batch-8 × 4-beam run. Here the maximum
//! and the exponentials run in eight lanes; the top-k only looks closer at logits above the one it
//! would drop next. Maximum, argmax and top-k give exactly what the scalar loops give. The sum of
//! exponentials uses its own `exp` (Cephes' polynomial, within 2 ulp of the true value; PyTorch's
//! `log_softmax` also sums a vectorised approximation, Sleef's) in a fixed eight-lane order, so the
//! AVX2 + FMA path and the portable one give the same bits.

/// Whether this CPU runs the AVX2 + FMA versions (checked once; the macro caches it).
fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The largest value (`NaN`s are skipped, as `f32::max` skips them); `-inf` for an empty row.
pub fn max(row: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { max_avx2(row) };
    }
    max_plain(row)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn max_avx2(row: &[f32]) -> f32 {
    max_plain(row)
}

/// Sixteen running maxima, so that the loop vectorises (max is exact in any order).
#[inline(always)]
fn max_plain(row: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 16];
    let chunks = row.chunks_exact(16);
    let tail = chunks.remainder();
    for c in chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l = l.max(x);
        }
    }
    let m = tail.iter().fold(f32::NEG_INFINITY, |a, &x| a.max(x));
    lanes.iter().fold(m, |a, &x| a.max(x))
}

/// Log-softmax of one row of logits, in place: maximum, sum of exponentials, then
/// `(x - max) - ln(sum)` for each entry. A row of `-inf` stays as it is.
pub fn log_softmax(row: &mut [f32]) {
    let m = max(row);
    if m == f32::NEG_INFINITY {
        return;
    }
    let log_sum = sum_exp(row, m).ln();
    for x in row.iter_mut() {
        *x = (*x - m) - log_sum;
    }
}

/// Index of the first maximum (`torch.argmax`; what `x > best` over the row in order gives).
pub fn argmax(row: &[f32]) -> usize {
    if row.first().is_none_or(|x| x.is_nan()) {
        return 0; // a NaN first: nothing compares greater
    }
    let m = max(row);
    row.iter().position(|&x| x == m).unwrap_or(0)
}

/// `Σ exp(x − max)` over the row, in eight lanes (element `i` into lane `i % 8`), the lanes summed
/// as `((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7))`. Meant for `max` = the row's maximum: every term is
/// then at most 1, and one term is exactly 1.
pub fn sum_exp(row: &[f32], max: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { avx2::sum_exp(row, max) };
    }
    sum_exp_plain(row, max)
}

fn sum_exp_plain(row: &[f32], max: f32) -> f32 {
    let mut lanes = [0f32; 8];
    for c in row.chunks(8) {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l += exp_lane(x - max);
        }
    }
    reduce(lanes)
}

#[inline(always)]
fn reduce(l: [f32; 8]) -> f32 {
    let s = [l[0] + l[4], l[1] + l[5], l[2] + l[6], l[3] + l[7]];
    (s[0] + s[2]) + (s[1] + s[3])
}

// Cephes' expf: x = n·ln 2 + r with ln 2 split in two, then a degree-5 polynomial in r.
const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const P: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    0.166_666_65,
    0.5,
];
/// Below this the result is no longer a normal float; the terms it gives (~1e-38) vanish in a sum
/// that holds a 1.
const LOWEST: f32 = -87.3;
const HIGHEST: f32 = 88.37;

/// `exp(x)` as one lane of the AVX2 version computes it (FMA via `mul_add`: the same roundings).
#[inline(always)]
#[allow(clippy::manual_clamp)] // `clamp` keeps a NaN; `vmaxps` turns it into LOWEST, and so must we
fn exp_lane(x: f32) -> f32 {
    let x = x.max(LOWEST).min(HIGHEST);
    let n = x.mul_add(LOG2E, 0.5).floor();
    let r = n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, x));
    let mut y = P[0];
    for &p in &P[1..] {
        y = y.mul_add(r, p);
    }
    let y = y.mul_add(r * r, r) + 1.0;
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn sum_exp(row: &[f32], max: f32) -> f32 {
        let m = _mm256_set1_ps(max);
        let mut acc = _mm256_setzero_ps();
        let chunks = row.chunks_exact(8);
        let tail = chunks.remainder();
        for c in chunks {
            let x = _mm256_sub_ps(_mm256_loadu_ps(c.as_ptr()), m);
            acc = _mm256_add_ps(acc, exp8(x));
        }
        let mut lanes = [0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), acc);
        for (l, &x) in lanes.iter_mut().zip(tail) {
            *l += exp_lane(x - max);
        }
        reduce(lanes)
    }

    #[inline(always)]
    unsafe fn exp8(x: __m256) -> __m256 {
        let x = _mm256_min_ps(
            _mm256_max_ps(x, _mm256_set1_ps(LOWEST)),
            _mm256_set1_ps(HIGHEST),
        );
        let n = _mm256_floor_ps(_mm256_fmadd_ps(
            x,
            _mm256_set1_ps(LOG2E),
            _mm256_set1_ps(0.5),
        ));
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
        let mut y = _mm256_set1_ps(P[0]);
        for &p in &P[1..] {
            y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(p));
        }
        let y = _mm256_add_ps(
            _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), r),
            _mm256_set1_ps(1.0),
        );
        let e = _mm256_slli_epi32::<23>(_mm256_add_epi32(
            _mm256_cvtps_epi32(n),
            _mm256_set1_epi32(127),
        ));
        _mm256_mul_ps(y, _mm256_castsi256_ps(e))
    }
}

/// Add the entries of `row` to `top` (the best `k` by `score(x)`, then by lower index; `top` sorted
/// that way), entry `t` as index `base + t`. `score` must not decrease as `x` grows (a log-softmax
/// shift does not): once `top` is full, an entry no larger than the raw value of the one it would
/// drop cannot get in, and only larger ones are looked at closely. The result is what calling
/// `push(score(x), base + t)` for every entry in order gives.
pub fn top_k(
    row: &[f32],
    k: usize,
    base: usize,
    score: impl Fn(f32) -> f32,
    top: &mut Vec<(f32, usize)>,
) {
    if k == 0 {
        return;
    }
    // The raw value behind `top`'s last entry, once `top` is full and that entry is of this row;
    // NaN otherwise (then nothing may be skipped).
    let raw = |top: &Vec<(f32, usize)>| -> f32 {
        match top.last() {
            Some(&(_, i)) if top.len() == k => i
                .checked_sub(base)
                .and_then(|t| row.get(t))
                .copied()
                .unwrap_or(f32::NAN),
            _ => f32::NAN,
        }
    };
    let mut floor = raw(top);
    const BLOCK: usize = 32;
    for (b, block) in row.chunks(BLOCK).enumerate() {
        // `!(max <= floor)`: a NaN floor (not full yet) looks at every block.
        if !floor.is_nan() && max(block) <= floor {
            continue;
        }
        for (j, &x) in block.iter().enumerate() {
            if floor.is_nan() || x > floor {
                push(top, k, (score(x), base + b * BLOCK + j));
                floor = raw(top);
            }
        }
    }
}

/// Keep the `k` best (score desc, then index asc) in `top`, sorted.
pub fn push(top: &mut Vec<(f32, usize)>, k: usize, item: (f32, usize)) {
    if top.len() == k {
        let worst = top[k - 1];
        if item.0.partial_cmp(&worst.0) != Some(std::cmp::Ordering::Greater) {
            return; // equal scores keep the earlier index
        }
    }
    let pos = top.partition_point(|x| x.0 >= item.0);
    top.insert(pos, item);
    top.truncate(k);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-spread/2, spread/2).
    fn values(len: usize, seed: u64, spread: f32) -> Vec<f32> {
        let half = spread / 2.0;
        super::super::test_values(len, seed)
            .into_iter()
            .map(|x| x * half)
            .collect()
    }

    #[test]
    fn exp_is_within_two_ulp_of_the_true_value() {
        let mut x = -87.0f32;
        while x <= 0.0 {
            let want = (x as f64).exp();
            let got = exp_lane(x) as f64;
            let ulp = (want as f32).to_bits().abs_diff((got as f32).to_bits());
            assert!(ulp <= 2, "exp({x}) = {got}, want {want} ({ulp} ulp)");
            x += 0.013;
        }
        assert_eq!(exp_lane(0.0), 1.0);
        // Clamped: a term that vanishes beside the 1 of the maximum.
        assert!(exp_lane(f32::NEG_INFINITY) < 2e-38 && 1.0 + exp_lane(-1e30) == 1.0);
    }

    #[test]
    fn every_path_sums_the_same_bits() {
        for len in [0, 1, 7, 8, 9, 31, 100, 1000, 54_796] {
            for (seed, spread) in [(1, 10.0), (2, 100.0), (3, 300.0)] {
                let mut row = values(len, seed, spread);
                if len > 5 {
                    row[3] = f32::NEG_INFINITY; // a banned token
                }
                let m = max(&row);
                let plain = sum_exp_plain(&row, m);
                assert_eq!(sum_exp(&row, m).to_bits(), plain.to_bits(), "len {len}");
                // Close to the exact sum.
                let exact: f64 = row.iter().map(|&x| ((x - m) as f64).exp()).sum();
                if len > 0 {
                    assert!(
                        (plain as f64 - exact).abs() <= 1e-5 * exact,
                        "{plain} vs {exact}"
                    );
                }
            }
        }
    }

    #[test]
    fn max_and_argmax_are_the_scalar_loops() {
        for len in [1, 2, 15, 16, 17, 33, 1000] {
            for seed in 0..4 {
                let mut row = values(len, seed, 4.0);
                // Ties: the first of equal maxima wins.
                if len > 10 {
                    row[9] = 100.0;
                    row[len - 1] = 100.0;
                }
                let want = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                assert_eq!(max(&row), want);
                let mut best = 0;
                for (i, &x) in row.iter().enumerate() {
                    if x > row[best] {
                        best = i;
                    }
                }
                assert_eq!(argmax(&row), best, "len {len} seed {seed}");
            }
        }
        assert_eq!(argmax(&[0.0, 2.0, 2.0, -1.0]), 1);
        assert_eq!(argmax(&[f32::NEG_INFINITY, f32::NEG_INFINITY]), 0);
        assert_eq!(argmax(&[-0.0, 0.0]), 0);
        assert_eq!(argmax(&[f32::NAN, 1.0]), 0);
        assert_eq!(argmax(&[1.0, f32::NAN, 3.0]), 2);
        assert_eq!(max(&[]), f32::NEG_INFINITY);
    }

    #[test]
    fn push_keeps_order_and_first_index_on_ties() {
        let mut top = Vec::new();
        for (i, s) in [1.0f32, 3.0, 2.0, 3.0, f32::NEG_INFINITY, 5.0]
            .into_iter()
            .enumerate()
        {
            push(&mut top, 3, (s, i));
        }
        assert_eq!(top, vec![(5.0, 5), (3.0, 1), (3.0, 3)]);
    }

    #[test]
    fn log_softmax_rows() {
        let mut row = vec![1.0f32, 2.0, 3.0, f32::NEG_INFINITY];
        log_softmax(&mut row);
        let total: f32 = row.iter().map(|x| x.exp()).sum();
        assert!((total - 1.0).abs() < 1e-6);
        assert_eq!(row[3], f32::NEG_INFINITY);
    }

    #[test]
    fn top_k_is_push_over_every_entry() {
        for len in [1, 5, 31, 32, 33, 100, 5000] {
            for k in [1, 2, 8, 12] {
                for seed in 0..3 {
                    // Coarse values: many ties, and a shift that rounds neighbours together.
                    let row: Vec<f32> = values(len, seed, 64.0).iter().map(|x| x.round()).collect();
                    let score = |x: f32| ((x - 3.0) - 1e7) + -2.5;
                    for base in [0, 1000] {
                        let mut want = vec![(5e6, 7), (-1e9, 3)];
                        want.truncate(k);
                        let mut got = want.clone();
                        for (t, &x) in row.iter().enumerate() {
                            push(&mut want, k, (score(x), base + t));
                        }
                        top_k(&row, k, base, score, &mut got);
                        assert_eq!(got, want, "len {len} k {k} seed {seed} base {base}");
                    }
                }
            }
        }
    }
}
