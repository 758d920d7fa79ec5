//! The one worker thread that owns the engines. The models are CPU-bound and use every core already, so
//! requests are run one at a time from a bounded queue; a full queue is refused at once by the caller.
//!
//! A job is cancelled between batches of sentences (and between paragraphs) when its client has gone
//! (the handler dropped its receiver), when its deadline passed, or when the server is shutting down.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use crate::article::Article;
use crate::pipeline::{Document, Engines, Mode};
use crate::translate::{assemble_translation, Translator};

/// What a job asks for.
pub(crate) enum Work {
    /// Independent texts (LibreTranslate's `q`): each is translated line by line, sentence by
    /// sentence; the result has one string per text.
    Texts(Vec<String>),
    /// A whole article through the pipeline, with one update per translated paragraph.
    Article {
        article: Box<Article>,
        mode: Mode,
        sentences: usize,
    },
}

/// What the worker sends back while and after it runs a job.
pub(crate) enum Update {
    /// Paragraph `index` of an article job is translated.
    Paragraph { index: usize, text: String },
    /// The translations of a [`Work::Texts`] job, in order.
    Texts(Vec<String>),
    /// The finished article.
    Document(Box<Document>),
    Failed(JobError),
}

#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum JobError {
    #[error("the request took longer than the server's limit of {0} s; send less text, or ask the operator to raise --timeout")]
    Deadline(u64),
    #[error("the server is shutting down; retry in a moment")]
    ShuttingDown,
    #[error("the client went away")]
    Gone,
    #[error("{0}")]
    Engine(String),
}

pub(crate) struct Job {
    pub work: Work,
    pub deadline: Instant,
    pub updates: UnboundedSender<Update>,
}

/// Why a job could not be queued.
pub(crate) enum Refused {
    /// The queue is full: retry after this many seconds.
    Busy { queued: usize, retry_after: u64 },
    ShuttingDown,
}

/// The sending side of the queue, shared by every handler.
pub(crate) struct Queue {
    tx: crossbeam_channel::Sender<Job>,
    queued: Arc<AtomicUsize>,
    /// Mean seconds a job took (exponentially weighted), in milliseconds, for Retry-After.
    mean_ms: Arc<AtomicU64>,
    pub shutdown: Arc<AtomicBool>,
    timeout: Duration,
}

impl Queue {
    pub fn submit(&self, work: Work, updates: UnboundedSender<Update>) -> Result<(), Refused> {
        if self.shutdown.load(Ordering::SeqCst) {
            return Err(Refused::ShuttingDown);
        }
        let job = Job {
            work,
            deadline: Instant::now() + self.timeout,
            updates,
        };
        // Counted before sending so the worker's decrement can never come first.
        self.queued.fetch_add(1, Ordering::SeqCst);
        match self.tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(e) => {
                let queued = self.queued.fetch_sub(1, Ordering::SeqCst) - 1;
                if e.is_disconnected() {
                    return Err(Refused::ShuttingDown);
                }
                let mean_s = self.mean_ms.load(Ordering::Relaxed).div_ceil(1000);
                Err(Refused::Busy {
                    queued,
                    retry_after: (mean_s * (queued as u64 + 1)).clamp(1, 300),
                })
            }
        }
    }

    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// Start the worker thread over `engines`; it runs until every [`Queue`] is dropped.
pub(crate) fn start(
    engines: Engines,
    capacity: usize,
    timeout: Duration,
    chunk: usize,
    quiet: bool,
) -> (Queue, std::thread::JoinHandle<()>) {
    let (tx, rx) = crossbeam_channel::bounded::<Job>(capacity.max(1));
    let queued = Arc::new(AtomicUsize::new(0));
    let mean_ms = Arc::new(AtomicU64::new(2000));
    let shutdown = Arc::new(AtomicBool::new(false));
    let queue = Queue {
        tx,
        queued: queued.clone(),
        mean_ms: mean_ms.clone(),
        shutdown: shutdown.clone(),
        timeout,
    };
    let handle = std::thread::Builder::new()
        .name("warta-worker".into())
        .spawn(move || {
            let mut worker = Worker {
                engines,
                chunk,
                quiet,
                shutdown,
                timeout,
            };
            for job in rx {
                queued.fetch_sub(1, Ordering::SeqCst);
                let started = Instant::now();
                worker.run(job);
                let ms = started.elapsed().as_millis() as u64;
                let old = mean_ms.load(Ordering::Relaxed);
                mean_ms.store((old * 3 + ms) / 4, Ordering::Relaxed);
            }
        })
        .expect("the worker thread can be spawned");
    (queue, handle)
}

struct Worker {
    engines: Engines,
    /// Sentences per translator call: cancellation is checked between calls.
    chunk: usize,
    quiet: bool,
    shutdown: Arc<AtomicBool>,
    timeout: Duration,
}

/// Whether a job should stop now, and why.
struct Watch<'a> {
    job_deadline: Instant,
    updates: &'a UnboundedSender<Update>,
    shutdown: &'a AtomicBool,
    timeout: Duration,
}

impl Watch<'_> {
    fn check(&self) -> Result<(), JobError> {
        if self.updates.is_closed() {
            Err(JobError::Gone)
        } else if self.shutdown.load(Ordering::SeqCst) {
            Err(JobError::ShuttingDown)
        } else if Instant::now() >= self.job_deadline {
            Err(JobError::Deadline(self.timeout.as_secs()))
        } else {
            Ok(())
        }
    }
}

impl Worker {
    fn run(&mut self, job: Job) {
        // Whatever a cancelled job's translator had to say belongs to no one now.
        if let Some(t) = self.engines.translator.as_deref_mut() {
            let _ = t.take_warnings();
        }
        let shutdown = self.shutdown.clone();
        let watch = Watch {
            job_deadline: job.deadline,
            updates: &job.updates,
            shutdown: &shutdown,
            timeout: self.timeout,
        };
        // A job that waited in the queue past its client or deadline is dropped unrun.
        let result = watch.check().and_then(|()| match job.work {
            Work::Texts(texts) => self.texts(&texts, &watch).map(Update::Texts),
            Work::Article {
                article,
                mode,
                sentences,
            } => self
                .article(*article, mode, sentences, &watch)
                .map(|d| Update::Document(Box::new(d))),
        });
        if let Err(e @ (JobError::Gone | JobError::Deadline(_) | JobError::ShuttingDown)) = &result {
            if !self.quiet {
                eprintln!("warta: request cancelled: {e}");
            }
        }
        let update = result.unwrap_or_else(Update::Failed);
        // The receiver may be gone; nobody is left to tell.
        let _ = job.updates.send(update);
    }

    fn translator(&mut self) -> Result<&mut dyn Translator, JobError> {
        match self.engines.translator.as_deref_mut() {
            Some(t) => Ok(t),
            None => Err(JobError::Engine("the server has no translator loaded".into())),
        }
    }

    /// Translate `segments` in batches, checking `watch` between them.
    fn segments(&mut self, segments: &[String], watch: &Watch) -> Result<Vec<String>, JobError> {
        let chunk = self.chunk;
        let translator = self.translator()?;
        let mut out = Vec::with_capacity(segments.len());
        for part in segments.chunks(chunk) {
            watch.check()?;
            let got = translator
                .translate_segments(part)
                .map_err(|e| JobError::Engine(e.to_string()))?;
            out.extend(got);
        }
        Ok(out)
    }

    fn texts(&mut self, texts: &[String], watch: &Watch) -> Result<Vec<String>, JobError> {
        // Every non-blank line of every text, split into sentences; blank lines stay as they are.
        let mut sentences = Vec::new();
        let mut shape: Vec<Vec<Option<usize>>> = Vec::new(); // per text, per line: sentence count
        for text in texts {
            let mut lines = Vec::new();
            for line in text.split('\n') {
                if line.trim().is_empty() {
                    lines.push(None);
                } else {
                    let s = crate::article::split_sentences(line.trim());
                    lines.push(Some(s.len()));
                    sentences.extend(s);
                }
            }
            shape.push(lines);
        }
        let translated = self.segments(&sentences, watch);
        // Warnings about single segments (splits, length limits) have no place in LibreTranslate's
        // answer; drained so they do not leak into the next job.
        let _ = self.translator()?.take_warnings();
        let translated = translated?;
        let mut it = translated.into_iter();
        Ok(texts
            .iter()
            .zip(shape)
            .map(|(text, lines)| {
                text.split('\n')
                    .zip(lines)
                    .map(|(line, n)| match n {
                        None => line.to_string(),
                        Some(n) => it.by_ref().take(n).collect::<Vec<_>>().join(" "),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect())
    }

    fn article(
        &mut self,
        article: Article,
        mode: Mode,
        sentences: usize,
        watch: &Watch,
    ) -> Result<Document, JobError> {
        let started = Instant::now();
        let engine_err = |e: crate::Error| JobError::Engine(e.to_string());
        let translation = match mode {
            Mode::SummaryOnly => None,
            Mode::Translate { .. } => {
                let translator = self.translator()?;
                if translator.batches_segments() {
                    // Paragraph by paragraph, so the client sees each one as soon as it is done.
                    let mut out = Vec::new();
                    let mut warnings = Warnings::default();
                    let mut calls: Vec<&[String]> = Vec::new();
                    if let Some(title) = &article.meta.title {
                        calls.push(std::slice::from_ref(title));
                    }
                    let first_paragraph = calls.len();
                    calls.extend(article.paragraphs.iter().map(|p| p.sentences.as_slice()));
                    for (call, segments) in calls.into_iter().enumerate() {
                        watch.check()?;
                        let got = translator
                            .translate_segments(segments)
                            .map_err(|e| JobError::Engine(e.to_string()))?;
                        warnings.add(out.len(), translator.take_warnings());
                        if let Some(index) = call.checked_sub(first_paragraph) {
                            let _ = watch.updates.send(Update::Paragraph {
                                index,
                                text: got.join(" "),
                            });
                        }
                        out.extend(got);
                    }
                    let info = translator.info();
                    Some(assemble_translation(
                        &article,
                        out,
                        info,
                        warnings.list(),
                        started.elapsed().as_secs_f64(),
                    ))
                } else {
                    // Engines that translate with context across the article (the LLM) run it whole.
                    watch.check()?;
                    let t = translator
                        .translate_article(&article)
                        .map_err(|e| JobError::Engine(e.to_string()))?;
                    for (index, p) in t.paragraphs.iter().enumerate() {
                        let _ = watch.updates.send(Update::Paragraph {
                            index,
                            text: p.text.clone(),
                        });
                    }
                    Some(t)
                }
            }
        };
        watch.check()?;
        let translate_s = started.elapsed().as_secs_f64();
        let engines = &mut self.engines;
        // One loaded summarizer serves every request; one that asks for no summary sets it aside.
        let set_aside = match mode {
            Mode::Translate { summary: false } => engines.summarizer.take(),
            _ => None,
        };
        let doc = crate::pipeline::finish(article, translation, translate_s, engines, sentences)
            .map_err(engine_err);
        if set_aside.is_some() {
            engines.summarizer = set_aside;
        }
        doc
    }
}

/// An engine's warnings from one call per paragraph, worded as one call over the whole article would
/// word them (as `warta translate` prints them): "segment N" counts from the article's first segment,
/// and "N translation(s) …" with the same rest are added up.
#[derive(Default)]
struct Warnings {
    others: Vec<String>,
    /// The counted ones, which an engine says after the rest of a call.
    counted: Vec<String>,
}

impl Warnings {
    /// `offset`: how many segments came before this call's.
    fn add(&mut self, offset: usize, warnings: Vec<String>) {
        for w in warnings {
            // "segment N is …" and "segment N: …" alike: the number is the digits after "segment ".
            let numbered = w.strip_prefix("segment ").and_then(|r| {
                let digits = r.len() - r.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                Some((r[..digits].parse::<usize>().ok()?, &r[digits..]))
            });
            let w = match numbered {
                Some((n, rest)) => format!("segment {}{rest}", n + offset),
                None => w,
            };
            let counted = |s: &str| -> Option<(usize, String)> {
                let (n, rest) = s.split_once(' ')?;
                Some((n.parse().ok()?, rest.to_string()))
            };
            match counted(&w) {
                Some((n, rest)) => {
                    match self.counted.iter().position(|old| counted(old).is_some_and(|(_, r)| r == rest)) {
                        Some(i) => {
                            let m = counted(&self.counted[i]).map_or(0, |(m, _)| m);
                            self.counted[i] = format!("{} {rest}", m + n);
                        }
                        None => self.counted.push(w),
                    }
                }
                None => self.others.push(w),
            }
        }
    }

    fn list(self) -> Vec<String> {
        let mut l = self.others;
        l.extend(self.counted);
        l
    }
}

#[cfg(test)]
mod tests {
    use super::Warnings;

    #[test]
    fn per_paragraph_warnings_read_as_one_call() {
        let mut w = Warnings::default();
        w.add(0, vec!["1 translation(s) reached the limit".into()]);
        w.add(3, vec!["segment 2 is 600 tokens long".into(), "2 translation(s) reached the limit".into()]);
        w.add(5, vec!["something else".into(), "segment 1: the translation started repeating".into()]);
        assert_eq!(
            w.list(),
            [
                "segment 5 is 600 tokens long",
                "something else",
                "segment 6: the translation started repeating",
                "3 translation(s) reached the limit"
            ]
        );
    }
}
