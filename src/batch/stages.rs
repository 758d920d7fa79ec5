//! The run itself: a bounded pipeline of threads.
//!
//! ```text
//! walk ──jobs──▶ N workers ──loaded──▶ translation (owns the engines) ──done──▶ writer
//!  ▲             read, hash,            in walk order; pools the           render, write atomically,
//!  │             resume check, clean    sentences of several articles      append the manifest line
//!  └──────────── credits ◀──────────────┘ into one engine call
//! ```
//!
//! Models live on the translation thread only, so they are loaded once and candle parallelises inside
//! each operation. The walk may run at most [`Plan::window`] files ahead of the translation stage (it
//! needs a credit per file, returned when the file is consumed), so memory stays flat however large the
//! archive, and files are consumed in walk order, so manifests are reproducible.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};

use super::interrupt::Stop;
use super::manifest::{self, Entry, EntryTimings, Models, ResumeIndex, Status};
use super::report::{rfc3339, Progress};
use super::shard::Shard;
use super::walk::{self, Found, Input};
use super::BatchError;
use crate::article::Article;
use crate::render::Format;
use crate::pipeline::{Document, Engines, Mode};
use crate::translate::{article_segments, assemble_translation, Translation};

/// Turns an input's bytes into an article (the loader and cleaner), or says why it cannot.
pub type Loader = dyn Fn(&[u8], &Input) -> Result<Article, String> + Sync;

/// Everything a run needs besides the engines.
pub struct Plan<'a> {
    pub input_root: PathBuf,
    pub output_root: PathBuf,
    /// Directories the walk leaves out (the output directory when inside the input directory).
    pub skip: Vec<PathBuf>,
    pub filter: walk::Filter,
    pub shard: Option<Shard>,
    pub mode: Mode,
    pub format: Format,
    pub sentences: usize,
    pub max_bytes: u64,
    pub force: bool,
    /// Reader/cleaner threads.
    pub jobs: usize,
    /// Files the walk may run ahead of the translation stage.
    pub window: usize,
    /// Most segments pooled into one engine call, and most articles.
    pub pool_segments: usize,
    pub pool_articles: usize,
    pub settings: String,
    pub models: Models,
    pub index: &'a ResumeIndex,
    pub loader: &'a Loader,
    pub stop: Stop,
    pub progress: &'a Progress,
}

impl Plan<'_> {
    /// The walk this run makes.
    fn walk(&self) -> impl Iterator<Item = Found> + '_ {
        inputs(
            &self.input_root,
            &self.skip,
            &self.filter,
            self.format,
            self.shard,
        )
    }
}

/// The files a run over `root` visits, in order (also used to count them first, and by the merge).
pub fn inputs(
    root: &Path,
    skip: &[PathBuf],
    filter: &walk::Filter,
    format: Format,
    shard: Option<Shard>,
) -> impl Iterator<Item = Found> {
    walk::Walk::new(root.to_path_buf(), skip.to_vec(), filter.clone(), format).filter(move |f| {
        match (f, &shard) {
            (Found::Input(i), Some(s)) => s.contains(&i.rel),
            (Found::Unusable { rel, .. }, Some(s)) => s.contains(rel),
            _ => true,
        }
    })
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Completed,
    Interrupted,
}

/// A file sent to a worker, numbered in walk order.
struct Job {
    seq: u64,
    work: Work,
}

enum Work {
    Input(Input),
    /// Found by the walk but unusable: recorded as failed.
    Unusable {
        rel: String,
        error: String,
    },
}

/// What the worker made of a file.
struct Item {
    seq: u64,
    rel: String,
    output: Option<String>,
    hash: Option<String>,
    timings: EntryTimings,
    state: State,
}

enum State {
    Article(Box<Article>),
    Document(Box<Document>),
    Skipped,
    Failed(String),
}

/// Run the pipeline over the plan's inputs, appending to `manifest`. Returns how it ended; an error
/// only when the run could not go on (the manifest cannot be written).
pub fn run(
    plan: &Plan<'_>,
    engines: &mut Engines,
    manifest: &mut manifest::Writer,
) -> Result<End, BatchError> {
    let (job_tx, job_rx) = bounded::<Job>(plan.window);
    let (loaded_tx, loaded_rx) = bounded::<Item>(plan.window);
    let (done_tx, done_rx) = bounded::<Item>(plan.window);
    let (credit_tx, credit_rx) = bounded::<()>(plan.window);
    for _ in 0..plan.window {
        let _ = credit_tx.send(());
    }
    std::thread::scope(|scope| {
        scope.spawn(move || walk_stage(plan, job_tx, credit_rx));
        for _ in 0..plan.jobs.max(1) {
            let (job_rx, loaded_tx) = (job_rx.clone(), loaded_tx.clone());
            scope.spawn(move || worker_stage(plan, job_rx, loaded_tx));
        }
        drop((job_rx, loaded_tx));
        let writer = scope.spawn(move || writer_stage(plan, done_rx, manifest));
        let end = translate_stage(plan, engines, loaded_rx, done_tx, credit_tx);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(BatchError::Failed("the writer thread crashed".into())));
        written.map(|()| end)
    })
}

fn walk_stage(plan: &Plan<'_>, jobs: Sender<Job>, credits: Receiver<()>) {
    let mut seq = 0u64;
    for found in plan.walk() {
        let work = match found {
            Found::Input(input) => Work::Input(input),
            Found::Unusable { rel, error } => Work::Unusable { rel, error },
            Found::Note(note) => {
                plan.progress.note(&note);
                continue;
            }
        };
        // Wait for room, watching for a stop request.
        loop {
            if plan.stop.requested() {
                return;
            }
            match credits.recv_timeout(Duration::from_millis(100)) {
                Ok(()) => break,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        if jobs.send(Job { seq, work }).is_err() {
            return;
        }
        seq += 1;
    }
}

fn worker_stage(plan: &Plan<'_>, jobs: Receiver<Job>, loaded: Sender<Item>) {
    for job in jobs {
        if plan.stop.requested() {
            return;
        }
        if loaded.send(prepare(plan, job)).is_err() {
            return;
        }
    }
}

/// Read, hash, check whether it is already done, load and clean.
fn prepare(plan: &Plan<'_>, job: Job) -> Item {
    let input = match job.work {
        Work::Input(input) => input,
        Work::Unusable { rel, error } => {
            return Item {
                seq: job.seq,
                rel,
                output: None,
                hash: None,
                timings: EntryTimings::default(),
                state: State::Failed(error),
            }
        }
    };
    let mut item = Item {
        seq: job.seq,
        rel: input.rel.clone(),
        output: Some(input.output.clone()),
        hash: None,
        timings: EntryTimings::default(),
        state: State::Skipped,
    };
    let started = Instant::now();
    let bytes = match read_limited(&input.path, plan.max_bytes) {
        Ok(b) => b,
        Err(error) => {
            item.state = State::Failed(error);
            return item;
        }
    };
    let hash = blake3::hash(&bytes).to_hex().to_string();
    item.timings.read_s = started.elapsed().as_secs_f64();
    let done_before = !plan.force
        && plan.index.is_done(&input.rel, &hash, &plan.settings)
        && walk::under(&plan.output_root, &input.output)
            .and_then(|p| fs::symlink_metadata(p).ok())
            .is_some_and(|m| m.is_file());
    item.hash = Some(hash);
    if done_before {
        return item;
    }
    let started = Instant::now();
    item.state = match catch_unwind(AssertUnwindSafe(|| (plan.loader)(&bytes, &input))) {
        Ok(Ok(article)) => State::Article(Box::new(article)),
        Ok(Err(error)) => State::Failed(error),
        Err(panic) => State::Failed(crashed("the loader", &panic)),
    };
    item.timings.clean_s = started.elapsed().as_secs_f64();
    item
}

/// The file's bytes, refusing files over `max` without reading them whole.
fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let too_large = |n: u64| {
        format!("too large: {n} bytes, over the limit of {max} (raise it with --max-bytes)")
    };
    let file = fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read: {e}"))?
        .len();
    if len > max {
        return Err(too_large(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

fn crashed(what: &str, panic: &Box<dyn std::any::Any + Send>) -> String {
    let msg = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    format!("{what} crashed on this input ({msg}); this is a bug in warta, please report it")
}

/// Take items in walk order, translate the articles (pooled), pass everything on to the writer.
fn translate_stage(
    plan: &Plan<'_>,
    engines: &mut Engines,
    loaded: Receiver<Item>,
    done: Sender<Item>,
    credits: Sender<()>,
) -> End {
    let mut pending: BTreeMap<u64, Item> = BTreeMap::new();
    let mut next = 0u64;
    let pools = plan.mode != Mode::SummaryOnly
        && engines
            .translator
            .as_ref()
            .is_some_and(|t| t.batches_segments());
    loop {
        if plan.stop.requested() {
            return End::Interrupted;
        }
        // Wait for the next file in walk order.
        while !pending.contains_key(&next) {
            match loaded.recv_timeout(Duration::from_millis(100)) {
                Ok(item) => {
                    pending.insert(item.seq, item);
                }
                Err(RecvTimeoutError::Timeout) if plan.stop.requested() => return End::Interrupted,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return if plan.stop.requested() {
                        End::Interrupted
                    } else {
                        End::Completed
                    };
                }
            }
        }
        // Take whatever else has arrived, then the longest in-order run of articles that fits a pool.
        while let Ok(item) = loaded.try_recv() {
            pending.insert(item.seq, item);
        }
        let mut group = Vec::new();
        let mut segments = 0;
        while let Some(item) = pending.get(&next) {
            let State::Article(article) = &item.state else {
                break;
            };
            let n = article_segments(article).len();
            let fits = group.len() < plan.pool_articles.max(1)
                && segments + n <= plan.pool_segments.max(1);
            if !group.is_empty() && (!pools || !fits) {
                break;
            }
            segments += n;
            group.extend(pending.remove(&next));
            next += 1;
            let _ = credits.send(());
        }
        if group.is_empty() {
            // A skipped or failed file: nothing to translate.
            if let Some(item) = pending.remove(&next) {
                if done.send(item).is_err() {
                    return End::Completed;
                }
            }
            next += 1;
            let _ = credits.send(());
            continue;
        }
        let current = match group.len() {
            1 => group[0].rel.clone(),
            n => format!("{} (+{} more)", group[0].rel, n - 1),
        };
        plan.progress.working_on(&current);
        let finished = if pools {
            translate_pooled(plan, engines, group)
        } else {
            group
                .into_iter()
                .map(|item| process_one(plan, engines, item))
                .collect()
        };
        for item in finished {
            if done.send(item).is_err() {
                return End::Completed;
            }
        }
    }
}

/// Translate the sentences of several articles in one engine call, then finish each article. When the
/// pooled call fails, each article is translated on its own so that only the culprit fails.
fn translate_pooled(plan: &Plan<'_>, engines: &mut Engines, group: Vec<Item>) -> Vec<Item> {
    if group.len() == 1 {
        return group
            .into_iter()
            .map(|item| process_one(plan, engines, item))
            .collect();
    }
    let articles: Vec<&Article> = group
        .iter()
        .filter_map(|i| match &i.state {
            State::Article(a) => Some(a.as_ref()),
            _ => None,
        })
        .collect();
    let per_article: Vec<Vec<String>> = articles.iter().map(|a| article_segments(a)).collect();
    let all: Vec<String> = per_article.iter().flatten().cloned().collect();
    let Some(translator) = engines.translator.as_mut() else {
        return fail_all(group, "no translator loaded");
    };
    let started = Instant::now();
    let pooled = catch_unwind(AssertUnwindSafe(|| translator.translate_segments(&all)));
    let seconds = started.elapsed().as_secs_f64();
    let pool_warnings = translator.take_warnings();
    let out = match pooled {
        Ok(Ok(out)) if out.len() == all.len() => out,
        // Some input broke the pooled call: find it by translating one article at a time.
        _ => {
            return group
                .into_iter()
                .map(|item| process_one(plan, engines, item))
                .collect()
        }
    };
    // The engine's warnings about a pooled call do not say which article they concern: each article
    // of the pool gets them, saying so.
    let others = articles.len() - 1;
    let pool_warnings: Vec<String> = pool_warnings
        .iter()
        .map(|w| {
            format!(
                "{w} (this article was translated in one batch with {others} others; the warning may \
                 concern any of them)"
            )
        })
        .collect();
    let info = translator.info();
    let mut out = out.into_iter();
    let translations: Vec<(Translation, f64)> = articles
        .iter()
        .zip(&per_article)
        .map(|(article, segs)| {
            let share = seconds * segs.len() as f64 / all.len().max(1) as f64;
            let mine: Vec<String> = out.by_ref().take(segs.len()).collect();
            (
                assemble_translation(article, mine, info.clone(), pool_warnings.clone(), share),
                share,
            )
        })
        .collect();
    group
        .into_iter()
        .zip(translations)
        .map(|(item, (translation, seconds))| finish_one(plan, engines, item, translation, seconds))
        .collect()
}

fn fail_all(group: Vec<Item>, error: &str) -> Vec<Item> {
    group
        .into_iter()
        .map(|mut item| {
            item.state = State::Failed(error.to_string());
            item
        })
        .collect()
}

/// One article through the whole pipeline (its own translation call).
fn process_one(plan: &Plan<'_>, engines: &mut Engines, item: Item) -> Item {
    run_article(item, "the engine", |article| {
        crate::pipeline::process(article, engines, plan.mode, plan.sentences)
    })
}

/// Summarise a translated article and make its document.
fn finish_one(
    plan: &Plan<'_>,
    engines: &mut Engines,
    item: Item,
    translation: Translation,
    translate_s: f64,
) -> Item {
    run_article(item, "the summarizer", |article| {
        crate::pipeline::finish(
            article,
            Some(translation),
            translate_s,
            engines,
            plan.sentences,
        )
    })
}

/// Turn the item's article into a document with `make`; an error or a crash (`what` crashed) fails
/// the file, not the run.
fn run_article(
    mut item: Item,
    what: &str,
    make: impl FnOnce(Article) -> crate::Result<Document>,
) -> Item {
    let State::Article(article) = std::mem::replace(&mut item.state, State::Skipped) else {
        return item;
    };
    item.state = match catch_unwind(AssertUnwindSafe(|| make(*article))) {
        Ok(Ok(doc)) => {
            item.timings.translate_s = doc.timings.translate_s;
            item.timings.summarize_s = doc.timings.summarize_s;
            State::Document(Box::new(doc))
        }
        Ok(Err(e)) => State::Failed(e.to_string()),
        Err(panic) => State::Failed(crashed(what, &panic)),
    };
    item
}

/// Render and write each finished article, then record every file in the manifest (the output first,
/// so a manifest line never promises an output that is not there).
fn writer_stage(
    plan: &Plan<'_>,
    done: Receiver<Item>,
    manifest: &mut manifest::Writer,
) -> Result<(), BatchError> {
    let mut dirs = OutputDirs::default();
    let mut earlier = manifest::PreviousReader::new(&plan.output_root.join(manifest::FILE_NAME));
    for mut item in done {
        let mut warnings = Vec::new();
        let mut models = plan.models.clone();
        let mut carried_timings = None;
        let status = match std::mem::replace(&mut item.state, State::Skipped) {
            State::Document(doc) => {
                warnings = document_warnings(&doc);
                if let Some(t) = &doc.translation {
                    models.translator = Some(t.engine.translator.clone());
                    models.model = Some(t.engine.model.clone());
                }
                let started = Instant::now();
                let written = write_output(plan, &mut dirs, &item, &doc);
                item.timings.write_s = started.elapsed().as_secs_f64();
                match written {
                    Ok(()) => Status::Ok,
                    Err(e) => {
                        item.state = State::Failed(e);
                        Status::Failed
                    }
                }
            }
            State::Skipped => {
                // Done by an earlier run: this line, now the last for the path, keeps what that
                // run found.
                let previous = item
                    .hash
                    .as_deref()
                    .and_then(|h| plan.index.done_at(&item.rel, h, &plan.settings))
                    .and_then(|offset| earlier.read_at(offset));
                if let Some(p) = previous {
                    warnings = p.warnings;
                    models = p.models;
                    carried_timings = p.timings;
                }
                Status::Skipped
            }
            State::Failed(e) => {
                item.state = State::Failed(e);
                Status::Failed
            }
            State::Article(_) => {
                item.state = State::Failed("not translated (internal error)".into());
                Status::Failed
            }
        };
        let error = match &item.state {
            State::Failed(e) => Some(e.clone()),
            _ => None,
        };
        let entry = Entry {
            path: item.rel,
            hash: item.hash,
            status,
            error,
            output: item.output.filter(|_| status.is_done()),
            timings: if status == Status::Skipped {
                carried_timings
            } else {
                Some(item.timings)
            },
            models,
            warnings,
            settings: plan.settings.clone(),
            finished: rfc3339(SystemTime::now()),
        };
        if let Err(e) = manifest.append(&entry) {
            plan.stop.request();
            return Err(e);
        }
        plan.progress.finished(&entry);
    }
    manifest.sync()
}

fn document_warnings(doc: &Document) -> Vec<String> {
    let mut w = doc.article.warnings.clone();
    if let Some(t) = &doc.translation {
        w.extend(t.warnings.iter().cloned());
    }
    if let Some(s) = &doc.summary {
        w.extend(s.warnings.iter().cloned());
    }
    w
}

fn write_output(
    plan: &Plan<'_>,
    dirs: &mut OutputDirs,
    item: &Item,
    doc: &Document,
) -> Result<(), String> {
    let rel = item.output.as_deref().unwrap_or_default();
    let path = walk::under(&plan.output_root, rel)
        .ok_or_else(|| format!("refusing to write {rel}: the path leaves OUTPUT_DIR"))?;
    if let Some((dir, _)) = rel.rsplit_once('/') {
        dirs.ensure(&plan.output_root, dir)?;
    }
    let text = match plan.mode {
        Mode::SummaryOnly => crate::render::summary_only(doc, plan.format),
        Mode::Translate { .. } => crate::render::document(doc, plan.format),
    };
    crate::output::write_atomic(&path, text.as_bytes()).map_err(|e| e.to_string())
}

/// Creates output directories, refusing to go through anything that is not a real directory (a
/// symbolic link planted in OUTPUT_DIR could otherwise send outputs elsewhere).
#[derive(Default)]
struct OutputDirs {
    /// The last directory made sure of: consecutive files usually share one.
    last: String,
}

impl OutputDirs {
    fn ensure(&mut self, root: &Path, rel_dir: &str) -> Result<(), String> {
        if self.last == rel_dir {
            return Ok(());
        }
        let mut path = root.to_path_buf();
        for part in rel_dir.split('/') {
            path.push(part);
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => continue,
                Ok(_) => {
                    return Err(format!(
                    "{} is not a directory (a file or symbolic link is in the way); refusing to \
                         write through it",
                    path.display()
                ))
                }
                Err(_) => match fs::create_dir(&path) {
                    Ok(()) => {}
                    // Created meanwhile: check what it is on the next pass.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                            return Err(format!("{} is not a directory", path.display()));
                        }
                    }
                    Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
                },
            }
        }
        self.last = rel_dir.to_string();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::article::{Metadata, Paragraph};
    use crate::translate::{EngineInfo, TranslateError, Translator};

    /// Upper-cases segments; fails on a segment containing BOOM, panics on PANIC, warns about PANJANG.
    struct Shouty {
        calls: Arc<AtomicUsize>,
        warnings: Vec<String>,
    }

    impl Translator for Shouty {
        fn info(&self) -> EngineInfo {
            EngineInfo {
                translator: "shouty".into(),
                model: "test".into(),
            }
        }

        fn translate_segments(
            &mut self,
            segments: &[String],
        ) -> Result<Vec<String>, TranslateError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if segments.iter().any(|s| s.contains("PANIC")) {
                panic!("engine panicked");
            }
            if segments.iter().any(|s| s.contains("BOOM")) {
                return Err(TranslateError::Engine("BOOM is untranslatable".into()));
            }
            for (i, s) in segments.iter().enumerate() {
                if s.contains("PANJANG") {
                    self.warnings.push(format!("segment {} is long", i + 1));
                }
            }
            Ok(segments.iter().map(|s| s.to_uppercase()).collect())
        }

        fn take_warnings(&mut self) -> Vec<String> {
            std::mem::take(&mut self.warnings)
        }
    }

    /// First line is the title, then one sentence per line.
    fn fake_load(bytes: &[u8], input: &Input) -> Result<Article, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let title = lines.next().ok_or("empty")?.to_string();
        let sentences: Vec<String> = lines.map(String::from).collect();
        if sentences.is_empty() {
            return Err("no article text".into());
        }
        Ok(Article {
            origin: input.rel.clone(),
            meta: Metadata {
                title: Some(title),
                ..Metadata::default()
            },
            paragraphs: vec![Paragraph {
                text: sentences.join(" "),
                sentences,
                ..Paragraph::default()
            }],
            ..Article::default()
        })
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        input: PathBuf,
        output: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        let output = dir.path().join("out");
        for i in 0..40 {
            let p = input.join(format!("d{}/a{i:02}.txt", i % 3));
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, format!("judul {i}\nkalimat satu {i}.\nkalimat dua.\n")).unwrap();
        }
        fs::write(input.join("d1/bad-boom.txt"), "judul\nini BOOM.\n").unwrap();
        fs::write(
            input.join("d1/long.txt"),
            "judul x\nkalimat satu.\nini PANJANG.\n",
        )
        .unwrap();
        fs::write(input.join("d1/bad-panic.txt"), "judul\nini PANIC.\n").unwrap();
        fs::write(input.join("d2/empty.txt"), "").unwrap();
        fs::write(input.join("d2/big.txt"), "judul\n".repeat(100)).unwrap();
        fs::create_dir_all(&output).unwrap();
        Fixture {
            input: input.canonicalize().unwrap(),
            output: output.canonicalize().unwrap(),
            _dir: dir,
        }
    }

    /// Run over the fixture with the fake loader and translator; returns how the run ended.
    fn run_fixture(
        fx: &Fixture,
        index: &ResumeIndex,
        force: bool,
        stop: Stop,
        calls: &Arc<AtomicUsize>,
    ) -> End {
        let progress = Progress::new(super::super::report::Verbosity::Quiet, 0);
        let plan = Plan {
            input_root: fx.input.clone(),
            output_root: fx.output.clone(),
            skip: vec![],
            filter: walk::Filter::new(&[], &[]).unwrap(),
            shard: None,
            mode: Mode::Translate { summary: false },
            format: Format::Text,
            sentences: 3,
            max_bytes: 500,
            force,
            jobs: 3,
            window: 8,
            pool_segments: 12,
            pool_articles: 4,
            settings: "s1".into(),
            models: Models::default(),
            index,
            loader: &fake_load,
            stop,
            progress: &progress,
        };
        let mut engines = Engines {
            translator: Some(Box::new(Shouty {
                calls: calls.clone(),
                warnings: vec![],
            })),
            summarizer: None,
            warnings: vec![],
        };
        let mut writer = manifest::Writer::append_to(&fx.output.join(manifest::FILE_NAME)).unwrap();
        run(&plan, &mut engines, &mut writer).unwrap()
    }

    /// One completed run; returns the manifest lines it added.
    fn run_once(fx: &Fixture, force: bool, calls: &Arc<AtomicUsize>) -> Vec<Entry> {
        let path = fx.output.join(manifest::FILE_NAME);
        let opened = manifest::open_existing(&path).unwrap();
        let before = fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .count();
        assert_eq!(
            run_fixture(fx, &opened.index, force, Stop::default(), calls),
            End::Completed
        );
        fs::read_to_string(&path)
            .unwrap()
            .lines()
            .skip(before)
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn pooled_run_isolates_failures_keeps_order_and_resumes() {
        let fx = fixture();
        let calls = Arc::new(AtomicUsize::new(0));
        let first = run_once(&fx, false, &calls);
        assert_eq!(first.len(), 45);
        // Walk order: sorted paths, depth first.
        let paths: Vec<&str> = first.iter().map(|e| e.path.as_str()).collect();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
        let status = |p: &str| first.iter().find(|e| e.path == p).unwrap();
        assert!(status("d1/bad-boom.txt")
            .error
            .as_deref()
            .unwrap()
            .contains("BOOM is untranslatable"));
        assert!(status("d1/bad-panic.txt")
            .error
            .as_deref()
            .unwrap()
            .contains("crashed"));
        assert_eq!(status("d2/empty.txt").error.as_deref(), Some("empty"));
        assert!(status("d2/big.txt")
            .error
            .as_deref()
            .unwrap()
            .contains("too large"));
        let ok: Vec<&Entry> = first.iter().filter(|e| e.status == Status::Ok).collect();
        assert_eq!(ok.len(), 41);
        // The engine's warning reaches the article (alone, or with the others of its pool, saying so).
        let long = &status("d1/long.txt").warnings;
        assert_eq!(long.len(), 1, "{long:?}");
        assert!(
            long[0] == "segment 3 is long"
                || long[0].contains("is long (this article was translated in one batch with"),
            "{long:?}"
        );
        let warned = ok.iter().filter(|e| !e.warnings.is_empty()).count();
        assert!((1..=4).contains(&warned), "{warned}");
        for e in &ok {
            let out = fs::read_to_string(fx.output.join(e.output.as_ref().unwrap())).unwrap();
            assert!(out.starts_with("JUDUL "), "{out}");
            assert!(out.contains("KALIMAT SATU"));
        }
        // Sentences of several articles went into one call (three per article, at most four per pool).
        assert!(calls.load(Ordering::SeqCst) < 30, "{calls:?}");

        // Nothing changed: everything done is skipped, the failures are retried.
        calls.store(0, Ordering::SeqCst);
        let second = run_once(&fx, false, &calls);
        assert_eq!(second.len(), 45);
        assert_eq!(
            second
                .iter()
                .filter(|e| e.status == Status::Skipped)
                .count(),
            41
        );
        assert_eq!(
            second.iter().filter(|e| e.status == Status::Failed).count(),
            4
        );

        // A changed input and a deleted output are redone; --force redoes everything.
        fs::write(fx.input.join("d0/a00.txt"), "baru\nkalimat baru.\n").unwrap();
        fs::remove_file(fx.output.join("d1/a01.en.txt")).unwrap();
        let third = run_once(&fx, false, &calls);
        let redone: Vec<&str> = third
            .iter()
            .filter(|e| e.status == Status::Ok)
            .map(|e| e.path.as_str())
            .collect();
        assert_eq!(redone, ["d0/a00.txt", "d1/a01.txt"]);
        let forced = run_once(&fx, true, &calls);
        assert_eq!(forced.iter().filter(|e| e.status == Status::Ok).count(), 41);
    }

    #[test]
    fn a_stop_request_ends_the_run_without_partial_files() {
        let fx = fixture();
        let stop = Stop::default();
        stop.request();
        let calls = Arc::new(AtomicUsize::new(0));
        assert_eq!(
            run_fixture(&fx, &ResumeIndex::default(), false, stop, &calls),
            End::Interrupted
        );
        let manifest = fs::read_to_string(fx.output.join(manifest::FILE_NAME)).unwrap();
        assert_eq!(manifest, "");
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        let left: Vec<_> = fs::read_dir(&fx.output)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["manifest.jsonl"]);
    }

    #[test]
    fn output_dirs_refuse_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("out");
        fs::create_dir_all(&root).unwrap();
        let mut dirs = OutputDirs::default();
        dirs.ensure(&root, "a/b").unwrap();
        assert!(root.join("a/b").is_dir());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path(), root.join("link")).unwrap();
            let err = dirs.ensure(&root, "link/x").unwrap_err();
            assert!(err.contains("refusing"), "{err}");
        }
    }
}
