//! What the user names with `--model` and `--llm`: a Hub repo (and file), or something on disk.

use std::path::{Path, PathBuf};

use super::{Hub, ModelError};

/// A model directory: a Hub repo at a revision, or a local directory holding the same files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoSpec {
    Hub { repo: String, revision: String },
    Local(PathBuf),
}

impl RepoSpec {
    /// An existing directory, or anything that looks like a path (`./x`, `/x`, `~/x`), is local;
    /// `owner/name` is a Hub repo.
    pub fn parse(spec: &str, revision: &str) -> RepoSpec {
        if looks_local(spec) {
            RepoSpec::Local(PathBuf::from(spec))
        } else {
            RepoSpec::Hub {
                repo: spec.to_string(),
                revision: revision.to_string(),
            }
        }
    }

    /// Path of `file` of this model: from the local directory, or from the Hub cache (downloading it).
    pub fn get(&self, hub: &Hub, file: &str) -> Result<PathBuf, ModelError> {
        match self {
            RepoSpec::Local(dir) => {
                let p = dir.join(file);
                if p.is_file() {
                    Ok(p)
                } else if !dir.is_dir() {
                    Err(ModelError::Invalid {
                        path: dir.clone(),
                        reason: "no such model directory".into(),
                    })
                } else {
                    Err(ModelError::Invalid {
                        path: dir.clone(),
                        reason: format!("the model directory has no {file}"),
                    })
                }
            }
            RepoSpec::Hub { repo, revision } => hub.get(repo, revision, file),
        }
    }

    /// Like [`get`](Self::get) but never downloads: `None` when not present locally or in the cache.
    pub fn cached(&self, hub: &Hub, file: &str) -> Option<PathBuf> {
        match self {
            RepoSpec::Local(dir) => Some(dir.join(file)).filter(|p| p.is_file()),
            RepoSpec::Hub { repo, revision } => hub.cached(repo, revision, file),
        }
    }

    /// How to name the model in outputs: the repo id, or the directory.
    pub fn id(&self) -> String {
        match self {
            RepoSpec::Hub { repo, .. } => repo.clone(),
            RepoSpec::Local(dir) => dir.display().to_string(),
        }
    }
}

/// A single-file model (GGUF): `owner/name/file.gguf` on the Hub, or a local file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSpec {
    Hub {
        repo: String,
        revision: String,
        file: String,
    },
    Local(PathBuf),
}

impl FileSpec {
    /// `owner/name/dir/file.gguf` is a Hub repo plus a path inside it (optionally `@revision` after the
    /// repo: `owner/name@rev/file.gguf`); an existing file or a path-like string is local.
    pub fn parse(spec: &str) -> Result<FileSpec, ModelError> {
        // A bare `name.gguf` cannot be a Hub `owner/repo/file`: it is a local file, maybe missing.
        if looks_local(spec) || (!spec.contains('/') && spec.ends_with(".gguf")) {
            return Ok(FileSpec::Local(PathBuf::from(spec)));
        }
        let mut parts = spec.splitn(3, '/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(owner), Some(name), Some(file)) if !owner.is_empty() && !name.is_empty() && !file.is_empty() => {
                let (name, revision) = match name.split_once('@') {
                    Some((n, r)) if !n.is_empty() && !r.is_empty() => (n, r),
                    _ => (name, "main"),
                };
                Ok(FileSpec::Hub { repo: format!("{owner}/{name}"), revision: revision.into(), file: file.into() })
            }
            _ => Err(ModelError::Invalid {
                path: PathBuf::from(spec),
                reason: "not a local file, and not a Hub `owner/repo/file.gguf`; give an existing path or \
                         a repo id followed by the file name"
                    .into(),
            }),
        }
    }

    /// The file on disk, downloading it through the Hub cache when needed.
    pub fn get(&self, hub: &Hub) -> Result<PathBuf, ModelError> {
        match self {
            FileSpec::Local(p) if p.is_file() => Ok(p.clone()),
            FileSpec::Local(p) => Err(ModelError::Invalid {
                path: p.clone(),
                reason: "no such model file".into(),
            }),
            FileSpec::Hub {
                repo,
                revision,
                file,
            } => hub.get(repo, revision, file),
        }
    }

    /// Like [`get`](Self::get) but never downloads.
    pub fn cached(&self, hub: &Hub) -> Option<PathBuf> {
        match self {
            FileSpec::Local(p) => Some(p.clone()).filter(|p| p.is_file()),
            FileSpec::Hub {
                repo,
                revision,
                file,
            } => hub.cached(repo, revision, file),
        }
    }

    pub fn id(&self) -> String {
        match self {
            FileSpec::Hub { repo, file, .. } => format!("{repo}/{file}"),
            FileSpec::Local(p) => p.display().to_string(),
        }
    }
}

fn looks_local(spec: &str) -> bool {
    let p = Path::new(spec);
    p.exists()
        || spec.starts_with('.')
        || spec.starts_with('/')
        || spec.starts_with('~')
        || spec.starts_with('\\')
        || spec.contains('\\')
        || (spec.len() > 1 && spec.as_bytes()[1] == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_specs() {
        assert_eq!(
            RepoSpec::parse("Helsinki-NLP/opus-mt-id-en", "main"),
            RepoSpec::Hub {
                repo: "Helsinki-NLP/opus-mt-id-en".into(),
                revision: "main".into()
            }
        );
        assert_eq!(
            RepoSpec::parse("./models/x", "main"),
            RepoSpec::Local("./models/x".into())
        );
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_str().unwrap();
        assert_eq!(RepoSpec::parse(dir, "main"), RepoSpec::Local(dir.into()));
    }

    #[test]
    fn file_specs() {
        assert_eq!(
            FileSpec::parse("Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf")
                .unwrap(),
            FileSpec::Hub {
                repo: "Qwen/Qwen2.5-1.5B-Instruct-GGUF".into(),
                revision: "main".into(),
                file: "qwen2.5-1.5b-instruct-q4_k_m.gguf".into()
            }
        );
        assert_eq!(
            FileSpec::parse("o/r@v1/sub/f.gguf").unwrap(),
            FileSpec::Hub {
                repo: "o/r".into(),
                revision: "v1".into(),
                file: "sub/f.gguf".into()
            }
        );
        assert_eq!(
            FileSpec::parse("/tmp/x.gguf").unwrap(),
            FileSpec::Local("/tmp/x.gguf".into())
        );
        assert!(FileSpec::parse("just-a-name").is_err());
        // A bare file name is a local file; a missing one says so, naming it.
        let spec = FileSpec::parse("just-a-name.gguf").unwrap();
        assert_eq!(spec, FileSpec::Local("just-a-name.gguf".into()));
        let tmp = tempfile::tempdir().unwrap();
        let msg = spec.get(&Hub::new(tmp.path(), None, true)).unwrap_err().to_string();
        assert!(msg.contains("just-a-name.gguf") && msg.contains("no such model file"), "{msg}");
    }

    #[test]
    fn local_dir_missing_file_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let hub = Hub::new(tmp.path(), None, true);
        let spec = RepoSpec::Local(tmp.path().to_path_buf());
        let msg = spec.get(&hub, "config.json").unwrap_err().to_string();
        assert!(
            msg.contains("config.json") && msg.contains(&tmp.path().display().to_string()),
            "{msg}"
        );
    }
}
