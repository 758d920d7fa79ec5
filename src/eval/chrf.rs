//! chrF (Popović 2015) and chrF++ (Popović 2017) as sacreBLEU 2.x computes them with its defaults:
//! β = 2, character n-grams up to 6 with whitespace removed, case-sensitive, effective-order averaging
//! (`eps_smoothing=False`), and word n-grams up to 2 for chrF++.
//!
//! Follows `sacrebleu/metrics/chrf.py` and `helpers.py`: per-segment `[hyp, ref, match]` counts for every
//! order are summed over the corpus, then averaged into one F-score with the same floating-point
//! operations in the same order as sacreBLEU.

use std::collections::HashMap;
use std::hash::Hash;

use super::{pystr, SACREBLEU_VERSION};

/// Which chrF variant: character and word n-gram orders and β.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chrf {
    pub char_order: usize,
    pub word_order: usize,
    pub beta: u32,
}

/// chrF with sacreBLEU's defaults (`CHRF()`).
pub const CHRF: Chrf = Chrf {
    char_order: 6,
    word_order: 0,
    beta: 2,
};
/// chrF++ (`CHRF(word_order=2)`).
pub const CHRF_PP: Chrf = Chrf {
    char_order: 6,
    word_order: 2,
    beta: 2,
};

/// sacreBLEU's `string.punctuation`, which chrF++ splits off the ends of words.
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// Count the n-grams (windows of `n` items) of a sequence.
fn count<T: Eq + Hash>(items: &[T], n: usize) -> HashMap<&[T], u64> {
    let mut counts = HashMap::new();
    if n > 0 {
        for gram in items.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

/// `[hyp n-grams, ref n-grams, clipped matches]` for one order (`CHRF._get_match_statistics`).
fn match_stats<T: Eq + Hash>(hyp: &HashMap<&[T], u64>, reference: &HashMap<&[T], u64>) -> [u64; 3] {
    let mut hyp_count = 0;
    let mut matches = 0;
    for (gram, &n) in hyp {
        hyp_count += n;
        if let Some(&in_ref) = reference.get(gram) {
            matches += n.min(in_ref);
        }
    }
    // sacreBLEU does not count hypothesis n-grams of an order the reference has none of.
    let hyp_count = if reference.is_empty() { 0 } else { hyp_count };
    [hyp_count, reference.values().sum(), matches]
}

/// chrF++'s word splitting (`CHRF._remove_punctuation`): one ASCII punctuation mark is split off the end
/// of a word, or else off its start; one-character words stay whole.
fn words(sentence: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for w in pystr::split(sentence) {
        let mut chars = w.chars();
        let (first, last) = (chars.next(), chars.next_back());
        match (first, last) {
            (Some(_), Some(l)) if PUNCTUATION.contains(l) => {
                let cut = w.len() - l.len_utf8();
                out.extend([&w[..cut], &w[cut..]]);
            }
            (Some(f), Some(_)) if PUNCTUATION.contains(f) => {
                let cut = f.len_utf8();
                out.extend([&w[..cut], &w[cut..]]);
            }
            _ => out.push(w),
        }
    }
    out
}

/// `[hyp, ref, match]` of the character n-grams of orders 1 to `order`. Character n-grams ignore
/// whitespace entirely (`''.join(line.split())`).
pub fn char_stats(hyp: &str, reference: &str, order: usize) -> Vec<u64> {
    let hyp_chars: Vec<char> = pystr::split(hyp).flat_map(str::chars).collect();
    let ref_chars: Vec<char> = pystr::split(reference).flat_map(str::chars).collect();
    (1..=order)
        .flat_map(|n| match_stats(&count(&hyp_chars, n), &count(&ref_chars, n)))
        .collect()
}

/// `[hyp, ref, match]` of the word n-grams of orders 1 to `order` (chrF++'s addition; none for chrF).
pub fn word_stats(hyp: &str, reference: &str, order: usize) -> Vec<u64> {
    if order == 0 {
        return Vec::new();
    }
    let (hyp_words, ref_words) = (words(hyp), words(reference));
    (1..=order)
        .flat_map(|n| match_stats(&count(&hyp_words, n), &count(&ref_words, n)))
        .collect()
}

impl Chrf {
    /// Number of n-gram orders, character and word.
    pub fn orders(&self) -> usize {
        self.char_order + self.word_order
    }

    /// sacreBLEU's name for the variant: `chrF2`, `chrF2++`.
    pub fn name(&self) -> String {
        format!("chrF{}{}", self.beta, "+".repeat(self.word_order))
    }

    /// sacreBLEU's signature for this variant with default options.
    pub fn signature(&self) -> String {
        format!(
            "nrefs:1|case:mixed|eff:yes|nc:{}|nw:{}|space:no|version:{SACREBLEU_VERSION}",
            self.char_order, self.word_order
        )
    }

    /// `[hyp, ref, match]` for every order, flattened: the statistics of one segment.
    pub fn segment_stats(&self, hyp: &str, reference: &str) -> Vec<u64> {
        let mut stats = char_stats(hyp, reference, self.char_order);
        stats.extend(word_stats(hyp, reference, self.word_order));
        stats
    }

    /// The F-score of (summed) statistics: `CHRF._compute_f_score` with `eps_smoothing=False`. Precision
    /// and recall are averaged over the orders where both sides have n-grams.
    pub fn f_score(&self, stats: &[u64]) -> f64 {
        let factor = f64::from(self.beta * self.beta);
        let (mut avg_prec, mut avg_rec) = (0.0, 0.0);
        let mut effective_order = 0u32;
        for order in stats.chunks_exact(3).take(self.orders()) {
            let (n_hyp, n_ref, n_match) = (order[0], order[1], order[2]);
            if n_hyp > 0 && n_ref > 0 {
                avg_prec += n_match as f64 / n_hyp as f64;
                avg_rec += n_match as f64 / n_ref as f64;
                effective_order += 1;
            }
        }
        if effective_order == 0 {
            return 0.0;
        }
        avg_prec /= f64::from(effective_order);
        avg_rec /= f64::from(effective_order);
        if avg_prec + avg_rec == 0.0 {
            return 0.0;
        }
        let score = (1.0 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec);
        100.0 * score
    }

    /// Corpus score over statistics already computed per segment.
    pub fn corpus(&self, segments: &[Vec<u64>]) -> f64 {
        let mut sum = vec![0u64; 3 * self.orders()];
        for s in segments {
            for (total, x) in sum.iter_mut().zip(s) {
                *total += x;
            }
        }
        self.f_score(&sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus_of(chrf: Chrf, hyps: &[&str], refs: &[&str]) -> f64 {
        let stats: Vec<Vec<u64>> = hyps
            .iter()
            .zip(refs)
            .map(|(h, r)| chrf.segment_stats(h, r))
            .collect();
        chrf.corpus(&stats)
    }

    #[test]
    fn words_split_punctuation_like_sacrebleu() {
        // sacreBLEU issue #124: only one end is split, so "(hi)" becomes "(hi" and ")".
        assert_eq!(
            words("(hi) there. \"ok a , é."),
            ["(hi", ")", "there", ".", "\"", "ok", "a", ",", "é", "."]
        );
        assert_eq!(words("“kutip” — x"), ["“kutip”", "—", "x"]);
    }

    // Expected values from sacrebleu 2.6.0: CHRF() and CHRF(word_order=2), sentence_score / corpus_score.
    #[test]
    fn scores_match_sacrebleu() {
        let cases: [(&str, &str, f64, f64); 8] = [
            (
                "the cat sat on a mat",
                "the cat sat on the mat today",
                52.32991115366915,
                55.011123256352334,
            ),
            ("", "abc", 0.0, 0.0),
            ("abc", "", 0.0, 0.0),
            ("", "", 0.0, 0.0),
            ("a", "a", 100.0, 100.0),
            (
                "(hi) there.",
                "hi there",
                48.88786247586029,
                41.92967108983681,
            ),
            ("ab", "ab", 100.0, 100.0),
            ("x", "y", 0.0, 0.0),
        ];
        for (hyp, reference, chrf, chrf_pp) in cases {
            let got = (
                corpus_of(CHRF, &[hyp], &[reference]),
                corpus_of(CHRF_PP, &[hyp], &[reference]),
            );
            assert!(
                (got.0 - chrf).abs() < 1e-9 && (got.1 - chrf_pp).abs() < 1e-9,
                "{hyp:?} / {reference:?}: {got:?}"
            );
        }
        let hyps = ["the cat sat on a mat", "x"];
        let refs = ["the cat sat on the mat today", "y"];
        assert!((corpus_of(CHRF, &hyps, &refs) - 51.771503142677886).abs() < 1e-9);
        assert!((corpus_of(CHRF_PP, &hyps, &refs) - 53.413703815659176).abs() < 1e-9);
    }

    #[test]
    fn names_and_signatures_match_sacrebleu() {
        assert_eq!(
            (CHRF.name(), CHRF_PP.name()),
            ("chrF2".to_string(), "chrF2++".to_string())
        );
        assert_eq!(
            CHRF.signature(),
            format!("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:{SACREBLEU_VERSION}")
        );
        assert_eq!(
            CHRF_PP.signature(),
            format!("nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:{SACREBLEU_VERSION}")
        );
    }
}
