//! The earlier event a lead reacts to, told later in the article.
//!
//! Indonesian news leads often report a reaction and name what provoked it in a clause, in a passive
//! without its agent: "Rusia menghentikan aktivitas misi diplomasi … dengan NATO, setelah 8
//! delegasinya diusir dari Brussels karena dituduh sebagai mata-mata". Who did it is told paragraphs
//! later ("NATO mengusir 8 anggota misi Rusia …"). A small model summarising the lead either keeps the
//! passive or guesses the agent (Qwen2.5-Coder-1.5B wrote that Russia expelled the eight), and does not
//! connect the later paragraph by itself, even when asked who did it. Given that paragraph beside the
//! lead and asked to tell the events in order, it does. The paragraph is found here by the words it
//! shares with the clause, stems matched (`diusir` meets `mengusir`), so finding it needs no model.

use std::collections::HashSet;

use crate::article::{split_sentences, Article, ParagraphKind};
use crate::prompts::glossary;
use crate::summarize::extractive::{content_words, Language};

/// Words that open a clause about an earlier event or a reason (Indonesian, and Malay spellings).
const CONNECTIVES: &[&str] = &[
    "setelah", "sesudah", "usai", "seusai", "selepas", "menyusul", "pasca", "akibat", "lantaran",
    "karena", "kerana",
];

/// Clause words a paragraph must share to be taken for the event: one shared word (a name, a number)
/// is too often chance.
const MIN_SHARED: usize = 2;

/// Where the lead and the paragraph telling its earlier event are, as indices into
/// `article.paragraphs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cause {
    pub lead: usize,
    pub paragraph: usize,
}

/// The paragraph that tells the event the lead's "after …" or "because …" clause refers to: the later
/// body paragraph sharing the most of the clause's content words (at least [`MIN_SHARED`]; the first
/// such paragraph on a tie). `None` when the article is not Indonesian or Malay, the lead has no such
/// clause, or no paragraph shares enough of it.
pub fn find(article: &Article) -> Option<Cause> {
    if !matches!(article.language.as_deref(), None | Some("id") | Some("ms")) {
        return None;
    }
    let paragraphs = &article.paragraphs;
    let lead = paragraphs
        .iter()
        .position(|p| p.kind == ParagraphKind::Body)?;
    let clause = clause(&paragraphs[lead].text)?;
    let clause: Vec<Vec<String>> = unique(content_words(&clause, Language::Indonesian))
        .iter()
        .map(|w| glossary::forms(w))
        .collect();
    let mut best: Option<(usize, usize)> = None;
    for (i, p) in paragraphs.iter().enumerate().skip(lead + 1) {
        if p.kind != ParagraphKind::Body {
            continue;
        }
        let forms: HashSet<String> = content_words(&p.text, Language::Indonesian)
            .iter()
            .flat_map(|w| glossary::forms(w))
            .collect();
        let shared = clause
            .iter()
            .filter(|w| w.iter().any(|f| forms.contains(f)))
            .count();
        if shared >= MIN_SHARED && best.is_none_or(|(_, s)| shared > s) {
            best = Some((i, shared));
        }
    }
    best.map(|(paragraph, _)| Cause { lead, paragraph })
}

/// The words after the first connective of the lead's first sentence, to the end of it. Only the
/// first sentence states the news; an "after …" later in the paragraph is usually someone's quote.
fn clause(lead: &str) -> Option<String> {
    let first = split_sentences(lead).into_iter().next()?;
    let words: Vec<&str> = first.split_whitespace().collect();
    let at = words.iter().position(|w| {
        let w = w
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        CONNECTIVES.contains(&w.as_str())
    })?;
    let rest = words[at + 1..].join(" ");
    (!rest.is_empty()).then_some(rest)
}

fn unique(words: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    words
        .into_iter()
        .filter(|w| seen.insert(w.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::Paragraph;

    fn article(paragraphs: &[(&str, ParagraphKind)]) -> Article {
        Article {
            paragraphs: paragraphs
                .iter()
                .map(|(t, kind)| Paragraph {
                    text: t.to_string(),
                    sentences: split_sentences(t),
                    kind: *kind,
                })
                .collect(),
            language: Some("id".into()),
            ..Default::default()
        }
    }

    const LEAD: &str = "Rusia menghentikan aktivitas misi diplomasi dan kantor aliansi dengan NATO, setelah 8 delegasinya diusir dari Brussels karena dituduh sebagai mata-mata.";

    /// The reference article's paragraphs that share words with the lead's clause, and others.
    fn nato() -> Vec<(&'static str, ParagraphKind)> {
        use ParagraphKind::*;
        vec![
            (LEAD, Body),
            ("Langkah tersebut diumumkan pada Senin (18/10/2021) oleh Menteri Luar Negeri Rusia Sergey Lavrov.", Body),
            ("Mata-mata Rusia", Heading),
            ("Pada awal Oktober, NATO mengusir 8 anggota misi Rusia untuk aliansi transatalntik itu. Namun, NATO menyebut mereka sebagai \"perwira intelijen Rusia yang tidak diumumkan\" atau dengan kata lain adalah mata-mata.", Body),
            ("Rusia mengatakan pada saat itu bahwa pengusiran merusak harapan.", Body),
            ("Sementara, Stoltenberg mengatakan pengusiran warga negara Rusia itu tidak terkait dengan peristiwa tertentu. Namun mengklaim, kegiatan 8 orang itu tidak sesuai dengan akreditasi mereka.", Body),
        ]
    }

    #[test]
    fn the_paragraph_sharing_most_of_the_clause_is_found() {
        // Paragraph 4 shares 8, usir and mata-mata; paragraph 6 only 8 and usir.
        assert_eq!(
            find(&article(&nato())),
            Some(Cause {
                lead: 0,
                paragraph: 3
            })
        );
    }

    #[test]
    fn the_clause_runs_from_the_connective_to_the_end_of_its_sentence() {
        assert_eq!(
            clause(LEAD).as_deref(),
            Some("8 delegasinya diusir dari Brussels karena dituduh sebagai mata-mata.")
        );
        assert_eq!(
            clause("Pemerintah menaikkan tarif usai rapat kabinet. Lagi.").as_deref(),
            Some("rapat kabinet.")
        );
        // Not in the first sentence: a quote, not the news.
        assert_eq!(
            clause("Harga naik. \"Setelah rapat, kami putuskan,\" katanya."),
            None
        );
        assert_eq!(clause("Harga beras naik 5 persen pada Senin."), None);
    }

    #[test]
    fn no_clause_too_little_shared_or_another_language_finds_nothing() {
        use ParagraphKind::*;
        let no_clause = [
            ("Harga beras naik 5 persen pada Senin.", Body),
            ("Harga beras di pasar naik 5 persen.", Body),
        ];
        assert_eq!(find(&article(&no_clause)), None);
        // Only the number is shared.
        let chance = [
            (LEAD, Body),
            ("Sebanyak 8 kapal berlabuh di pelabuhan.", Body),
        ];
        assert_eq!(find(&article(&chance)), None);
        let mut english = article(&nato());
        english.language = Some("en".into());
        assert_eq!(find(&english), None);
    }
}
