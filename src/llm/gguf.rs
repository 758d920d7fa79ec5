//! Reading a GGUF file: its metadata (architecture, context length, chat template, tokenizer) and its
//! tensors, with errors that say which file is wrong and how.
//!
//! candle's `gguf_file::Content` does the parsing and bounds checks; this wrapper adds the magic check
//! (so a safetensors or HTML file is called "not a GGUF file" rather than "unknown magic"), typed
//! metadata getters that name the missing key, and a whole-file size check so that a truncated download
//! is reported at load time rather than half-way through reading the weights.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use candle_core::quantized::{gguf_file, QTensor};
use candle_core::Device;

use super::{candle_message, LlmError};

/// The four bytes every GGUF file starts with.
const MAGIC: &[u8; 4] = b"GGUF";

/// An open GGUF file.
pub struct Gguf {
    path: PathBuf,
    content: gguf_file::Content,
    reader: BufReader<File>,
}

impl Gguf {
    /// Open and parse the header of a GGUF file; checks that every tensor lies inside the file.
    pub fn open(path: &Path) -> Result<Gguf, LlmError> {
        let not_gguf = |reason: String| LlmError::NotGguf {
            path: path.to_path_buf(),
            reason,
        };
        let mut file = File::open(path).map_err(|e| not_gguf(format!("cannot open it: {e}")))?;
        let mut magic = [0u8; 4];
        file.read_exact(&mut magic)
            .map_err(|_| not_gguf("it is shorter than a GGUF header".into()))?;
        if &magic != MAGIC {
            return Err(not_gguf(format!(
                "it starts with {:?} instead of \"GGUF\"",
                String::from_utf8_lossy(&magic)
            )));
        }
        let file_len = file
            .metadata()
            .map_err(|e| not_gguf(format!("cannot read its size: {e}")))?
            .len();
        file.seek(SeekFrom::Start(0))
            .map_err(|e| not_gguf(format!("cannot read it: {e}")))?;
        let mut reader = BufReader::new(file);
        let content = gguf_file::Content::read(&mut reader).map_err(|e| LlmError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("its header cannot be read ({})", candle_message(&e)),
        })?;
        let end = content
            .tensor_infos
            .values()
            .map(|t| {
                let bytes =
                    t.shape.elem_count() / t.ggml_dtype.block_size() * t.ggml_dtype.type_size();
                content.tensor_data_offset + t.offset + bytes as u64
            })
            .max()
            .unwrap_or(content.tensor_data_offset);
        if end > file_len {
            return Err(LlmError::Corrupt {
                path: path.to_path_buf(),
                reason: format!(
                    "it is truncated: its tensors need {end} bytes but the file has {file_len}"
                ),
            });
        }
        Ok(Gguf {
            path: path.to_path_buf(),
            content,
            reader,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `general.architecture`, e.g. "qwen2" or "llama".
    pub fn architecture(&self) -> Result<String, LlmError> {
        self.string("general.architecture")
    }

    fn value(&self, key: &str) -> Result<&gguf_file::Value, LlmError> {
        self.content
            .metadata
            .get(key)
            .ok_or_else(|| LlmError::MissingMetadata {
                path: self.path.clone(),
                key: key.to_string(),
            })
    }

    fn bad_value(&self, key: &str, e: candle_core::Error) -> LlmError {
        LlmError::Corrupt {
            path: self.path.clone(),
            reason: format!(
                "metadata {key} has an unexpected type ({})",
                candle_message(&e)
            ),
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.content.metadata.contains_key(key)
    }

    pub fn string(&self, key: &str) -> Result<String, LlmError> {
        self.value(key)?
            .to_string()
            .cloned()
            .map_err(|e| self.bad_value(key, e))
    }

    /// A non-negative integer of any width (files differ in which width they use).
    pub fn usize(&self, key: &str) -> Result<usize, LlmError> {
        use gguf_file::Value as V;
        let v = self.value(key)?;
        let n: Option<u64> = match v {
            V::U8(x) => Some(u64::from(*x)),
            V::U16(x) => Some(u64::from(*x)),
            V::U32(x) => Some(u64::from(*x)),
            V::U64(x) => Some(*x),
            V::I8(x) => u64::try_from(*x).ok(),
            V::I16(x) => u64::try_from(*x).ok(),
            V::I32(x) => u64::try_from(*x).ok(),
            V::I64(x) => u64::try_from(*x).ok(),
            _ => None,
        };
        n.and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| LlmError::Corrupt {
                path: self.path.clone(),
                reason: format!("metadata {key} is not a non-negative integer ({v:?})"),
            })
    }

    pub fn f32(&self, key: &str) -> Result<f32, LlmError> {
        use gguf_file::Value as V;
        match self.value(key)? {
            V::F32(x) => Ok(*x),
            V::F64(x) => Ok(*x as f32),
            v => v.to_f32().map_err(|e| self.bad_value(key, e)),
        }
    }

    pub fn bool(&self, key: &str) -> Result<bool, LlmError> {
        self.value(key)?
            .to_bool()
            .map_err(|e| self.bad_value(key, e))
    }

    /// An array of strings (token lists, merges).
    pub fn strings(&self, key: &str) -> Result<Vec<String>, LlmError> {
        let arr = self
            .value(key)?
            .to_vec()
            .map_err(|e| self.bad_value(key, e))?;
        arr.iter()
            .map(|v| v.to_string().cloned().map_err(|e| self.bad_value(key, e)))
            .collect()
    }

    /// An array of integers (token types).
    pub fn ints(&self, key: &str) -> Result<Vec<i64>, LlmError> {
        use gguf_file::Value as V;
        let arr = self
            .value(key)?
            .to_vec()
            .map_err(|e| self.bad_value(key, e))?;
        arr.iter()
            .map(|v| match v {
                V::U8(x) => Ok(i64::from(*x)),
                V::I8(x) => Ok(i64::from(*x)),
                V::U16(x) => Ok(i64::from(*x)),
                V::I16(x) => Ok(i64::from(*x)),
                V::U32(x) => Ok(i64::from(*x)),
                V::I32(x) => Ok(i64::from(*x)),
                V::I64(x) => Ok(*x),
                V::U64(x) => Ok(*x as i64),
                v => Err(LlmError::Corrupt {
                    path: self.path.clone(),
                    reason: format!("metadata {key} holds a non-integer ({v:?})"),
                }),
            })
            .collect()
    }

    /// An array of floats (SentencePiece scores).
    pub fn floats(&self, key: &str) -> Result<Vec<f32>, LlmError> {
        let arr = self
            .value(key)?
            .to_vec()
            .map_err(|e| self.bad_value(key, e))?;
        arr.iter()
            .map(|v| v.to_f32().map_err(|e| self.bad_value(key, e)))
            .collect()
    }

    pub fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// Read one tensor into memory.
    pub fn tensor(&mut self, name: &str) -> Result<QTensor, LlmError> {
        if !self.has_tensor(name) {
            return Err(LlmError::MissingTensor {
                path: self.path.clone(),
                name: name.to_string(),
            });
        }
        self.content
            .tensor(&mut self.reader, name, &Device::Cpu)
            .map_err(|e| LlmError::Corrupt {
                path: self.path.clone(),
                reason: format!("tensor {name} cannot be read ({})", candle_message(&e)),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SMOLLM2: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    );

    #[test]
    fn reads_smollm2_metadata() {
        let g = Gguf::open(Path::new(SMOLLM2)).unwrap();
        assert_eq!(g.architecture().unwrap(), "llama");
        assert_eq!(g.usize("llama.context_length").unwrap(), 8192);
        assert_eq!(g.usize("llama.block_count").unwrap(), 30);
        assert!(g
            .string("tokenizer.chat_template")
            .unwrap()
            .contains("<|im_start|>"));
        assert_eq!(g.strings("tokenizer.ggml.tokens").unwrap().len(), 49152);
        let err = g.usize("llama.no_such_key").unwrap_err().to_string();
        assert!(
            err.contains("llama.no_such_key") && err.contains("SmolLM2"),
            "{err}"
        );
    }

    #[test]
    fn not_a_gguf_file_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("model.gguf");
        std::fs::write(&p, "<html>not found</html>").unwrap();
        let err = Gguf::open(&p).err().unwrap();
        assert!(matches!(err, LlmError::NotGguf { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("model.gguf") && msg.contains("not a GGUF"),
            "{msg}"
        );

        std::fs::write(&p, "GG").unwrap();
        assert!(matches!(Gguf::open(&p), Err(LlmError::NotGguf { .. })));
        let missing = tmp.path().join("missing.gguf");
        assert!(matches!(
            Gguf::open(&missing),
            Err(LlmError::NotGguf { .. })
        ));
    }

    #[test]
    fn truncated_gguf_is_reported_at_open() {
        let bytes = std::fs::read(SMOLLM2).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        // Cut inside the tensor data, and inside the header.
        for cut in [bytes.len() - 1000, 4096] {
            let p = tmp.path().join("cut.gguf");
            std::fs::write(&p, &bytes[..cut]).unwrap();
            let err = Gguf::open(&p).err().unwrap();
            assert!(matches!(err, LlmError::Corrupt { .. }), "{err}");
            assert!(err.to_string().contains("cut.gguf"), "{err}");
        }
    }
}
