//! `config.json` and `generation_config.json` of a Marian model, with the defaults `transformers`
//! (`MarianConfig`, `GenerationConfig`) uses for keys a file leaves out.

use serde::Deserialize;
use serde_json::Value;

/// The architecture settings of `MarianConfig` the forward pass depends on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct MarianConfig {
    pub vocab_size: usize,
    pub decoder_vocab_size: Option<usize>,
    pub max_position_embeddings: usize,
    pub encoder_layers: usize,
    pub encoder_ffn_dim: usize,
    pub encoder_attention_heads: usize,
    pub decoder_layers: usize,
    pub decoder_ffn_dim: usize,
    pub decoder_attention_heads: usize,
    pub activation_function: String,
    pub d_model: usize,
    pub decoder_start_token_id: u32,
    pub scale_embedding: bool,
    pub pad_token_id: Option<u32>,
    pub eos_token_id: Option<TokenIds>,
    pub forced_eos_token_id: Option<TokenIds>,
    pub share_encoder_decoder_embeddings: bool,
    pub tie_word_embeddings: bool,
}

impl Default for MarianConfig {
    fn default() -> Self {
        MarianConfig {
            vocab_size: 58101,
            decoder_vocab_size: None,
            max_position_embeddings: 1024,
            encoder_layers: 12,
            encoder_ffn_dim: 4096,
            encoder_attention_heads: 16,
            decoder_layers: 12,
            decoder_ffn_dim: 4096,
            decoder_attention_heads: 16,
            activation_function: "gelu".into(),
            d_model: 1024,
            decoder_start_token_id: 58100,
            scale_embedding: false,
            pad_token_id: Some(58100),
            eos_token_id: Some(TokenIds::One(0)),
            forced_eos_token_id: Some(TokenIds::One(0)),
            share_encoder_decoder_embeddings: true,
            tie_word_embeddings: true,
        }
    }
}

/// Largest sinusoidal position table (positions x d_model) a config may ask for: 1 GiB of f32.
const MAX_POSITION_TABLE: usize = 1 << 28;

impl MarianConfig {
    /// Rows of the output layer: the shared vocabulary, or the decoder's own.
    pub fn target_vocab_size(&self) -> usize {
        if self.share_encoder_decoder_embeddings {
            self.vocab_size
        } else {
            self.decoder_vocab_size.unwrap_or(self.vocab_size)
        }
    }

    /// Check what the forward pass would otherwise trip over.
    pub fn validate(&self) -> Result<(), String> {
        let heads = |d: usize, h: usize, side: &str| {
            if h == 0 || d % h != 0 {
                Err(format!(
                    "d_model {d} is not divisible by {side}_attention_heads {h}"
                ))
            } else {
                Ok(())
            }
        };
        heads(self.d_model, self.encoder_attention_heads, "encoder")?;
        heads(self.d_model, self.decoder_attention_heads, "decoder")?;
        if self.vocab_size == 0 || self.d_model == 0 || self.max_position_embeddings == 0 {
            return Err("vocab_size, d_model and max_position_embeddings must be positive".into());
        }
        Activation::parse(&self.activation_function)?;
        // The position table is computed from these two when the checkpoint has none: no file
        // backs it, so its size is bounded here (opus-mt: 512 x 512).
        let table = self.max_position_embeddings.checked_mul(self.d_model);
        if table.is_none_or(|n| n > MAX_POSITION_TABLE) {
            return Err(format!(
                "max_position_embeddings {} x d_model {} is more than the {MAX_POSITION_TABLE} \
                 values warta accepts for a position table",
                self.max_position_embeddings, self.d_model
            ));
        }
        Ok(())
    }
}

/// One token id or several (`eos_token_id` may be either).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum TokenIds {
    One(u32),
    Many(Vec<u32>),
}

impl TokenIds {
    pub fn to_vec(&self) -> Vec<u32> {
        match self {
            TokenIds::One(t) => vec![*t],
            TokenIds::Many(v) => v.clone(),
        }
    }
}

/// The activation functions of `transformers`' `ACT2FN` that Marian configs name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact GELU (erf).
    Gelu,
    /// Tanh approximation (`gelu_new`, `gelu_fast`, `gelu_pytorch_tanh`).
    GeluTanh,
    QuickGelu,
    Relu,
    /// `swish` / `silu`: x·σ(x), what opus-mt models use.
    Silu,
    Tanh,
    Sigmoid,
}

impl Activation {
    pub fn parse(name: &str) -> Result<Activation, String> {
        Ok(match name {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_fast" | "gelu_pytorch_tanh" => Activation::GeluTanh,
            "quick_gelu" => Activation::QuickGelu,
            "relu" => Activation::Relu,
            "swish" | "silu" => Activation::Silu,
            "tanh" => Activation::Tanh,
            "sigmoid" => Activation::Sigmoid,
            other => return Err(format!("unsupported activation_function {other:?}")),
        })
    }
}

/// How `early_stopping` ends a beam search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyStopping {
    /// `true`: stop once `num_beams` hypotheses are finished.
    Yes,
    /// `false`: stop when no running beam can beat the worst finished one at the current length.
    No,
    /// `"never"`: the canonical beam search bound (at `max_length` when the length penalty is positive).
    Never,
}

/// The generation settings `model.generate` would use, resolved from the files.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationConfig {
    pub num_beams: usize,
    /// Total decoder length, the start token included.
    pub max_length: usize,
    pub min_length: usize,
    pub length_penalty: f64,
    pub early_stopping: EarlyStopping,
    pub bad_words_ids: Vec<Vec<u32>>,
    pub forced_eos_token_id: Option<u32>,
    pub renormalize_logits: bool,
    pub decoder_start_token_id: u32,
    pub eos_token_ids: Vec<u32>,
    pub pad_token_id: u32,
    /// Settings present in the files that warta does not apply, for a warning.
    pub ignored: Vec<String>,
}

impl GenerationConfig {
    /// Resolve from `generation_config.json` when the model has one, else from the generation keys of
    /// `config.json` (older opus-mt repos), falling back to `transformers`' global defaults. A missing
    /// `max_length` means the model's position limit rather than the library's 20 tokens, so that
    /// nothing is silently cut short.
    pub fn resolve(
        model: &MarianConfig,
        config_json: &Value,
        generation_json: Option<&Value>,
    ) -> Result<GenerationConfig, String> {
        let src = generation_json.unwrap_or(config_json);
        let get = |k: &str| src.get(k).filter(|v| !v.is_null());
        let uint = |k: &str| -> Result<Option<usize>, String> {
            get(k)
                .map(|v| {
                    v.as_u64()
                        .map(|n| n as usize)
                        .ok_or_else(|| format!("{k} must be a non-negative integer, not {v}"))
                })
                .transpose()
        };
        let ids = |k: &str| -> Result<Option<Vec<u32>>, String> {
            get(k)
                .map(|v| {
                    serde_json::from_value::<TokenIds>(v.clone())
                        .map(|t| t.to_vec())
                        .map_err(|_| format!("{k} must be a token id or a list of ids, not {v}"))
                })
                .transpose()
        };
        let flag = |k: &str| get(k).and_then(Value::as_bool);

        let pad_token_id = match ids("pad_token_id")? {
            Some(v) if !v.is_empty() => v[0],
            _ => model
                .pad_token_id
                .ok_or("neither the generation config nor config.json sets pad_token_id")?,
        };
        let eos_token_ids = match ids("eos_token_id")? {
            Some(v) => v,
            None => model
                .eos_token_id
                .as_ref()
                .map(TokenIds::to_vec)
                .unwrap_or_default(),
        };
        let forced_eos = match ids("forced_eos_token_id")? {
            Some(v) => v.first().copied(),
            None if generation_json.is_some() => None,
            None => model
                .forced_eos_token_id
                .as_ref()
                .and_then(|t| t.to_vec().first().copied()),
        };
        let decoder_start_token_id = match ids("decoder_start_token_id")? {
            Some(v) if !v.is_empty() => v[0],
            _ => model.decoder_start_token_id,
        };
        let bad_words_ids = match get("bad_words_ids") {
            Some(v) => serde_json::from_value::<Vec<Vec<u32>>>(v.clone())
                .map_err(|_| format!("bad_words_ids must be a list of id lists, not {v}"))?,
            None => Vec::new(),
        };
        let early_stopping = match get("early_stopping") {
            None | Some(Value::Bool(false)) => EarlyStopping::No,
            Some(Value::Bool(true)) => EarlyStopping::Yes,
            Some(Value::String(s)) if s == "never" => EarlyStopping::Never,
            Some(v) => {
                return Err(format!(
                    "early_stopping must be true, false or \"never\", not {v}"
                ))
            }
        };
        let length_penalty = match get("length_penalty") {
            None => 1.0,
            Some(v) => v
                .as_f64()
                .ok_or_else(|| format!("length_penalty must be a number, not {v}"))?,
        };
        let max_length = match (uint("max_new_tokens")?, uint("max_length")?) {
            (Some(n), _) => n + 1,
            (None, Some(n)) => n,
            (None, None) => model.max_position_embeddings,
        };
        let min_length = match uint("min_new_tokens")? {
            Some(n) if n > 0 => n + 1,
            _ => uint("min_length")?.unwrap_or(0),
        };

        let mut ignored = Vec::new();
        let defaults: [(&str, Value); 9] = [
            ("do_sample", Value::Bool(false)),
            ("repetition_penalty", 1.0.into()),
            ("no_repeat_ngram_size", 0.into()),
            ("encoder_no_repeat_ngram_size", 0.into()),
            ("num_return_sequences", 1.into()),
            ("diversity_penalty", 0.0.into()),
            ("encoder_repetition_penalty", 1.0.into()),
            ("forced_bos_token_id", Value::Null),
            ("suppress_tokens", Value::Null),
        ];
        for (key, default) in defaults {
            if let Some(v) = get(key) {
                let same =
                    v == &default || (v.as_f64().is_some() && v.as_f64() == default.as_f64());
                if !same {
                    ignored.push(format!("{key}={v}"));
                }
            }
        }
        Ok(GenerationConfig {
            num_beams: uint("num_beams")?.unwrap_or(1).max(1),
            max_length: max_length.max(2),
            min_length,
            length_penalty,
            early_stopping,
            bad_words_ids,
            forced_eos_token_id: forced_eos,
            renormalize_logits: flag("renormalize_logits").unwrap_or(false),
            decoder_start_token_id,
            eos_token_ids,
            pad_token_id,
            ignored,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn opus_mt_id_en_shapes() {
        // The generation config Helsinki-NLP/opus-mt-id-en ships.
        let gen = json!({"bad_words_ids": [[54795]], "bos_token_id": 0, "decoder_start_token_id": 54795,
            "eos_token_id": 0, "forced_eos_token_id": 0, "max_length": 512, "num_beams": 6,
            "pad_token_id": 54795});
        let model = MarianConfig {
            vocab_size: 54796,
            pad_token_id: Some(54795),
            decoder_start_token_id: 54795,
            ..Default::default()
        };
        let g = GenerationConfig::resolve(&model, &json!({}), Some(&gen)).unwrap();
        assert_eq!(g.num_beams, 6);
        assert_eq!(g.max_length, 512);
        assert_eq!(g.bad_words_ids, vec![vec![54795]]);
        assert_eq!(g.forced_eos_token_id, Some(0));
        assert_eq!(g.eos_token_ids, vec![0]);
        assert_eq!(g.early_stopping, EarlyStopping::No);
        assert_eq!(g.length_penalty, 1.0);
        assert!(g.ignored.is_empty());
    }

    #[test]
    fn defaults_and_ignored_settings() {
        let model = MarianConfig::default();
        let cfg =
            json!({"repetition_penalty": 1.3, "early_stopping": "never", "max_new_tokens": 30});
        let g = GenerationConfig::resolve(&model, &cfg, None).unwrap();
        assert_eq!(g.max_length, 31);
        assert_eq!(g.early_stopping, EarlyStopping::Never);
        assert_eq!(g.forced_eos_token_id, Some(0));
        assert_eq!(g.ignored, vec!["repetition_penalty=1.3".to_string()]);
        let g = GenerationConfig::resolve(&model, &json!({}), None).unwrap();
        assert_eq!(g.max_length, 1024);
        assert!(GenerationConfig::resolve(&model, &json!({"max_length": "x"}), None).is_err());
    }

    #[test]
    fn config_defaults_follow_transformers() {
        let c: MarianConfig = serde_json::from_value(json!({"d_model": 512,
            "encoder_attention_heads": 8, "decoder_attention_heads": 8}))
        .unwrap();
        assert_eq!(c.vocab_size, 58101);
        assert_eq!(c.activation_function, "gelu");
        assert!(c.share_encoder_decoder_embeddings && c.tie_word_embeddings && !c.scale_embedding);
        assert!(c.validate().is_ok());
        let bad = MarianConfig {
            d_model: 10,
            encoder_attention_heads: 3,
            ..c
        };
        assert!(bad.validate().is_err());
    }
}
