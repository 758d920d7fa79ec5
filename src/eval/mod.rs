//! `warta eval`: corpus BLEU, chrF and chrF++ exactly as sacreBLEU computes them.

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("eval error: {0}")]
    Invalid(String),
}
