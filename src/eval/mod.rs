//! `warta eval`: corpus BLEU, chrF and chrF++ exactly as sacreBLEU computes them.
//!
//! Scores follow sacreBLEU 2.x with its default options (BLEU: `13a` tokenisation, exponential
//! smoothing, case-sensitive; chrF: β = 2, character order 6; chrF++: word order 2), one reference per
//! segment. Files are read as sacreBLEU's command line reads them (UTF-8, split at `\n` only, trailing
//! whitespace stripped), so `warta eval --hyp H --ref R` prints what `sacrebleu R -i H -m bleu chrf`
//! prints. `tests/fixtures/eval/` holds sacreBLEU's own scores for committed test files and the script
//! that produced them.

pub mod bleu;
pub mod chrf;
pub(crate) mod input;
mod pystr;
mod report;
mod run;
pub mod tokenize_13a;

use std::path::PathBuf;

pub use input::{read_lines, read_pair};
pub use report::{EvalReport, SentenceScores, Timings};
pub use run::{evaluate_hyp, evaluate_src, run, EvalOptions, SrcJob};

/// The sacreBLEU release whose scores warta reproduces (and which the fixtures were made with); it is
/// the `version:` field of the signatures, so a figure from warta can be compared with sacreBLEU's.
pub const SACREBLEU_VERSION: &str = "2.6.0";

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {}: {source}; check the path and permissions", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not valid UTF-8 (line {line}); convert it first, e.g. `iconv -f LATIN1 -t UTF-8`", path.display())]
    NotUtf8 { path: PathBuf, line: usize },
    #[error("{} has no lines to score", path.display())]
    Empty { path: PathBuf },
    #[error(
        "line counts differ: {what} {} has {lines} lines but reference {} has {ref_lines}{limited}; \
         line N of each must be the same segment",
        path.display(),
        ref_path.display()
    )]
    LineCount {
        what: &'static str,
        path: PathBuf,
        lines: usize,
        ref_path: PathBuf,
        ref_lines: usize,
        limited: String,
    },
    #[error("the {engine} translator returned {got} lines for {expected} source lines; this is a bug in warta, please report it")]
    TranslatorOutput {
        engine: String,
        expected: usize,
        got: usize,
    },
}

/// Corpus scores of one system, and optionally each segment's own.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    pub bleu: bleu::Bleu,
    pub chrf: f64,
    pub chrf_pp: f64,
    /// Number of segments scored.
    pub lines: usize,
    /// Hypothesis tokens (`13a`), for throughput figures.
    pub hyp_tokens: u64,
    pub sentences: Option<Vec<SentenceScores>>,
}

/// Score hypotheses against references, line for line (the slices must have the same length; extra
/// lines of the longer one are ignored). With `per_sentence`, sentence BLEU (effective order, as
/// sacreBLEU's `sentence_score`) and sentence chrF/chrF++ are kept for every line.
pub fn score(hyps: &[String], refs: &[String], per_sentence: bool) -> Scores {
    let mut bleu_stats = Vec::with_capacity(hyps.len());
    let mut chrf_stats = Vec::with_capacity(hyps.len());
    let mut chrf_pp_stats = Vec::with_capacity(hyps.len());
    for (hyp, reference) in hyps.iter().zip(refs) {
        bleu_stats.push(bleu::segment_stats(hyp, reference));
        // chrF and chrF++ share their character n-grams (same order): count them once.
        let chars = chrf::char_stats(hyp, reference, chrf::CHRF.char_order);
        let mut with_words = chars.clone();
        with_words.extend(chrf::word_stats(hyp, reference, chrf::CHRF_PP.word_order));
        chrf_stats.push(chars);
        chrf_pp_stats.push(with_words);
    }
    let sentences = per_sentence.then(|| {
        (0..bleu_stats.len())
            .map(|i| SentenceScores {
                line: i + 1,
                bleu: bleu::sentence(&bleu_stats[i]).score,
                chrf: chrf::CHRF.f_score(&chrf_stats[i]),
                chrf_pp: chrf::CHRF_PP.f_score(&chrf_pp_stats[i]),
            })
            .collect()
    });
    let bleu = bleu::corpus(&bleu_stats);
    Scores {
        hyp_tokens: bleu.hyp_len,
        bleu,
        chrf: chrf::CHRF.corpus(&chrf_stats),
        chrf_pp: chrf::CHRF_PP.corpus(&chrf_pp_stats),
        lines: bleu_stats.len(),
        sentences,
    }
}

const _: () =
    assert!(chrf::CHRF.char_order == chrf::CHRF_PP.char_order && chrf::CHRF.word_order == 0);

/// A score as sacreBLEU prints it (`f"{score:.2f}"`) and puts in its JSON (`float(f"{score:.2f}")`).
pub fn round2(score: f64) -> f64 {
    format!("{score:.2}").parse().unwrap_or(score)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_matches_python_format() {
        // Python: f"{x:.2f}" rounds the exact binary value, ties to even.
        for (x, text) in [
            (0.125, "0.12"),
            (0.375, "0.38"),
            (2.675, "2.67"),
            (99.995, "100.00"),
            (2.5, "2.50"),
            (100.0, "100.00"),
            (0.0, "0.00"),
        ] {
            assert_eq!(format!("{x:.2}"), text);
            assert_eq!(round2(x), text.parse::<f64>().unwrap());
        }
    }

    /// Every case of `tests/fixtures/eval/expected.json` (made by sacreBLEU 2.6.0 through
    /// `scripts/eval-fixtures.py`): corpus and sentence scores, unrounded, BLEU's components, signatures.
    #[test]
    fn fixtures_match_sacrebleu_exactly() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eval");
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap())
                .unwrap();
        assert_eq!(expected["sacrebleu_version"], SACREBLEU_VERSION);
        let cases = expected["cases"].as_array().unwrap();
        assert!(cases.len() >= 20);
        let close = |got: f64, want: &serde_json::Value, what: &str| {
            let want = want.as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-9,
                "{what}: warta {got}, sacreBLEU {want}"
            );
        };
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let limit = case["limit"].as_u64().map(|n| n as usize);
            let hyp = dir.join(case["hyp"].as_str().unwrap());
            let reference = dir.join(case["ref"].as_str().unwrap());
            let (hyps, refs) = read_pair("hypothesis", &hyp, &reference, limit).unwrap();
            let scores = score(&hyps, &refs, true);
            assert_eq!(
                scores.lines as u64,
                case["lines"].as_u64().unwrap(),
                "{name}"
            );
            close(
                scores.bleu.score,
                &case["bleu"]["score"],
                &format!("{name} BLEU"),
            );
            close(scores.chrf, &case["chrf"]["score"], &format!("{name} chrF"));
            close(
                scores.chrf_pp,
                &case["chrf_pp"]["score"],
                &format!("{name} chrF++"),
            );
            assert_eq!(
                scores.bleu.verbose(),
                case["bleu"]["verbose"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(
                bleu::signature(false),
                case["bleu"]["signature"].as_str().unwrap()
            );
            assert_eq!(
                bleu::signature(true),
                case["sentence_bleu_signature"].as_str().unwrap()
            );
            assert_eq!(
                chrf::CHRF.signature(),
                case["chrf"]["signature"].as_str().unwrap()
            );
            assert_eq!(
                chrf::CHRF_PP.signature(),
                case["chrf_pp"]["signature"].as_str().unwrap()
            );
            let sentences = scores.sentences.unwrap();
            let want = case["sentences"].as_array().unwrap();
            assert_eq!(sentences.len(), want.len(), "{name}");
            for (s, w) in sentences.iter().zip(want) {
                let what = format!("{name} line {}", s.line);
                close(s.bleu, &w[0], &format!("{what} BLEU"));
                close(s.chrf, &w[1], &format!("{what} chrF"));
                close(s.chrf_pp, &w[2], &format!("{what} chrF++"));
            }
        }
    }

    #[test]
    fn per_sentence_scores_use_effective_order() {
        let hyps = vec!["the cat".to_string(), String::new()];
        let refs = vec!["the cat".to_string(), "a dog".to_string()];
        let scores = score(&hyps, &refs, true);
        let sentences = scores
            .sentences
            .expect("per-sentence scores were asked for");
        assert_eq!(sentences.len(), 2);
        assert!(
            (sentences[0].bleu - 100.0).abs() < 1e-9 && (sentences[0].chrf - 100.0).abs() < 1e-9
        );
        assert_eq!(
            (sentences[1].bleu, sentences[1].chrf, sentences[1].chrf_pp),
            (0.0, 0.0, 0.0)
        );
        // The corpus has no 3- or 4-grams: corpus BLEU (no effective order) is 0, as in sacreBLEU.
        assert_eq!(scores.bleu.score, 0.0);
        assert_eq!((scores.lines, scores.hyp_tokens), (2, 2));
    }
}
