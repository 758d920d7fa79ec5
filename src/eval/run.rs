//! The two ways `warta eval` runs: score an existing hypothesis file (`--hyp`), or translate a source
//! file with one of warta's engines and score the result (`--src`).

use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::report::{Files, Timings};
use super::{pystr, read_pair, score, EvalError, EvalReport};
use crate::translate::Translator;

/// What `warta eval` scores: `hyp` against `reference`, or the translation of `src` made with `models`.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub hyp: Option<std::path::PathBuf>,
    pub src: Option<std::path::PathBuf>,
    pub reference: std::path::PathBuf,
    /// Use only the first N lines.
    pub limit: Option<usize>,
    /// Also report every line's own scores.
    pub per_sentence: bool,
    /// With `src`: also write the translations here.
    pub save_hyp: Option<std::path::PathBuf>,
    pub models: crate::config::EngineOptions,
}

/// Run an evaluation; `progress` shows a progress bar while translating.
pub fn run(args: &EvalOptions, progress: bool) -> crate::Result<EvalReport> {
    match (&args.hyp, &args.src) {
        (Some(hyp), _) => Ok(evaluate_hyp(
            hyp,
            &args.reference,
            args.limit,
            args.per_sentence,
        )?),
        (None, Some(src)) => {
            let started = Instant::now();
            // Read and check the files before spending time on loading a model.
            let (sources, refs) = read_pair("source", src, &args.reference, args.limit)?;
            if let Some(save) = &args.save_hyp {
                refuse_to_overwrite(save, &[src, &args.reference])?;
            }
            let mut translator = crate::translate::build(&args.models)?;
            let load_s = started.elapsed().as_secs_f64();
            let progress = if progress {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            };
            let job = SrcJob {
                src,
                sources,
                reference: &args.reference,
                refs,
                chunk: args.models.batch_size.max(1),
                per_sentence: args.per_sentence,
                save_hyp: args.save_hyp.as_deref(),
            };
            evaluate_src(job, translator.as_mut(), started, load_s, progress)
        }
        // The front end requires one of hyp and src.
        (None, None) => Err(crate::Error::Internal(
            "`warta eval` without --hyp or --src",
        )),
    }
}

/// Score the hypothesis file `hyp` against `reference`.
pub fn evaluate_hyp(
    hyp: &Path,
    reference: &Path,
    limit: Option<usize>,
    per_sentence: bool,
) -> Result<EvalReport, EvalError> {
    let started = Instant::now();
    let (hyps, refs) = read_pair("hypothesis", hyp, reference, limit)?;
    let scores = score(&hyps, &refs, per_sentence);
    let seconds = started.elapsed().as_secs_f64();
    let (sentences_per_s, tokens_per_s) = Timings::rates(scores.lines, scores.hyp_tokens, seconds);
    let timings = Timings {
        total_s: seconds,
        sentences_per_s,
        tokens_per_s,
        target_tokens: scores.hyp_tokens,
        load_s: None,
        translate_s: None,
        score_s: seconds,
    };
    let files = Files {
        src: None,
        hyp: Some(hyp.display().to_string()),
        reference: reference.display().to_string(),
    };
    Ok(EvalReport::new(scores, files, None, timings))
}

/// A source file to translate and score, already read and checked against its reference.
pub struct SrcJob<'a> {
    pub src: &'a Path,
    pub sources: Vec<String>,
    pub reference: &'a Path,
    pub refs: Vec<String>,
    /// Lines handed to the translator per call: progress and timings advance per chunk.
    pub chunk: usize,
    pub per_sentence: bool,
    /// Where to write the translations, one line per source line.
    pub save_hyp: Option<&'a Path>,
}

/// Translate `job.sources` line by line (`--raw` semantics: one line in, one line out) and score them.
/// `started` is when the whole run began and `load_s` how long loading the model took, for the timings.
pub fn evaluate_src(
    job: SrcJob<'_>,
    translator: &mut dyn Translator,
    started: Instant,
    load_s: f64,
    progress: ProgressDrawTarget,
) -> crate::Result<EvalReport> {
    let engine = translator.info();
    let bar = ProgressBar::with_draw_target(Some(job.sources.len() as u64), progress);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} lines, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(format!("translating with {}", engine.translator));

    let translate_start = Instant::now();
    let mut hyps = Vec::with_capacity(job.sources.len());
    for chunk in job.sources.chunks(job.chunk.max(1)) {
        hyps.extend(translate_lines(translator, &engine.translator, chunk)?);
        bar.inc(chunk.len() as u64);
    }
    let translate_s = translate_start.elapsed().as_secs_f64();
    bar.finish_and_clear();

    if let Some(path) = job.save_hyp {
        let mut text = hyps.join("\n");
        text.push('\n');
        crate::output::write_atomic(path, text.as_bytes())?;
    }

    let score_start = Instant::now();
    let scores = score(&hyps, &job.refs, job.per_sentence);
    let score_s = score_start.elapsed().as_secs_f64();
    let (sentences_per_s, tokens_per_s) =
        Timings::rates(scores.lines, scores.hyp_tokens, translate_s);
    let timings = Timings {
        total_s: started.elapsed().as_secs_f64(),
        sentences_per_s,
        tokens_per_s,
        target_tokens: scores.hyp_tokens,
        load_s: Some(load_s),
        translate_s: Some(translate_s),
        score_s,
    };
    let files = Files {
        src: Some(job.src.display().to_string()),
        hyp: job.save_hyp.map(|p| p.display().to_string()),
        reference: job.reference.display().to_string(),
    };
    Ok(EvalReport::new(scores, files, Some(engine), timings))
}

/// Translate one chunk of lines. Empty lines are not sent to the engine (their translation is empty),
/// and each translation is folded onto one line so the output pairs up with the reference.
fn translate_lines(
    translator: &mut dyn Translator,
    engine: &str,
    lines: &[String],
) -> crate::Result<Vec<String>> {
    let blank = |line: &str| pystr::split(line).next().is_none();
    let todo: Vec<String> = lines.iter().filter(|l| !blank(l)).cloned().collect();
    let done = if todo.is_empty() {
        Vec::new()
    } else {
        translator.translate_segments(&todo)?
    };
    if done.len() != todo.len() {
        return Err(EvalError::TranslatorOutput {
            engine: engine.to_string(),
            expected: todo.len(),
            got: done.len(),
        }
        .into());
    }
    let mut done = done.into_iter();
    Ok(lines
        .iter()
        .map(|line| match blank(line) {
            true => String::new(),
            false => done
                .next()
                .map(|t| pystr::split(&t).collect::<Vec<_>>().join(" "))
                .unwrap_or_default(),
        })
        .collect())
}

/// Refuse to write translations over one of the input files.
fn refuse_to_overwrite(target: &Path, inputs: &[&Path]) -> Result<(), crate::Error> {
    let canonical = |p: &Path| std::fs::canonicalize(p).ok();
    if let Some(t) = canonical(target) {
        if inputs.iter().any(|i| canonical(i).as_ref() == Some(&t)) {
            return Err(crate::Error::Output {
                path: target.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "--save-hyp names an input file; choose another file for the translations",
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::{EngineInfo, TranslateError};

    /// A stand-in engine: "translates" by upper-casing, spreads one answer over two lines, and records
    /// how it was called.
    struct Upper {
        calls: Vec<usize>,
    }

    impl Translator for Upper {
        fn info(&self) -> EngineInfo {
            EngineInfo {
                translator: "upper".into(),
                model: "test".into(),
            }
        }
        fn translate_segments(
            &mut self,
            segments: &[String],
        ) -> Result<Vec<String>, TranslateError> {
            self.calls.push(segments.len());
            Ok(segments
                .iter()
                .map(|s| format!("{}\n ", s.to_uppercase()))
                .collect())
        }
    }

    /// An engine that loses lines, to check the pairing guard.
    struct Lossy;

    impl Translator for Lossy {
        fn info(&self) -> EngineInfo {
            EngineInfo {
                translator: "lossy".into(),
                model: "test".into(),
            }
        }
        fn translate_segments(
            &mut self,
            segments: &[String],
        ) -> Result<Vec<String>, TranslateError> {
            Ok(segments.iter().skip(1).cloned().collect())
        }
    }

    fn job<'a>(
        dir: &'a Path,
        sources: &[&str],
        refs: &[&str],
        save: Option<&'a Path>,
    ) -> SrcJob<'a> {
        SrcJob {
            src: dir,
            sources: sources.iter().map(|s| s.to_string()).collect(),
            reference: dir,
            refs: refs.iter().map(|s| s.to_string()).collect(),
            chunk: 2,
            per_sentence: true,
            save_hyp: save,
        }
    }

    #[test]
    fn src_mode_translates_in_chunks_and_scores_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let saved = dir.path().join("hyp.txt");
        let sources = ["satu dua", "", "tiga empat lima", "enam"];
        let refs = ["SATU DUA", "kosong", "TIGA EMPAT LIMA", "ENAM"];
        let mut engine = Upper { calls: Vec::new() };
        let report = evaluate_src(
            job(dir.path(), &sources, &refs, Some(&saved)),
            &mut engine,
            Instant::now(),
            0.5,
            ProgressDrawTarget::hidden(),
        )
        .unwrap();
        // Chunks of two lines; the empty line never reaches the engine.
        assert_eq!(engine.calls, [1, 2]);
        assert_eq!(
            std::fs::read_to_string(&saved).unwrap(),
            "SATU DUA\n\nTIGA EMPAT LIMA\nENAM\n"
        );
        assert_eq!(
            (report.translator.as_deref(), report.model.as_deref()),
            (Some("upper"), Some("test"))
        );
        assert_eq!(
            (
                report.lines,
                report.timings.target_tokens,
                report.timings.load_s
            ),
            (4, 6, Some(0.5))
        );
        let sentences = report.sentences.as_ref().unwrap();
        assert_eq!(sentences[1].bleu, 0.0);
        assert_eq!((sentences[2].bleu, sentences[2].chrf), (100.0, 100.0));
        // The same text read back from the saved file scores the same.
        let reference = dir.path().join("ref.txt");
        std::fs::write(&reference, refs.join("\n")).unwrap();
        let again = evaluate_hyp(&saved, &reference, None, false).unwrap();
        assert_eq!(
            (again.bleu, again.chrf, again.chrf_pp),
            (report.bleu, report.chrf, report.chrf_pp)
        );
    }

    #[test]
    fn an_engine_that_drops_lines_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = evaluate_src(
            job(dir.path(), &["a", "b"], &["a", "b"], None),
            &mut Lossy,
            Instant::now(),
            0.0,
            ProgressDrawTarget::hidden(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("returned 1 lines for 2 source lines"), "{err}");
    }

    #[test]
    fn save_hyp_never_overwrites_an_input() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.txt");
        std::fs::write(&src, "x\n").unwrap();
        let err = refuse_to_overwrite(&dir.path().join(".").join("src.txt"), &[&src])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--save-hyp names an input file"), "{err}");
        assert!(refuse_to_overwrite(&dir.path().join("new.txt"), &[&src]).is_ok());
    }
}
