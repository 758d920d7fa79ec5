//! Where model files come from: the Hugging Face Hub (through hf-hub and its cache, honouring `HF_HOME`
//! and `HF_HUB_OFFLINE`) or a local directory or file the user names.

/// Why a model could not be found or loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model error: {0}")]
    Failed(String),
}
