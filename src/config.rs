//! The library's own options: what a front end (the command line, `warta batch`, `warta serve`) asks the
//! pipeline for. Front ends build these; nothing below them knows where the values came from.

use std::path::PathBuf;

use crate::llm::GenerationParams;
use crate::translate::marian::WeightType;

/// Which engine translates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranslatorKind {
    /// opus-mt-id-en (Marian) through candle, sentence by sentence.
    Marian,
    /// A GGUF instruct LLM, paragraph by paragraph with context.
    Llm,
}

/// How the summary is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummarizerKind {
    /// The LLM when it can be loaded, else extractive (with a warning).
    Auto,
    /// LLM summary checked against the source.
    Llm,
    /// Lead-biased sentence ranking; needs no LLM.
    Extractive,
}

/// Which models to load and how to run them.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub translator: TranslatorKind,
    /// Marian model: a Hub repo id or a local directory.
    pub model: String,
    /// Hub revision of the Marian model.
    pub revision: String,
    /// LLM: `REPO/FILE.gguf` on the Hub, or a local .gguf path.
    pub llm: String,
    /// Marian beam size (1 = greedy).
    pub beams: usize,
    /// Sentences per Marian batch.
    pub batch_size: usize,
    /// Marian's linear-layer weight type.
    pub dtype: WeightType,
    /// Marian: stop a translation that falls into a loop (the repetition guard).
    pub guard: bool,
    /// Use only the local model cache.
    pub offline: bool,
    /// Directory of prompt templates overriding the built-in ones.
    pub prompts: Option<PathBuf>,
    /// Extra glossary files.
    pub glossary: Vec<PathBuf>,
    /// Leave the built-in glossary out.
    pub no_glossary: bool,
    /// LLM sampling.
    pub generation: GenerationParams,
}

impl Default for EngineOptions {
    /// The command line's defaults.
    fn default() -> Self {
        EngineOptions {
            translator: TranslatorKind::Marian,
            model: "Helsinki-NLP/opus-mt-id-en".into(),
            revision: "main".into(),
            llm: crate::llm::DEFAULT_LLM.into(),
            beams: 4,
            batch_size: 16,
            dtype: WeightType::F32,
            guard: true,
            offline: false,
            prompts: None,
            glossary: Vec::new(),
            no_glossary: false,
            generation: GenerationParams::default(),
        }
    }
}

/// How summaries are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryOptions {
    pub summarizer: SummarizerKind,
    /// Number of summary sentences.
    pub sentences: u8,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        SummaryOptions {
            summarizer: SummarizerKind::Auto,
            sentences: 3,
        }
    }
}

#[cfg(test)]
mod tests {
    /// The library knows nothing of the command line: no module but `cli.rs` (and the binary) names it.
    #[test]
    fn no_library_module_imports_the_cli() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
                let path = entry.expect("src/ entry").path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let rel = path.strip_prefix(&root).unwrap_or(&path);
                let rel = rel.to_string_lossy().replace('\\', "/");
                if path.extension().is_none_or(|e| e != "rs")
                    || matches!(rel.as_str(), "cli.rs" | "main.rs" | "lib.rs")
                    || rel.starts_with("cli/")
                {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("source is readable");
                let needle = ["crate", "::cli"].concat();
                let clap = ["clap", "::"].concat();
                if text.contains(&needle) || text.contains(&clap) {
                    offenders.push(rel);
                }
            }
        }
        assert!(offenders.is_empty(), "library modules importing the command line: {offenders:?}");
    }
}
