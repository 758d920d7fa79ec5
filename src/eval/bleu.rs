//! BLEU (Papineni et al., 2002) as sacreBLEU 2.x computes it with its defaults: `13a` tokenisation,
//! case-sensitive, maximum n-gram order 4, exponential (mteval) smoothing, one reference.
//!
//! Follows `sacrebleu/metrics/bleu.py`: per-segment sufficient statistics (lengths, clipped n-gram
//! matches and totals) are summed over the corpus, then turned into a score with the same floating-point
//! operations in the same order, so the result equals sacreBLEU's to the last bit on the same libm.

use std::collections::HashMap;

use serde::Serialize;

use super::{pystr, tokenize_13a, SACREBLEU_VERSION};

/// Maximum n-gram order (sacreBLEU's `MAX_NGRAM_ORDER`).
pub const MAX_ORDER: usize = 4;

/// Sufficient statistics of one segment, or of a corpus (their sum).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BleuStats {
    pub hyp_len: u64,
    pub ref_len: u64,
    /// Clipped n-gram matches, order 1 to 4.
    pub correct: [u64; MAX_ORDER],
    /// Hypothesis n-grams, order 1 to 4.
    pub total: [u64; MAX_ORDER],
}

impl std::ops::AddAssign for BleuStats {
    fn add_assign(&mut self, other: Self) {
        self.hyp_len += other.hyp_len;
        self.ref_len += other.ref_len;
        for n in 0..MAX_ORDER {
            self.correct[n] += other.correct[n];
            self.total[n] += other.total[n];
        }
    }
}

/// A BLEU score with the figures sacreBLEU prints beside it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bleu {
    /// 0 to 100, unrounded.
    pub score: f64,
    /// Modified n-gram precisions in percent (smoothed where there were no matches).
    pub precisions: [f64; MAX_ORDER],
    /// Brevity penalty.
    pub bp: f64,
    /// Hypothesis length over reference length, in tokens (0 for an empty reference).
    pub ratio: f64,
    pub hyp_len: u64,
    pub ref_len: u64,
    pub counts: [u64; MAX_ORDER],
    pub totals: [u64; MAX_ORDER],
}

impl Bleu {
    /// sacreBLEU's verbose suffix, e.g. `60.0/35.0/20.0/10.0 (BP = 1.000 ratio = 1.000 hyp_len = 20 ref_len = 20)`.
    pub fn verbose(&self) -> String {
        let precisions: Vec<String> = self.precisions.iter().map(|p| format!("{p:.1}")).collect();
        format!(
            "{} (BP = {:.3} ratio = {:.3} hyp_len = {} ref_len = {})",
            precisions.join("/"),
            self.bp,
            self.ratio,
            self.hyp_len,
            self.ref_len
        )
    }
}

/// sacreBLEU's signature for BLEU with its default options; `effective_order` is on for sentence BLEU.
pub fn signature(effective_order: bool) -> String {
    let eff = if effective_order { "yes" } else { "no" };
    format!("nrefs:1|case:mixed|eff:{eff}|tok:13a|smooth:exp|version:{SACREBLEU_VERSION}")
}

/// Counts of every n-gram of order 1 to 4 in an already tokenised segment, and its length in tokens.
fn ngrams<'a>(tokens: &'a [&'a str]) -> HashMap<&'a [&'a str], u64> {
    let mut counts = HashMap::new();
    for n in 1..=MAX_ORDER.min(tokens.len()) {
        for gram in tokens.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

/// Statistics of one segment against its reference. Both are raw text; they are tokenised here (after
/// sacreBLEU's `rstrip()`).
pub fn segment_stats(hyp: &str, reference: &str) -> BleuStats {
    let hyp = tokenize_13a::tokenize(pystr::rstrip(hyp));
    let reference = tokenize_13a::tokenize(pystr::rstrip(reference));
    let hyp_tokens: Vec<&str> = pystr::split(&hyp).collect();
    let ref_tokens: Vec<&str> = pystr::split(&reference).collect();
    let ref_counts = ngrams(&ref_tokens);
    let mut stats = BleuStats {
        hyp_len: hyp_tokens.len() as u64,
        ref_len: ref_tokens.len() as u64,
        ..Default::default()
    };
    for (gram, count) in ngrams(&hyp_tokens) {
        let n = gram.len() - 1;
        stats.total[n] += count;
        if let Some(&in_ref) = ref_counts.get(gram) {
            stats.correct[n] += count.min(in_ref);
        }
    }
    stats
}

/// sacreBLEU's `my_log`: the natural log, floored to a very low number at zero.
fn my_log(x: f64) -> f64 {
    if x == 0.0 {
        -9_999_999_999.0
    } else {
        x.ln()
    }
}

/// sacreBLEU's `BLEU.compute_bleu` with `smooth_method='exp'`. With `effective_order`, orders the
/// hypothesis has no n-grams of are left out of the geometric mean (sentence BLEU); without it
/// (corpus BLEU) they make the score 0.
pub fn compute(stats: &BleuStats, effective_order: bool) -> Bleu {
    let (sys_len, ref_len) = (stats.hyp_len, stats.ref_len);
    let bp = if sys_len < ref_len {
        if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        }
    } else {
        1.0
    };
    let ratio = if ref_len > 0 {
        sys_len as f64 / ref_len as f64
    } else {
        0.0
    };
    let mut bleu = Bleu {
        score: 0.0,
        precisions: [0.0; MAX_ORDER],
        bp,
        ratio,
        hyp_len: sys_len,
        ref_len,
        counts: stats.correct,
        totals: stats.total,
    };
    // No match at any order: 0 (sacreBLEU issue #141).
    if stats.correct.iter().all(|&c| c == 0) {
        return bleu;
    }
    let mut smooth_mteval = 1.0;
    let mut eff_order = MAX_ORDER;
    for n in 0..MAX_ORDER {
        let (correct, total) = (stats.correct[n], stats.total[n]);
        if total == 0 {
            break;
        }
        if effective_order {
            eff_order = n + 1;
        }
        bleu.precisions[n] = if correct == 0 {
            smooth_mteval *= 2.0;
            100.0 / (smooth_mteval * total as f64)
        } else {
            100.0 * correct as f64 / total as f64
        };
    }
    // Python's sum() adds left to right from 0; keep that order.
    let log_sum = bleu.precisions[..eff_order]
        .iter()
        .fold(0.0, |acc, &p| acc + my_log(p));
    bleu.score = bp * (log_sum / eff_order as f64).exp();
    bleu
}

/// Corpus BLEU over statistics already computed per segment.
pub fn corpus(segments: &[BleuStats]) -> Bleu {
    let mut sum = BleuStats::default();
    for s in segments {
        sum += *s;
    }
    compute(&sum, false)
}

/// Sentence BLEU as sacreBLEU's `BLEU(effective_order=True).sentence_score`.
pub fn sentence(stats: &BleuStats) -> Bleu {
    compute(stats, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus_of(hyps: &[&str], refs: &[&str]) -> Bleu {
        let stats: Vec<BleuStats> = hyps
            .iter()
            .zip(refs)
            .map(|(h, r)| segment_stats(h, r))
            .collect();
        corpus(&stats)
    }

    #[test]
    fn identical_text_scores_100() {
        let text = [
            "The cat sat on the mat.",
            "Prices rose 3.5% in 2024, officials said.",
        ];
        let bleu = corpus_of(&text, &text);
        assert!((bleu.score - 100.0).abs() < 1e-12, "{}", bleu.score);
        assert_eq!(
            bleu.verbose(),
            "100.0/100.0/100.0/100.0 (BP = 1.000 ratio = 1.000 hyp_len = 17 ref_len = 17)"
        );
    }

    #[test]
    fn counts_clip_to_the_reference() {
        let s = segment_stats("the the the the", "the cat is on the mat");
        assert_eq!(
            s,
            BleuStats {
                hyp_len: 4,
                ref_len: 6,
                correct: [2, 0, 0, 0],
                total: [4, 3, 2, 1]
            }
        );
    }

    // Expected values from sacrebleu 2.6.0: BLEU().corpus_score(hyps, [refs]) and
    // BLEU(effective_order=True).sentence_score(hyp, [ref]).
    #[test]
    fn smoothing_and_brevity_match_sacrebleu() {
        let bleu = corpus_of(&["the cat sat on a mat"], &["the cat sat on the mat today"]);
        assert!(
            (bleu.score - 45.480_190_470_279_06).abs() < 1e-9,
            "{}",
            bleu.score
        );
        let short = sentence(&segment_stats("the cat", "the cat sat on the mat"));
        assert!(
            (short.score - 13.533_528_323_661_276).abs() < 1e-9,
            "{}",
            short.score
        );
        // Corpus BLEU without effective order: no 4-grams at all means 0.
        assert_eq!(corpus_of(&["the cat"], &["the cat"]).score, 0.0);
        // ... while sentence BLEU uses the orders that exist.
        assert!((sentence(&segment_stats("the cat", "the cat")).score - 100.0).abs() < 1e-12);
    }

    #[test]
    fn empty_and_unmatched_hypotheses_score_0() {
        let empty = corpus_of(&["", ""], &["a b c d", "e f"]);
        assert_eq!(
            (empty.score, empty.bp, empty.hyp_len, empty.ref_len),
            (0.0, 0.0, 0, 6)
        );
        assert_eq!(corpus_of(&["x y z w"], &["a b c d"]).score, 0.0);
        let both_empty = corpus_of(&[""], &[""]);
        assert_eq!(
            (both_empty.score, both_empty.bp, both_empty.ratio),
            (0.0, 1.0, 0.0)
        );
    }

    #[test]
    fn signatures_match_sacrebleu() {
        assert_eq!(
            signature(false),
            format!("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:{SACREBLEU_VERSION}")
        );
        assert!(signature(true).contains("|eff:yes|"));
    }
}
