//! `warta models`: which model files are in the cache (or the local directory), where, how big, where
//! the cache is and why there, and whether we are offline; `--fetch` downloads what is missing.

use std::path::PathBuf;

use serde::Serialize;

use super::{FileSpec, Hub, ModelError, RepoSpec};
use crate::translate::marian;

/// The state of the models a command would use.
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    pub cache_dir: PathBuf,
    /// Which setting chose the cache directory.
    pub cache_from: String,
    pub offline: bool,
    pub models: Vec<ModelEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelEntry {
    /// `translator` or `llm`.
    pub role: String,
    /// Hub repo (and file) or local path.
    pub id: String,
    pub revision: Option<String>,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileEntry {
    pub name: String,
    pub required: bool,
    pub present: bool,
    pub path: Option<PathBuf>,
    pub size: Option<u64>,
    /// Roughly how big the file of the default model is, when known (for files not yet fetched).
    pub expected_size: Option<u64>,
}

/// Approximate sizes of the default models' large files.
fn expected_size(id: &str, file: &str) -> Option<u64> {
    match (id, file) {
        (marian::DEFAULT_MODEL, marian::PYTORCH_BIN) => Some(291_000_000),
        (marian::DEFAULT_MODEL, marian::SAFETENSORS) => Some(291_000_000),
        (marian::DEFAULT_MODEL, marian::SOURCE_SPM) => Some(801_000),
        (marian::DEFAULT_MODEL, marian::TARGET_SPM) => Some(796_000),
        (marian::DEFAULT_MODEL, marian::VOCAB) => Some(1_260_000),
        (
            "Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf",
            "qwen2.5-1.5b-instruct-q4_k_m.gguf",
        ) => Some(1_120_000_000),
        _ => None,
    }
}

/// How `Hub::from_env` picks the cache, in words (same order of variables).
pub fn cache_origin() -> String {
    let set = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty()).is_some();
    if set("HF_HUB_CACHE") {
        "HF_HUB_CACHE".into()
    } else if set("HF_HOME") {
        "HF_HOME (its hub/ folder)".into()
    } else if set("XDG_CACHE_HOME") {
        "XDG_CACHE_HOME (its huggingface/hub/ folder)".into()
    } else {
        "default (~/.cache/huggingface/hub; set HF_HUB_CACHE or HF_HOME to move it)".into()
    }
}

fn entry(name: &str, required: bool, path: Option<PathBuf>, id: &str) -> FileEntry {
    let size = path
        .as_ref()
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| m.len());
    FileEntry {
        name: name.to_string(),
        required,
        present: path.is_some(),
        path,
        size,
        expected_size: expected_size(id, name),
    }
}

/// The files of a Marian model: the fixed list, then the weights (whichever variant is present, else
/// both names as alternatives).
pub fn marian_entry(spec: &RepoSpec, hub: &Hub) -> ModelEntry {
    let id = spec.id();
    let mut files: Vec<FileEntry> = marian::FILES
        .iter()
        .map(|(name, required)| entry(name, *required, spec.cached(hub, name), &id))
        .collect();
    let weights = [marian::SAFETENSORS, marian::PYTORCH_BIN]
        .into_iter()
        .find_map(|f| spec.cached(hub, f).map(|p| (f, p)));
    files.push(match weights {
        Some((name, path)) => entry(name, true, Some(path), &id),
        None => FileEntry {
            expected_size: expected_size(&id, marian::PYTORCH_BIN),
            ..entry(
                &format!("{} | {}", marian::SAFETENSORS, marian::PYTORCH_BIN),
                true,
                None,
                &id,
            )
        },
    });
    ModelEntry {
        role: "translator".into(),
        id,
        revision: match spec {
            RepoSpec::Hub { revision, .. } => Some(revision.clone()),
            RepoSpec::Local(_) => None,
        },
        files,
    }
}

/// The GGUF file of the LLM (`--llm`), or the reason its spec is unusable.
pub fn llm_entry(spec: &str, hub: &Hub) -> Result<ModelEntry, ModelError> {
    let spec = FileSpec::parse(spec)?;
    let id = spec.id();
    let (name, revision) = match &spec {
        FileSpec::Hub { file, revision, .. } => (file.clone(), Some(revision.clone())),
        FileSpec::Local(p) => (p.display().to_string(), None),
    };
    Ok(ModelEntry {
        role: "llm".into(),
        files: vec![entry(&name, true, spec.cached(hub), &id)],
        id,
        revision,
    })
}

/// Download every missing file of the Marian model (through the Hub cache).
pub fn fetch_marian(spec: &RepoSpec, hub: &Hub) -> Result<(), ModelError> {
    marian::fetch_files(spec, hub)
}

/// Download the LLM's GGUF file when missing.
pub fn fetch_llm(spec: &str, hub: &Hub) -> Result<(), ModelError> {
    FileSpec::parse(spec)?.get(hub).map(|_| ())
}

impl Inventory {
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "Cache: {}\n  chosen by {}\nOffline: {}\n",
            self.cache_dir.display(),
            self.cache_from,
            if self.offline {
                "yes (only cached files are used)"
            } else {
                "no (missing files are downloaded on first use)"
            }
        );
        let mut missing = false;
        for m in &self.models {
            s.push_str(&format!(
                "\n{} {}{}\n",
                if m.role == "llm" {
                    "LLM"
                } else {
                    "Translator (Marian)"
                },
                m.id,
                m.revision
                    .as_ref()
                    .map(|r| format!(" @ {r}"))
                    .unwrap_or_default()
            ));
            for f in &m.files {
                let size = match (f.size, f.expected_size) {
                    (Some(n), _) => human(n),
                    (None, Some(n)) => format!("~{} to download", human(n)),
                    (None, None) => String::new(),
                };
                let state = if f.present && m.revision.is_none() {
                    "found" // a local directory or file, not the cache
                } else if f.present {
                    "cached"
                } else if f.required {
                    missing = true;
                    "MISSING"
                } else {
                    "optional"
                };
                s.push_str(&format!("  {state:<8}  {:<38} {:>22}", f.name, size));
                if let Some(p) = &f.path {
                    s.push_str(&format!("  {}", p.display()));
                }
                s.push('\n');
            }
        }
        if missing {
            s.push_str("\nRequired files are missing: run `warta models --fetch` (or any command) with network access.\n");
        }
        s
    }
}

fn human(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.2} GB", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1} kB", n as f64 / 1e3),
        n => format!("{n} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_cache_lists_every_file_as_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let hub = Hub::new(tmp.path(), None, true);
        let spec = RepoSpec::parse(marian::DEFAULT_MODEL, "main");
        let m = marian_entry(&spec, &hub);
        assert!(m.files.iter().all(|f| !f.present));
        let weights = m.files.last().unwrap();
        assert_eq!(weights.name, "model.safetensors | pytorch_model.bin");
        assert_eq!(weights.expected_size, Some(291_000_000));
        let inv = Inventory {
            cache_dir: tmp.path().into(),
            cache_from: "test".into(),
            offline: true,
            models: vec![m],
        };
        let text = inv.to_text();
        assert!(
            text.contains("MISSING") && text.contains("--fetch"),
            "{text}"
        );
    }

    #[test]
    fn local_directory_files_are_found_with_sizes() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("config.json"), "{}").unwrap();
        std::fs::write(tmp.path().join("pytorch_model.bin"), "12345").unwrap();
        let hub = Hub::new(tmp.path(), None, true);
        let m = marian_entry(&RepoSpec::Local(tmp.path().into()), &hub);
        let config = &m.files[0];
        assert!(config.present && config.size == Some(2));
        let weights = m.files.last().unwrap();
        assert_eq!(
            (weights.name.as_str(), weights.size),
            ("pytorch_model.bin", Some(5))
        );
        assert!(llm_entry("no-such-spec", &hub).is_err());
        // A bare file name is a local file: listed as missing.
        let e = llm_entry("no-such-spec.gguf", &hub).unwrap();
        assert!(!e.files[0].present, "{:?}", e.files[0]);
    }
}
