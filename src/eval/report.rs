//! The result of `warta eval` and its three renderings. The JSON field names are a contract for users'
//! scripts (and `scripts/quality-report.py`); change them only with care.

use std::fmt::Write;

use serde::Serialize;

use super::{bleu, chrf, round2, Scores};
use crate::render::Format;
use crate::translate::EngineInfo;

/// Everything `warta eval` reports. Top-level scores are rounded to two decimals exactly as sacreBLEU
/// prints them; `details` keeps them unrounded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    pub bleu: f64,
    pub chrf: f64,
    pub chrf_pp: f64,
    pub signature: Signatures,
    pub lines: usize,
    /// `marian` or `llm` when warta translated the source (`--src`); `null` when scoring a file.
    pub translator: Option<String>,
    pub model: Option<String>,
    pub timings: Timings,
    pub files: Files,
    pub details: Details,
    /// Per-line scores, with `--per-sentence`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentences: Option<Vec<SentenceScores>>,
}

/// sacreBLEU's signature of each metric, to quote beside the score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signatures {
    pub bleu: String,
    pub chrf: String,
    pub chrf_pp: String,
    /// Sentence BLEU uses effective order; present with `--per-sentence`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentence_bleu: Option<String>,
}

/// Where the time went. Rates are `null` when the time was too short to measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timings {
    /// The whole run: reading, model loading, translating, scoring.
    pub total_s: f64,
    /// Lines per second of translation (`--src`), or of scoring (`--hyp`).
    pub sentences_per_s: Option<f64>,
    /// Target (hypothesis) tokens per second, counted with the `13a` tokenizer, over the same time.
    pub tokens_per_s: Option<f64>,
    pub target_tokens: u64,
    pub load_s: Option<f64>,
    pub translate_s: Option<f64>,
    pub score_s: f64,
}

impl Timings {
    /// Rates over `seconds` of work on `lines` lines holding `tokens` target tokens.
    pub fn rates(lines: usize, tokens: u64, seconds: f64) -> (Option<f64>, Option<f64>) {
        if seconds > 0.0 {
            (Some(lines as f64 / seconds), Some(tokens as f64 / seconds))
        } else {
            (None, None)
        }
    }
}

/// The files that were read (`hyp` is where the translations were saved in `--src` mode, if anywhere).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Files {
    pub src: Option<String>,
    pub hyp: Option<String>,
    #[serde(rename = "ref")]
    pub reference: String,
}

/// Unrounded scores and BLEU's components (n-gram precisions, brevity penalty, lengths).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Details {
    pub bleu: bleu::Bleu,
    pub chrf: f64,
    pub chrf_pp: f64,
}

/// One line's scores: sentence BLEU (effective order), chrF, chrF++.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentenceScores {
    /// 1-based line number.
    pub line: usize,
    pub bleu: f64,
    pub chrf: f64,
    pub chrf_pp: f64,
}

impl EvalReport {
    pub fn new(scores: Scores, files: Files, engine: Option<EngineInfo>, timings: Timings) -> Self {
        let sentences = scores.sentences.map(|all| {
            all.into_iter()
                .map(|s| SentenceScores {
                    line: s.line,
                    bleu: round2(s.bleu),
                    chrf: round2(s.chrf),
                    chrf_pp: round2(s.chrf_pp),
                })
                .collect::<Vec<_>>()
        });
        EvalReport {
            bleu: round2(scores.bleu.score),
            chrf: round2(scores.chrf),
            chrf_pp: round2(scores.chrf_pp),
            signature: Signatures {
                bleu: bleu::signature(false),
                chrf: chrf::CHRF.signature(),
                chrf_pp: chrf::CHRF_PP.signature(),
                sentence_bleu: sentences.is_some().then(|| bleu::signature(true)),
            },
            lines: scores.lines,
            translator: engine.as_ref().map(|e| e.translator.clone()),
            model: engine.map(|e| e.model),
            timings,
            files,
            details: Details {
                bleu: scores.bleu,
                chrf: scores.chrf,
                chrf_pp: scores.chrf_pp,
            },
            sentences,
        }
    }

    /// Render in the requested format; text and Markdown end with a newline.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => {
                let mut json = serde_json::to_string_pretty(self)
                    .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
                json.push('\n');
                json
            }
            Format::Text => self.text(),
            Format::Markdown => self.markdown(),
        }
    }

    /// (name, score, signature) of the three metrics, in sacreBLEU's naming.
    fn metric_rows(&self) -> [(String, f64, &str); 3] {
        [
            ("BLEU".to_string(), self.bleu, self.signature.bleu.as_str()),
            (chrf::CHRF.name(), self.chrf, self.signature.chrf.as_str()),
            (
                chrf::CHRF_PP.name(),
                self.chrf_pp,
                self.signature.chrf_pp.as_str(),
            ),
        ]
    }

    fn files_line(&self) -> String {
        let scored = match (&self.files.src, &self.files.hyp) {
            (Some(src), Some(hyp)) => format!("translations of {src} (saved to {hyp})"),
            (Some(src), None) => format!("translations of {src}"),
            (None, Some(hyp)) => hyp.clone(),
            (None, None) => "hypotheses".to_string(),
        };
        let plural = if self.lines == 1 { "" } else { "s" };
        format!(
            "{} line{plural}: {scored} against {}",
            self.lines, self.files.reference
        )
    }

    fn engine_line(&self) -> Option<String> {
        let translator = self.translator.as_ref()?;
        Some(match &self.model {
            Some(model) => format!("{translator} ({model})"),
            None => translator.clone(),
        })
    }

    fn timing_line(&self) -> String {
        let t = &self.timings;
        let mut line = format!("{:.2} s total", t.total_s);
        if let (Some(load), Some(translate)) = (t.load_s, t.translate_s) {
            let _ = write!(
                line,
                " ({load:.2} s loading, {translate:.2} s translating, {:.2} s scoring)",
                t.score_s
            );
        }
        let work = if t.translate_s.is_some() {
            "translated"
        } else {
            "scored"
        };
        if let (Some(sentences), Some(tokens)) = (t.sentences_per_s, t.tokens_per_s) {
            let _ = write!(
                line,
                "; {sentences:.1} sentences/s and {tokens:.1} target tokens/s {work} (13a tokens)"
            );
        }
        line
    }

    /// The lines under the score table: (label, value).
    fn facts(&self) -> Vec<(&'static str, String)> {
        let mut facts = vec![
            ("BLEU", self.details.bleu.verbose()),
            ("Data", self.files_line()),
        ];
        if let Some(engine) = self.engine_line() {
            facts.push(("Engine", engine));
        }
        facts.push(("Time", self.timing_line()));
        facts
    }

    /// Per-sentence rows (line, BLEU, chrF2, chrF2++) as printed, and the sentence-BLEU signature.
    fn sentence_rows(&self) -> Option<(Vec<[String; 4]>, &str)> {
        let sentences = self.sentences.as_ref()?;
        let rows = sentences
            .iter()
            .map(|s| {
                [
                    s.line.to_string(),
                    format!("{:.2}", s.bleu),
                    format!("{:.2}", s.chrf),
                    format!("{:.2}", s.chrf_pp),
                ]
            })
            .collect();
        Some((
            rows,
            self.signature.sentence_bleu.as_deref().unwrap_or_default(),
        ))
    }

    fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{:<8} {:>6}  signature", "metric", "score");
        for (name, score, signature) in self.metric_rows() {
            let _ = writeln!(out, "{name:<8} {score:>6.2}  {signature}");
        }
        let _ = writeln!(out);
        for (label, value) in self.facts() {
            let _ = writeln!(out, "{label:<8} {value}");
        }
        if let Some((rows, signature)) = self.sentence_rows() {
            let _ = writeln!(out, "\nper sentence (BLEU: {signature})");
            for [line, bleu, chrf, chrf_pp] in
                std::iter::once(["line", "BLEU", "chrF2", "chrF2++"].map(String::from)).chain(rows)
            {
                let _ = writeln!(out, "{line:>6} {bleu:>6} {chrf:>6} {chrf_pp:>7}");
            }
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = String::from("| metric | score | signature |\n|---|---:|---|\n");
        for (name, score, signature) in self.metric_rows() {
            // A `|` splits a table cell even inside a code span unless escaped (GFM).
            let signature = signature.replace('|', "\\|");
            let _ = writeln!(out, "| {name} | {score:.2} | `{signature}` |");
        }
        let _ = writeln!(out);
        for (label, value) in self.facts() {
            let _ = writeln!(out, "- {label}: {value}");
        }
        if let Some((rows, signature)) = self.sentence_rows() {
            let _ = writeln!(out, "\nPer sentence (BLEU: `{signature}`):\n\n| line | BLEU | chrF2 | chrF2++ |\n|---:|---:|---:|---:|");
            for row in rows {
                let _ = writeln!(out, "| {} |", row.join(" | "));
            }
        }
        out
    }
}
