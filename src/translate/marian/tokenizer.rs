//! MarianTokenizer, as `transformers` implements it: SentencePiece pieces mapped through the Marian
//! vocabulary (`vocab.json`, whose ids are not the SentencePiece ids), `</s>` appended.
//!
//! What `transformers` does around SentencePiece matters for exact ids and strings, so it is copied here:
//! literal special-token text (`</s>`, `<unk>`, `<pad>`) in the input becomes that token; a leading
//! `>>xx<<` language code is one token; decoding skips special ids, joins pieces with the (source, for a
//! shared vocabulary) SentencePiece model, turns `▁` into spaces and strips the ends; and the optional
//! `clean_up_tokenization_spaces` replacements.

use std::collections::HashMap;
use std::path::Path;

use super::spm::SentencePiece;
use super::MarianError;

/// The tokenizer of one Marian model directory.
#[derive(Debug, Clone)]
pub struct MarianTokenizer {
    source: SentencePiece,
    target: SentencePiece,
    /// Piece → id for encoding.
    encoder: HashMap<String, u32>,
    /// Id → piece for decoding (the target vocabulary when the model has separate vocabularies).
    decoder: HashMap<u32, String>,
    separate_vocabs: bool,
    /// Special token text → id, longest first (for splitting input on them).
    specials: Vec<(String, u32)>,
    unk_id: u32,
    pub eos_id: u32,
    pub pad_id: u32,
    clean_up_spaces: bool,
}

/// `tokenizer_config.json` keys MarianTokenizer reads.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct TokenizerConfig {
    unk_token: Option<TokenText>,
    eos_token: Option<TokenText>,
    pad_token: Option<TokenText>,
    additional_special_tokens: Vec<TokenText>,
    separate_vocabs: bool,
    clean_up_tokenization_spaces: bool,
}

/// A token in a tokenizer config: a plain string or an `AddedToken` object.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
enum TokenText {
    Plain(String),
    Added { content: String },
}

impl TokenText {
    fn text(&self) -> &str {
        match self {
            TokenText::Plain(s) => s,
            TokenText::Added { content } => content,
        }
    }
}

impl MarianTokenizer {
    /// Load from the files of a model directory. `target_vocab` is read only when the config asks for
    /// separate vocabularies.
    pub fn load(
        source_spm: &Path,
        target_spm: &Path,
        vocab: &Path,
        tokenizer_config: Option<&Path>,
        target_vocab: impl FnOnce() -> Result<std::path::PathBuf, MarianError>,
    ) -> Result<MarianTokenizer, MarianError> {
        let spm = |p: &Path| -> Result<SentencePiece, MarianError> {
            let bytes = std::fs::read(p).map_err(|e| MarianError::io(p, e))?;
            SentencePiece::from_bytes(&bytes).map_err(|e| MarianError::invalid(p, e.to_string()))
        };
        let config: TokenizerConfig = match tokenizer_config {
            Some(p) => read_json(p)?,
            None => TokenizerConfig::default(),
        };
        let encoder: HashMap<String, u32> = read_json(vocab)?;
        let decoder = if config.separate_vocabs {
            let p = target_vocab()?;
            let target: HashMap<String, u32> = read_json(&p)?;
            target.into_iter().map(|(k, v)| (v, k)).collect()
        } else {
            encoder.iter().map(|(k, &v)| (v, k.clone())).collect()
        };
        let text = |t: &Option<TokenText>, default: &str| {
            t.as_ref().map_or(default, TokenText::text).to_string()
        };
        let (unk, eos, pad) = (
            text(&config.unk_token, "<unk>"),
            text(&config.eos_token, "</s>"),
            text(&config.pad_token, "<pad>"),
        );
        let id = |token: &str| {
            encoder.get(token).copied().ok_or_else(|| {
                MarianError::invalid(vocab, format!("the vocabulary has no {token} token"))
            })
        };
        let (unk_id, eos_id, pad_id) = (id(&unk)?, id(&eos)?, id(&pad)?);
        let mut specials = vec![(eos, eos_id), (unk, unk_id), (pad, pad_id)];
        for t in &config.additional_special_tokens {
            specials.push((t.text().to_string(), id(t.text())?));
        }
        specials.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        Ok(MarianTokenizer {
            source: spm(source_spm)?,
            target: spm(target_spm)?,
            encoder,
            decoder,
            separate_vocabs: config.separate_vocabs,
            specials,
            unk_id,
            eos_id,
            pad_id,
            clean_up_spaces: config.clean_up_tokenization_spaces,
        })
    }

    /// Token ids of a source sentence, `</s>` included.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        for part in self.split_specials(text) {
            match part {
                Part::Special(id) => ids.push(id),
                Part::Text(t) => {
                    let (code, rest) = split_language_code(t);
                    if let Some(code) = code {
                        ids.push(self.piece_id(code));
                    }
                    ids.extend(self.source.encode(rest).iter().map(|p| self.piece_id(p)));
                }
            }
        }
        ids.push(self.eos_id);
        ids
    }

    fn piece_id(&self, piece: &str) -> u32 {
        self.encoder.get(piece).copied().unwrap_or(self.unk_id)
    }

    /// `text` cut at literal special tokens (leftmost, longest first), empty pieces dropped.
    fn split_specials<'a>(&self, text: &'a str) -> Vec<Part<'a>> {
        let mut parts = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i < text.len() {
            let hit = self
                .specials
                .iter()
                .find(|(t, _)| !t.is_empty() && text[i..].starts_with(t.as_str()));
            match hit {
                Some((t, id)) => {
                    if start < i {
                        parts.push(Part::Text(&text[start..i]));
                    }
                    parts.push(Part::Special(*id));
                    i += t.len();
                    start = i;
                }
                None => i += text[i..].chars().next().map_or(1, char::len_utf8),
            }
        }
        if start < text.len() {
            parts.push(Part::Text(&text[start..]));
        }
        parts
    }

    /// The English text of generated ids, as `batch_decode(ids, skip_special_tokens=True)` gives it.
    pub fn decode(&self, ids: &[u32]) -> String {
        let spm = if self.separate_vocabs {
            &self.target
        } else {
            // transformers 5 decodes with the source model when the vocabulary is shared.
            &self.source
        };
        let special = |id: u32| self.specials.iter().any(|(_, s)| *s == id);
        let tokens: Vec<&str> = ids
            .iter()
            .filter(|&&id| !special(id))
            .map(|&id| match self.decoder.get(&id) {
                Some(t) => t.as_str(),
                None => spm.piece(id as usize).unwrap_or(self.unk_text()),
            })
            .collect();
        let mut out = String::new();
        let mut run: Vec<&str> = Vec::new();
        for token in tokens {
            if self.specials.iter().any(|(t, _)| t == token) {
                out.push_str(&spm.decode_pieces(&run));
                out.push_str(token);
                out.push(' ');
                run.clear();
            } else {
                run.push(token);
            }
        }
        out.push_str(&spm.decode_pieces(&run));
        let out = out.replace('\u{2581}', " ");
        let out = py_strip(&out);
        if self.clean_up_spaces {
            clean_up_tokenization(out)
        } else {
            out.to_string()
        }
    }

    fn unk_text(&self) -> &str {
        self.specials
            .iter()
            .find(|(_, id)| *id == self.unk_id)
            .map_or("<unk>", |(t, _)| t.as_str())
    }

    /// Size of the Marian vocabulary (source side).
    pub fn vocab_size(&self) -> usize {
        self.encoder.len()
    }
}

enum Part<'a> {
    Text(&'a str),
    Special(u32),
}

/// `>>xx<<` at the very start is a target-language code token (multilingual models).
fn split_language_code(text: &str) -> (Option<&str>, &str) {
    if text.starts_with(">>") {
        if let Some(end) = text.find("<<") {
            return (Some(&text[..end + 2]), &text[end + 2..]);
        }
    }
    (None, text)
}

/// Python's `str.strip()`: its whitespace set has the separators U+001C..U+001F that Rust's lacks.
fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// `PreTrainedTokenizerBase.clean_up_tokenization`.
fn clean_up_tokenization(s: &str) -> String {
    s.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
}

/// Read a JSON file of the model; errors name the file and say what to do.
pub(super) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, MarianError> {
    let text = std::fs::read_to_string(path).map_err(|e| MarianError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        MarianError::invalid(
            path,
            format!("bad JSON ({e}); fix the file or download the model again"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_codes() {
        assert_eq!(
            split_language_code(">>ind<< Halo"),
            (Some(">>ind<<"), " Halo")
        );
        assert_eq!(split_language_code("Halo >>ind<<"), (None, "Halo >>ind<<"));
        assert_eq!(split_language_code(">>x"), (None, ">>x"));
    }

    #[test]
    fn python_strip_and_cleanup() {
        assert_eq!(py_strip("\u{1f} a b\u{3000}\n"), "a b");
        assert_eq!(
            clean_up_tokenization("I do n't know , he 's here ."),
            "I don't know, he's here."
        );
    }
}
