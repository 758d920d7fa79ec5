//! Last stage: render results as plain text, Markdown or JSON. JSON field names are a contract that users'
//! scripts rely on; change them only with care.

mod clean;
mod document;

pub use clean::clean;
pub use document::{document, summary_only};
