//! `warta batch`: translate a directory tree of articles, in parallel, resumable, sharded.
//!
//! A run walks INPUT_DIR in a fixed order ([`walk`]), optionally keeps one shard of it ([`shard`]),
//! and pushes every file through a bounded pipeline of threads ([`stages`]) that writes each output
//! atomically into a mirror of the tree under OUTPUT_DIR and appends a line per file to
//! `OUTPUT_DIR/manifest.jsonl` ([`manifest`]). The manifest is what makes a run resumable: a file whose
//! last line says it was done for the same content and settings, and whose output is still there, is
//! skipped. One run at a time may write into an OUTPUT_DIR ([`lock`]); Ctrl-C stops cleanly
//! ([`interrupt`]); shard manifests are combined by [`merge`].
//!
//! Exit codes: 0 every file done, 3 some files failed, 1 the run could not start (or could not go on:
//! the manifest cannot be written), 130 interrupted.

pub mod interrupt;
pub mod lock;
pub mod manifest;
pub mod merge;
pub mod report;
pub mod shard;
pub mod stages;
pub mod walk;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::article::{Article, LoadOptions};
use crate::config::{EngineOptions, SummaryOptions, TranslatorKind};
use crate::render::Format;
use crate::pipeline::{Engines, Mode};
use interrupt::Stop;
use manifest::Models;
use report::{Progress, Verbosity};
use shard::Shard;
use walk::Input;

/// What a batch run is asked to do (the command line builds it from `warta batch`'s arguments).
#[derive(Debug, Clone)]
pub struct Options {
    /// Directory of articles (searched recursively); `None` only with `merge_manifests`.
    pub input_dir: Option<PathBuf>,
    /// The output directory (with `merge_manifests`: where the merged manifest goes).
    pub output: Option<PathBuf>,
    /// Globs of files to include (empty: [`walk::DEFAULT_INCLUDE`]) and to skip.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Worker threads (default: all cores).
    pub jobs: Option<usize>,
    /// Redo every file, even those already done.
    pub force: bool,
    /// `K/N`: process only shard K of N.
    pub shard: Option<String>,
    /// Combine these shard directories' manifests instead of translating.
    pub merge_manifests: Vec<PathBuf>,
    pub summary_only: bool,
    pub no_summary: bool,
    /// Refuse input files larger than this many bytes.
    pub max_bytes: u64,
    pub format: Format,
    /// Print nothing but errors.
    pub quiet: bool,
    pub models: EngineOptions,
    pub summary: SummaryOptions,
}

/// Exit code when the run finished but some files failed.
pub const EXIT_SOME_FAILED: u8 = 3;

/// `OUTPUT_DIR/batch.json`: what the directory was made from (for people, and for `--merge-manifests`).
pub const RUN_FILE: &str = "batch.json";

/// Why a batch run could not start or continue.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("{}: cannot use as INPUT_DIR: {reason}", path.display())]
    InputDir { path: PathBuf, reason: String },
    #[error(
        "`warta batch` needs an output directory: add -o OUTPUT_DIR (e.g. `warta batch {} -o {}-en`)",
        input.display(),
        input.display()
    )]
    NoOutputDir { input: PathBuf },
    #[error("{}: cannot create or use as OUTPUT_DIR: {source}", path.display())]
    OutputDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "OUTPUT_DIR {} {relation} INPUT_DIR {}: outputs could be mixed with the inputs; choose an \
         output directory outside the input tree (or inside it: that one is skipped by the walk)",
        output.display(),
        input.display()
    )]
    Overlap {
        input: PathBuf,
        output: PathBuf,
        relation: &'static str,
    },
    #[error("--shard {spec}: {reason}")]
    BadShard { spec: String, reason: String },
    #[error("--include/--exclude glob {glob:?} is not valid: {source}")]
    BadGlob {
        glob: String,
        source: globset::Error,
    },
    #[error(
        "OUTPUT_DIR is in use by another `warta batch` ({holder}); wait for it to finish, or, if that \
         run is gone (e.g. its machine was lost), delete {}",
        path.display()
    )]
    Locked { path: PathBuf, holder: String },
    #[error("cannot create the lock file {}: {source}", path.display())]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}; check that OUTPUT_DIR is writable and not full", path.display())]
    Manifest {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no manifest.jsonl here; give the output directories of `warta batch --shard` runs", dir.display())]
    NoManifest { dir: PathBuf },
    #[error("cannot install the Ctrl-C handler: {0}")]
    Signal(String),
    #[error("batch run failed: {0}")]
    Failed(String),
}

/// Everything that shapes an output. Its fingerprint is recorded on every manifest line; a file is
/// redone when the fingerprint changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub warta: String,
    /// `translate`, `translate+summary` or `summary-only`.
    pub mode: String,
    pub format: String,
    pub translator: Option<String>,
    pub model: Option<String>,
    pub revision: Option<String>,
    pub beams: Option<usize>,
    pub llm: Option<String>,
    /// `llm` or `extractive`.
    pub summarizer: Option<String>,
    pub sentences: Option<u8>,
    /// LLM sampling (temperature, top-p, seed, token limit) and prompt templates, when an LLM is used.
    pub generation: Option<String>,
}

impl Settings {
    fn new(args: &Options, format: Format, mode: Mode, engines: &Engines) -> Settings {
        let translation = engines.translator.as_ref().map(|t| t.info());
        let marian = translation.is_some() && args.models.translator == TranslatorKind::Marian;
        let llm = engines
            .summarizer
            .as_ref()
            .and_then(|s| s.llm_id())
            .or_else(|| {
                (args.models.translator == TranslatorKind::Llm).then(|| args.models.llm.clone())
            });
        let m = &args.models;
        Settings {
            warta: env!("CARGO_PKG_VERSION").to_string(),
            mode: match mode {
                Mode::Translate { summary: true } => "translate+summary",
                Mode::Translate { summary: false } => "translate",
                Mode::SummaryOnly => "summary-only",
            }
            .into(),
            format: format_name(format).into(),
            translator: translation.as_ref().map(|t| t.translator.clone()),
            model: translation.as_ref().map(|t| t.model.clone()),
            revision: marian.then(|| m.revision.clone()),
            beams: marian.then_some(m.beams),
            summarizer: engines.summarizer.as_ref().map(|s| {
                if s.llm_id().is_some() {
                    "llm"
                } else {
                    "extractive"
                }
                .to_string()
            }),
            sentences: engines.summarizer.as_ref().map(|_| args.summary.sentences),
            generation: llm.as_ref().map(|_| {
                let g = &m.generation;
                format!(
                    "temperature={} top_p={:?} seed={} max_new_tokens={} prompts={:?}",
                    g.temperature, g.top_p, g.seed, g.max_new_tokens, m.prompts
                )
            }),
            llm,
        }
    }

    /// 16 hex digits of blake3 over the settings.
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        blake3::hash(json.as_bytes()).to_hex()[..16].to_string()
    }

    fn models(&self) -> Models {
        Models {
            translator: self.translator.clone(),
            model: self.model.clone(),
            llm: self.llm.clone(),
            summarizer: self.summarizer.clone(),
        }
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Text => "text",
        Format::Markdown => "markdown",
        Format::Json => "json",
    }
}

/// The content of `OUTPUT_DIR/batch.json`, rewritten at the start of every run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub input_dir: PathBuf,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// `K/N`, when the run was one shard.
    pub shard: Option<String>,
    pub settings: String,
    pub settings_detail: Settings,
    pub started: String,
    pub command: String,
}

impl RunInfo {
    pub fn read(dir: &Path) -> Option<RunInfo> {
        serde_json::from_str(&fs::read_to_string(dir.join(RUN_FILE)).ok()?).ok()
    }
}

/// Run `warta batch` (or `warta batch --merge-manifests`).
pub fn run(args: &Options) -> crate::Result<ExitCode> {
    let verbosity = verbosity(args.quiet);
    if !args.merge_manifests.is_empty() {
        return merge::run(args, verbosity);
    }
    let input = args
        .input_dir
        .as_deref()
        .ok_or_else(|| BatchError::Failed("no INPUT_DIR given".into()))?;
    let output = args
        .output
        .as_deref()
        .ok_or_else(|| BatchError::NoOutputDir {
            input: input.to_path_buf(),
        })?;
    let (input_root, output_root) = prepare_dirs(input, output)?;
    let shard = args.shard.as_deref().map(str::parse::<Shard>).transpose()?;
    let filter = walk::Filter::new(&args.include, &args.exclude)?;
    let (lock, lock_warning) = lock::Lock::acquire(&output_root)?;
    let progress_note = |msg: &str| {
        if verbosity != Verbosity::Quiet {
            eprintln!("warta: {msg}");
        }
    };
    if let Some(w) = lock_warning {
        progress_note(&w);
    }
    let stop = Stop::default();
    let resume = report::shell_command(std::env::args(), &["--force"]);
    interrupt::install(&stop, lock.path().to_path_buf(), resume.clone())?;
    sweep_temporaries(&output_root);

    let manifest_path = output_root.join(manifest::FILE_NAME);
    let opened = manifest::open_existing(&manifest_path)?;
    for w in &opened.warnings {
        progress_note(w);
    }
    let mode = if args.summary_only {
        Mode::SummaryOnly
    } else {
        Mode::Translate {
            summary: !args.no_summary,
        }
    };
    let mut engines = Engines::load(
        &args.models,
        &args.summary,
        mode,
        verbosity == Verbosity::Bar,
    )?;
    for w in &engines.warnings {
        progress_note(w);
    }
    let settings = Settings::new(args, args.format, mode, &engines);
    let fingerprint = settings.fingerprint();
    let info = RunInfo {
        input_dir: input_root.clone(),
        include: args.include.clone(),
        exclude: args.exclude.clone(),
        shard: shard.map(|s| s.to_string()),
        settings: fingerprint.clone(),
        settings_detail: settings.clone(),
        started: report::rfc3339(SystemTime::now()),
        command: resume.clone(),
    };
    let info_json = serde_json::to_string_pretty(&info).unwrap_or_default() + "\n";
    crate::output::write_atomic(&output_root.join(RUN_FILE), info_json.as_bytes())?;

    let load_options = LoadOptions {
        max_bytes: args.max_bytes,
    };
    let loader = move |bytes: &[u8], input: &Input| load(bytes, input, &load_options);
    let jobs = args.jobs.unwrap_or_else(default_jobs).max(1);
    let skip = if output_root.starts_with(&input_root) {
        vec![output_root.clone()]
    } else {
        vec![]
    };
    let total = stages::inputs(&input_root, &skip, &filter, args.format, shard)
        .filter(|f| !matches!(f, walk::Found::Note(_)))
        .count() as u64;
    if total == 0 {
        progress_note(&format!(
            "no input files in {} (matching {})",
            input_root.display(),
            if args.include.is_empty() {
                walk::DEFAULT_INCLUDE.join(" ")
            } else {
                args.include.join(" ")
            }
        ));
    }
    let progress = Progress::new(verbosity, total);
    let plan = stages::Plan {
        input_root,
        output_root,
        skip,
        filter,
        shard,
        mode,
        format: args.format,
        sentences: usize::from(args.summary.sentences),
        max_bytes: args.max_bytes,
        force: args.force,
        jobs,
        window: (4 * jobs).max(64),
        pool_segments: (8 * args.models.batch_size).max(32),
        pool_articles: 32,
        settings: fingerprint,
        models: settings.models(),
        index: &opened.index,
        loader: &loader,
        stop: stop.clone(),
        progress: &progress,
    };
    let mut writer = manifest::Writer::append_to(&manifest_path)?;
    let end = stages::run(&plan, &mut engines, &mut writer);
    drop(writer);
    let interrupted = matches!(end, Ok(stages::End::Interrupted));
    progress.finish(&manifest_path, interrupted);
    interrupt::uninstall();
    drop(lock);
    let end = end?;
    if end == stages::End::Interrupted {
        eprintln!("warta: interrupted; nothing partial was written; to resume, run:\n  {resume}");
        return Ok(ExitCode::from(interrupt::EXIT_INTERRUPTED));
    }
    Ok(if progress.counts().failed > 0 {
        ExitCode::from(EXIT_SOME_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn verbosity(quiet: bool) -> Verbosity {
    use std::io::IsTerminal;
    if quiet {
        Verbosity::Quiet
    } else if std::io::stderr().is_terminal() {
        Verbosity::Bar
    } else {
        Verbosity::Lines
    }
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Load and clean one input from the bytes already read (and hashed) by the worker.
fn load(bytes: &[u8], input: &Input, opts: &LoadOptions) -> Result<Article, String> {
    crate::article::from_bytes(bytes, &input.rel, Some(Path::new(&input.rel)), opts).map_err(|e| {
        // The manifest line names the file already.
        let msg = e.to_string();
        msg.strip_prefix(&format!("{}: ", input.rel))
            .map_or_else(|| msg.clone(), str::to_string)
    })
}

/// Check INPUT_DIR, create OUTPUT_DIR, and refuse layouts where outputs could land among inputs.
/// Returns both canonical.
fn prepare_dirs(input: &Path, output: &Path) -> Result<(PathBuf, PathBuf), BatchError> {
    let input_root = fs::canonicalize(input).map_err(|e| BatchError::InputDir {
        path: input.to_path_buf(),
        reason: e.to_string(),
    })?;
    if !input_root.is_dir() {
        return Err(BatchError::InputDir {
            path: input.to_path_buf(),
            reason: "not a directory (use `warta translate` for a single file)".into(),
        });
    }
    fs::read_dir(&input_root).map_err(|e| BatchError::InputDir {
        path: input.to_path_buf(),
        reason: format!("cannot list it: {e}"),
    })?;
    let output_root = create_output_dir(output)?;
    let overlap = |relation| BatchError::Overlap {
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        relation,
    };
    if output_root == input_root {
        return Err(overlap("is the same directory as"));
    }
    if input_root.starts_with(&output_root) {
        return Err(overlap("contains"));
    }
    Ok((input_root, output_root))
}

/// Create OUTPUT_DIR (and its parents) if needed; returns its canonical path.
fn create_output_dir(output: &Path) -> Result<PathBuf, BatchError> {
    let err = |source| BatchError::OutputDir {
        path: output.to_path_buf(),
        source,
    };
    fs::create_dir_all(output).map_err(err)?;
    fs::canonicalize(output).map_err(err)
}

/// Remove temporary files a killed run left in OUTPUT_DIR (ours only: hidden, ending in `.tmp`, named
/// after an output, the manifest, the run file, or a lock taken aside). Runs under the lock, so no live
/// run owns them.
fn sweep_temporaries(root: &Path) {
    for entry in walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .flatten()
    {
        if entry.file_type().is_file() && is_our_temporary(&entry.file_name().to_string_lossy()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn is_our_temporary(name: &str) -> bool {
    let lock_aside = name.starts_with(&format!("{}.stale.", lock::FILE_NAME));
    let tmp = name.starts_with('.')
        && name.ends_with(".tmp")
        && (name.contains(".en.")
            || name.starts_with(&format!(".{}.", manifest::FILE_NAME))
            || name.starts_with(&format!(".{RUN_FILE}.")));
    lock_aside || tmp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_temporaries_are_swept() {
        for ours in [
            ".x.en.md.a1B2c3.tmp",
            ".manifest.jsonl.Zz9.tmp",
            ".batch.json.abc.tmp",
            ".warta-batch.lock.stale.123",
        ] {
            assert!(is_our_temporary(ours), "{ours}");
        }
        for theirs in [
            "x.en.md",
            ".x.tmp",
            "notes.en.tmp",
            ".manifest.jsonl",
            "a.en.md.tmp",
        ] {
            assert!(!is_our_temporary(theirs), "{theirs}");
        }
    }

    #[test]
    fn overlapping_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        fs::create_dir(&input).unwrap();
        assert!(prepare_dirs(&input, &input)
            .unwrap_err()
            .to_string()
            .contains("same directory"));
        assert!(prepare_dirs(&input, dir.path())
            .unwrap_err()
            .to_string()
            .contains("contains"));
        let (i, o) = prepare_dirs(&input, &input.join("out")).unwrap();
        assert!(o.starts_with(&i));
        let file = dir.path().join("f.txt");
        fs::write(&file, "x").unwrap();
        assert!(prepare_dirs(&file, &dir.path().join("o"))
            .unwrap_err()
            .to_string()
            .contains("not a directory"));
    }
}
