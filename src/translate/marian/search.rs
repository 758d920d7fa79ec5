//! Batched greedy and beam search, step for step what `transformers`' `generate` does for Marian.
//!
//! Logits processors, in the library's order: bad words (the pad token: never generated), minimum
//! length (no `</s>` before it), forced `</s>` at the last position, optional renormalisation. Greedy
//! takes the first maximum. Beam search follows the library's vectorised implementation (5.x): keep
//! the top `2 × beams` continuations over all beams of a sentence, finished ones (`</s>` or the length
//! limit) among the top `beams` become hypotheses scored `sum_logprobs / generated_len^length_penalty`,
//! the best unfinished ones run on, and a sentence stops by the `early_stopping` rule.
//!
//! Sentences of a batch never influence each other's result, so a sentence that is done leaves the
//! batch at once: its rows, its cache rows and its encoder state are dropped and later steps are
//! cheaper.

use rayon::prelude::*;

use super::config::{EarlyStopping, GenerationConfig};
use super::guard;
use super::model::{DecoderCache, Marian};
use super::rowops;

type Result<T> = candle_core::Result<T>;

/// A penalty HF adds (in f32) to scores that must not be chosen.
const NEG_LARGE: f32 = -1.0e9;

/// Generate target ids for each source (ids with `</s>`); every result starts with the decoder start
/// token and ends with `</s>` unless it ran into the length limit without a forced end. No repetition
/// guard: exactly what the reference's `generate` gives.
pub fn generate(
    model: &Marian,
    sources: &[Vec<u32>],
    gen: &GenerationConfig,
    num_beams: usize,
) -> Result<Vec<Vec<u32>>> {
    Ok(generate_guarded(model, sources, gen, num_beams, false)?
        .into_iter()
        .map(|g| g.ids)
        .collect())
}

/// One generated sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub ids: Vec<u32>,
    /// The repetition guard stopped it in a loop (the ids keep the loop's first occurrence, then
    /// `</s>`).
    pub loop_cut: bool,
}

/// [`generate`] with the repetition guard ([`super::guard`]) when `guard` is set: a greedy sentence
/// that falls into a degenerate loop stops there, cut after the loop's first occurrence; a beam
/// search sentence stops once all its running beams loop, with its best finished hypothesis or else
/// its best beam cut at the loop. Output that would not loop is the same either way.
pub fn generate_guarded(
    model: &Marian,
    sources: &[Vec<u32>],
    gen: &GenerationConfig,
    num_beams: usize,
    guard: bool,
) -> Result<Vec<Generated>> {
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    // The decoder cannot go past its position table.
    let mut gen = gen.clone();
    gen.max_length = gen.max_length.min(model.config().max_position_embeddings);
    // A source that repeats itself may rightly be translated with repeats.
    let guarded: Vec<bool> = sources
        .iter()
        .map(|s| guard && !guard::source_repeats(s))
        .collect();
    if num_beams <= 1 {
        greedy(model, sources, &gen, &guarded)
    } else {
        beam(model, sources, &gen, num_beams, &guarded)
    }
}

/// `seq` (decoder start token first) cut after `keep` generated tokens, then `</s>`.
fn cut_loop(seq: &[u32], keep: usize, gen: &GenerationConfig) -> Vec<u32> {
    let mut out = seq[..(keep + 1).min(seq.len())].to_vec();
    out.extend(gen.eos_token_ids.first());
    out
}

/// Apply the logits processors to one row. `seq` is the row's sequence so far.
fn process(row: &mut [f32], seq: &[u32], gen: &GenerationConfig, log_probs: bool) {
    let cur_len = seq.len();
    for bad in &gen.bad_words_ids {
        let Some((&last, prefix)) = bad.split_last() else {
            continue;
        };
        if prefix.is_empty() && gen.eos_token_ids.contains(&last) {
            continue; // the library never bans a lone </s>
        }
        if seq.ends_with(prefix) {
            if let Some(x) = row.get_mut(last as usize) {
                *x = f32::NEG_INFINITY;
            }
        }
    }
    if cur_len < gen.min_length {
        for &eos in &gen.eos_token_ids {
            if let Some(x) = row.get_mut(eos as usize) {
                *x = f32::NEG_INFINITY;
            }
        }
    }
    if let Some(eos) = gen.forced_eos_token_id {
        if cur_len + 1 == gen.max_length && (eos as usize) < row.len() {
            row.fill(f32::NEG_INFINITY);
            row[eos as usize] = 0.0;
        }
    }
    if log_probs && gen.renormalize_logits {
        rowops::log_softmax(row);
    }
}

/// One decoder step's logits as `[rows, vocab]` values in `flat`; returns `vocab`.
fn logits_rows(
    model: &Marian,
    last: &[u32],
    enc: &super::model::EncoderState,
    cache: &mut DecoderCache,
    flat: &mut Vec<f32>,
) -> Result<usize> {
    model.decode_step_rows(last, enc, cache, flat)?;
    Ok(flat.len() / last.len().max(1))
}

fn greedy(
    model: &Marian,
    sources: &[Vec<u32>],
    gen: &GenerationConfig,
    guarded: &[bool],
) -> Result<Vec<Generated>> {
    let mut enc = model.encode(sources)?;
    let mut cache = DecoderCache::default();
    let mut seqs: Vec<Vec<u32>> = vec![vec![gen.decoder_start_token_id]; sources.len()];
    let mut cut = vec![false; sources.len()];
    let mut flat = Vec::new();
    // Batch entries still running, in row order.
    let mut active: Vec<usize> = (0..sources.len()).collect();
    while !active.is_empty() {
        let last: Vec<u32> = active
            .iter()
            .map(|&i| *seqs[i].last().unwrap_or(&0))
            .collect();
        let vocab = logits_rows(model, &last, &enc, &mut cache, &mut flat)?;
        let mut keep = Vec::with_capacity(active.len());
        let tokens: Vec<u32> = {
            let (seqs, active) = (&seqs, &active);
            flat.par_chunks_mut(vocab)
                .enumerate()
                .map(|(r, row)| {
                    process(row, &seqs[active[r]], gen, false);
                    rowops::argmax(row) as u32
                })
                .collect()
        };
        for (r, &i) in active.iter().enumerate() {
            let token = tokens[r];
            seqs[i].push(token);
            let mut done = gen.eos_token_ids.contains(&token) || seqs[i].len() >= gen.max_length;
            if !done && guarded[i] {
                if let Some(keep) = guard::looping(&seqs[i][1..]) {
                    seqs[i] = cut_loop(&seqs[i], keep, gen);
                    cut[i] = true;
                    done = true;
                }
            }
            if !done {
                keep.push(r as u32);
            }
        }
        if keep.len() < active.len() {
            active = keep.iter().map(|&r| active[r as usize]).collect();
            if !active.is_empty() {
                enc = enc.select(&keep)?;
                cache.select_rows(&keep)?;
            }
        }
    }
    Ok(seqs
        .into_iter()
        .zip(cut)
        .map(|(ids, loop_cut)| Generated { ids, loop_cut })
        .collect())
}

struct Hyp {
    seq: Vec<u32>,
    score: f32,
}

/// The beam state of one sentence.
struct Sentence {
    running: Vec<Hyp>,
    /// Finished hypotheses, best first, at most `num_beams`.
    finished: Vec<Hyp>,
    /// `is_early_stop_heuristic_unsatisfied`: a running beam may still beat a finished one.
    improvable: bool,
    done: bool,
    /// The best running hypothesis as the repetition guard cut it.
    cut: Option<Vec<u32>>,
}

fn beam(
    model: &Marian,
    sources: &[Vec<u32>],
    gen: &GenerationConfig,
    nb: usize,
    guarded: &[bool],
) -> Result<Vec<Generated>> {
    let enc0 = model.encode(sources)?;
    let start = gen.decoder_start_token_id;
    let mut sentences: Vec<Sentence> = (0..sources.len())
        .map(|_| Sentence {
            // Only the first beam is live at first; the others start at -1e9 so the first step
            // does not pick the same token nb times.
            running: (0..nb)
                .map(|j| Hyp {
                    seq: vec![start],
                    score: if j == 0 { 0.0 } else { NEG_LARGE },
                })
                .collect(),
            finished: Vec::new(),
            improvable: true,
            done: false,
            cut: None,
        })
        .collect();
    // The first step has identical rows per sentence; it still runs nb rows so the cache layout
    // (sentence-major, nb rows each) holds from the start.
    let mut enc = enc0;
    let mut cache = DecoderCache::default();
    let mut active: Vec<usize> = (0..sources.len()).collect();
    let keep_k = (2usize).max(1 + gen.eos_token_ids.len()) * nb;
    let lp = gen.length_penalty;
    let mut cur_len = 1usize;
    let mut flat = Vec::new();
    while !active.is_empty() {
        let last: Vec<u32> = active
            .iter()
            .flat_map(|&i| {
                sentences[i]
                    .running
                    .iter()
                    .map(|h| *h.seq.last().unwrap_or(&start))
            })
            .collect();
        let vocab = logits_rows(model, &last, &enc, &mut cache, &mut flat)?;
        let mut row_select: Vec<u32> = Vec::with_capacity(last.len());
        let mut still: Vec<usize> = Vec::with_capacity(active.len());
        let mut still_pos: Vec<u32> = Vec::with_capacity(active.len());
        // Each beam's best `keep_k` continuations (log-softmax and processors over the whole
        // vocabulary: the costly part), rows in parallel.
        let per_row: Vec<Vec<(f32, usize)>> = {
            let sentences = &sentences;
            let active = &active;
            flat.par_chunks_mut(vocab)
                .enumerate()
                .map(|(r, row)| {
                    let (a, j) = (r / nb, r % nb);
                    let hyp = &sentences[active[a]].running[j];
                    let mut top = Vec::with_capacity(keep_k + 1);
                    beam_row(row, &hyp.seq, gen, hyp.score, keep_k, j * vocab, &mut top);
                    top
                })
                .collect()
        };
        for (a, &i) in active.iter().enumerate() {
            let s = &mut sentences[i];
            // Accumulated log-probabilities of every continuation of every beam: the best `keep_k`
            // over all beams. Merging the beams' lists in row order keeps the earlier index first on
            // ties, as one pass over all rows would.
            let mut top: Vec<(f32, usize)> = Vec::with_capacity(keep_k + 1);
            for list in &per_row[a * nb..(a + 1) * nb] {
                for &item in list {
                    rowops::push(&mut top, keep_k, item);
                }
            }
            let cands: Vec<(f32, usize, u32, bool)> = top
                .iter()
                .map(|&(score, idx)| {
                    let (j, t) = (idx / vocab, (idx % vocab) as u32);
                    let hit = gen.eos_token_ids.contains(&t) || cur_len + 1 >= gen.max_length;
                    (score, j, t, hit)
                })
                .collect();
            // Finished candidates among the top nb become hypotheses (if they may still count).
            let blocked = !s.improvable
                || (gen.early_stopping == EarlyStopping::Yes && s.finished.len() == nb);
            if !blocked {
                let norm = ((cur_len) as f64).powf(lp) as f32;
                for &(score, j, t, hit) in cands.iter().take(nb) {
                    if hit {
                        let mut seq = s.running[j].seq.clone();
                        seq.push(t);
                        add_finished(
                            &mut s.finished,
                            Hyp {
                                seq,
                                score: score / norm,
                            },
                            nb,
                        );
                    }
                }
            }
            // The best unfinished continuations run on (finished ones sink by -1e9).
            let mut next: Vec<(f32, usize, u32, usize)> = cands
                .iter()
                .enumerate()
                .map(|(k, &(score, j, t, hit))| {
                    (if hit { score + NEG_LARGE } else { score }, j, t, k)
                })
                .collect();
            next.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.3.cmp(&y.3)));
            next.truncate(nb);
            let running: Vec<Hyp> = next
                .iter()
                .map(|&(score, j, t, _)| {
                    let mut seq = s.running[j].seq.clone();
                    seq.push(t);
                    Hyp { seq, score }
                })
                .collect();
            let sources_rows: Vec<u32> = next
                .iter()
                .map(|&(_, j, _, _)| (a * nb + j) as u32)
                .collect();
            s.running = running;
            // Can a running beam still beat the worst finished hypothesis?
            let next_len = cur_len + 1;
            if s.improvable && s.finished.len() == nb {
                let best_len = if gen.early_stopping == EarlyStopping::Never && lp > 0.0 {
                    gen.max_length - 1
                } else {
                    next_len - 1
                };
                let best = s.running[0].score / ((best_len as f64).powf(lp) as f32);
                let worst = s
                    .finished
                    .iter()
                    .map(|h| h.score)
                    .fold(f32::INFINITY, f32::min);
                s.improvable = best > worst;
            }
            s.done = !s.improvable
                || (gen.early_stopping == EarlyStopping::Yes && s.finished.len() == nb)
                || next_len >= gen.max_length;
            // Every running beam in a loop: whatever finishes from here on contains it, so the
            // result is the best hypothesis finished so far (what the full search gives unless it
            // would end in a loop), or else the best beam cut at its loop.
            if !s.done
                && guarded[i]
                && s.running
                    .iter()
                    .all(|h| guard::looping(&h.seq[1..]).is_some())
            {
                s.done = true;
                if s.finished.is_empty() {
                    if let Some(keep) = guard::looping(&s.running[0].seq[1..]) {
                        s.cut = Some(cut_loop(&s.running[0].seq, keep, gen));
                    }
                }
            }
            if !s.done {
                still.push(i);
                still_pos.push(a as u32);
                row_select.extend(sources_rows);
            }
        }
        cur_len += 1;
        if still.len() < active.len() && !still.is_empty() {
            enc = enc.select(&still_pos)?;
        }
        active = still;
        if !active.is_empty() {
            cache.select_rows(&row_select)?;
        }
    }
    Ok(sentences
        .into_iter()
        .zip(guarded)
        .map(|(s, &guarded)| {
            if let Some(ids) = s.cut {
                return Generated {
                    ids,
                    loop_cut: true,
                };
            }
            let ids = match s.finished.into_iter().next() {
                Some(h) => h.seq,
                None => s
                    .running
                    .into_iter()
                    .next()
                    .map(|h| h.seq)
                    .unwrap_or_default(),
            };
            // A finished hypothesis that was never the best running one may still hold a loop.
            match guarded
                .then(|| guard::first_loop(ids.get(1..).unwrap_or(&[])))
                .flatten()
            {
                Some(keep) => Generated {
                    ids: cut_loop(&ids, keep, gen),
                    loop_cut: true,
                },
                None => Generated {
                    ids,
                    loop_cut: false,
                },
            }
        })
        .collect())
}

/// Add the continuations of one beam to `top`: `log_softmax(logits)`, the processors, plus the beam's
/// score, as the library computes them (the log-softmax is taken before the processors).
fn beam_row(
    row: &mut [f32],
    seq: &[u32],
    gen: &GenerationConfig,
    beam_score: f32,
    k: usize,
    base: usize,
    top: &mut Vec<(f32, usize)>,
) {
    let forced = gen.forced_eos_token_id.is_some() && seq.len() + 1 == gen.max_length;
    if gen.renormalize_logits || forced {
        rowops::log_softmax(row);
        process(row, seq, gen, true);
        rowops::top_k(row, k, base, |x| x + beam_score, top);
        return;
    }
    // The common case in one pass less: the log-softmax terms, then the bans (-inf stays -inf), then
    // each token's log-probability computed as `(x - max) - log_sum` like the library's kernel.
    let max = rowops::max(row);
    let log_sum = rowops::sum_exp(row, max).ln();
    process(row, seq, gen, false);
    rowops::top_k(row, k, base, |x| ((x - max) - log_sum) + beam_score, top);
}

/// Insert a finished hypothesis, keeping the best `n` (ties keep the earlier one first).
fn add_finished(finished: &mut Vec<Hyp>, hyp: Hyp, n: usize) {
    let pos = finished.partition_point(|h| h.score >= hyp.score);
    if pos < n {
        finished.insert(pos, hyp);
        finished.truncate(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processors() {
        let gen = GenerationConfig {
            num_beams: 1,
            max_length: 5,
            min_length: 3,
            length_penalty: 1.0,
            early_stopping: EarlyStopping::No,
            bad_words_ids: vec![vec![4], vec![1, 2], vec![0]],
            forced_eos_token_id: Some(0),
            renormalize_logits: false,
            decoder_start_token_id: 4,
            eos_token_ids: vec![0],
            pad_token_id: 4,
            ignored: vec![],
        };
        let mut row = vec![1.0f32; 5];
        process(&mut row, &[4, 1], &gen, false);
        // pad banned, 2 banned after 1, </s> banned below min_length; a lone [0] is never banned.
        assert_eq!(
            row,
            vec![
                f32::NEG_INFINITY,
                1.0,
                f32::NEG_INFINITY,
                1.0,
                f32::NEG_INFINITY
            ]
        );
        let mut row = vec![1.0f32; 5];
        process(&mut row, &[4, 1, 3, 3], &gen, false);
        assert_eq!(row[0], 0.0);
        assert!(row[1..].iter().all(|x| *x == f32::NEG_INFINITY));
    }
}
