//! Last stage: render results as plain text, Markdown or JSON. JSON field names are a contract that users'
//! scripts rely on; change them only with care.

mod clean;
mod document;

pub use clean::clean;

/// Output format of everything warta renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Json,
}
pub use document::{document, summary_only};
