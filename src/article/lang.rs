//! Is the article Indonesian? `lingua`, built with only English, Indonesian and Malay (the languages a
//! user of warta plausibly feeds it), answers; its detector is built once per process because loading
//! its models is the expensive part.

use std::sync::OnceLock;

use lingua::{Language, LanguageDetector, LanguageDetectorBuilder};

/// Enough text for a confident answer; more only costs time on a 5 MB input.
const SAMPLE_CHARS: usize = 3_000;

fn detector() -> &'static LanguageDetector {
    static DETECTOR: OnceLock<LanguageDetector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        LanguageDetectorBuilder::from_languages(&[
            Language::Indonesian,
            Language::Malay,
            Language::English,
        ])
        .build()
    })
}

/// Frequent function words. Text in some other language (German, Tagalog, …) that lingua can only map
/// onto one of its three gets too few of these to be taken for it.
const MALAY_INDONESIAN_WORDS: &[&str] = &[
    "yang", "dan", "di", "ini", "itu", "dengan", "untuk", "dari", "dalam", "tidak", "akan", "pada",
    "ke", "juga", "ada", "karena", "saat", "kata", "oleh", "telah", "atau", "bahwa", "mereka",
    "kami", "sebagai", "sudah",
];
const ENGLISH_WORDS: &[&str] = &[
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "with", "as", "was", "on", "are",
    "by", "at", "be", "this", "from", "has", "have", "its", "an", "or", "were", "after",
];

/// ISO 639-1 code of the language of `text` (`id`, `ms` or `en`), or `None` when it is none of them
/// with confidence.
pub(crate) fn detect(text: &str) -> Option<&'static str> {
    let sample: String = text.chars().take(SAMPLE_CHARS).collect();
    if sample.chars().filter(|c| c.is_alphabetic()).count() < 20 {
        return None;
    }
    let lang = detector().detect_language_of(sample.as_str())?;
    let code = match lang {
        Language::Indonesian => "id",
        Language::Malay => "ms",
        Language::English => "en",
    };
    let function_words = if code == "en" {
        ENGLISH_WORDS
    } else {
        MALAY_INDONESIAN_WORDS
    };
    let words: Vec<String> = sample
        .split_whitespace()
        .map(|w| w.to_lowercase())
        .collect();
    let hits = words
        .iter()
        .filter(|w| function_words.contains(&w.trim_matches(|c: char| !c.is_alphabetic())))
        .count();
    // Under one word in 25: not this language, whatever lingua's nearest guess.
    if words.len() >= 20 && hits * 25 < words.len() {
        return None;
    }
    Some(code)
}

/// Confidence (0 to 1, summing to 1) that `text` is Indonesian (`id`, Malay counted with it, as the
/// one model reads both) or English (`en`), most likely first; empty when the text has no letters.
/// For answers like LibreTranslate's `/detect`, which knows only the languages it can translate.
pub fn id_en_confidences(text: &str) -> Vec<(&'static str, f64)> {
    let sample: String = text.chars().take(SAMPLE_CHARS).collect();
    if !sample.chars().any(char::is_alphabetic) {
        return Vec::new();
    }
    let (mut id, mut en) = (0.0, 0.0);
    for (lang, c) in detector().compute_language_confidence_values(sample.as_str()) {
        match lang {
            Language::English => en += c,
            Language::Indonesian | Language::Malay => id += c,
        }
    }
    let mut out = vec![("id", id), ("en", en)];
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// The warning to show for a detected language, if it is not Indonesian.
pub(crate) fn warning(code: Option<&str>) -> Option<String> {
    match code {
        Some("id") => None,
        Some("ms") => Some("the text looks Malay rather than Indonesian; the Indonesian models may translate it less well".into()),
        Some("en") => Some("the text looks English already, not Indonesian".into()),
        _ => Some("could not recognise the language as Indonesian; warta is built for Indonesian articles".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_indonesian_and_english() {
        let id = "Rusia menghentikan aktivitas misi diplomasi dan kantor aliansi dengan NATO, setelah delapan \
                  delegasinya diusir dari Brussels karena dituduh sebagai mata-mata.";
        assert_eq!(detect(id), Some("id"));
        let en = "Russia has suspended its diplomatic mission to NATO after the alliance expelled eight members \
                  of its mission, accusing them of being undeclared intelligence officers.";
        assert_eq!(detect(en), Some("en"));
        assert!(warning(detect(en)).is_some());
    }

    #[test]
    fn other_languages_are_not_taken_for_indonesian() {
        let de = "Russland hat seine diplomatische Vertretung bei der NATO ausgesetzt, nachdem das Bündnis acht \
                  Mitglieder der Mission ausgewiesen hatte, weil sie nicht angemeldete Geheimdienstler seien.";
        assert_ne!(detect(de), Some("id"));
        assert_eq!(detect("12 34 56"), None);
    }
}
