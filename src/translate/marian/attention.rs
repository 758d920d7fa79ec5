//! The attention of one decoder step, in plain Rust over contiguous buffers.
//!
//! At decode time every row has a single query. As tensor code that is one tiny matrix product per row
//! and head (candle's CPU matmul runs them one by one), which costs more than the arithmetic; here each
//! (row, head) is a dot product over its cached keys and a weighted sum of its values, rows in parallel.
//! The self-attention cache is preallocated and appended to in place, and reordered for beams by copying
//! only the filled positions. The projections around it stay candle matmuls over the whole batch.

use rayon::prelude::*;

/// Keys and values of one decoder layer, `[rows, heads, capacity, head_dim]`, the first `len`
/// positions of each (row, head) filled. Reordering rows (beams) copies the filled positions into a
/// spare buffer kept from the last reorder and swaps the two, so no step allocates or zero-fills.
pub struct KvCache {
    k: Vec<f32>,
    v: Vec<f32>,
    spare_k: Vec<f32>,
    spare_v: Vec<f32>,
    rows: usize,
    heads: usize,
    head_dim: usize,
    cap: usize,
}

impl KvCache {
    pub fn new(rows: usize, heads: usize, head_dim: usize, cap: usize) -> KvCache {
        let size = rows * heads * cap.max(1) * head_dim;
        KvCache {
            k: vec![0.0; size],
            v: vec![0.0; size],
            spare_k: Vec::new(),
            spare_v: Vec::new(),
            rows,
            heads,
            head_dim,
            cap: cap.max(1),
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Lay the first `len` positions of rows `src` out anew with capacity `cap` (row `i` of the
    /// result is row `src[i]` of the old layout).
    fn relayout(&mut self, src: &[u32], len: usize, cap: usize) {
        let dh = self.head_dim;
        let size = src.len() * self.heads * cap * dh;
        for spare in [&mut self.spare_k, &mut self.spare_v] {
            if spare.len() < size {
                spare.resize(size, 0.0);
            }
        }
        for (i, &r) in src.iter().enumerate() {
            for h in 0..self.heads {
                let from = ((r as usize * self.heads + h) * self.cap) * dh;
                let to = ((i * self.heads + h) * cap) * dh;
                self.spare_k[to..to + len * dh].copy_from_slice(&self.k[from..from + len * dh]);
                self.spare_v[to..to + len * dh].copy_from_slice(&self.v[from..from + len * dh]);
            }
        }
        std::mem::swap(&mut self.k, &mut self.spare_k);
        std::mem::swap(&mut self.v, &mut self.spare_v);
        self.rows = src.len();
        self.cap = cap;
    }

    /// Keep rows `src` (in that order), `len` positions filled. In place: a row that keeps its
    /// place is not copied (beams mostly continue from themselves), and a row that another row
    /// still reads is saved to the spare buffer before it is overwritten.
    pub fn select_rows(&mut self, src: &[u32], len: usize) {
        let (heads, dh, cap) = (self.heads, self.head_dim, self.cap);
        let row = heads * cap * dh;
        if src.len() * row > self.k.len() {
            return self.relayout(src, len, cap); // more rows than the buffer holds
        }
        let moved: Vec<usize> = (0..src.len()).filter(|&i| src[i] as usize != i).collect();
        // Sources that a move overwrites: row -> slot in the spare buffer.
        let mut slot = vec![usize::MAX; self.rows.max(src.len())];
        let mut saved = 0;
        for &i in &moved {
            let s = src[i] as usize;
            if s < src.len() && src[s] as usize != s && slot[s] == usize::MAX {
                slot[s] = saved;
                saved += 1;
            }
        }
        for spare in [&mut self.spare_k, &mut self.spare_v] {
            if spare.len() < saved * row {
                spare.resize(saved * row, 0.0);
            }
        }
        let copy_filled = |from: &[f32], f: usize, to: &mut [f32], t: usize| {
            for h in 0..heads {
                let (a, b) = (f + h * cap * dh, t + h * cap * dh);
                to[b..b + len * dh].copy_from_slice(&from[a..a + len * dh]);
            }
        };
        for (r, &sl) in slot.iter().enumerate() {
            if sl != usize::MAX {
                copy_filled(&self.k, r * row, &mut self.spare_k, sl * row);
                copy_filled(&self.v, r * row, &mut self.spare_v, sl * row);
            }
        }
        for &i in &moved {
            let s = src[i] as usize;
            match slot.get(s).copied().filter(|&sl| sl != usize::MAX) {
                Some(sl) => {
                    copy_filled(&self.spare_k, sl * row, &mut self.k, i * row);
                    copy_filled(&self.spare_v, sl * row, &mut self.v, i * row);
                }
                None => {
                    for h in 0..heads {
                        let (a, b) = (s * row + h * cap * dh, i * row + h * cap * dh);
                        self.k.copy_within(a..a + len * dh, b);
                        self.v.copy_within(a..a + len * dh, b);
                    }
                }
            }
        }
        self.rows = src.len();
    }

    /// Make room for position `pos` (doubling the capacity when full).
    fn reserve(&mut self, pos: usize) {
        if pos >= self.cap {
            let all: Vec<u32> = (0..self.rows as u32).collect();
            self.relayout(&all, pos, (self.cap * 2).max(pos + 1));
        }
    }
}

/// Self-attention of one decoder step. `qkv` is `[rows, 3 × heads × head_dim]` (q, k, v of this step,
/// q already scaled); this step's k and v are stored at position `pos`, then each row's query attends
/// to positions `0..=pos`. Returns `[rows, heads × head_dim]`.
pub fn self_attention(qkv: &[f32], cache: &mut KvCache, pos: usize) -> Vec<f32> {
    cache.reserve(pos);
    let (rows, heads, dh, cap) = (cache.rows, cache.heads, cache.head_dim, cache.cap);
    let d = heads * dh;
    for r in 0..rows {
        let row = &qkv[r * 3 * d..(r + 1) * 3 * d];
        for h in 0..heads {
            let at = ((r * heads + h) * cap + pos) * dh;
            cache.k[at..at + dh].copy_from_slice(&row[d + h * dh..d + (h + 1) * dh]);
            cache.v[at..at + dh].copy_from_slice(&row[2 * d + h * dh..2 * d + (h + 1) * dh]);
        }
    }
    let (k, v) = (&cache.k, &cache.v);
    let mut out = vec![0f32; rows * d];
    out.par_chunks_mut(d).enumerate().for_each(|(r, out_row)| {
        let mut scores = Vec::with_capacity(pos + 1);
        for h in 0..heads {
            let q = &qkv[r * 3 * d + h * dh..r * 3 * d + (h + 1) * dh];
            let base = (r * heads + h) * cap * dh;
            let len = (pos + 1) * dh;
            attend(
                q,
                &k[base..base + len],
                &v[base..base + len],
                &mut scores,
                &mut out_row[h * dh..(h + 1) * dh],
            );
        }
    });
    out
}

/// The encoder output as keys and values for cross-attention: `[batch, heads, src_len, head_dim]`
/// each, and each entry's real length (padding is never attended to).
pub struct CrossKv {
    pub k: Vec<f32>,
    pub v: Vec<f32>,
    pub heads: usize,
    pub head_dim: usize,
    pub src_len: usize,
}

/// Cross-attention of one decoder step: rows are grouped `rows / lens.len()` per batch entry; entry
/// `b` attends to its first `lens[b]` source positions. `q` is `[rows, heads × head_dim]`, scaled.
pub fn cross_attention(q: &[f32], kv: &CrossKv, lens: &[usize]) -> Vec<f32> {
    let (heads, dh, s) = (kv.heads, kv.head_dim, kv.src_len);
    let d = heads * dh;
    let rows = q.len() / d;
    let per_entry = rows / lens.len().max(1);
    let mut out = vec![0f32; rows * d];
    out.par_chunks_mut(d).enumerate().for_each(|(r, out_row)| {
        let b = r / per_entry.max(1);
        let len = lens[b] * dh;
        let mut scores = Vec::with_capacity(lens[b]);
        for h in 0..heads {
            let base = (b * heads + h) * s * dh;
            attend(
                &q[r * d + h * dh..r * d + (h + 1) * dh],
                &kv.k[base..base + len],
                &kv.v[base..base + len],
                &mut scores,
                &mut out_row[h * dh..(h + 1) * dh],
            );
        }
    });
    out
}

/// `Σ a·b` in eight lanes (a plain `.sum()` is one serial chain the compiler may not vectorise).
fn dot(a: &[f32], b: &[f32]) -> f32 {
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

/// softmax(q·Kᵀ) V for one query over `keys.len() / q.len()` positions.
fn attend(q: &[f32], keys: &[f32], values: &[f32], scores: &mut Vec<f32>, out: &mut [f32]) {
    let dh = q.len();
    scores.clear();
    scores.extend(keys.chunks_exact(dh).map(|key| dot(key, q)));
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f32;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    out.fill(0.0);
    for (p, value) in scores.iter().zip(values.chunks_exact(dh)) {
        let p = p / sum;
        for (o, x) in out.iter_mut().zip(value) {
            *o += p * x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_position_returns_its_value() {
        // One row, one head, head_dim 2: a single key means weight 1 on its value.
        let mut cache = KvCache::new(1, 1, 2, 1);
        let qkv = [1.0, 0.0, 0.5, 0.5, 3.0, -1.0];
        assert_eq!(self_attention(&qkv, &mut cache, 0), vec![3.0, -1.0]);
        // A second step grows the cache and averages by the softmax of the dot products.
        let qkv2 = [0.0, 0.0, 9.0, 9.0, 1.0, 1.0];
        let out = self_attention(&qkv2, &mut cache, 1);
        assert_eq!(out, vec![2.0, 0.0]); // equal scores (q = 0): the mean of the two values
    }

    #[test]
    fn cross_attention_ignores_padding_and_shares_keys_across_beams() {
        // Two entries, source length 2, the second padded to length 1; two beams each.
        let kv = CrossKv {
            k: vec![0.0, 0.0, 0.0, 0.0],
            v: vec![1.0, 3.0, 5.0, 100.0],
            heads: 1,
            head_dim: 1,
            src_len: 2,
        };
        let out = cross_attention(&[1.0, 2.0, 1.0, 2.0], &kv, &[2, 1]);
        assert_eq!(out, vec![2.0, 2.0, 5.0, 5.0]);
    }

    #[test]
    fn select_rows_keeps_filled_positions() {
        let mut cache = KvCache::new(2, 1, 1, 4);
        self_attention(&[0.0, 1.0, 10.0, 0.0, 2.0, 20.0], &mut cache, 0);
        cache.select_rows(&[1, 1, 0], 1);
        assert_eq!(cache.rows(), 3);
        let out = self_attention(
            &[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            &mut cache,
            1,
        );
        assert_eq!(out, vec![10.0, 10.0, 5.0]);
    }

    #[test]
    fn select_rows_in_place_equals_a_fresh_layout() {
        // Beams that continue from themselves, swap, share a parent, and rows that are dropped.
        let cases: [&[u32]; 7] = [
            &[0, 1, 2, 3],
            &[1, 0, 3, 2],
            &[0, 0, 0, 0],
            &[3, 3, 1, 1],
            &[2, 0, 1],
            &[3],
            &[1, 2, 3, 0],
        ];
        let (rows, heads, dh, cap, len) = (4, 2, 3, 5, 4);
        let fill = |c: &mut KvCache| {
            for (i, x) in c.k.iter_mut().enumerate() {
                *x = i as f32;
            }
            for (i, x) in c.v.iter_mut().enumerate() {
                *x = -(i as f32);
            }
        };
        for src in cases {
            let mut a = KvCache::new(rows, heads, dh, cap);
            let mut b = KvCache::new(rows, heads, dh, cap);
            fill(&mut a);
            fill(&mut b);
            a.select_rows(src, len);
            b.relayout(src, len, cap);
            assert_eq!(a.rows(), src.len());
            for r in 0..src.len() {
                for h in 0..heads {
                    let at = (r * heads + h) * cap * dh;
                    let filled = at..at + len * dh;
                    assert_eq!(a.k[filled.clone()], b.k[filled.clone()], "{src:?} row {r}");
                    assert_eq!(a.v[filled.clone()], b.v[filled], "{src:?} row {r}");
                }
            }
        }
    }
}
