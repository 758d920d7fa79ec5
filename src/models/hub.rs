//! Model files from the Hugging Face Hub, through hf-hub's synchronous API and its on-disk cache.
//!
//! hf-hub 0.5 has no offline switch of its own, so offline mode (`HF_HUB_OFFLINE=1` or `--offline`) is
//! done here: only the cache is consulted and a miss is a clear error naming the repo, the file and the
//! cache path. The cache layout is the one the Python `huggingface_hub` uses, so caches are shared.

use std::path::{Path, PathBuf};

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo, RepoType};

use super::ModelError;

/// Access to model files on the Hub and in the local cache.
#[derive(Debug, Clone)]
pub struct Hub {
    cache_dir: PathBuf,
    endpoint: Option<String>,
    token: Option<String>,
    /// Why we are offline, when we are: shown in error messages.
    offline: Option<&'static str>,
    progress: bool,
}

impl Hub {
    /// A hub configured from the environment the way `huggingface_hub` reads it: `HF_HUB_CACHE`, else
    /// `HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`;
    /// `HF_ENDPOINT`, `HF_TOKEN`, `HF_HUB_OFFLINE`. `offline` forces offline mode (the `--offline` flag).
    pub fn from_env(offline: bool) -> Result<Hub, ModelError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let cache_dir = if let Some(c) = var("HF_HUB_CACHE") {
            PathBuf::from(c)
        } else if let Some(h) = var("HF_HOME") {
            Path::new(&h).join("hub")
        } else if let Some(x) = var("XDG_CACHE_HOME") {
            Path::new(&x).join("huggingface").join("hub")
        } else if let Some(home) = var("HOME").or_else(|| var("USERPROFILE")) {
            Path::new(&home)
                .join(".cache")
                .join("huggingface")
                .join("hub")
        } else {
            return Err(ModelError::NoCache(
                "neither HF_HOME nor HOME is set".into(),
            ));
        };
        let env_offline = var("HF_HUB_OFFLINE").is_some_and(|v| truthy(&v));
        let offline = if offline {
            Some("--offline")
        } else if env_offline {
            Some("HF_HUB_OFFLINE is set")
        } else {
            None
        };
        Ok(Hub {
            cache_dir,
            endpoint: var("HF_ENDPOINT"),
            token: var("HF_TOKEN").or_else(|| var("HUGGING_FACE_HUB_TOKEN")),
            offline,
            progress: false,
        })
    }

    /// A hub on an explicit cache directory and endpoint (tests, and users of the library).
    pub fn new(cache_dir: impl Into<PathBuf>, endpoint: Option<String>, offline: bool) -> Hub {
        Hub {
            cache_dir: cache_dir.into(),
            endpoint,
            token: None,
            offline: offline.then_some("--offline"),
            progress: false,
        }
    }

    /// Show a download progress bar on stderr.
    pub fn with_progress(mut self, progress: bool) -> Hub {
        self.progress = progress;
        self
    }

    /// Whether progress bars were asked for.
    pub fn progress(&self) -> bool {
        self.progress
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    pub fn is_offline(&self) -> bool {
        self.offline.is_some()
    }

    /// The cached copy of `file` in `repo` at `revision`, if there is one.
    pub fn cached(&self, repo: &str, revision: &str, file: &str) -> Option<PathBuf> {
        Cache::new(self.cache_dir.clone())
            .repo(self.repo(repo, revision))
            .get(file)
    }

    /// `file` of `repo` at `revision`: from the cache, else downloaded into it (unless offline).
    pub fn get(&self, repo: &str, revision: &str, file: &str) -> Result<PathBuf, ModelError> {
        if let Some(path) = self.cached(repo, revision, file) {
            return Ok(path);
        }
        if let Some(why) = self.offline {
            return Err(ModelError::Offline {
                repo: repo.into(),
                revision: revision.into(),
                file: file.into(),
                cache: self.cache_dir.clone(),
                why,
            });
        }
        let download_err = |reason: String| ModelError::Download {
            repo: repo.into(),
            revision: revision.into(),
            file: file.into(),
            cache: self.cache_dir.clone(),
            reason,
        };
        let mut builder = ApiBuilder::from_cache(Cache::new(self.cache_dir.clone()))
            .with_progress(self.progress)
            .with_retries(2);
        if let Some(endpoint) = &self.endpoint {
            builder = builder.with_endpoint(endpoint.clone());
        }
        if self.token.is_some() {
            builder = builder.with_token(self.token.clone());
        }
        let api = builder.build().map_err(|e| download_err(e.to_string()))?;
        api.repo(self.repo(repo, revision))
            .download(file)
            .map_err(|e| download_err(e.to_string()))
    }

    fn repo(&self, repo: &str, revision: &str) -> Repo {
        Repo::with_revision(repo.to_string(), RepoType::Model, revision.to_string())
    }
}

fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lay out a cache entry the way hf-hub and huggingface_hub do.
    fn fake_cache(root: &Path, repo: &str, revision: &str, file: &str, body: &str) -> PathBuf {
        let dir = root.join(format!("models--{}", repo.replace('/', "--")));
        let commit = "0123456789abcdef0123456789abcdef01234567";
        std::fs::create_dir_all(dir.join("refs")).unwrap();
        std::fs::write(dir.join("refs").join(revision), commit).unwrap();
        let snap = dir.join("snapshots").join(commit);
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::write(snap.join(file), body).unwrap();
        snap.join(file)
    }

    #[test]
    fn cached_file_is_found_without_network() {
        let tmp = tempfile::tempdir().unwrap();
        let want = fake_cache(
            tmp.path(),
            "Helsinki-NLP/opus-mt-id-en",
            "main",
            "config.json",
            "{}",
        );
        let hub = Hub::new(tmp.path(), Some("http://127.0.0.1:9".into()), true);
        let got = hub
            .get("Helsinki-NLP/opus-mt-id-en", "main", "config.json")
            .unwrap();
        assert_eq!(got, want);
        assert!(hub
            .cached("Helsinki-NLP/opus-mt-id-en", "other", "config.json")
            .is_none());
    }

    #[test]
    fn offline_miss_names_repo_file_and_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let hub = Hub::new(tmp.path(), None, true);
        let err = hub
            .get("Helsinki-NLP/opus-mt-id-en", "main", "model.safetensors")
            .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ModelError::Offline { .. }), "{msg}");
        assert!(msg.contains("Helsinki-NLP/opus-mt-id-en"), "{msg}");
        assert!(msg.contains("model.safetensors"), "{msg}");
        assert!(msg.contains(&tmp.path().display().to_string()), "{msg}");
        assert!(msg.contains("--offline"), "{msg}");
    }

    #[test]
    fn unreachable_endpoint_is_a_download_error_not_a_hang() {
        let tmp = tempfile::tempdir().unwrap();
        // Port 9 (discard) on loopback: refused at once, so this reaches the real download code.
        let hub = Hub::new(tmp.path(), Some("http://127.0.0.1:9".into()), false);
        let err = hub
            .get("Helsinki-NLP/opus-mt-id-en", "main", "config.json")
            .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ModelError::Download { .. }), "{msg}");
        assert!(
            msg.contains("config.json") && msg.contains("Helsinki-NLP/opus-mt-id-en"),
            "{msg}"
        );
        // Nothing half-downloaded is left looking like a cached file.
        assert!(hub
            .cached("Helsinki-NLP/opus-mt-id-en", "main", "config.json")
            .is_none());
    }

    #[test]
    fn offline_values() {
        for v in ["1", "true", "YES", " on "] {
            assert!(truthy(v), "{v}");
        }
        for v in ["0", "false", "no", ""] {
            assert!(!truthy(v), "{v}");
        }
    }
}
