//! The model's tokenizer: the Hub repo's `tokenizer.json` when there is one, else one built from the
//! GGUF's own tokenizer metadata.
//!
//! A GGUF tokenizer is described by `tokenizer.ggml.*`: the model type (`gpt2` byte-level BPE, or
//! `llama` SentencePiece), the tokens with their types, the BPE merges or SentencePiece scores, and
//! `tokenizer.ggml.pre`, llama.cpp's name for the pre-tokenizer. We translate that into the
//! `tokenizer.json` the original model ships (same normalizer, split regex, byte-level and model
//! options) and let the `tokenizers` crate load it, so the ids are the ones the model was trained on.
//! Control and user-defined tokens become added tokens, so `<|im_start|>` in a rendered chat template
//! is one token, as in llama.cpp with special-token parsing on.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Value};

use super::gguf::Gguf;
use super::LlmError;

/// llama.cpp token types (`tokenizer.ggml.token_type`).
const TOKEN_CONTROL: i64 = 3;
const TOKEN_USER_DEFINED: i64 = 4;
const TOKEN_BYTE: i64 = 6;

/// Split regex of Qwen2 (digits one at a time).
const REGEX_QWEN2: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Split regex of Llama 3 (digits in groups of up to three).
const REGEX_LLAMA3: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Where a tokenizer came from (shown with `-v` and in bench output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerSource {
    /// `tokenizer.json` of this Hub repo (or file).
    Json(String),
    /// Built from the GGUF metadata (`tokenizer.ggml.pre` value).
    Gguf(String),
}

impl std::fmt::Display for TokenizerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenizerSource::Json(s) => write!(f, "tokenizer.json of {s}"),
            TokenizerSource::Gguf(pre) => write!(f, "GGUF metadata (pre-tokenizer {pre})"),
        }
    }
}

/// A tokenizer for one model.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    source: TokenizerSource,
    model: String,
}

impl Tokenizer {
    /// Build the tokenizer that the GGUF's metadata describes.
    pub fn from_gguf(g: &Gguf) -> Result<Tokenizer, LlmError> {
        let model = g.path().display().to_string();
        let err = |reason: String| LlmError::Tokenizer {
            model: model.clone(),
            reason,
        };
        let missing = |key: &str| {
            if g.has(key) {
                None
            } else {
                Some(key.to_string())
            }
        };
        for key in ["tokenizer.ggml.model", "tokenizer.ggml.tokens"] {
            if let Some(k) = missing(key) {
                return Err(LlmError::MissingMetadata {
                    path: g.path().to_path_buf(),
                    key: k,
                });
            }
        }
        let kind = g.string("tokenizer.ggml.model")?;
        let tokens = g.strings("tokenizer.ggml.tokens")?;
        let types = if g.has("tokenizer.ggml.token_type") {
            g.ints("tokenizer.ggml.token_type")?
        } else {
            vec![1; tokens.len()]
        };
        if types.len() != tokens.len() {
            return Err(err(format!(
                "{} token types for {} tokens",
                types.len(),
                tokens.len()
            )));
        }
        let (json, source) = match kind.as_str() {
            "gpt2" => {
                let merges = g.strings("tokenizer.ggml.merges")?;
                let pre = if g.has("tokenizer.ggml.pre") {
                    g.string("tokenizer.ggml.pre")?
                } else {
                    "default".to_string()
                };
                let json = bpe_json(&tokens, &types, &merges, &pre).map_err(err)?;
                (json, TokenizerSource::Gguf(pre))
            }
            "llama" => {
                let scores = g.floats("tokenizer.ggml.scores")?;
                let add_space = g.has("tokenizer.ggml.add_space_prefix")
                    && g.bool("tokenizer.ggml.add_space_prefix")?;
                let json = spm_json(&tokens, &types, &scores, add_space).map_err(err)?;
                (json, TokenizerSource::Gguf("sentencepiece".into()))
            }
            other => {
                return Err(err(format!(
                    "tokenizer model {other:?} is not supported (supported: gpt2 byte-level BPE, \
                     llama SentencePiece)"
                )))
            }
        };
        let inner = tokenizers::Tokenizer::from_bytes(json.to_string().as_bytes())
            .map_err(|e| err(format!("cannot build the tokenizer: {e}")))?;
        Ok(Tokenizer {
            inner,
            source,
            model,
        })
    }

    /// Load a `tokenizer.json`.
    pub fn from_file(path: &Path, origin: &str) -> Result<Tokenizer, LlmError> {
        let inner = tokenizers::Tokenizer::from_file(path).map_err(|e| LlmError::Tokenizer {
            model: origin.to_string(),
            reason: format!("cannot read {}: {e}", path.display()),
        })?;
        Ok(Tokenizer {
            inner,
            source: TokenizerSource::Json(origin.to_string()),
            model: origin.to_string(),
        })
    }

    pub fn source(&self) -> &TokenizerSource {
        &self.source
    }

    /// Token ids of `text`, with special tokens written in the text recognised; nothing is added
    /// (chat templates write BOS themselves).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| LlmError::Tokenizer {
                model: self.model.clone(),
                reason: format!("cannot encode text: {e}"),
            })?;
        Ok(enc.get_ids().to_vec())
    }

    /// Text of `ids`, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String, LlmError> {
        self.inner
            .decode(ids, true)
            .map_err(|e| LlmError::Tokenizer {
                model: self.model.clone(),
                reason: format!("cannot decode tokens: {e}"),
            })
    }

    /// The id of a token given by its text (`<|im_end|>`), if the vocabulary has it.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}

fn added_tokens(tokens: &[String], types: &[i64]) -> Vec<Value> {
    tokens
        .iter()
        .zip(types)
        .enumerate()
        .filter(|(_, (_, t))| **t == TOKEN_CONTROL || **t == TOKEN_USER_DEFINED)
        .map(|(id, (content, t))| {
            json!({
                "id": id, "content": content, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": *t == TOKEN_CONTROL,
            })
        })
        .collect()
}

fn vocab(tokens: &[String]) -> serde_json::Map<String, Value> {
    tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), json!(i)))
        .collect()
}

/// `tokenizer.json` of a byte-level BPE model, per llama.cpp pre-tokenizer name.
fn bpe_json(
    tokens: &[String],
    types: &[i64],
    merges: &[String],
    pre: &str,
) -> Result<Value, String> {
    let byte_level = |prefix: bool, trim: bool, regex: bool| json!({"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": trim, "use_regex": regex});
    let split = |regex: &str| json!({"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false});
    // (normalizer, pre-tokenizer, ignore_merges) as in the original models' tokenizer.json.
    let (normalizer, pre_tokenizer, ignore_merges) = match pre {
        "qwen2" | "deepseek-r1-qwen" => (
            json!({"type": "NFC"}),
            json!({"type": "Sequence", "pretokenizers": [split(REGEX_QWEN2), byte_level(false, false, false)]}),
            false,
        ),
        "llama-bpe" | "llama3" | "smaug-bpe" => (
            Value::Null,
            json!({"type": "Sequence", "pretokenizers": [split(REGEX_LLAMA3), byte_level(false, true, false)]}),
            true,
        ),
        "smollm" => (
            Value::Null,
            json!({"type": "Sequence", "pretokenizers": [
                {"type": "Digits", "individual_digits": true}, byte_level(false, true, true)]}),
            false,
        ),
        "default" | "gpt2" | "gpt-2" => (Value::Null, byte_level(false, true, true), false),
        other => {
            return Err(format!(
                "pre-tokenizer {other:?} is not supported (supported: qwen2, llama-bpe, smollm, \
                 gpt2); use a Hub model whose repo has a tokenizer.json"
            ))
        }
    };
    let merges: Vec<Value> = merges
        .iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| json!([a, b]))
                .ok_or_else(|| format!("merge {m:?} is not two tokens"))
        })
        .collect::<Result<_, _>>()?;
    Ok(json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": added_tokens(tokens, types),
        "normalizer": normalizer,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": null,
        "decoder": byte_level(false, false, false),
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
            "ignore_merges": ignore_merges, "vocab": vocab(tokens), "merges": merges,
        },
    }))
}

/// `tokenizer.json` of a SentencePiece BPE model (Gemma, Llama 2): merges are recovered from the
/// scores the way `transformers` converts SentencePiece models: a pair merges into a vocabulary piece,
/// and pairs whose result scores higher merge first. Unknown bytes fall back to `<0xNN>` tokens.
fn spm_json(
    tokens: &[String],
    types: &[i64],
    scores: &[f32],
    add_space_prefix: bool,
) -> Result<Value, String> {
    if scores.len() != tokens.len() {
        return Err(format!(
            "{} scores for {} tokens",
            scores.len(),
            tokens.len()
        ));
    }
    let ids: HashMap<&str, usize> = tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| types[*i] != TOKEN_BYTE)
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let mut merges: Vec<(f32, usize, usize, &str, &str)> = Vec::new();
    for (piece, &id) in &ids {
        // Split every piece at each char boundary into two pieces of the vocabulary.
        for (cut, _) in piece.char_indices().skip(1) {
            let (a, b) = piece.split_at(cut);
            if let (Some(&ia), Some(&ib)) = (ids.get(a), ids.get(b)) {
                merges.push((scores[id], ia, ib, a, b));
            }
        }
    }
    // Higher score first; ties by the ids of the parts, as transformers' extractor orders them.
    merges.sort_by(|x, y| {
        y.0.partial_cmp(&x.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then((x.1, x.2).cmp(&(y.1, y.2)))
    });
    let merges: Vec<Value> = merges.iter().map(|m| json!([m.3, m.4])).collect();
    let unk = tokens
        .iter()
        .position(|t| t == "<unk>")
        .map(|i| tokens[i].clone());
    let mut normalizers = Vec::new();
    if add_space_prefix {
        normalizers.push(json!({"type": "Prepend", "prepend": "▁"}));
    }
    normalizers.push(json!({"type": "Replace", "pattern": {"String": " "}, "content": "▁"}));
    let mut decoders = vec![json!({"type": "Replace", "pattern": {"String": "▁"}, "content": " "})];
    decoders.push(json!({"type": "ByteFallback"}));
    decoders.push(json!({"type": "Fuse"}));
    if add_space_prefix {
        decoders.push(json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
    }
    Ok(json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": added_tokens(tokens, types),
        "normalizer": {"type": "Sequence", "normalizers": normalizers},
        "pre_tokenizer": null,
        "post_processor": null,
        "decoder": {"type": "Sequence", "decoders": decoders},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": unk, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true,
            "ignore_merges": false, "vocab": vocab(tokens), "merges": merges,
        },
    }))
}

/// Turns generated token ids into text as they come, holding back bytes of a character that is split
/// across tokens (byte-level BPE emits e.g. an emoji as several tokens) until it is complete.
pub struct Detokenizer<'a> {
    tokenizer: &'a Tokenizer,
    ids: Vec<u32>,
    /// Text already emitted, as a byte length of the decoded `ids`.
    emitted: usize,
}

impl<'a> Detokenizer<'a> {
    pub fn new(tokenizer: &'a Tokenizer) -> Self {
        Detokenizer {
            tokenizer,
            ids: Vec::new(),
            emitted: 0,
        }
    }

    /// Add a token; return the new complete text, if any.
    pub fn push(&mut self, id: u32) -> Result<Option<String>, LlmError> {
        self.ids.push(id);
        let text = self.tokenizer.decode(&self.ids)?;
        // An incomplete UTF-8 sequence decodes to U+FFFD at the end: wait for the rest.
        if text.ends_with('\u{FFFD}') || text.len() <= self.emitted {
            return Ok(None);
        }
        if !text.is_char_boundary(self.emitted) {
            return Ok(None);
        }
        let new = text[self.emitted..].to_string();
        self.emitted = text.len();
        Ok(Some(new))
    }

    /// All text of the tokens pushed so far (complete characters and whatever is left).
    pub fn text(&self) -> Result<String, LlmError> {
        self.tokenizer.decode(&self.ids)
    }

    pub fn ids(&self) -> &[u32] {
        &self.ids
    }
}
