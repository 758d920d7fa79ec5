//! The LLM summary: one pass of the `summarize` prompt over the article (the cleaned Indonesian text in
//! summary-only mode, the English translation when there is one), checked by the faithfulness guard.
//!
//! In summary-only mode the title and the first paragraph, which carry the main news, are translated
//! first (two short calls of the translation prompts, glossary included) and given to the summary
//! prompt in English. Small models read Indonesian voice and vocabulary poorly: Qwen2.5-Coder-1.5B
//! summarised the reference lead "... setelah 8 delegasinya diusir dari Brussels karena dituduh
//! sebagai mata-mata" without the spies, while its translation of that paragraph has them.
//!
//! When the lead reacts to an earlier event that a later paragraph tells ("… setelah 8 delegasinya
//! diusir …", see [`cause`]), that paragraph goes to the `summarize_cause` prompt beside the lead, in
//! English (translated with the lead in summary-only mode), and the model is asked to tell the events
//! in order: that is what makes a small model say who did what.
//!
//! A summary with numbers or names the sources do not support is rewritten once with the
//! `summarize_strict` prompt, which names them; if that fails too, the extractive summary is used, and
//! the result says so. An article too long for the model's context is summarised in parts whose notes
//! are then combined (`summarize_combine`): nothing is cut off.

use crate::article::split_sentences;
use crate::article::{Article, ParagraphKind};
use crate::llm::{GenerationParams, SharedChatModel, StopReason};
use crate::prompts::{self, Prompts};
use crate::summarize::cause;
use crate::summarize::extractive::ExtractiveSummarizer;
use crate::checks::{self as guard, Findings};
use crate::summarize::{
    SummarizeError, Summarizer, Summary, SummaryChecks, SummaryMethod, SummaryRequest,
};
use crate::translate::llm::LlmTranslator;
use crate::translate::Translator;

/// Glossary hints in a summary prompt at most: enough for the words of a lead and a few paragraphs,
/// few enough to keep the prompt short.
const SUMMARY_HINTS: usize = 24;

/// Summaries written by a shared chat model, with an extractive fallback.
pub struct LlmSummarizer {
    model: SharedChatModel,
    prompts: Prompts,
    params: GenerationParams,
    id: String,
    context_length: usize,
    fallback: ExtractiveSummarizer,
    /// Translates the title and lead in summary-only mode.
    translator: LlmTranslator,
}

/// The text the model summarises, with what the guard checks against.
struct Input {
    title: String,
    /// The first body paragraph: in news, the main story.
    lead: String,
    /// The paragraph telling the earlier event the lead refers to, in English ([`cause`]); empty when
    /// there is none or it could not be put into English.
    cause: String,
    /// That paragraph's index in the article, while it still has to be translated.
    cause_at: Option<usize>,
    /// Blocks of text (paragraphs; the first may be a line of metadata), in order.
    blocks: Vec<String>,
    language: &'static str,
    /// Everything the summary may draw on: source article, translation, and the glossary's English
    /// for the article's words.
    sources: Vec<String>,
    /// Whether `blocks` are the untranslated source (glossary hints help only there).
    untranslated: bool,
}

impl LlmSummarizer {
    pub fn new(
        model: SharedChatModel,
        prompts: Prompts,
        params: GenerationParams,
        fallback: ExtractiveSummarizer,
    ) -> Result<LlmSummarizer, SummarizeError> {
        let (context_length, id) = prompts::model_facts(&model).map_err(failed)?;
        let translator =
            LlmTranslator::new(model.clone(), prompts.clone(), params.clone()).map_err(failed)?;
        Ok(LlmSummarizer {
            model,
            prompts,
            params,
            id,
            context_length,
            fallback,
            translator,
        })
    }

    /// Put the title and lead of an untranslated article, and the paragraph telling its earlier event,
    /// into English (see the module docs). A lead whose translation fails the translator's checks
    /// stays in the original, with a warning; such an event paragraph is left out, with a warning.
    fn english_lead(
        &mut self,
        article: &Article,
        input: &mut Input,
        warnings: &mut Vec<String>,
    ) -> Result<(), SummarizeError> {
        let Some(lead) = article
            .paragraphs
            .iter()
            .find(|p| p.kind == ParagraphKind::Body)
        else {
            return Ok(());
        };
        let cause = input
            .cause_at
            .take()
            .and_then(|i| article.paragraphs.get(i));
        let part = Article {
            origin: article.origin.clone(),
            meta: crate::article::Metadata {
                title: article.meta.title.clone(),
                ..Default::default()
            },
            paragraphs: std::iter::once(lead).chain(cause).cloned().collect(),
            language: article.language.clone(),
            ..Default::default()
        };
        let tr = self.translator.translate_article(&part).map_err(failed)?;
        // The translator labels its warnings by paragraph; the event paragraph is the second.
        let (cause_warnings, lead_warnings): (Vec<String>, Vec<String>) = tr
            .warnings
            .into_iter()
            .partition(|w| w.starts_with("paragraph 2:"));
        let mut paragraphs = tr.paragraphs.iter().map(|p| p.text.clone());
        let (lead_en, cause_en) = (paragraphs.next(), paragraphs.next());
        if let Some(c) = cause_en {
            if cause_warnings.is_empty() {
                input.sources.push(c.clone());
                input.cause = c;
            } else {
                warnings.push(format!(
                    "the translation of the paragraph the first paragraph refers to failed the \
                     checks ({}); the summary was written without it",
                    cause_warnings.join("; ")
                ));
            }
        }
        if !lead_warnings.is_empty() {
            warnings.push(format!(
                "the first paragraph's translation failed the checks ({}); the summary was written \
                 from the original",
                lead_warnings.join("; ")
            ));
            return Ok(());
        }
        if let (Some(src), Some(en)) = (&article.meta.title, &tr.title) {
            input.title = format!("{src} (in English: {en})");
            input.sources.push(en.clone());
        }
        if let Some(p) = lead_en {
            input.sources.push(p.clone());
            input.lead = p;
        }
        Ok(())
    }

    /// Generation settings for `n` sentences: room for them and a little more, never beyond the
    /// user's `--max-new-tokens`.
    fn params_for(&self, n: usize) -> GenerationParams {
        GenerationParams {
            max_new_tokens: self.params.max_new_tokens.min(60 * n + 60).max(1),
            ..self.params.clone()
        }
    }

    /// One chat: the cleaned reply and whether it ran out of tokens.
    fn generate(
        &mut self,
        name: &str,
        vars: &[(&str, &str)],
        n: usize,
    ) -> Result<String, SummarizeError> {
        let messages = self.prompts.messages(name, vars);
        let g = prompts::ask(&self.model, &messages, &self.params_for(n)).map_err(failed)?;
        Ok(tidy(&g.text, n, g.stop != StopReason::EndOfTurn))
    }

    /// `text` in English: small models sometimes answer in the article's language, with content that
    /// is usually fine, so such a reply goes through the `translate_line` prompt.
    fn in_english(
        &mut self,
        text: String,
        n: usize,
        warnings: &mut Vec<String>,
    ) -> Result<String, SummarizeError> {
        if text.is_empty() || looks_english(&text) {
            return Ok(text);
        }
        warnings.push(
            "the LLM wrote the summary in the article's language; it was translated into English"
                .to_string(),
        );
        let (_, hints) = self.prompts.hints("translate_line", &text, SUMMARY_HINTS);
        self.generate(
            "translate_line",
            &[("text", text.as_str()), ("glossary", &hints)],
            n,
        )
    }

    /// The `{{glossary}}` value of template `name` for `text`: the glossary entries found in it, or
    /// [`prompts::NO_HINTS`] when the text is already English.
    fn glossary(&self, name: &str, input: &Input, text: &str) -> String {
        if !input.untranslated {
            return prompts::NO_HINTS.to_string();
        }
        self.prompts.hints(name, text, SUMMARY_HINTS).1
    }

    /// Tokens available for the article text in template `name`, given the other values.
    fn room(&self, name: &str, vars: &[(&str, &str)], n: usize) -> Result<usize, SummarizeError> {
        let overhead = prompts::chat_tokens(&self.model, &self.prompts.messages(name, vars))
            .map_err(failed)?;
        let needed = overhead + self.params_for(n).max_new_tokens + 16;
        if needed + 64 > self.context_length {
            return Err(SummarizeError::Failed(format!(
                "the {} prompt needs {needed} tokens before any article text, more than the \
                 {}-token context of {}; shorten the prompt (--prompts) or lower --max-new-tokens",
                name, self.context_length, self.id
            )));
        }
        Ok(self.context_length - needed)
    }

    /// The first draft: one pass when the article fits the context, else parts and a combination.
    /// Also returns the text the draft was written from (the article, or the parts' notes).
    fn draft(&mut self, input: &Input, n: usize) -> Result<(String, String), SummarizeError> {
        let sentences = n.to_string();
        let name = if input.cause.is_empty() {
            "summarize"
        } else {
            "summarize_cause"
        };
        let whole = input.blocks.join("\n\n");
        let hints = self.glossary(name, input, &format!("{}\n{whole}", input.title));
        let room = self.room(name, &summarize_vars(input, &sentences, "", &hints), n)?;
        let whole_tokens = prompts::text_tokens(&self.model, &whole).map_err(failed)?;
        if whole_tokens <= room {
            let vars = summarize_vars(input, &sentences, &whole, &hints);
            let text = self.generate(name, &vars, n)?;
            return Ok((text, whole));
        }
        // Too long for one pass: summarise consecutive parts, then combine their notes. The room was
        // measured with the whole article's hints, which a part's own hints never outnumber.
        let parts = self.split(&input.blocks, room)?;
        let mut notes = Vec::with_capacity(parts.len());
        for part in &parts {
            let hints = self.glossary(name, input, part);
            let vars = summarize_vars(input, &sentences, part, &hints);
            let note = self.generate(name, &vars, n)?;
            if !note.is_empty() {
                notes.push(note);
            }
        }
        self.combine(&input.title, notes, n)
    }

    /// Combine part notes into one summary, in rounds if even the notes do not fit.
    fn combine(
        &mut self,
        title: &str,
        mut notes: Vec<String>,
        n: usize,
    ) -> Result<(String, String), SummarizeError> {
        let sentences = n.to_string();
        let room = self.room("summarize_combine", &combine_vars(title, &sentences, ""), n)?;
        loop {
            let joined = notes.join("\n\n");
            let tokens = prompts::text_tokens(&self.model, &joined).map_err(failed)?;
            if notes.len() < 2 || tokens <= room {
                let vars = combine_vars(title, &sentences, &joined);
                let text = self.generate("summarize_combine", &vars, n)?;
                return Ok((text, joined));
            }
            let groups = self.split(&notes, room)?;
            if groups.len() >= notes.len() {
                return Err(SummarizeError::Failed(format!(
                    "the article's part summaries do not fit the {}-token context of {}",
                    self.context_length, self.id
                )));
            }
            let mut next = Vec::with_capacity(groups.len());
            for g in &groups {
                let vars = combine_vars(title, &sentences, g);
                next.push(self.generate("summarize_combine", &vars, n)?);
            }
            notes = next;
        }
    }

    /// Pack blocks into parts of at most `room` tokens each, splitting a block that is too long by
    /// sentences and, as a last resort, by words.
    fn split(&self, blocks: &[String], room: usize) -> Result<Vec<String>, SummarizeError> {
        let count = |t: &str| prompts::text_tokens(&self.model, t).map_err(failed);
        let mut units: Vec<(String, usize)> = Vec::new();
        for b in blocks {
            let t = count(b)?;
            if t <= room {
                units.push((b.clone(), t));
                continue;
            }
            for s in split_sentences(b) {
                let t = count(&s)?;
                if t <= room {
                    units.push((s, t));
                    continue;
                }
                let words: Vec<&str> = s.split_whitespace().collect();
                // Words are rarely more than a few tokens: chunks of room/4 words always fit.
                for chunk in words.chunks((room / 4).max(1)) {
                    let c = chunk.join(" ");
                    let t = count(&c)?;
                    units.push((c, t));
                }
            }
        }
        let mut parts: Vec<String> = Vec::new();
        let mut current: Vec<String> = Vec::new();
        let mut used = 0;
        for (text, t) in units {
            if !current.is_empty() && used + t + 2 > room {
                parts.push(current.join("\n\n"));
                current.clear();
                used = 0;
            }
            used += t + 2;
            current.push(text);
        }
        if !current.is_empty() {
            parts.push(current.join("\n\n"));
        }
        Ok(parts)
    }
}

impl Summarizer for LlmSummarizer {
    fn summarize(
        &mut self,
        request: &SummaryRequest<'_>,
        translator: Option<&mut dyn Translator>,
    ) -> Result<Summary, SummarizeError> {
        let n = request.sentences.max(1);
        let mut input = input(request);
        let mut checks = SummaryChecks::default();
        let mut warnings = Vec::new();
        if input.untranslated {
            // The glossary's English for the article's words is vetted data, so a summary may use it
            // ("the Corruption Eradication Commission" for KPK).
            let all = self
                .prompts
                .hints("summarize", &input.blocks.join("\n"), usize::MAX)
                .0;
            input.sources.extend(all.into_iter().map(|h| h.english));
            if input.language != "English" {
                self.english_lead(request.article, &mut input, &mut warnings)?;
            }
        }
        let sources: Vec<&str> = input.sources.iter().map(String::as_str).collect();

        let (first, article_text) = self.draft(&input, n)?;
        let first = self.in_english(first, n, &mut warnings)?;
        let found = guard::check(&first, &sources);
        let rejected = if first.is_empty() {
            "the model gave an empty summary".to_string()
        } else if found.is_clean() {
            return Ok(llm_summary(first, checks, warnings));
        } else {
            record(&mut checks, &found);
            // One rewrite with a prompt that names what was unsupported.
            checks.retried = true;
            let unsupported = found
                .items()
                .iter()
                .map(|i| format!("\"{i}\""))
                .collect::<Vec<_>>()
                .join(", ");
            let sentences = n.to_string();
            let hints = self.glossary(
                "summarize_strict",
                &input,
                &format!("{}\n{article_text}", input.title),
            );
            let vars = [
                ("title", input.title.as_str()),
                ("article", &article_text),
                ("sentences", &sentences),
                ("language", input.language),
                ("unsupported", &unsupported),
                ("previous", &first),
                ("lead", &input.lead),
                ("glossary", &hints),
            ];
            let rewrite_tokens = prompts::chat_tokens(
                &self.model,
                &self.prompts.messages("summarize_strict", &vars),
            )
            .map_err(failed)?;
            if rewrite_tokens + self.params_for(n).max_new_tokens > self.context_length {
                format!(
                    "its summary mentioned {}, not found in the source, and the stricter rewrite \
                     does not fit the model's context",
                    checks_items(&checks)
                )
            } else {
                let second = self.generate("summarize_strict", &vars, n)?;
                let second = self.in_english(second, n, &mut warnings)?;
                let found = guard::check(&second, &sources);
                if !second.is_empty() && found.is_clean() {
                    return Ok(llm_summary(second, checks, warnings));
                }
                record(&mut checks, &found);
                if second.is_empty() {
                    "the rewrite was empty".to_string()
                } else {
                    format!(
                        "its summaries mentioned {}, not found in the source",
                        checks_items(&checks)
                    )
                }
            }
        };
        let mut summary = self.fallback.summarize(request, translator)?;
        warnings.push(format!(
            "the LLM summary was rejected ({rejected}); wrote an extractive summary instead"
        ));
        summary.checks = checks;
        summary.warnings.extend(warnings);
        Ok(summary)
    }

    fn llm_id(&self) -> Option<String> {
        Some(self.id.clone())
    }
}

fn summarize_vars<'a>(
    input: &'a Input,
    sentences: &'a str,
    article: &'a str,
    glossary: &'a str,
) -> [(&'static str, &'a str); 7] {
    [
        ("title", &input.title),
        ("sentences", sentences),
        ("language", input.language),
        ("lead", &input.lead),
        ("cause", &input.cause),
        ("article", article),
        ("glossary", glossary),
    ]
}

fn combine_vars<'a>(
    title: &'a str,
    sentences: &'a str,
    summaries: &'a str,
) -> [(&'static str, &'a str); 3] {
    [
        ("title", title),
        ("sentences", sentences),
        ("summaries", summaries),
    ]
}

fn llm_summary(text: String, checks: SummaryChecks, warnings: Vec<String>) -> Summary {
    Summary {
        text,
        method: SummaryMethod::Llm,
        checks,
        warnings,
    }
}

/// Add what the guard found to the checks, without repeats.
fn record(checks: &mut SummaryChecks, found: &Findings) {
    for n in &found.unsupported_numbers {
        if !checks.unsupported_numbers.contains(n) {
            checks.unsupported_numbers.push(n.clone());
        }
    }
    for n in &found.unsupported_names {
        if !checks.unsupported_names.contains(n) {
            checks.unsupported_names.push(n.clone());
        }
    }
}

fn checks_items(checks: &SummaryChecks) -> String {
    checks
        .unsupported_numbers
        .iter()
        .chain(&checks.unsupported_names)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `text` reads as English rather than Indonesian or Malay, by their commonest function words.
fn looks_english(text: &str) -> bool {
    const EN: &[&str] = &[
        "the", "and", "of", "to", "in", "is", "was", "for", "that", "with", "on", "by", "as",
        "are", "were", "has", "have", "will", "from", "at", "its", "an", "a", "be", "said",
        "after",
    ];
    const ID: &[&str] = &[
        "yang", "dan", "di", "ke", "dari", "untuk", "dengan", "ini", "itu", "adalah", "dalam",
        "tidak", "akan", "pada", "oleh", "juga", "bahwa", "sebagai", "atau", "telah", "sudah",
        "karena", "mereka", "ia", "dia", "para", "agar", "bisa", "dapat", "sebuah", "setelah",
    ];
    let (mut en, mut id) = (0, 0);
    for w in text.split(|c: char| !c.is_alphabetic()) {
        let w = w.to_lowercase();
        en += usize::from(EN.contains(&w.as_str()));
        id += usize::from(ID.contains(&w.as_str()));
    }
    en >= id
}

fn failed(e: impl std::fmt::Display) -> SummarizeError {
    SummarizeError::Failed(format!("LLM summary: {e}"))
}

/// What to summarise: the translation when there is one (English reads best for the model and is what
/// the user sees), else the cleaned source. The date and dateline come first: they answer "when" and
/// "where".
fn input(request: &SummaryRequest<'_>) -> Input {
    let article: &Article = request.article;
    let meta = &article.meta;
    let mut header = Vec::new();
    if let Some(d) = &meta.date {
        header.push(format!("Published: {d}"));
    }
    if let Some(d) = &meta.dateline {
        header.push(format!("Dateline: {d}"));
    }
    let header = header.join("\n");
    // The site and the agency it credits may be named in a summary ("Kompas.com reported").
    let credits = [&meta.site, &meta.source]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    let source_text: String = std::iter::once(meta.title.clone().unwrap_or_default())
        .chain([header.clone(), credits])
        .chain(article.paragraphs.iter().map(|p| p.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    let mut sources = vec![source_text];
    let mut blocks: Vec<String> = Vec::new();
    if !header.is_empty() {
        blocks.push(header);
    }
    let (title, language) = match request.translation {
        Some(tr) => {
            let translated: Vec<String> = tr
                .paragraphs
                .iter()
                .map(|p| block(&p.text, p.kind))
                .collect();
            sources.push(
                std::iter::once(tr.title.clone().unwrap_or_default())
                    .chain(translated.iter().cloned())
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
            blocks.extend(translated);
            (tr.title.clone().or_else(|| meta.title.clone()), "English")
        }
        None => {
            blocks.extend(article.paragraphs.iter().map(|p| block(&p.text, p.kind)));
            let language = match article.language.as_deref() {
                Some("en") => "English",
                Some("ms") => "Malay",
                _ => "Indonesian",
            };
            (meta.title.clone(), language)
        }
    };
    let lead = match request.translation {
        Some(tr) => tr
            .paragraphs
            .iter()
            .find(|p| p.kind == ParagraphKind::Body)
            .map(|p| p.text.clone()),
        None => article
            .paragraphs
            .iter()
            .find(|p| p.kind == ParagraphKind::Body)
            .map(|p| p.text.clone()),
    };
    let found = cause::find(article);
    let cause = match (request.translation, found) {
        (Some(tr), Some(c)) => tr.paragraphs.get(c.paragraph).map(|p| p.text.clone()),
        _ => None,
    };
    Input {
        title: title.unwrap_or_else(|| "(no title)".to_string()),
        lead: lead.unwrap_or_default(),
        cause: cause.unwrap_or_default(),
        // Summary-only mode translates it with the lead.
        cause_at: found
            .filter(|_| request.translation.is_none())
            .map(|c| c.paragraph),
        blocks,
        language,
        sources,
        untranslated: request.translation.is_none(),
    }
}

/// A paragraph as the model sees it; subheadings marked so they are not read as sentences.
fn block(text: &str, kind: ParagraphKind) -> String {
    match kind {
        ParagraphKind::Heading => format!("## {text}"),
        ParagraphKind::Body => text.to_string(),
    }
}

/// The reply as a summary: one paragraph of at most `n` sentences, without list markers, and without
/// a last sentence cut off by the token limit.
fn tidy(reply: &str, n: usize, cut_off: bool) -> String {
    let text = guard::english_place_names(&prompts::clean_reply(reply));
    let joined = text
        .lines()
        .map(|l| {
            let l = l.trim();
            let l = l.trim_start_matches(['-', '*', '•']).trim_start();
            // "1. " / "2) " list numbering
            let digits = l.chars().take_while(char::is_ascii_digit).count();
            if digits > 0 && l[digits..].starts_with(['.', ')']) && l[digits + 1..].starts_with(' ')
            {
                l[digits + 1..].trim_start()
            } else {
                l
            }
        })
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ");
    let mut sentences = split_sentences(&joined);
    if cut_off
        && sentences.len() > 1
        && !sentences
            .last()
            .is_some_and(|s| s.ends_with(['.', '!', '?', '"', '”']))
    {
        sentences.pop();
    }
    sentences.truncate(n);
    sentences.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::{Metadata, Paragraph};
    use crate::llm::ChatMessage;
    use crate::prompts::fake;
    use crate::translate::{TranslatedParagraph, Translation};

    fn nato() -> Article {
        let ps = [
            "Rusia menghentikan aktivitas misi diplomasi dan kantor aliansi dengan NATO, setelah 8 delegasinya diusir dari Brussels karena dituduh sebagai mata-mata.",
            "Langkah tersebut diumumkan pada Senin (18/10/2021) oleh Menteri Luar Negeri Rusia Sergey Lavrov, dan akan efektif diberlakukan pada awal November.",
            "Hal itu menandai keretakan hubungan yang semakin lebar antara Rusia dan NATO.",
        ];
        Article {
            origin: "nato.txt".into(),
            meta: Metadata {
                title: Some("Setelah 8 Delegasi Diusir, Rusia Balas NATO".into()),
                date: Some("19/10/2021, 09:20 WIB".into()),
                dateline: Some("MOSKWA".into()),
                ..Default::default()
            },
            paragraphs: ps
                .iter()
                .map(|t| Paragraph {
                    text: t.to_string(),
                    sentences: split_sentences(t),
                    kind: ParagraphKind::Body,
                })
                .collect(),
            language: Some("id".into()),
            ..Default::default()
        }
    }

    fn summarizer(model: SharedChatModel) -> LlmSummarizer {
        let prompts = Prompts::load(None).unwrap();
        let own = crate::translate::llm::LlmTranslator::new(
            model.clone(),
            prompts.clone(),
            Default::default(),
        )
        .unwrap();
        LlmSummarizer::new(
            model,
            prompts,
            Default::default(),
            ExtractiveSummarizer::new(Some(own)),
        )
        .unwrap()
    }

    fn summarize(model: SharedChatModel, a: &Article, sentences: usize) -> Summary {
        let req = SummaryRequest {
            article: a,
            translation: None,
            sentences,
        };
        summarizer(model).summarize(&req, None).unwrap()
    }

    const GOOD: &str = "Here is a summary:\n\nRussia is suspending its diplomatic mission to NATO after the alliance expelled eight of its delegates from Brussels as spies. Foreign Minister Sergey Lavrov announced the step on Monday, October 18, 2021. It takes effect in early November. A fourth sentence.";

    const TITLE_EN: &str = "After 8 Delegates Were Expelled, Russia Retaliates Against NATO";
    const LEAD_EN: &str = "Russia halted its diplomatic mission and alliance office with NATO after 8 of its delegates were expelled from Brussels, accused of being spies.";

    /// The replies to summary-only mode's translations of the title and lead; `None` for other chats.
    fn lead_translation(m: &[ChatMessage]) -> Option<String> {
        if fake::between(m, "text").contains("Delegasi Diusir") {
            Some(TITLE_EN.to_string())
        } else if fake::between(m, "paragraph").contains("menghentikan aktivitas") {
            Some(LEAD_EN.to_string())
        } else {
            None
        }
    }

    fn user(m: &[ChatMessage]) -> &str {
        m.last().map(|m| m.content.as_str()).unwrap_or("")
    }

    #[test]
    fn a_faithful_summary_passes_in_one_call_over_the_english_lead() {
        let (model, calls) = fake::model(4096, |m| {
            lead_translation(m).unwrap_or_else(|| GOOD.to_string())
        });
        let a = nato();
        let s = summarize(model, &a, 3);
        assert_eq!(s.method, SummaryMethod::Llm);
        assert_eq!(s.checks, SummaryChecks::default());
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        assert!(s.text.starts_with("Russia is suspending"), "{}", s.text);
        assert!(s.text.ends_with("early November."), "{}", s.text);
        let calls = calls.lock().unwrap();
        // The title, the lead, then the one summary call.
        assert_eq!(calls.len(), 3);
        let u = user(&calls[2]);
        assert!(
            u.contains("Published: 19/10/2021") && u.contains("Dateline: MOSKWA"),
            "{u}"
        );
        assert!(u.contains("this Indonesian news article") && u.contains("in 3 sentences"));
        // The main news reaches the summary prompt in English, the article itself untranslated.
        assert_eq!(fake::between(&calls[2], "lead"), LEAD_EN);
        assert!(u.contains(&format!("(in English: {TITLE_EN})")), "{u}");
        assert!(fake::between(&calls[2], "article").contains("Rusia menghentikan aktivitas"));
    }

    #[test]
    fn a_lead_translation_failing_the_checks_leaves_the_lead_in_the_original() {
        let (model, calls) = fake::model(4096, |m| {
            if !fake::between(m, "paragraph").is_empty() || !fake::between(m, "text").is_empty() {
                // Drops the lead's number: the translator's checks catch it.
                "Russia halted its mission to NATO.".to_string()
            } else {
                GOOD.to_string()
            }
        });
        let s = summarize(model, &nato(), 3);
        assert_eq!(s.method, SummaryMethod::Llm);
        assert!(
            s.warnings
                .iter()
                .any(|w| w.contains("first paragraph's translation")),
            "{:?}",
            s.warnings
        );
        let calls = calls.lock().unwrap();
        let last = calls.last().unwrap();
        assert!(fake::between(last, "lead").starts_with("Rusia menghentikan aktivitas"));
    }

    /// A "translation" that tags each paragraph with EN.
    fn english(a: &Article) -> Translation {
        Translation {
            title: Some(TITLE_EN.to_string()),
            paragraphs: a
                .paragraphs
                .iter()
                .map(|p| TranslatedParagraph {
                    source: p.text.clone(),
                    text: format!("EN {}", p.text),
                    kind: p.kind,
                    sentences: Vec::new(),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn with_a_translation_nothing_more_is_translated() {
        let (model, calls) = fake::model(4096, |_| GOOD.to_string());
        let a = nato();
        let tr = english(&a);
        let req = SummaryRequest {
            article: &a,
            translation: Some(&tr),
            sentences: 3,
        };
        let s = summarizer(model).summarize(&req, None).unwrap();
        assert_eq!(s.method, SummaryMethod::Llm);
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        assert!(fake::between(&calls[0], "lead").starts_with("EN Rusia menghentikan"));
        assert!(user(&calls[0]).contains("this English news article"));
    }

    const CAUSE_ID: &str =
        "Pada awal Oktober, NATO mengusir 8 anggota misi Rusia. NATO menyebut mereka mata-mata.";
    const CAUSE_EN: &str =
        "In early October, NATO expelled 8 members of the Russian mission. NATO called them spies.";

    /// The reference article with the paragraph that tells who expelled the eight.
    fn nato_with_cause() -> Article {
        let mut a = nato();
        a.paragraphs.push(crate::article::Paragraph {
            text: CAUSE_ID.to_string(),
            sentences: split_sentences(CAUSE_ID),
            kind: ParagraphKind::Body,
        });
        a
    }

    #[test]
    fn the_paragraph_the_lead_refers_to_is_translated_with_it_and_told_first() {
        let (model, calls) = fake::model(4096, |m| {
            if fake::between(m, "paragraph").contains("NATO mengusir") {
                return CAUSE_EN.to_string();
            }
            lead_translation(m).unwrap_or_else(|| GOOD.to_string())
        });
        let s = summarize(model, &nato_with_cause(), 3);
        assert_eq!(s.method, SummaryMethod::Llm);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let calls = calls.lock().unwrap();
        // Title, lead, the event's paragraph (with the lead as its context), then the summary.
        assert_eq!(calls.len(), 4);
        assert!(user(&calls[2]).contains("Rusia menghentikan aktivitas"));
        assert_eq!(fake::between(&calls[3], "lead"), LEAD_EN);
        assert_eq!(fake::between(&calls[3], "cause"), CAUSE_EN);
        assert!(user(&calls[3]).contains("in the order they happened"));
    }

    #[test]
    fn an_event_paragraph_failing_the_checks_is_left_out() {
        let (model, calls) = fake::model(4096, |m| {
            if fake::between(m, "paragraph").contains("NATO mengusir")
                || fake::between(m, "text").contains("NATO mengusir")
            {
                // "awal Oktober" read as a date: the translator's number check catches it.
                return CAUSE_EN.replace("In early October", "On October 1");
            }
            lead_translation(m).unwrap_or_else(|| GOOD.to_string())
        });
        let s = summarize(model, &nato_with_cause(), 3);
        assert_eq!(s.method, SummaryMethod::Llm);
        assert!(
            s.warnings.iter().any(|w| w.contains("written without it")),
            "{:?}",
            s.warnings
        );
        let calls = calls.lock().unwrap();
        let last = calls.last().unwrap();
        assert_eq!(fake::between(last, "lead"), LEAD_EN);
        assert!(fake::between(last, "cause").is_empty());
        assert!(!user(last).contains("in the order they happened"));
    }

    #[test]
    fn with_a_translation_the_event_paragraph_is_its_english() {
        let (model, calls) = fake::model(4096, |_| GOOD.to_string());
        let a = nato_with_cause();
        let tr = english(&a);
        let req = SummaryRequest {
            article: &a,
            translation: Some(&tr),
            sentences: 3,
        };
        summarizer(model).summarize(&req, None).unwrap();
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(fake::between(&calls[0], "cause"), format!("EN {CAUSE_ID}"));
    }

    #[test]
    fn an_unsupported_number_is_retried_with_a_stricter_prompt() {
        let (model, calls) = fake::model(4096, |m| {
            if let Some(t) = lead_translation(m) {
                t
            } else if user(m).contains("An earlier summary") {
                GOOD.to_string()
            } else {
                "Russia is suspending its NATO mission after 9 diplomats were expelled by Putin."
                    .to_string()
            }
        });
        let a = nato();
        let s = summarize(model, &a, 3);
        assert_eq!(s.method, SummaryMethod::Llm);
        assert!(s.checks.retried);
        assert_eq!(s.checks.unsupported_numbers, vec!["9"]);
        assert_eq!(s.checks.unsupported_names, vec!["Putin"]);
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 4);
        assert!(
            user(&calls[3]).contains("mentioned \"9\", \"Putin\""),
            "{}",
            user(&calls[3])
        );
        assert_eq!(fake::between(&calls[3], "lead"), LEAD_EN);
    }

    #[test]
    fn twice_unsupported_falls_back_to_extractive() {
        let (model, calls) = fake::model(4096, |m| {
            if let Some(t) = lead_translation(m) {
                return t;
            }
            let t = fake::between(m, "text");
            if !t.is_empty() {
                return format!("EN: {t}");
            }
            "NATO expelled 999 Russian diplomats.".to_string()
        });
        let a = nato();
        let s = summarize(model, &a, 2);
        assert_eq!(s.method, SummaryMethod::Extractive);
        assert!(s.checks.retried);
        assert_eq!(s.checks.unsupported_numbers, vec!["999"]);
        assert!(s.text.starts_with("EN: Russia menghentikan"), "{}", s.text);
        assert!(s.warnings[0].contains("999") && s.warnings[0].contains("extractive"));
        // title and lead, draft, strict rewrite, and one translation per picked sentence
        assert_eq!(calls.lock().unwrap().len(), 6);
    }

    #[test]
    fn long_articles_are_summarised_in_parts_then_combined() {
        let (model, calls) = fake::model(700, |m| {
            let u = user(m);
            if u.contains("<notes>") {
                "Russia is suspending its NATO mission after 8 delegates were expelled.".to_string()
            } else {
                "Russia acts against NATO.".to_string()
            }
        });
        let mut a = nato();
        let long = a.paragraphs[0].clone();
        for _ in 0..30 {
            a.paragraphs.push(long.clone());
        }
        let s = summarize(model, &a, 3);
        assert_eq!(s.method, SummaryMethod::Llm);
        let calls = calls.lock().unwrap();
        let parts = calls
            .iter()
            .filter(|c| user(c).contains("<article>"))
            .count();
        assert!(parts >= 3, "{parts} parts");
        // Every paragraph went to some part: nothing was cut off.
        let total: usize = calls
            .iter()
            .map(|c| {
                fake::between(c, "article")
                    .matches("Rusia menghentikan aktivitas")
                    .count()
            })
            .sum();
        assert_eq!(total, 31);
        assert!(user(calls.last().unwrap()).contains("<notes>"));
        assert!(s.text.contains("8 delegates"));
    }

    #[test]
    fn tidy_makes_one_paragraph_of_n_sentences() {
        assert_eq!(
            tidy("- Russia acts.\n- NATO reacts.\n- Lavrov speaks.", 2, false),
            "Russia acts. NATO reacts."
        );
        assert_eq!(
            tidy("1. One here.\n2. Two here.", 3, false),
            "One here. Two here."
        );
        assert_eq!(tidy("Russia acts. NATO rea", 3, true), "Russia acts.");
        assert_eq!(tidy("Summary: Russia acts.", 3, false), "Russia acts.");
    }

    #[test]
    fn a_summary_in_indonesian_is_translated() {
        let (model, calls) = fake::model(4096, |m| {
            if let Some(t) = lead_translation(m) {
                return t;
            }
            let t = fake::between(m, "text");
            if t.is_empty() {
                "Rusia menghentikan misi diplomasi dengan NATO setelah 8 delegasinya diusir.".into()
            } else {
                "Russia halted its diplomatic mission to NATO after 8 of its delegates were expelled."
                    .into()
            }
        });
        let s = summarize(model, &nato(), 3);
        assert_eq!(s.method, SummaryMethod::Llm);
        assert!(s.text.starts_with("Russia halted"), "{}", s.text);
        assert!(s.warnings[0].contains("translated into English"));
        assert_eq!(calls.lock().unwrap().len(), 4);
        assert!(looks_english("The minister said it was over."));
        assert!(!looks_english(
            "Menteri itu mengatakan bahwa semua sudah selesai."
        ));
    }

    #[test]
    fn a_rewrite_in_indonesian_is_translated_too() {
        let (model, calls) = fake::model(4096, |m| {
            let u = user(m);
            if let Some(t) = lead_translation(m) {
                t
            } else if !fake::between(m, "text").is_empty() {
                "Russia halted its diplomatic mission to NATO after 8 of its delegates were expelled."
                    .into()
            } else if u.contains("An earlier summary") {
                "Rusia menghentikan misi diplomasi dengan NATO setelah 8 delegasinya diusir.".into()
            } else {
                "Russia halted its mission after Putin spoke.".into()
            }
        });
        let s = summarize(model, &nato(), 3);
        assert_eq!(s.method, SummaryMethod::Llm);
        assert!(
            s.text.starts_with("Russia halted its diplomatic"),
            "{}",
            s.text
        );
        assert_eq!(s.checks.unsupported_names, vec!["Putin"]);
        assert_eq!(calls.lock().unwrap().len(), 5);
    }
}
