//! Where model files come from: the Hugging Face Hub (through hf-hub and its cache, honouring `HF_HOME`,
//! `HF_HUB_CACHE`, `HF_ENDPOINT` and `HF_HUB_OFFLINE`) or a local directory or file the user names.

pub mod hub;
pub mod inventory;
pub mod spec;

use std::path::PathBuf;

pub use hub::Hub;
pub use spec::{FileSpec, RepoSpec};

/// Why a model could not be found or loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "{file} of model {repo} (revision {revision}) is not in the Hugging Face cache at {}, and offline \
         mode is on ({why}); run once with network access (e.g. `warta models --fetch`), copy a cache \
         that has it to that path, or name a local model with --model/--llm",
        cache.display()
    )]
    Offline {
        repo: String,
        revision: String,
        file: String,
        cache: PathBuf,
        why: &'static str,
    },
    #[error(
        "could not download {file} of model {repo} (revision {revision}) into {}: {reason}; check the \
         network connection (HF_ENDPOINT selects a mirror, HF_TOKEN a token), or name a local model \
         with --model/--llm",
        cache.display()
    )]
    Download {
        repo: String,
        revision: String,
        file: String,
        cache: PathBuf,
        reason: String,
    },
    #[error(
        "cannot find the Hugging Face cache directory: {0}; set HF_HOME to a writable directory"
    )]
    NoCache(String),
    #[error("{}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
}
