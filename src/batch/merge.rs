//! `warta batch --merge-manifests DIR… -o OUT [INPUT_DIR]`: combine the manifests of shard runs into
//! `OUT/manifest.jsonl`, one line per input (the last line for a path wins within a shard), sorted by
//! path, with each `output` made relative to OUT (absolute when the shard directory is not under OUT).
//!
//! It reports, on stderr, paths two shards disagree about, shards that are missing, and (on stdout, one
//! per line, for scripts) input files that no shard recorded. Which files should exist comes from
//! INPUT_DIR when given, otherwise from the input directory and filters the shards recorded in their
//! `batch.json`. Merging a single directory into itself compacts its manifest.
//!
//! Only an index (path → where its line is) is kept in memory; the lines are copied from the shard
//! manifests one at a time.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Deserialize;

use super::manifest::{self, Status};
use super::report::Verbosity;
use super::shard::Shard;
use super::walk::{self, Found};
use super::{BatchError, RunInfo, EXIT_SOME_FAILED};
use super::Options;
use crate::render::Format;

/// Disagreements listed in full; the rest are counted.
const LISTED: usize = 20;

/// Where a path's chosen line is, and what it says.
#[derive(Debug, Clone, Copy)]
struct Loc {
    dir: usize,
    offset: u64,
    len: usize,
    status: Status,
    /// The first 64 bits of the content hash, to tell identical duplicates from conflicting ones.
    hash: Option<u64>,
}

#[derive(Deserialize)]
struct Line {
    path: String,
    status: Status,
    hash: Option<String>,
}

/// A shard output directory.
struct Source {
    dir: PathBuf,
    info: Option<RunInfo>,
    shard: Option<Shard>,
}

pub fn run(args: &Options, verbosity: Verbosity) -> crate::Result<ExitCode> {
    let note = |msg: &str| {
        if verbosity != Verbosity::Quiet {
            eprintln!("warta: {msg}");
        }
    };
    let out = args.output.as_deref().ok_or_else(|| {
        BatchError::Failed(
            "--merge-manifests needs -o OUT, the directory to write the merged manifest.jsonl into"
                .into(),
        )
    })?;
    let out = super::create_output_dir(out)?;
    let (_lock, lock_warning) = super::lock::Lock::acquire(&out)?;
    if let Some(w) = lock_warning {
        note(&w);
    }

    let mut sources = Vec::new();
    for dir in &args.merge_manifests {
        let dir = fs::canonicalize(dir).map_err(|_| BatchError::NoManifest { dir: dir.clone() })?;
        if !dir.join(manifest::FILE_NAME).is_file() {
            return Err(BatchError::NoManifest { dir }.into());
        }
        if dir != out && dir.join(super::lock::FILE_NAME).exists() {
            note(&format!(
                "{}: a `warta batch` run may still be writing here (its lock file exists); its \
                 manifest is merged as it is now",
                dir.display()
            ));
        }
        let info = RunInfo::read(&dir);
        let shard = info
            .as_ref()
            .and_then(|i| i.shard.as_deref())
            .and_then(|s| s.parse().ok());
        sources.push(Source { dir, info, shard });
    }

    let mut merged: HashMap<String, Loc> = HashMap::new();
    let mut duplicates = 0usize;
    let mut conflicts: Vec<String> = Vec::new();
    let mut conflict_count = 0usize;
    for (i, source) in sources.iter().enumerate() {
        let path = source.dir.join(manifest::FILE_NAME);
        let mut own: HashMap<String, Loc> = HashMap::new();
        let mut unreadable = 0usize;
        let scanned = manifest::scan(&path, |offset, len, text| {
            match serde_json::from_str::<Line>(text) {
                Ok(line) => {
                    let loc = Loc {
                        dir: i,
                        offset,
                        len,
                        status: line.status,
                        hash: line.hash.as_deref().and_then(hash_prefix),
                    };
                    own.insert(line.path, loc);
                }
                Err(_) => unreadable += 1,
            }
        })?;
        if scanned.torn {
            note(&format!(
                "{}: ignored an incomplete last line (that run was cut off)",
                path.display()
            ));
        }
        if unreadable > 0 {
            note(&format!(
                "{}: ignored {unreadable} line(s) that are not manifest entries",
                path.display()
            ));
        }
        for (p, loc) in own {
            match merged.get(&p).copied() {
                None => {
                    merged.insert(p, loc);
                }
                Some(prev) => {
                    // `ok` and `skipped` both mean done: not a disagreement.
                    if prev.status.is_done() == loc.status.is_done() && prev.hash == loc.hash {
                        duplicates += 1;
                    } else {
                        conflict_count += 1;
                        if conflicts.len() < LISTED {
                            conflicts.push(format!(
                                "{p}: {} in {}, {} in {}",
                                status_name(prev.status),
                                sources[prev.dir].dir.display(),
                                status_name(loc.status),
                                source.dir.display()
                            ));
                        }
                    }
                    if prefer(&p, &loc, &prev, &sources) {
                        merged.insert(p, loc);
                    }
                }
            }
        }
    }

    let mut paths: Vec<&String> = merged.keys().collect();
    paths.sort();
    let target = out.join(manifest::FILE_NAME);
    let (mut ok, mut skipped, mut failed) = (0usize, 0usize, 0usize);
    {
        let io = |source| BatchError::Manifest {
            path: target.clone(),
            source,
        };
        let mut readers: Vec<File> = sources
            .iter()
            .map(|s| File::open(s.dir.join(manifest::FILE_NAME)))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{}.", manifest::FILE_NAME))
            .suffix(".tmp")
            .tempfile_in(&out)
            .map_err(io)?;
        let mut w = BufWriter::new(tmp);
        let mut buf = Vec::new();
        for p in &paths {
            let loc = merged[*p];
            match loc.status {
                Status::Ok => ok += 1,
                Status::Skipped => skipped += 1,
                Status::Failed => failed += 1,
            }
            buf.resize(loc.len, 0);
            let r = &mut readers[loc.dir];
            r.seek(SeekFrom::Start(loc.offset)).map_err(io)?;
            r.read_exact(&mut buf).map_err(io)?;
            let line = rebase_output(&buf, &sources[loc.dir].dir, &out);
            w.write_all(line.as_bytes()).map_err(io)?;
            w.write_all(b"\n").map_err(io)?;
        }
        let tmp = w.into_inner().map_err(|e| io(e.into_error()))?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(&target).map_err(|e| io(e.error))?;
    }

    let missing_shards = missing_shards(&sources, &note);
    let missing = missing_inputs(args, &sources, &out, &merged, &note)?;
    note(&format!(
        "merged {} manifest(s) into {}: {} files ({ok} ok, {skipped} skipped, {failed} failed)",
        sources.len(),
        target.display(),
        paths.len()
    ));
    if duplicates > 0 {
        note(&format!(
            "{duplicates} file(s) appear in more than one shard with the same result"
        ));
    }
    if conflict_count > 0 {
        eprintln!(
            "warta: {conflict_count} file(s) have different results in different shards (kept the \
             owning shard's, else a done one, else the last given):"
        );
        for c in &conflicts {
            eprintln!("  {c}");
        }
        if conflict_count > conflicts.len() {
            eprintln!("  … and {} more", conflict_count - conflicts.len());
        }
    }
    if let Some(missing) = missing {
        if missing > 0 {
            eprintln!(
                "warta: {missing} input file(s) are missing from every shard (listed on standard \
                 output); run the missing shards, or the same `warta batch` command again"
            );
        } else {
            note("every input file is in the merged manifest");
        }
    }
    let incomplete =
        failed > 0 || conflict_count > 0 || missing_shards > 0 || missing.is_some_and(|m| m > 0);
    Ok(if incomplete {
        ExitCode::from(EXIT_SOME_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Skipped => "skipped",
        Status::Failed => "failed",
    }
}

fn hash_prefix(hex: &str) -> Option<u64> {
    u64::from_str_radix(hex.get(..16)?, 16).ok()
}

/// Whether `new` should replace `old` for `path`: the line from the shard that owns the path wins, then
/// a done one over a failed one, then the later directory.
fn prefer(path: &str, new: &Loc, old: &Loc, sources: &[Source]) -> bool {
    let owns = |loc: &Loc| {
        sources[loc.dir]
            .shard
            .map(|s| s.contains(path))
            .unwrap_or(false)
    };
    match (owns(new), owns(old)) {
        (true, false) => return true,
        (false, true) => return false,
        _ => {}
    }
    match (new.status.is_done(), old.status.is_done()) {
        (true, false) => true,
        (false, true) => false,
        _ => true,
    }
}

/// The line with its `output` made relative to `out` (absolute when outside it).
fn rebase_output(line: &[u8], dir: &Path, out: &Path) -> String {
    let text = String::from_utf8_lossy(line);
    if dir == out {
        return text.trim_end().to_string();
    }
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return text.trim_end().to_string();
    };
    if let Some(rel) = value.get("output").and_then(|o| o.as_str()) {
        if let Some(abs) = walk::under(dir, rel) {
            let rebased = match abs.strip_prefix(out) {
                Ok(r) => r
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
                Err(_) => abs.display().to_string(),
            };
            value["output"] = serde_json::Value::String(rebased);
        }
    }
    value.to_string()
}

/// Shards `1..=N` that no directory recorded (when every directory recorded its shard).
fn missing_shards(sources: &[Source], note: &dyn Fn(&str)) -> usize {
    let shards: Vec<Shard> = sources.iter().filter_map(|s| s.shard).collect();
    if shards.len() != sources.len() || shards.is_empty() {
        return 0;
    }
    let n = shards[0].count;
    if shards.iter().any(|s| s.count != n) {
        note(
            "the directories were made with different shard counts (--shard K/N with different N)",
        );
        return 0;
    }
    let have: BTreeSet<u64> = shards.iter().map(|s| s.index).collect();
    let missing: Vec<String> = (1..=n)
        .filter(|k| !have.contains(k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "warta: no directory given for shard(s) {}",
            missing.join(", ")
        );
    }
    missing.len()
}

/// Print (on stdout) the input files no shard recorded; `None` when the input directory is unknown.
fn missing_inputs(
    args: &Options,
    sources: &[Source],
    out: &Path,
    merged: &HashMap<String, Loc>,
    note: &dyn Fn(&str),
) -> Result<Option<usize>, BatchError> {
    let recorded: Vec<&RunInfo> = sources.iter().filter_map(|s| s.info.as_ref()).collect();
    let (root, include, exclude) = match &args.input_dir {
        Some(dir) => (dir.clone(), args.include.clone(), args.exclude.clone()),
        None => {
            let same = recorded.len() == sources.len()
                && recorded.windows(2).all(|w| {
                    w[0].input_dir == w[1].input_dir
                        && w[0].include == w[1].include
                        && w[0].exclude == w[1].exclude
                });
            match recorded.first() {
                Some(first) if same && first.input_dir.is_dir() => (
                    first.input_dir.clone(),
                    first.include.clone(),
                    first.exclude.clone(),
                ),
                _ => {
                    note(
                        "cannot tell which files are missing: the shards do not agree on one \
                         input directory that is reachable here; give it as INPUT_DIR",
                    );
                    return Ok(None);
                }
            }
        }
    };
    let root = fs::canonicalize(&root).map_err(|e| BatchError::InputDir {
        path: root.clone(),
        reason: e.to_string(),
    })?;
    let filter = walk::Filter::new(&include, &exclude)?;
    let skip: Vec<PathBuf> = std::iter::once(out.to_path_buf())
        .chain(sources.iter().map(|s| s.dir.clone()))
        .filter(|d| d.starts_with(&root))
        .collect();
    let mut missing = 0;
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    for found in super::stages::inputs(&root, &skip, &filter, Format::Text, None) {
        let rel = match found {
            Found::Input(i) => i.rel,
            Found::Unusable { rel, .. } => rel,
            Found::Note(_) => continue,
        };
        if !merged.contains_key(&rel) {
            missing += 1;
            let _ = writeln!(stdout, "{rel}");
        }
    }
    Ok(Some(missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_rebased_onto_the_merged_directory() {
        let line = br#"{"path":"a/x.html","output":"a/x.en.md","status":"ok"}"#;
        let v: serde_json::Value = serde_json::from_str(&rebase_output(
            line,
            Path::new("/out/shard-2"),
            Path::new("/out"),
        ))
        .unwrap();
        assert_eq!(v["output"], "shard-2/a/x.en.md");
        let v: serde_json::Value = serde_json::from_str(&rebase_output(
            line,
            Path::new("/elsewhere"),
            Path::new("/out"),
        ))
        .unwrap();
        assert_eq!(v["output"], "/elsewhere/a/x.en.md");
        let failed = br#"{"path":"b","output":null,"status":"failed"}"#;
        let v: serde_json::Value =
            serde_json::from_str(&rebase_output(failed, Path::new("/s"), Path::new("/out")))
                .unwrap();
        assert!(v["output"].is_null());
    }

    #[test]
    fn the_owning_shard_wins_then_done_over_failed() {
        let sources: Vec<Source> = (1..=2)
            .map(|k| Source {
                dir: PathBuf::from(format!("/s{k}")),
                info: None,
                shard: Some(Shard { index: k, count: 2 }),
            })
            .collect();
        let path = "a/x.html";
        let owner = Shard::owner(path, 2) as usize - 1;
        let at = |dir, status| Loc {
            dir,
            offset: 0,
            len: 0,
            status,
            hash: None,
        };
        let owned = at(owner, Status::Failed);
        let other = at(1 - owner, Status::Ok);
        assert!(!prefer(path, &other, &owned, &sources));
        assert!(prefer(path, &owned, &other, &sources));
        let unsharded: Vec<Source> = (1..=2)
            .map(|k| Source {
                dir: PathBuf::from(format!("/s{k}")),
                info: None,
                shard: None,
            })
            .collect();
        assert!(!prefer(
            path,
            &at(1, Status::Failed),
            &at(0, Status::Ok),
            &unsharded
        ));
        assert!(prefer(
            path,
            &at(1, Status::Ok),
            &at(0, Status::Failed),
            &unsharded
        ));
    }
}
