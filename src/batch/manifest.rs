//! `OUTPUT_DIR/manifest.jsonl`: an append-only log, one JSON object per line, one line per input each
//! run looks at. The field names are a contract for users' scripts:
//!
//! - `path`: the input, relative to INPUT_DIR (`/`-separated);
//! - `hash`: blake3 of the input's bytes (hex), or null when the file could not be read;
//! - `status`: `ok` (translated in this run), `skipped` (already done by an earlier run for the same
//!   content and settings: its output is still there), `failed`;
//! - `error`: why it failed (null otherwise);
//! - `output`: the output, relative to OUTPUT_DIR (null when failed);
//! - `timings`: seconds per stage; `models`: the engines used; `warnings`: what the user should know;
//! - `settings`: fingerprint of everything that shapes the output (engines, models, format, summary
//!   mode, beams, warta version); `finished`: when the line was written (UTC, RFC 3339).
//!
//! Because runs append, a path may appear many times: **the last line for a path wins**. A crash can
//! leave a torn last line; it is cut off when the next run opens the manifest, and its file is redone.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::BatchError;

/// The manifest's file name inside OUTPUT_DIR.
pub const FILE_NAME: &str = "manifest.jsonl";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
    Skipped,
}

impl Status {
    /// Whether the input's output is done and valid.
    pub fn is_done(self) -> bool {
        matches!(self, Status::Ok | Status::Skipped)
    }
}

/// Seconds spent on one input, per stage. Translation time of articles translated together is shared
/// out by their number of segments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntryTimings {
    pub read_s: f64,
    pub clean_s: f64,
    pub translate_s: f64,
    pub summarize_s: f64,
    pub write_s: f64,
}

/// The engines an output came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Models {
    pub translator: Option<String>,
    pub model: Option<String>,
    pub llm: Option<String>,
    pub summarizer: Option<String>,
}

/// One manifest line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub path: String,
    pub hash: Option<String>,
    pub status: Status,
    pub error: Option<String>,
    pub output: Option<String>,
    pub timings: Option<EntryTimings>,
    pub models: Models,
    pub warnings: Vec<String>,
    pub settings: String,
    pub finished: String,
}

/// What resuming needs of a line; unknown fields are ignored so that older and newer manifests read.
#[derive(Debug, Deserialize)]
struct ResumeLine {
    path: String,
    hash: Option<String>,
    status: Status,
    #[serde(default)]
    settings: String,
}

/// Which inputs earlier runs finished, as compact digests: 32 bytes per input, never the lines
/// themselves, so resuming a million-file archive costs tens of megabytes, not the manifest's size.
///
/// Each also keeps the byte offset of its last line, so a skipped file's new line can carry what its
/// real run found (warnings, timings, models), read back from there.
#[derive(Debug, Default)]
pub struct ResumeIndex {
    done: HashMap<[u8; 16], ([u8; 16], u64)>,
}

impl ResumeIndex {
    /// Whether `path` was last recorded done with this content `hash` under these `settings`.
    pub fn is_done(&self, path: &str, hash: &str, settings: &str) -> bool {
        self.done_at(path, hash, settings).is_some()
    }

    /// Where the manifest line that records `path` done (with this `hash` and `settings`) starts.
    pub fn done_at(&self, path: &str, hash: &str, settings: &str) -> Option<u64> {
        self.done
            .get(&path_key(path))
            .filter(|(key, _)| *key == done_key(hash, settings))
            .map(|&(_, offset)| offset)
    }

    pub fn len(&self) -> usize {
        self.done.len()
    }

    pub fn is_empty(&self) -> bool {
        self.done.is_empty()
    }

    fn record(&mut self, line: &ResumeLine, offset: u64) {
        match (&line.hash, line.status.is_done()) {
            (Some(hash), true) => {
                self.done.insert(
                    path_key(&line.path),
                    (done_key(hash, &line.settings), offset),
                );
            }
            _ => {
                self.done.remove(&path_key(&line.path));
            }
        }
    }
}

fn path_key(path: &str) -> [u8; 16] {
    truncated(blake3::hash(path.as_bytes()))
}

fn done_key(hash: &str, settings: &str) -> [u8; 16] {
    let mut h = blake3::Hasher::new();
    h.update(hash.as_bytes());
    h.update(&[0]);
    h.update(settings.as_bytes());
    truncated(h.finalize())
}

fn truncated(h: blake3::Hash) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.as_bytes()[..16]);
    out
}

/// What opening an existing manifest found.
#[derive(Debug, Default)]
pub struct Opened {
    pub index: ResumeIndex,
    /// Problems worth a warning (a torn last line, lines that do not parse).
    pub warnings: Vec<String>,
}

/// Cut a torn last line (no final newline: a crash during a write) off the manifest at `path`, then read
/// which inputs it records as done. A missing manifest is an empty one.
pub fn open_existing(path: &Path) -> Result<Opened, BatchError> {
    let io = |source| BatchError::Manifest {
        path: path.to_path_buf(),
        source,
    };
    let mut opened = Opened::default();
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(opened),
        Err(e) => return Err(io(e)),
    };
    if let Some(keep) = complete_length(&mut file).map_err(io)? {
        file.set_len(keep).map_err(io)?;
        file.sync_all().map_err(io)?;
        opened.warnings.push(format!(
            "{}: the last line was incomplete (the previous run was cut off while writing it); \
             removed it, and its file will be done again",
            path.display()
        ));
    }
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut bad_lines = 0usize;
    let mut first_bad = None;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut offset = 0u64;
    for n in 0.. {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(io)?;
        if read == 0 {
            break;
        }
        let start = offset;
        offset += read as u64;
        // Bytes, not text: a line that is not UTF-8 is a bad line like any other, not a failed run.
        if line.trim_ascii().is_empty() {
            continue;
        }
        match serde_json::from_slice::<ResumeLine>(&line) {
            Ok(l) => opened.index.record(&l, start),
            Err(e) => {
                bad_lines += 1;
                first_bad.get_or_insert((n + 1, e.to_string()));
            }
        }
    }
    if let Some((n, e)) = first_bad {
        opened.warnings.push(format!(
            "{}: ignored {bad_lines} line(s) that are not manifest entries (first: line {n}: {e})",
            path.display()
        ));
    }
    Ok(opened)
}

/// What a file's real run found, carried over to the line that records it skipped by a later run.
#[derive(Debug, Default, Deserialize)]
pub struct Previous {
    #[serde(default)]
    pub timings: Option<EntryTimings>,
    #[serde(default)]
    pub models: Models,
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Reads earlier lines of the manifest back by offset (from [`ResumeIndex::done_at`]).
pub struct PreviousReader {
    path: PathBuf,
    reader: Option<BufReader<File>>,
}

impl PreviousReader {
    /// Longest line read back: a manifest line is a few kilobytes; a longer one was not written by
    /// warta and is not worth holding in memory.
    const MAX_LINE: u64 = 16 << 20;

    pub fn new(manifest: &Path) -> Self {
        PreviousReader {
            path: manifest.to_path_buf(),
            reader: None,
        }
    }

    /// The line at `offset`, or `None` when it cannot be read back (then the new line says less).
    pub fn read_at(&mut self, offset: u64) -> Option<Previous> {
        if self.reader.is_none() {
            self.reader = File::open(&self.path).ok().map(BufReader::new);
        }
        let reader = self.reader.as_mut()?;
        reader.seek(SeekFrom::Start(offset)).ok()?;
        let mut line = Vec::new();
        reader
            .take(Self::MAX_LINE)
            .read_until(b'\n', &mut line)
            .ok()?;
        serde_json::from_slice(&line).ok()
    }
}

/// `Some(length up to the last newline)` when the file does not end with a newline.
fn complete_length(file: &mut File) -> std::io::Result<Option<u64>> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(None);
    }
    let mut pos = len;
    let mut buf = [0u8; 4096];
    let mut last_byte = true;
    while pos > 0 {
        let n = buf.len().min(pos as usize);
        pos -= n as u64;
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut buf[..n])?;
        if last_byte {
            if buf[n - 1] == b'\n' {
                return Ok(None);
            }
            last_byte = false;
        }
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(Some(pos + i as u64 + 1));
        }
    }
    Ok(Some(0))
}

/// Appends lines to the manifest: each line in one `write(2)` on an `O_APPEND` file, so a crash tears
/// at most the last line; synced to disk every [`Writer::SYNC_LINES`] lines or
/// [`Writer::SYNC_INTERVAL`], and when closed.
pub struct Writer {
    file: File,
    path: PathBuf,
    unsynced: usize,
    last_sync: Instant,
    buf: Vec<u8>,
}

impl Writer {
    pub const SYNC_LINES: usize = 64;
    pub const SYNC_INTERVAL: Duration = Duration::from_secs(2);

    pub fn append_to(path: &Path) -> Result<Writer, BatchError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| BatchError::Manifest {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Writer {
            file,
            path: path.to_path_buf(),
            unsynced: 0,
            last_sync: Instant::now(),
            buf: Vec::with_capacity(1024),
        })
    }

    pub fn append(&mut self, entry: &Entry) -> Result<(), BatchError> {
        self.buf.clear();
        // An `Entry` holds only strings, numbers and lists: serialising it cannot fail.
        serde_json::to_writer(&mut self.buf, entry).unwrap_or_default();
        self.buf.push(b'\n');
        self.file
            .write_all(&self.buf)
            .map_err(|source| BatchError::Manifest {
                path: self.path.clone(),
                source,
            })?;
        self.unsynced += 1;
        if self.unsynced >= Self::SYNC_LINES || self.last_sync.elapsed() >= Self::SYNC_INTERVAL {
            self.sync()?;
        }
        Ok(())
    }

    pub fn sync(&mut self) -> Result<(), BatchError> {
        if self.unsynced > 0 {
            self.file
                .sync_data()
                .map_err(|source| BatchError::Manifest {
                    path: self.path.clone(),
                    source,
                })?;
        }
        self.unsynced = 0;
        self.last_sync = Instant::now();
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.sync();
    }
}

/// Read every line of a manifest for `--merge-manifests`, with its byte offset, skipping a torn last
/// line and lines that do not parse (counted in the result). Calls `each(offset, length, line)`.
pub fn scan(path: &Path, mut each: impl FnMut(u64, usize, &str)) -> Result<ScanReport, BatchError> {
    let io = |source| BatchError::Manifest {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = BufReader::new(fs::File::open(path).map_err(io)?);
    let mut report = ScanReport::default();
    let mut offset = 0u64;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(io)?;
        if n == 0 {
            break;
        }
        if !line.ends_with('\n') {
            report.torn = true;
        } else if !line.trim().is_empty() {
            each(offset, n, line.trim_end());
        }
        offset += n as u64;
    }
    Ok(report)
}

#[derive(Debug, Default)]
pub struct ScanReport {
    pub torn: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, hash: &str, status: Status, settings: &str) -> Entry {
        Entry {
            path: path.into(),
            hash: Some(hash.into()),
            status,
            error: None,
            output: Some(format!("{path}.en.txt")),
            timings: Some(EntryTimings::default()),
            models: Models::default(),
            warnings: vec![],
            settings: settings.into(),
            finished: "2024-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn last_line_wins_and_settings_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        {
            let mut w = Writer::append_to(&path).unwrap();
            w.append(&entry("a", "h1", Status::Ok, "s")).unwrap();
            w.append(&entry("b", "h2", Status::Ok, "s")).unwrap();
            w.append(&entry("b", "h2", Status::Failed, "s")).unwrap();
            w.append(&entry("c", "h3", Status::Failed, "s")).unwrap();
            w.append(&entry("c", "h3", Status::Skipped, "s")).unwrap();
        }
        let idx = open_existing(&path).unwrap().index;
        assert!(idx.is_done("a", "h1", "s"));
        assert!(!idx.is_done("a", "h1", "other settings"));
        assert!(!idx.is_done("a", "changed", "s"));
        assert!(!idx.is_done("b", "h2", "s"));
        assert!(idx.is_done("c", "h3", "s"));
        assert_eq!(idx.len(), 2);
    }

    #[test]
    fn a_torn_last_line_is_cut_off_and_redone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let good = serde_json::to_string(&entry("a", "h1", Status::Ok, "s")).unwrap();
        let torn = &serde_json::to_string(&entry("b", "h2", Status::Ok, "s")).unwrap()[..40];
        fs::write(&path, format!("{good}\nnot json\n{torn}")).unwrap();
        let opened = open_existing(&path).unwrap();
        assert!(opened.index.is_done("a", "h1", "s"));
        assert!(!opened.index.is_done("b", "h2", "s"));
        assert_eq!(opened.warnings.len(), 2, "{:?}", opened.warnings);
        assert!(opened.warnings[0].contains("incomplete"));
        assert!(opened.warnings[1].contains("line 2"));
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("{good}\nnot json\n")
        );
        // Appending afterwards leaves every line whole.
        let mut w = Writer::append_to(&path).unwrap();
        w.append(&entry("b", "h2", Status::Ok, "s")).unwrap();
        drop(w);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn a_torn_only_line_empties_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        fs::write(&path, "x".repeat(10_000)).unwrap();
        let opened = open_existing(&path).unwrap();
        assert!(opened.index.is_empty());
        assert_eq!(fs::metadata(&path).unwrap().len(), 0);
        assert!(open_existing(&dir.path().join("missing.jsonl"))
            .unwrap()
            .index
            .is_empty());
    }

    #[test]
    fn field_names_are_the_documented_contract() {
        let v = serde_json::to_value(entry("a", "h", Status::Skipped, "s")).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        for k in [
            "path", "hash", "status", "error", "output", "timings", "models", "warnings",
        ] {
            assert!(keys.contains(&k), "{k} missing from {keys:?}");
        }
        assert_eq!(v["status"], "skipped");
    }
}
