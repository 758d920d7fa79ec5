//! The pipeline end to end: load → clean → translate → summarise, for one article at a time.
//!
//! `warta translate`, `warta summarize`, `warta batch` and `warta eval` all build their engines here, so
//! a model is loaded once per process and an LLM used for both translation and summary is shared.

use std::time::Instant;

use serde::Serialize;

use crate::article::Article;
use crate::config::{EngineOptions, SummarizerKind, SummaryOptions, TranslatorKind};
use crate::models::Hub;
use crate::summarize::{Summarizer, Summary, SummaryRequest};
use crate::translate::{Translation, Translator};
use crate::{Error, Result};

/// What a run produces for each article.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Full translation, optionally followed by a summary.
    Translate { summary: bool },
    /// Only the summary (`warta summarize`, `warta batch --summary-only`).
    SummaryOnly,
}

/// The loaded engines for a run.
pub struct Engines {
    pub translator: Option<Box<dyn Translator>>,
    pub summarizer: Option<Box<dyn Summarizer>>,
    /// Said once to the user (e.g. "no LLM available, summaries are extractive").
    pub warnings: Vec<String>,
}

/// Seconds spent per stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timings {
    pub translate_s: f64,
    pub summarize_s: f64,
    pub total_s: f64,
    /// Each LLM chat of the article, in order: prompt tokens, those reused from the previous chat's
    /// KV cache, prefill and generation time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub llm_calls: Vec<crate::llm::LlmCall>,
}

/// One processed article.
#[derive(Debug, Clone)]
pub struct Document {
    pub article: Article,
    pub translation: Option<Translation>,
    pub summary: Option<Summary>,
    pub llm: Option<String>,
    pub timings: Timings,
}

impl Engines {
    /// Load what `mode` needs, once.
    pub fn load(
        models: &EngineOptions,
        summary: &SummaryOptions,
        mode: Mode,
        progress: bool,
    ) -> Result<Engines> {
        let hub = Hub::from_env(models.offline)?.with_progress(progress);
        let wants_summary = !matches!(mode, Mode::Translate { summary: false });
        let needs_llm = models.translator == TranslatorKind::Llm
            || (wants_summary && summary.summarizer == SummarizerKind::Llm);
        let mut warnings = Vec::new();
        // Why the automatic summarizer fell back to the extractive method, if it did.
        let mut fell_back = None;
        let llm = if needs_llm {
            Some(load_llm(models, &hub)?)
        } else if wants_summary && summary.summarizer == SummarizerKind::Auto {
            match load_llm(models, &hub) {
                Ok(m) => Some(m),
                // A model the user named is what they want: its failure is the error, not a reason
                // to quietly summarise another way.
                Err(e) if models.llm != crate::llm::DEFAULT_LLM => return Err(e),
                Err(e) => {
                    let why = format!(
                        "no LLM for the summary: the default model could not be loaded ({e})"
                    );
                    warnings.push(format!(
                        "{why}; writing an extractive summary instead (choose explicitly with \
                         --summarizer extractive, or name a model with --llm)"
                    ));
                    fell_back = Some(why);
                    None
                }
            }
        } else {
            None
        };
        // Summary-only mode needs a translator only for the extractive method's chosen sentences.
        let translator: Option<Box<dyn Translator>> = match (mode, models.translator, &llm) {
            (Mode::SummaryOnly, _, Some(_)) => None,
            (_, TranslatorKind::Marian, _) => match (build_marian(models, &hub), fell_back) {
                (Ok(t), _) => Some(t),
                (Err(e), None) => return Err(e),
                (Err(e), Some(why)) => {
                    return Err(Error::NoFallback {
                        why,
                        source: Box::new(e),
                    })
                }
            },
            (_, TranslatorKind::Llm, Some(m)) => Some(build_llm_translator(models, m.clone())?),
            (_, TranslatorKind::Llm, None) => {
                return Err(Error::Internal("--translator llm without an LLM"))
            }
        };
        let summarizer = if wants_summary {
            Some(build_summarizer(models, summary, llm)?)
        } else {
            None
        };
        Ok(Engines {
            translator,
            summarizer,
            warnings,
        })
    }
}

/// Just a translator (for `warta eval --src` and `warta translate --raw`), with its LLM if it needs one.
pub fn build_translator(models: &EngineOptions, progress: bool) -> Result<Box<dyn Translator>> {
    let hub = Hub::from_env(models.offline)?.with_progress(progress);
    match models.translator {
        TranslatorKind::Marian => build_marian(models, &hub),
        TranslatorKind::Llm => build_llm_translator(models, load_llm(models, &hub)?),
    }
}

/// Run the pipeline on one loaded article.
pub fn process(
    article: Article,
    engines: &mut Engines,
    mode: Mode,
    sentences: usize,
) -> Result<Document> {
    let started = Instant::now();
    let translation = match (mode, engines.translator.as_mut()) {
        (Mode::Translate { .. }, Some(t)) => Some(t.translate_article(&article)?),
        (Mode::Translate { .. }, None) => {
            return Err(Error::Internal("translation without a translator"))
        }
        (Mode::SummaryOnly, _) => None,
    };
    let translate_s = started.elapsed().as_secs_f64();
    finish(article, translation, translate_s, engines, sentences)
}

/// The rest of the pipeline once an article is translated (or, in summary-only mode, not): the summary
/// and the timings. `warta batch` translates several articles together and finishes each one here.
pub fn finish(
    article: Article,
    translation: Option<Translation>,
    translate_s: f64,
    engines: &mut Engines,
    sentences: usize,
) -> Result<Document> {
    let started = Instant::now();
    let mut translation = translation;
    let mut timings = Timings {
        translate_s,
        ..Timings::default()
    };
    let (summary, llm) = match engines.summarizer.as_mut() {
        Some(s) => {
            let request = SummaryRequest {
                article: &article,
                translation: translation.as_ref(),
                sentences,
            };
            let translator = engines
                .translator
                .as_deref_mut()
                .map(|t| t as &mut dyn Translator);
            let result = s.summarize(&request, translator);
            timings.summarize_s = started.elapsed().as_secs_f64();
            timings.llm_calls = s.take_llm_calls();
            let summary = match (result, translation.as_mut()) {
                (Ok(summary), _) => Some(summary),
                // The translation is most of the work and what was asked for first: a summary that
                // cannot be written is reported with it, not instead of it.
                (Err(e), Some(t)) => {
                    t.warnings.push(format!(
                        "{e}; the translation is complete and is given without a summary"
                    ));
                    None
                }
                (Err(e), None) => return Err(e.into()),
            };
            (summary, s.llm_id())
        }
        None => (None, None),
    };
    timings.total_s = translate_s + started.elapsed().as_secs_f64();
    Ok(Document {
        article,
        translation,
        summary,
        llm,
        timings,
    })
}

/// The Marian translator (opus-mt-id-en or a local Marian model).
fn build_marian(models: &EngineOptions, hub: &Hub) -> Result<Box<dyn Translator>> {
    use crate::translate::marian::{MarianOptions, MarianTranslator};
    let spec = crate::models::RepoSpec::parse(&models.model, &models.revision);
    let options = MarianOptions {
        beams: models.beams,
        batch_size: models.batch_size,
        weight_type: models.dtype,
        guard: models.guard,
    };
    Ok(Box::new(MarianTranslator::load(&spec, hub, options)?))
}

/// The GGUF LLM named by `--llm`, loaded once and shared.
fn load_llm(models: &EngineOptions, hub: &Hub) -> Result<crate::llm::SharedChatModel> {
    let spec = crate::models::FileSpec::parse(&models.llm)?;
    let opts = crate::llm::LoadOptions {
        progress: hub.progress(),
        ..crate::llm::LoadOptions::default()
    };
    let model = crate::llm::load(&spec, hub, &opts)?;
    Ok(std::sync::Arc::new(std::sync::Mutex::new(model)))
}

/// The prompt templates (`--prompts`) with the glossary (`--glossary`, `--no-glossary`).
fn load_prompts(models: &EngineOptions) -> Result<crate::prompts::Prompts> {
    use crate::prompts::{glossary::Glossary, Prompts};
    let glossary = Glossary::load(&models.glossary, !models.no_glossary)?;
    Ok(Prompts::load(models.prompts.as_deref())?.with_glossary(glossary))
}

/// The LLM translator over a shared model.
fn build_llm_translator(
    models: &EngineOptions,
    llm: crate::llm::SharedChatModel,
) -> Result<Box<dyn Translator>> {
    let prompts = load_prompts(models)?;
    Ok(Box::new(crate::translate::llm::LlmTranslator::new(
        llm,
        prompts,
        generation_params(models),
    )?))
}

/// The summarizer `--summarizer` asks for; `llm` is present when an LLM could be loaded.
///
/// In summary-only mode no translator is loaded when there is an LLM, so the extractive method (chosen,
/// or as the LLM summary's fallback) gets its own LLM translator over the same model for the few
/// sentences it picks.
fn build_summarizer(
    models: &EngineOptions,
    summary: &SummaryOptions,
    llm: Option<crate::llm::SharedChatModel>,
) -> Result<Box<dyn Summarizer>> {
    use crate::summarize::extractive::ExtractiveSummarizer;
    use crate::summarize::llm::LlmSummarizer;
    use crate::translate::llm::LlmTranslator;
    // Checked even when only the extractive method runs, so a broken --prompts DIR never passes silently.
    let prompts = load_prompts(models)?;
    let params = generation_params(models);
    let own_translator = match &llm {
        Some(m) => Some(LlmTranslator::new(
            m.clone(),
            prompts.clone(),
            params.clone(),
        )?),
        None => None,
    };
    let extractive = ExtractiveSummarizer::new(own_translator);
    match (summary.summarizer, llm) {
        (SummarizerKind::Extractive, _) | (SummarizerKind::Auto, None) => Ok(Box::new(extractive)),
        (SummarizerKind::Llm | SummarizerKind::Auto, Some(m)) => Ok(Box::new(LlmSummarizer::new(
            m, prompts, params, extractive,
        )?)),
        (SummarizerKind::Llm, None) => Err(Error::Internal("--summarizer llm without an LLM")),
    }
}

/// `--temperature`, `--top-p`, `--seed` and `--max-new-tokens` as the LLM takes them.
fn generation_params(models: &EngineOptions) -> crate::llm::GenerationParams {
    models.generation.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summarize::SummarizeError;
    use crate::translate::{EngineInfo, TranslateError};

    struct Upper;
    impl Translator for Upper {
        fn info(&self) -> EngineInfo {
            EngineInfo::default()
        }
        fn translate_segments(
            &mut self,
            s: &[String],
        ) -> std::result::Result<Vec<String>, TranslateError> {
            Ok(s.iter().map(|x| x.to_uppercase()).collect())
        }
    }

    struct Failing;
    impl Summarizer for Failing {
        fn summarize(
            &mut self,
            _: &SummaryRequest<'_>,
            _: Option<&mut dyn Translator>,
        ) -> std::result::Result<Summary, SummarizeError> {
            Err(SummarizeError::Failed("a.txt: nothing to pick".into()))
        }
    }

    fn engines() -> Engines {
        Engines {
            translator: Some(Box::new(Upper)),
            summarizer: Some(Box::new(Failing)),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn a_summary_that_fails_keeps_the_translation_and_says_why() {
        let text = b"Banjir di Jakarta\n\nBanjir melanda Jakarta pada hari Senin pagi.\n";
        let article = crate::article::from_bytes(
            text,
            "a.txt",
            Some(std::path::Path::new("a.txt")),
            &crate::article::LoadOptions::default(),
        )
        .unwrap();
        let doc = process(
            article.clone(),
            &mut engines(),
            Mode::Translate { summary: true },
            3,
        )
        .unwrap();
        let t = doc.translation.expect("the translation is kept");
        assert!(
            t.paragraphs
                .iter()
                .any(|p| p.text == "BANJIR MELANDA JAKARTA PADA HARI SENIN PAGI."),
            "{t:?}"
        );
        assert!(doc.summary.is_none());
        assert_eq!(
            t.warnings,
            vec![
                "summary failed: a.txt: nothing to pick; the translation is complete and is given \
                  without a summary"
            ]
        );
        // With nothing but the summary asked for, its failure is the error.
        let e = process(article, &mut engines(), Mode::SummaryOnly, 3).unwrap_err();
        assert!(e.to_string().contains("nothing to pick"), "{e}");
    }
}
