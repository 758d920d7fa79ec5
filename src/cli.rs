//! The command line: argument definitions (clap derive) and the dispatch from a parsed [`Cli`] to the
//! library. `main.rs` only parses and reports errors.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Translate Indonesian news articles into English and summarise them, locally.
#[derive(Debug, Parser)]
#[command(name = "warta", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: GlobalArgs,
}

impl Cli {
    /// The `--threads` of whichever command was given, if any.
    pub fn threads(&self) -> Option<usize> {
        match &self.command {
            Command::Translate(a) => a.models.threads,
            Command::Summarize(a) => a.models.threads,
            Command::Batch(a) => a.models.threads,
            Command::Eval(a) => a.models.threads,
            Command::Bench(a) => a.models.threads,
            Command::Serve(a) => a.models.threads,
            Command::Models(_) | Command::Clean(_) | Command::Completions { .. } => None,
        }
    }
}

/// Options every command takes.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub format: Format,
    /// Write the result to FILE instead of standard output (for `batch`: the output directory).
    #[arg(short, long, value_name = "FILE", global = true)]
    pub output: Option<PathBuf>,
    /// Print nothing but errors on standard error.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more about what is happening (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    #[value(alias = "md")]
    Markdown,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Translate an article into English, with a short summary.
    #[command(
        after_help = "Example:\n  warta translate examples/kompas-nato.txt\n  warta translate page.html --format markdown -o page.en.md"
    )]
    Translate(TranslateArgs),
    /// Write only a short English summary of an article (fast triage: no full translation).
    #[command(after_help = "Example:\n  warta summarize examples/kompas-nato.txt --sentences 3")]
    Summarize(SummarizeArgs),
    /// Translate every article in a directory tree: parallel, resumable, shardable.
    #[command(after_help = BATCH_HELP)]
    Batch(BatchArgs),
    /// Show what the loader keeps of an article, and what it removed.
    #[command(
        after_help = "Example:\n  warta clean examples/kompas-nato.txt\n  warta clean page.html --format json"
    )]
    Clean(CleanArgs),
    /// Show which models are cached and where.
    #[command(after_help = "Example:\n  warta models")]
    Models(ModelsArgs),
    /// Score translations with BLEU, chrF and chrF++ (identical to sacreBLEU).
    #[command(
        after_help = "Example:\n  warta eval --hyp out.txt --ref ref.en.txt\n  warta eval --src test.id --ref test.en --limit 200"
    )]
    Eval(EvalArgs),
    /// Measure translation and LLM speed on this machine.
    #[command(after_help = "Example:\n  warta bench --llm model.gguf")]
    Bench(BenchArgs),
    /// Serve the LibreTranslate API, warta's own /v1 API and an article page over HTTP.
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  warta completions bash > ~/.local/share/bash-completion/completions/warta"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// How input files are read.
#[derive(Debug, Args, Clone)]
pub struct InputArgs {
    /// Refuse input files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 5_000_000)]
    pub max_bytes: u64,
}

#[derive(Debug, Args, Clone)]
pub struct CleanArgs {
    /// Article file (.txt, .md, .html, or none: sniffed), or `-` for standard input.
    pub input: String,
    #[command(flatten)]
    pub input_opts: InputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TranslatorKind {
    /// Helsinki-NLP opus-mt-id-en (Marian) through candle: fast, sentence by sentence.
    Marian,
    /// A GGUF instruct LLM through candle: paragraph by paragraph, with context.
    Llm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SummarizerKind {
    /// The LLM when it can be loaded, else extractive (with a warning).
    Auto,
    /// LLM summary checked against the source.
    Llm,
    /// Lead-biased sentence ranking; needs no LLM.
    Extractive,
}

/// Which models to use and where they come from.
#[derive(Debug, Args, Clone)]
pub struct ModelArgs {
    /// Translation engine.
    #[arg(long, value_enum, default_value_t = TranslatorKind::Marian)]
    pub translator: TranslatorKind,
    /// Marian model: a Hub repo id or a local directory.
    #[arg(
        long,
        value_name = "REPO|DIR",
        env = "WARTA_MODEL",
        default_value = "Helsinki-NLP/opus-mt-id-en"
    )]
    pub model: String,
    /// Hub revision (branch, tag or commit) of the Marian model.
    #[arg(long, value_name = "REV", default_value = "main")]
    pub revision: String,
    /// LLM: `REPO/FILE.gguf` on the Hub, or a local .gguf path.
    #[arg(
        long,
        value_name = "REPO/FILE|PATH",
        env = "WARTA_LLM",
        default_value = crate::llm::DEFAULT_LLM
    )]
    pub llm: String,
    /// Beam size for Marian (1 = greedy).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub beams: usize,
    /// Sentences translated together in one Marian batch.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub batch_size: usize,
    /// Type of Marian's linear-layer weights and matrix products: f32 (exact, the reference's
    /// output), f16 or bf16 (half the weight memory; on CPUs f16 runs about as fast as f32, bf16
    /// slower), q8_0 (8-bit blocks through candle's quantised matmul: least memory, but slower than
    /// f32 on CPUs; a layer whose input width is not a multiple of 32 stays f32, with a warning),
    /// int8 (8-bit weights and activations through warta's own VNNI/AVX2 kernels: fastest on CPUs,
    /// not exact).
    /// Embeddings, norms, attention and softmax stay f32. See docs/marian-engine.md.
    #[arg(long, value_name = "f32|bf16|f16|q8_0|int8", default_value = "f32",
          value_parser = str::parse::<crate::translate::marian::WeightType>)]
    pub dtype: crate::translate::marian::WeightType,
    /// Marian: let a translation that falls into a loop ("the the the …") run on to the length
    /// limit instead of stopping it at the repeat (see docs/marian-engine.md).
    #[arg(long)]
    pub no_guard: bool,
    /// Worker threads for tensor code (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Never touch the network; use only the local cache (same as HF_HUB_OFFLINE=1).
    #[arg(long)]
    pub offline: bool,
    /// Directory of prompt templates that override the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub prompts: Option<PathBuf>,
    /// Extra LLM glossary (lines of `indonesian<TAB>english`; repeatable): adds entries to the
    /// built-in one or replaces those with the same Indonesian; an English of `-` removes an entry.
    /// The entries whose words occur in a text are given to the LLM as hints.
    #[arg(long, value_name = "FILE")]
    pub glossary: Vec<PathBuf>,
    /// Leave the built-in glossary out (only --glossary files are used).
    #[arg(long)]
    pub no_glossary: bool,
    #[command(flatten)]
    pub generation: GenerationArgs,
}

/// LLM sampling. Greedy (deterministic) unless a temperature is given.
#[derive(Debug, Args, Clone)]
pub struct GenerationArgs {
    /// Sampling temperature; 0 means greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    /// Nucleus sampling probability mass.
    #[arg(long)]
    pub top_p: Option<f64>,
    /// Random seed for sampling.
    #[arg(long, default_value_t = 299_792_458)]
    pub seed: u64,
    /// Upper bound on generated tokens per LLM call.
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub max_new_tokens: usize,
}

/// Summary options shared by `translate`, `summarize` and `batch`.
#[derive(Debug, Args, Clone)]
pub struct SummaryArgs {
    /// How to write the summary.
    #[arg(long, value_enum, default_value_t = SummarizerKind::Auto)]
    pub summarizer: SummarizerKind,
    /// Number of summary sentences (2-4 reads best).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub sentences: u8,
}

#[derive(Debug, Args, Clone)]
pub struct TranslateArgs {
    /// Article file, or `-` for standard input.
    pub input: String,
    /// Treat the input as plain lines: no cleaning, one line in, one line out.
    #[arg(long)]
    pub raw: bool,
    /// Skip the summary.
    #[arg(long)]
    pub no_summary: bool,
    #[command(flatten)]
    pub input_opts: InputArgs,
    #[command(flatten)]
    pub models: ModelArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

#[derive(Debug, Args, Clone)]
pub struct SummarizeArgs {
    /// Article file, or `-` for standard input.
    pub input: String,
    #[command(flatten)]
    pub input_opts: InputArgs,
    #[command(flatten)]
    pub models: ModelArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

const BATCH_HELP: &str = "\
Examples:
  warta batch archive/ -o archive-en/
  warta batch archive/ -o out/shard-3 --shard 3/8      # one worker of eight
  warta batch --merge-manifests out/shard-* -o out     # combine the shards' manifests

Outputs mirror the input tree: a/b/x.html -> OUTPUT_DIR/a/b/x.en.txt (.en.md, .en.json
by --format). Every file gets a line in OUTPUT_DIR/manifest.jsonl; the last line for a
path wins. Run the same command again to resume: files already done for the same
content and settings are skipped; --force redoes them.

Exit status:
  0    every file done (translated now, or already done)
  3    the run finished, but some files failed (see the report and the manifest)
  1    the run could not start (bad arguments, model missing, OUTPUT_DIR locked by
       another run) or could not go on (the manifest cannot be written)
  130  interrupted (Ctrl-C or SIGTERM); nothing partial was written";

#[derive(Debug, Args, Clone)]
pub struct BatchArgs {
    /// Directory of articles (searched recursively).
    #[arg(required_unless_present = "merge_manifests")]
    pub input_dir: Option<PathBuf>,
    /// Glob of files to include (repeatable; default: *.txt *.html *.htm *.md).
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Glob of files to skip (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Worker threads.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Redo every file, even those already done.
    #[arg(long)]
    pub force: bool,
    /// Process only shard K of N (1-based), chosen by a hash of each file's relative path.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Combine the manifests of these shard output directories into the one given by -o (with
    /// INPUT_DIR: also list the input files no shard recorded).
    #[arg(long, value_name = "DIR", num_args = 1..)]
    pub merge_manifests: Vec<PathBuf>,
    /// Write only summaries (the summary-only mode over a directory).
    #[arg(long, conflicts_with = "no_summary")]
    pub summary_only: bool,
    /// Skip summaries.
    #[arg(long)]
    pub no_summary: bool,
    #[command(flatten)]
    pub input_opts: InputArgs,
    #[command(flatten)]
    pub models: ModelArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

#[derive(Debug, Args, Clone)]
pub struct ModelsArgs {
    /// Download the default models into the cache now (otherwise they are fetched on first use).
    #[arg(long)]
    pub fetch: bool,
    #[command(flatten)]
    pub models: ModelArgs,
}

#[derive(Debug, Args, Clone)]
pub struct EvalArgs {
    /// Hypothesis file to score, one segment per line.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "src",
        conflicts_with = "src"
    )]
    pub hyp: Option<PathBuf>,
    /// Source file to translate first (one segment per line), then score.
    #[arg(long, value_name = "FILE")]
    pub src: Option<PathBuf>,
    /// Reference translation, one segment per line.
    #[arg(long = "ref", value_name = "FILE")]
    pub reference: PathBuf,
    /// Use only the first N lines.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Also report every line's own scores (sentence BLEU with effective order, chrF, chrF++).
    #[arg(long)]
    pub per_sentence: bool,
    /// With --src: also write the translations to FILE, one line per source line.
    #[arg(long, value_name = "FILE", requires = "src", conflicts_with = "hyp")]
    pub save_hyp: Option<PathBuf>,
    #[command(flatten)]
    pub models: ModelArgs,
}

const SERVE_HELP: &str = "\
Examples:
  warta serve                                   # http://127.0.0.1:5000/
  warta serve --host 0.0.0.0 --api-keys keys.txt --char-limit 20000

Routes: the LibreTranslate API (POST /translate, /detect, /translate_file; GET /languages,
/frontend/settings, /health, /download_file/...), warta's own POST /v1/translate,
/v1/summarize, /v1/clean (JSON as the CLI prints it; progress with ?stream=sse|ndjson),
the article page at /, and /openapi.json. SIGTERM or Ctrl-C stops it (exit 0).";

#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default: binding elsewhere is your explicit choice).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port, printed on stderr).
    #[arg(long, default_value_t = 5000)]
    pub port: u16,
    /// Require an API key from this file (one key per line, `#` comments) on every translation.
    #[arg(long, value_name = "FILE")]
    pub api_keys: Option<PathBuf>,
    /// Refuse texts longer than this many characters (LibreTranslate's --char-limit).
    #[arg(long, value_name = "N")]
    pub char_limit: Option<usize>,
    /// Refuse `q` arrays with more texts than this (LibreTranslate's --batch-limit).
    #[arg(long, value_name = "N")]
    pub batch_limit: Option<usize>,
    /// Refuse request bodies larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 5_000_000)]
    pub max_body: usize,
    /// Requests that may wait for the (single) worker; more are answered 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub queue: usize,
    /// Longest a request may take, waiting included, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,
    /// The server's URL as clients reach it (behind a proxy), for /translate_file's download links.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub models: ModelArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

impl ServeArgs {
    pub fn options(&self, global: &GlobalArgs) -> crate::serve::Options {
        crate::serve::Options {
            host: self.host.clone(),
            port: self.port,
            api_keys: self.api_keys.clone(),
            char_limit: self.char_limit,
            batch_limit: self.batch_limit,
            body_limit: self.max_body,
            queue: self.queue,
            timeout: std::time::Duration::from_secs(self.timeout.max(1)),
            public_url: self.public_url.clone(),
            quiet: global.quiet,
            progress: show_progress(global),
            models: self.models.engine_options(),
            summary: self.summary.options(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchEngine {
    Marian,
    Llm,
}

#[derive(Debug, Args, Clone)]
pub struct BenchArgs {
    /// Which engine to measure.
    #[arg(long, value_enum, default_value_t = BenchEngine::Llm)]
    pub engine: BenchEngine,
    #[command(flatten)]
    pub models: ModelArgs,
}

// From parsed arguments to the library's own option types: the only place the two meet.

impl From<Format> for crate::render::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Text => crate::render::Format::Text,
            Format::Markdown => crate::render::Format::Markdown,
            Format::Json => crate::render::Format::Json,
        }
    }
}

impl From<TranslatorKind> for crate::config::TranslatorKind {
    fn from(k: TranslatorKind) -> Self {
        match k {
            TranslatorKind::Marian => crate::config::TranslatorKind::Marian,
            TranslatorKind::Llm => crate::config::TranslatorKind::Llm,
        }
    }
}

impl From<SummarizerKind> for crate::config::SummarizerKind {
    fn from(k: SummarizerKind) -> Self {
        match k {
            SummarizerKind::Auto => crate::config::SummarizerKind::Auto,
            SummarizerKind::Llm => crate::config::SummarizerKind::Llm,
            SummarizerKind::Extractive => crate::config::SummarizerKind::Extractive,
        }
    }
}

impl ModelArgs {
    pub fn engine_options(&self) -> crate::config::EngineOptions {
        let g = &self.generation;
        crate::config::EngineOptions {
            translator: self.translator.into(),
            model: self.model.clone(),
            revision: self.revision.clone(),
            llm: self.llm.clone(),
            beams: self.beams,
            batch_size: self.batch_size,
            dtype: self.dtype,
            guard: !self.no_guard,
            offline: self.offline,
            prompts: self.prompts.clone(),
            glossary: self.glossary.clone(),
            no_glossary: self.no_glossary,
            generation: crate::llm::GenerationParams {
                temperature: g.temperature,
                top_p: g.top_p,
                seed: g.seed,
                max_new_tokens: g.max_new_tokens,
            },
        }
    }
}

impl SummaryArgs {
    pub fn options(&self) -> crate::config::SummaryOptions {
        crate::config::SummaryOptions {
            summarizer: self.summarizer.into(),
            sentences: self.sentences,
        }
    }
}

impl BatchArgs {
    pub fn options(&self, global: &GlobalArgs) -> crate::batch::Options {
        crate::batch::Options {
            input_dir: self.input_dir.clone(),
            output: global.output.clone(),
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            jobs: self.jobs,
            force: self.force,
            shard: self.shard.clone(),
            merge_manifests: self.merge_manifests.clone(),
            summary_only: self.summary_only,
            no_summary: self.no_summary,
            max_bytes: self.input_opts.max_bytes,
            format: global.format.into(),
            quiet: global.quiet,
            models: self.models.engine_options(),
            summary: self.summary.options(),
        }
    }
}

impl EvalArgs {
    pub fn options(&self) -> crate::eval::EvalOptions {
        crate::eval::EvalOptions {
            hyp: self.hyp.clone(),
            src: self.src.clone(),
            reference: self.reference.clone(),
            limit: self.limit,
            per_sentence: self.per_sentence,
            save_hyp: self.save_hyp.clone(),
            models: self.models.engine_options(),
        }
    }
}

/// Run a parsed command line. Returns the process exit code (0 ok, 3 batch finished with failures).
pub fn run(cli: Cli) -> crate::Result<std::process::ExitCode> {
    use std::process::ExitCode;
    let global = &cli.global;
    match cli.command {
        Command::Clean(args) => {
            let article =
                crate::article::load_article(&args.input, &load_options(&args.input_opts))?;
            report_article(&article, global);
            let text = crate::render::clean(&article, global.format.into());
            crate::output::write(global.output.as_deref(), &text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Translate(args) => translate(args, global),
        Command::Summarize(args) => summarize(args, global),
        Command::Batch(args) => crate::batch::run(&args.options(global)),
        Command::Models(args) => models(args, global),
        Command::Eval(args) => {
            let report = crate::eval::run(&args.options(), show_progress(global))?;
            crate::output::write(global.output.as_deref(), &report.render(global.format.into()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => match args.engine {
            BenchEngine::Marian => bench_marian(args, global),
            BenchEngine::Llm => bench_llm(args, global),
        },
        Command::Serve(args) => {
            crate::serve::run(args.options(global))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "warta", &mut out);
            crate::output::write(global.output.as_deref(), &String::from_utf8_lossy(&out))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Progress bars and downloads are shown only when a person is watching stderr.
fn show_progress(global: &GlobalArgs) -> bool {
    use std::io::IsTerminal;
    !global.quiet && std::io::stderr().is_terminal()
}

/// Warnings go to stderr unless `--quiet`.
fn warn(global: &GlobalArgs, warnings: &[String]) {
    if !global.quiet {
        for w in warnings {
            eprintln!("warta: warning: {w}");
        }
    }
}

/// What the translator and summarizer had to say about one article.
fn warn_document(global: &GlobalArgs, doc: &crate::pipeline::Document) {
    if let Some(t) = &doc.translation {
        warn(global, &t.warnings);
    }
    if let Some(s) = &doc.summary {
        warn(global, &s.warnings);
    }
    if global.verbose > 0 && !global.quiet {
        let calls = &doc.timings.llm_calls;
        for (i, c) in calls.iter().enumerate() {
            eprintln!(
                "warta: LLM call {}/{}: {} prompt tokens ({} reused from the previous call), prefill \
                 {:.2} s; {} tokens generated in {:.2} s",
                i + 1,
                calls.len(),
                c.prompt_tokens,
                c.reused_tokens,
                c.prefill_s,
                c.generated_tokens,
                c.generation_s
            );
        }
    }
}

fn translate(args: TranslateArgs, global: &GlobalArgs) -> crate::Result<std::process::ExitCode> {
    use crate::pipeline::{Engines, Mode};
    if args.raw {
        return translate_raw(args, global);
    }
    let article = crate::article::load_article(&args.input, &load_options(&args.input_opts))?;
    report_article(&article, global);
    let mode = Mode::Translate {
        summary: !args.no_summary,
    };
    let mut engines = Engines::load(
        &args.models.engine_options(),
        &args.summary.options(),
        mode,
        show_progress(global),
    )?;
    warn(global, &engines.warnings);
    let doc = crate::pipeline::process(
        article,
        &mut engines,
        mode,
        usize::from(args.summary.sentences),
    )?;
    warn_document(global, &doc);
    crate::output::write(
        global.output.as_deref(),
        &crate::render::document(&doc, global.format.into()),
    )?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// `--raw`: one line in, one line out, no cleaning (blank lines stay blank).
fn translate_raw(
    args: TranslateArgs,
    global: &GlobalArgs,
) -> crate::Result<std::process::ExitCode> {
    use crate::translate::raw;
    let started = std::time::Instant::now();
    let text = raw::read_input(&args.input, args.input_opts.max_bytes)?;
    let lines = raw::split_lines(&text);
    let mut translator =
        crate::pipeline::build_translator(&args.models.engine_options(), show_progress(global))?;
    let loaded = started.elapsed().as_secs_f64();
    let out = raw::translate_lines(translator.as_mut(), &lines)?;
    let warnings = translator.take_warnings();
    warn(global, &warnings);
    let total_s = started.elapsed().as_secs_f64();
    let translate_s = total_s - loaded;
    let rendered = match global.format {
        Format::Json => {
            let info = translator.info();
            let translated = out.iter().filter(|l| !l.is_empty()).count();
            let doc = raw::RawOutput {
                lines: out,
                translator: info.translator,
                model: info.model,
                warnings,
                timings: raw::RawTimings {
                    load_s: loaded,
                    translate_s,
                    total_s,
                    lines_per_s: translated as f64 / translate_s.max(1e-9),
                },
            };
            let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Text | Format::Markdown => raw::render_text(&out),
    };
    crate::output::write(global.output.as_deref(), &rendered)?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// `warta models`: what is cached where; `--fetch` downloads what is missing.
fn models(args: ModelsArgs, global: &GlobalArgs) -> crate::Result<std::process::ExitCode> {
    use crate::models::{inventory, Hub, RepoSpec};
    let hub = Hub::from_env(args.models.offline)?.with_progress(show_progress(global));
    let marian = RepoSpec::parse(&args.models.model, &args.models.revision);
    if args.fetch {
        inventory::fetch_marian(&marian, &hub)?;
        inventory::fetch_llm(&args.models.llm, &hub)?;
    }
    let mut entries = vec![inventory::marian_entry(&marian, &hub)];
    match inventory::llm_entry(&args.models.llm, &hub) {
        Ok(e) => entries.push(e),
        Err(e) => warn(global, &[format!("--llm: {e}")]),
    }
    let inv = inventory::Inventory {
        cache_dir: hub.cache_dir().to_path_buf(),
        cache_from: inventory::cache_origin(),
        offline: hub.is_offline(),
        models: entries,
    };
    let text = match global.format {
        Format::Json => serde_json::to_string_pretty(&inv).unwrap_or_default() + "\n",
        Format::Text | Format::Markdown => inv.to_text(),
    };
    crate::output::write(global.output.as_deref(), &text)?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// `warta bench --engine marian`: decoding speed of the opus-mt-id-en shape on this machine.
fn bench_marian(args: BenchArgs, global: &GlobalArgs) -> crate::Result<std::process::ExitCode> {
    let quiet = global.quiet;
    // A local model directory (of the same shape) replaces the random weights, so a peer can run
    // the very same model (scripts/bench-marian-peers.py).
    let dir = match crate::models::RepoSpec::parse(&args.models.model, &args.models.revision) {
        crate::models::RepoSpec::Local(dir) => Some(dir),
        _ => None,
    };
    let report = crate::translate::marian::bench::run(3, args.models.dtype, dir.as_deref(), |what| {
        if !quiet {
            eprintln!("warta: bench: {what}");
        }
    })
    .map_err(|source| crate::translate::marian::MarianError::Tensor {
        model: "benchmark".into(),
        source: Box::new(source),
    })?;
    let text = match global.format {
        Format::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        Format::Text | Format::Markdown => report.to_text(),
    };
    crate::output::write(global.output.as_deref(), &text)?;
    Ok(std::process::ExitCode::SUCCESS)
}

fn summarize(args: SummarizeArgs, global: &GlobalArgs) -> crate::Result<std::process::ExitCode> {
    use crate::pipeline::{Engines, Mode};
    let article = crate::article::load_article(&args.input, &load_options(&args.input_opts))?;
    report_article(&article, global);
    let mut engines = Engines::load(
        &args.models.engine_options(),
        &args.summary.options(),
        Mode::SummaryOnly,
        show_progress(global),
    )?;
    warn(global, &engines.warnings);
    let doc = crate::pipeline::process(
        article,
        &mut engines,
        Mode::SummaryOnly,
        usize::from(args.summary.sentences),
    )?;
    warn_document(global, &doc);
    crate::output::write(
        global.output.as_deref(),
        &crate::render::summary_only(&doc, global.format.into()),
    )?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// `warta bench --engine llm`: prefill and generation speed of the `--llm` model.
fn bench_llm(args: BenchArgs, global: &GlobalArgs) -> crate::Result<std::process::ExitCode> {
    let hub =
        crate::models::Hub::from_env(args.models.offline)?.with_progress(show_progress(global));
    let spec = crate::models::FileSpec::parse(&args.models.llm)?;
    let report = crate::llm::bench::run(&spec, &hub, &crate::llm::LoadOptions::default())?;
    let text = match global.format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&report).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Text | Format::Markdown => report.text(),
    };
    crate::output::write(global.output.as_deref(), &text)?;
    Ok(std::process::ExitCode::SUCCESS)
}

fn load_options(opts: &InputArgs) -> crate::article::LoadOptions {
    crate::article::LoadOptions {
        max_bytes: opts.max_bytes,
    }
}

/// Warnings about a loaded article, naming its file (unless `-q`); with `-v` also how it was read,
/// and with `-vv` every span the cleaner removed.
fn report_article(article: &crate::article::Article, global: &GlobalArgs) {
    let named: Vec<String> = article
        .warnings
        .iter()
        .map(|w| format!("{}: {w}", article.origin))
        .collect();
    warn(global, &named);
    if global.quiet {
        return;
    }
    if global.verbose > 0 {
        let i = &article.input;
        eprintln!(
            "warta: {}: read as {} ({}), body from {}; kept {} paragraphs, removed {} spans",
            article.origin,
            i.format,
            i.encoding,
            i.extractor,
            article.paragraphs.len(),
            article.removed.len()
        );
    }
    if global.verbose > 1 {
        for r in &article.removed {
            eprintln!(
                "warta:   removed ({}): {}",
                r.reason,
                r.text.replace('\n', " / ")
            );
        }
    }
}
