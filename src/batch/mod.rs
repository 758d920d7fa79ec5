//! `warta batch`: translate a directory tree of articles, in parallel, resumable, sharded.

/// Why a batch run could not start or continue.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("batch error: {0}")]
    Failed(String),
}
