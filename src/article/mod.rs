//! Stage 1 of the pipeline: turn a file (copied text or a saved HTML page) into a clean [`Article`].
//!
//! `load` reads bytes and decodes them, `html` extracts the main content of a page, `clean` removes the
//! boilerplate that news sites wrap around a story, `segment` splits paragraphs into sentences.
//! Everything later in the pipeline sees only an `Article`.

use serde::Serialize;

/// A cleaned news article, ready to translate.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Article {
    /// Where the article came from: a path, or `<stdin>`.
    pub origin: String,
    pub meta: Metadata,
    /// Body paragraphs in document order. Never empty for a loaded article.
    pub paragraphs: Vec<Paragraph>,
    /// Every span the cleaner dropped, with the rule that dropped it, for auditing.
    pub removed: Vec<Removed>,
    /// Detected language of the body (ISO 639-1: `id`, `ms`, `en`), if the detector was confident.
    pub language: Option<String>,
    /// Things the user should know (e.g. "input does not look Indonesian").
    pub warnings: Vec<String>,
}

/// What the loader learnt about the article besides its body.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metadata {
    pub title: Option<String>,
    /// Publication date as printed by the site (e.g. `19/10/2021, 09:20 WIB`).
    pub date: Option<String>,
    pub author: Option<String>,
    /// Source or agency the site credits (e.g. `Al Jazeera`, `ANTARA`).
    pub source: Option<String>,
    /// Place of the dateline (e.g. `MOSKWA`), without the site brand.
    pub dateline: Option<String>,
    /// The publishing site (e.g. `Kompas.com`).
    pub site: Option<String>,
}

/// One body paragraph and its sentences.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Paragraph {
    pub text: String,
    pub sentences: Vec<String>,
    pub kind: ParagraphKind,
}

/// Whether a paragraph is running text or a subheading inside the body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParagraphKind {
    #[default]
    Body,
    Heading,
}

/// A span the cleaner dropped, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Removed {
    pub text: String,
    pub reason: String,
}

/// Why an input could not be turned into an article.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: no such file; check the path")]
    NotFound { path: String },
}

/// Limits and switches for loading.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Refuse inputs larger than this.
    pub max_bytes: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_bytes: 5_000_000,
        }
    }
}

/// Load, clean and segment the article at `input` (a path, or `-` for standard input).
pub fn load_article(input: &str, opts: &LoadOptions) -> Result<Article, LoadError> {
    let _ = opts;
    Err(LoadError::NotFound {
        path: input.to_string(),
    })
}
