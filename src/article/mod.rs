//! Stage 1 of the pipeline: turn a file (copied text or a saved HTML page) into a clean [`Article`].
//!
//! `load` reads bytes and decodes them, `html` extracts the main content of a page, `clean` removes the
//! boilerplate that news sites wrap around a story, `segment` splits paragraphs into sentences.
//! Everything later in the pipeline sees only an `Article`.

use std::path::Path;

use serde::Serialize;

mod clean;
mod dateline;
mod html;
mod lang;
mod load;
pub(crate) mod nesting;
mod rules;
mod segment;
mod sites;
mod text;

pub use lang::id_en_confidences;
pub use segment::split_sentences;

/// The name used for standard input in messages and in [`Article::origin`].
pub const STDIN: &str = "<stdin>";

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
    /// How the input was read, for `-v` and for auditing.
    pub input: InputInfo,
}

/// How an input was read and where its body was found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InputInfo {
    /// `html`, `text` or `markdown`.
    pub format: String,
    /// The character encoding the bytes were decoded from (e.g. `UTF-8`, `windows-1252`).
    pub encoding: String,
    /// How the article body was found (a site's selector, the generic extractor, the whole text).
    pub extractor: String,
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

/// Why an input could not be turned into an article. Each message is one line that names the input
/// and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: no such file; check the path")]
    NotFound { path: String },
    #[error("{path}: is a directory; give one article file (use `warta batch` for a directory)")]
    IsDirectory { path: String },
    #[error("{path}: cannot read it ({source}); check that it exists and is readable")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {size} bytes is more than the limit of {max} bytes; split the file or raise --max-bytes")]
    TooLarge { path: String, size: u64, max: u64 },
    #[error("{path}: the input is empty; give an article as text or HTML")]
    Empty { path: String },
    #[error("{path}: not a text or HTML file ({kind}); save the article as .txt or .html first")]
    Binary { path: String, kind: String },
    #[error(
        "{path}: no article text left after cleaning ({detail}); check that it is a news article"
    )]
    NoText { path: String, detail: String },
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
    if input == "-" {
        let bytes = load::read_stdin(opts.max_bytes)?;
        return from_bytes(&bytes, STDIN, None, opts);
    }
    let path = Path::new(input);
    let bytes = load::read_file(path, opts.max_bytes)?;
    from_bytes(&bytes, input, Some(path), opts)
}

/// Clean and segment an article whose bytes were already read (batch mode reads and hashes first).
/// `origin` names it in messages; `hint`, its path if any, decides the format by extension (without
/// one the content is sniffed). Applies the same checks as [`load_article`].
pub fn from_bytes(
    bytes: &[u8],
    origin: &str,
    hint: Option<&Path>,
    opts: &LoadOptions,
) -> Result<Article, LoadError> {
    let decoded = load::decode(bytes, origin, hint, opts.max_bytes)?;
    let mut page_warnings = Vec::new();
    let (lines, mut meta, mut removed, mut extractor) = match decoded.format {
        load::InputFormat::Html => {
            let x = html::extract(&decoded.text);
            page_warnings = x.warnings;
            (x.lines, x.meta, x.removed, x.method)
        }
        load::InputFormat::Text => (
            text::text_lines(&decoded.text),
            Metadata::default(),
            Vec::new(),
            "whole text".into(),
        ),
        load::InputFormat::Markdown => (
            text::markdown_lines(&decoded.text),
            Metadata::default(),
            Vec::new(),
            "whole text".into(),
        ),
    };
    // Only text typed or copied as plain text can be hard-wrapped; markup is reflowed.
    let wrapped = decoded.format != load::InputFormat::Html;
    let page_meta = meta.clone();
    let mut cleaned = clean::clean(lines, &mut meta, wrapped);
    if cleaned.paragraphs.is_empty() && decoded.format == load::InputFormat::Html {
        // No article: if the page is a photo gallery, its captions are all the text it has.
        if let Some(captions) = html::gallery_captions(&decoded.text) {
            meta = page_meta;
            cleaned = clean::clean(captions, &mut meta, false);
            removed.clear();
            extractor = "photo captions (the page has no article body)".into();
        }
    }
    removed.extend(cleaned.removed);
    if cleaned.paragraphs.is_empty() {
        let detail = if removed.is_empty() {
            "the input has no prose".to_string()
        } else {
            format!(
                "all {} spans found were page furniture such as menus, links and credits",
                removed.len()
            )
        };
        return Err(LoadError::NoText {
            path: origin.to_string(),
            detail,
        });
    }
    let paragraphs: Vec<Paragraph> = cleaned
        .paragraphs
        .into_iter()
        .map(|(text, kind)| {
            let sentences = match kind {
                ParagraphKind::Heading => vec![text.clone()],
                ParagraphKind::Body => segment::split_sentences(&text),
            };
            Paragraph {
                text,
                sentences,
                kind,
            }
        })
        .collect();
    let body: String = paragraphs
        .iter()
        .map(|p| p.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let language = lang::detect(&body);
    let mut warnings = page_warnings;
    warnings.extend(cleaned.warnings);
    warnings.extend(lang::warning(language));
    let words: usize = paragraphs
        .iter()
        .map(|p| p.text.split_whitespace().count())
        .sum();
    if words < 40 {
        warnings.push(format!(
            "only {words} words of article text were found; check that this is the whole article"
        ));
    }
    Ok(Article {
        origin: origin.to_string(),
        meta,
        paragraphs,
        removed,
        language: language.map(str::to_string),
        warnings,
        input: InputInfo {
            format: decoded.format.name().to_string(),
            encoding: decoded.encoding.to_string(),
            extractor,
        },
    })
}
