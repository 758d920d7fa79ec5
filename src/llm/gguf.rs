//! Reading a GGUF file: its metadata (architecture, context length, chat template, tokenizer) and its
//! tensors, with errors that say which file is wrong and how.
//!
//! candle's `gguf_file::Content` does the parsing and bounds checks; this wrapper adds the magic check
//! (so a safetensors or HTML file is called "not a GGUF file" rather than "unknown magic"), typed
//! metadata getters that name the missing key, and a whole-file size check so that a truncated download
//! is reported at load time rather than half-way through reading the weights.
//!
//! The file is memory-mapped. candle's own tensor reader zero-fills a buffer, reads the file into it
//! and copies it again into the tensor; the loader instead repacks most weights straight from the
//! mapping ([`RawTensor`]), one pass over the bytes instead of four, and tensor reads need only `&self`,
//! so the tokenizer is built on another thread while the weights load.

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};

use super::{candle_message, LlmError};

/// The four bytes every GGUF file starts with.
const MAGIC: &[u8; 4] = b"GGUF";

/// An open GGUF file.
pub struct Gguf {
    path: PathBuf,
    content: gguf_file::Content,
    map: Bytes,
}

/// The file's bytes: mapped, or read into memory where the file cannot be mapped.
enum Bytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Read(v) => v,
        }
    }
}

/// One tensor as the file stores it: its type, its shape (candle's order, rows first) and its bytes,
/// borrowed from the mapped file.
pub struct RawTensor<'a> {
    pub dtype: GgmlDType,
    pub dims: Vec<usize>,
    pub data: &'a [u8],
}

impl RawTensor<'_> {
    /// A candle tensor holding a copy of the bytes.
    pub fn qtensor(&self) -> candle_core::Result<QTensor> {
        candle_core::quantized::ggml_file::qtensor_from_ggml(
            self.dtype,
            self.data,
            self.dims.clone(),
            &candle_core::Device::Cpu,
        )
    }
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
        // SAFETY: the mapping is read-only. Were the file truncated or rewritten by another process
        // while warta loads it, reads could fault or see the new bytes; llama.cpp and candle's
        // safetensors loader accept the same. Nothing is read from it after the model has loaded.
        let map = match unsafe { memmap2::Mmap::map(&file) } {
            Ok(m) => {
                // Weights are read front to back, once.
                #[cfg(unix)]
                let _ = m.advise(memmap2::Advice::Sequential);
                Bytes::Mapped(m)
            }
            // A file system without mappings: read it whole (slower, the same bytes).
            Err(_) => {
                let mut v = Vec::new();
                file.seek(SeekFrom::Start(0))
                    .and_then(|_| file.read_to_end(&mut v))
                    .map_err(|e| not_gguf(format!("cannot read it: {e}")))?;
                Bytes::Read(v)
            }
        };
        Gguf::parse(path, map)
    }

    /// The header of a GGUF file whose bytes are `map`.
    fn parse(path: &Path, map: Bytes) -> Result<Gguf, LlmError> {
        let corrupt = |reason: String| LlmError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        // Our own pass first: it checks every declared size against the file's length with checked
        // arithmetic, and what candle's parser would divide by or multiply out, before candle
        // allocates anything.
        check_header(&mut Cursor::new(&map[..]), map.len() as u64)
            .map_err(|e| corrupt(e.to_string()))?;
        let content = gguf_file::Content::read(&mut Cursor::new(&map[..])).map_err(|e| {
            corrupt(format!(
                "its header cannot be read ({})",
                candle_message(&e)
            ))
        })?;
        Ok(Gguf {
            path: path.to_path_buf(),
            content,
            map,
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
        let v = self.value(key)?;
        int_of(v)
            .and_then(|n| usize::try_from(n).ok())
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

    /// The elements of an array, each converted by `f` (`what` names the expected type).
    fn array<T>(
        &self,
        key: &str,
        what: &str,
        f: impl Fn(&gguf_file::Value) -> Option<T>,
    ) -> Result<Vec<T>, LlmError> {
        let arr = self
            .value(key)?
            .to_vec()
            .map_err(|e| self.bad_value(key, e))?;
        arr.iter()
            .map(|v| {
                f(v).ok_or_else(|| LlmError::Corrupt {
                    path: self.path.clone(),
                    reason: format!("metadata {key} holds something else than {what} ({v:?})"),
                })
            })
            .collect()
    }

    /// An array of strings (token lists, merges).
    pub fn strings(&self, key: &str) -> Result<Vec<String>, LlmError> {
        self.array(key, "strings", |v| v.to_string().ok().cloned())
    }

    /// An array of integers (token types).
    pub fn ints(&self, key: &str) -> Result<Vec<i64>, LlmError> {
        self.array(key, "integers", int_of)
    }

    /// An array of floats (SentencePiece scores).
    pub fn floats(&self, key: &str) -> Result<Vec<f32>, LlmError> {
        self.array(key, "floats", |v| v.to_f32().ok())
    }

    pub fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// One tensor's bytes, where the file stores them.
    pub fn raw(&self, name: &str) -> Result<RawTensor<'_>, LlmError> {
        let info = self
            .content
            .tensor_infos
            .get(name)
            .ok_or_else(|| LlmError::MissingTensor {
                path: self.path.clone(),
                name: name.to_string(),
            })?;
        let corrupt = |reason: String| self.unreadable(name, reason);
        let (dtype, elems) = (info.ggml_dtype, info.shape.elem_count());
        if elems % dtype.block_size() != 0 {
            return Err(corrupt(format!(
                "{elems} values are not whole {dtype:?} blocks"
            )));
        }
        let len = elems / dtype.block_size() * dtype.type_size();
        let start = usize::try_from(self.content.tensor_data_offset.saturating_add(info.offset))
            .unwrap_or(usize::MAX);
        let data = start
            .checked_add(len)
            .and_then(|end| self.map.get(start..end))
            .ok_or_else(|| {
                corrupt(format!(
                    "it needs {len} bytes at offset {start}, but the file has {} bytes",
                    self.map.len()
                ))
            })?;
        Ok(RawTensor {
            dtype,
            dims: info.shape.dims().to_vec(),
            data,
        })
    }

    /// Read one tensor into memory.
    pub fn tensor(&self, name: &str) -> Result<QTensor, LlmError> {
        let raw = self.raw(name)?;
        let t = raw
            .qtensor()
            .map_err(|e| self.unreadable(name, candle_message(&e)));
        self.release(raw);
        t
    }

    fn unreadable(&self, name: &str, reason: String) -> LlmError {
        LlmError::Corrupt {
            path: self.path.clone(),
            reason: format!("tensor {name} cannot be read ({reason})"),
        }
    }

    /// Done with a tensor's bytes: its pages leave this process's resident memory (they stay in the
    /// page cache). Without this the mapped file would count once more in the peak resident size,
    /// beside the weights repacked from it.
    pub fn release(&self, raw: RawTensor<'_>) {
        let offset = (raw.data.as_ptr() as usize).checked_sub(self.map.as_ptr() as usize);
        let len = raw.data.len();
        drop(raw);
        #[cfg(not(unix))]
        let _ = (offset, len);
        #[cfg(unix)]
        if let (Some(offset), Bytes::Mapped(map)) =
            (offset.filter(|o| o + len <= self.map.len()), &self.map)
        {
            // SAFETY: no reference into these bytes outlives `raw` (tensors are read one at a time and
            // the metadata was parsed into `content` at open). The mapping is of a file, read-only:
            // pages dropped here are read again from the file if touched, never zeroed. A failure only
            // leaves the pages resident.
            let _ = unsafe {
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, len)
            };
        }
    }
}

/// What is wrong with a GGUF header, found by [`check_header`].
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("it is truncated: {0}")]
    Truncated(String),
    #[error("its header is invalid: {0}")]
    Invalid(String),
}

/// The tensor types candle reads, by their GGUF number (candle's own table is private).
fn ggml_dtype(n: u32) -> Option<candle_core::quantized::GgmlDType> {
    use candle_core::quantized::GgmlDType as T;
    Some(match n {
        0 => T::F32,
        1 => T::F16,
        2 => T::Q4_0,
        3 => T::Q4_1,
        6 => T::Q5_0,
        7 => T::Q5_1,
        8 => T::Q8_0,
        9 => T::Q8_1,
        10 => T::Q2K,
        11 => T::Q3K,
        12 => T::Q4K,
        13 => T::Q5K,
        14 => T::Q6K,
        15 => T::Q8K,
        30 => T::BF16,
        _ => return None,
    })
}

/// Deepest nesting of metadata arrays accepted (real files nest none; candle stops at 64).
const MAX_ARRAY_DEPTH: usize = 8;
/// Most dimensions of a tensor (GGML_MAX_DIMS).
const MAX_DIMS: u64 = 4;

/// Walk a GGUF header (from the start of `r`) without building it: every string, array, count and
/// tensor must fit in the `file_len` bytes there are, tensor sizes are multiplied out with overflow
/// checks, every tensor's data must lie inside the file, and the alignment must be a power of two.
/// Memory stays constant whatever the header claims. Public for the fuzz targets.
pub fn check_header<R: Read + Seek>(r: &mut R, file_len: u64) -> Result<(), HeaderError> {
    let mut h = HeaderWalk {
        r,
        file_len,
        pos: 0,
        wide: true,
    };
    h.run()
}

struct HeaderWalk<'r, R> {
    r: &'r mut R,
    file_len: u64,
    pos: u64,
    /// Version 2+ lengths are u64; version 1's are u32.
    wide: bool,
}

impl<R: Read + Seek> HeaderWalk<'_, R> {
    fn truncated(&self, what: &str) -> HeaderError {
        HeaderError::Truncated(format!(
            "{what} at byte {} runs past the end of the file ({} bytes)",
            self.pos, self.file_len
        ))
    }

    fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N], HeaderError> {
        let mut b = [0u8; N];
        self.r
            .read_exact(&mut b)
            .map_err(|_| self.truncated(what))?;
        self.pos += N as u64;
        Ok(b)
    }

    fn u32(&mut self, what: &str) -> Result<u32, HeaderError> {
        self.bytes::<4>(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64, HeaderError> {
        self.bytes::<8>(what).map(u64::from_le_bytes)
    }

    fn len(&mut self, what: &str) -> Result<u64, HeaderError> {
        if self.wide {
            self.u64(what)
        } else {
            self.u32(what).map(u64::from)
        }
    }

    fn remaining(&self) -> u64 {
        self.file_len.saturating_sub(self.pos)
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<(), HeaderError> {
        if n > self.remaining() {
            return Err(self.truncated(what));
        }
        let to = self.pos + n;
        self.r
            .seek(SeekFrom::Start(to))
            .map_err(|_| self.truncated(what))?;
        self.pos = to;
        Ok(())
    }

    /// A string; returns it only when it is short (keys), else skips it.
    fn string(&mut self, what: &str) -> Result<Option<String>, HeaderError> {
        let n = self.len(what)?;
        if n > self.remaining() {
            return Err(HeaderError::Truncated(format!(
                "{what} at byte {} claims {n} bytes, but only {} are left",
                self.pos,
                self.remaining()
            )));
        }
        if n <= 256 {
            let mut b = vec![0u8; n as usize];
            self.r
                .read_exact(&mut b)
                .map_err(|_| self.truncated(what))?;
            self.pos += n;
            return Ok(Some(String::from_utf8_lossy(&b).into_owned()));
        }
        self.skip(n, what)?;
        Ok(None)
    }

    /// Skip a value of type `t`; returns it when it is a non-negative integer of at most 32 bits
    /// (what candle reads `general.alignment` from).
    fn value(&mut self, t: u32, depth: usize, what: &str) -> Result<Option<u64>, HeaderError> {
        let fixed = |n: u64| Some(n);
        let size = match t {
            0 | 1 | 7 => fixed(1),
            2 | 3 => fixed(2),
            4 | 5 | 6 => fixed(4),
            10..=12 => fixed(8),
            8 | 9 => None,
            other => {
                return Err(HeaderError::Invalid(format!(
                    "{what} has unknown value type {other}"
                )))
            }
        };
        match (t, size) {
            // The integer types candle takes an alignment from (u8, i8, u16, i16, u32, i32).
            (0..=5, Some(n)) => {
                let b = self.bytes_n(n, what)?;
                let mut v = 0u64;
                for (i, byte) in b.iter().enumerate() {
                    v |= u64::from(*byte) << (8 * i);
                }
                let negative = t % 2 == 1 && b.last().is_some_and(|x| x & 0x80 != 0);
                Ok((!negative).then_some(v))
            }
            (_, Some(n)) => self.skip(n, what).map(|_| None),
            (8, None) => self.string(what).map(|_| None),
            _ => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(HeaderError::Invalid(format!(
                        "{what} nests arrays more than {MAX_ARRAY_DEPTH} deep"
                    )));
                }
                let inner = self.u32(what)?;
                let n = self.len(what)?;
                let min = match inner {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4 | 5 | 6 => 4,
                    10..=12 => 8,
                    8 => {
                        if self.wide {
                            8
                        } else {
                            4
                        }
                    }
                    9 => {
                        if self.wide {
                            12
                        } else {
                            8
                        }
                    }
                    other => {
                        return Err(HeaderError::Invalid(format!(
                            "{what} is an array of unknown value type {other}"
                        )))
                    }
                };
                if n.saturating_mul(min) > self.remaining() {
                    return Err(HeaderError::Truncated(format!(
                        "{what} claims {n} elements, more than the {} bytes left can hold",
                        self.remaining()
                    )));
                }
                if min <= 8 && inner != 8 && inner != 9 {
                    self.skip(n * min, what)?;
                } else {
                    for _ in 0..n {
                        self.value(inner, depth + 1, what)?;
                    }
                }
                Ok(None)
            }
        }
    }

    fn bytes_n(&mut self, n: u64, what: &str) -> Result<Vec<u8>, HeaderError> {
        let mut b = vec![0u8; n as usize];
        self.r
            .read_exact(&mut b)
            .map_err(|_| self.truncated(what))?;
        self.pos += n;
        Ok(b)
    }

    fn run(&mut self) -> Result<(), HeaderError> {
        let magic = self.bytes::<4>("the magic number")?;
        if &magic != MAGIC {
            return Err(HeaderError::Invalid("it does not start with GGUF".into()));
        }
        let version = self.u32("the version")?;
        match version {
            1 => self.wide = false,
            2 | 3 => {}
            v => {
                return Err(HeaderError::Invalid(format!(
                    "version {v} (warta reads versions 1 to 3)"
                )))
            }
        }
        let tensors = self.len("the tensor count")?;
        let entries = self.len("the metadata count")?;
        let prefix = if self.wide { 8 } else { 4 };
        // The smallest a metadata entry and a tensor entry can be.
        let need = entries
            .saturating_mul(prefix + 4 + 1)
            .saturating_add(tensors.saturating_mul(prefix + 4 + 4 + 8));
        if need > self.remaining() {
            return Err(HeaderError::Truncated(format!(
                "the header declares {tensors} tensors and {entries} metadata entries, which need \
                 at least {need} bytes; the file has {}",
                self.file_len
            )));
        }
        let mut alignment = 32u64;
        for i in 0..entries {
            let key = self.string(&format!("metadata key {i}"))?;
            let what = format!("metadata {}", key.as_deref().unwrap_or("(long key)"));
            let t = self.u32(&what)?;
            let v = self.value(t, 0, &what)?;
            if key.as_deref() == Some("general.alignment") {
                if let Some(a) = v {
                    if a == 0 || !a.is_power_of_two() {
                        return Err(HeaderError::Invalid(format!(
                            "general.alignment is {a}, not a power of two"
                        )));
                    }
                    alignment = a;
                }
            }
        }
        let mut tables = Vec::new();
        for i in 0..tensors {
            let name = self.string(&format!("the name of tensor {i}"))?;
            let what = format!("tensor {}", name.as_deref().unwrap_or("(long name)"));
            let dims = self.u32(&what)?;
            if u64::from(dims) > MAX_DIMS {
                return Err(HeaderError::Invalid(format!(
                    "{what} has {dims} dimensions (at most {MAX_DIMS})"
                )));
            }
            let mut elems = 1u64;
            for _ in 0..dims {
                let d = if self.wide {
                    self.u64(&what)?
                } else {
                    u64::from(self.u32(&what)?)
                };
                elems = elems.checked_mul(d).ok_or_else(|| {
                    HeaderError::Invalid(format!("{what} claims more elements than fit in 64 bits"))
                })?;
            }
            let dtype = self.u32(&what)?;
            let offset = self.u64(&what)?;
            let dt = ggml_dtype(dtype)
                .ok_or_else(|| HeaderError::Invalid(format!("{what} has unknown type {dtype}")))?;
            let (block, size) = (dt.block_size() as u64, dt.type_size() as u64);
            if elems % block != 0 {
                return Err(HeaderError::Invalid(format!(
                    "{what} has {elems} elements, not a whole number of {block}-element blocks"
                )));
            }
            let bytes = (elems / block).checked_mul(size).ok_or_else(|| {
                HeaderError::Invalid(format!("{what} claims more bytes than fit in 64 bits"))
            })?;
            tables.push((what, offset, bytes));
        }
        let data = self.pos.div_ceil(alignment).saturating_mul(alignment);
        for (what, offset, bytes) in tables {
            let end = data.checked_add(offset).and_then(|s| s.checked_add(bytes));
            match end {
                Some(end) if end <= self.file_len => {}
                _ => {
                    return Err(HeaderError::Truncated(format!(
                    "{what} needs {bytes} bytes at offset {offset} of the data, which starts at \
                         byte {data}, but the file has {} bytes",
                    self.file_len
                )))
                }
            }
        }
        Ok(())
    }
}

/// An integer metadata value of any width.
fn int_of(v: &gguf_file::Value) -> Option<i64> {
    use gguf_file::Value as V;
    match v {
        V::U8(x) => Some(i64::from(*x)),
        V::I8(x) => Some(i64::from(*x)),
        V::U16(x) => Some(i64::from(*x)),
        V::I16(x) => Some(i64::from(*x)),
        V::U32(x) => Some(i64::from(*x)),
        V::I32(x) => Some(i64::from(*x)),
        V::U64(x) => i64::try_from(*x).ok(),
        V::I64(x) => Some(*x),
        _ => None,
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
    fn tensors_read_from_the_mapping_equal_candles_reader() {
        let g = Gguf::open(Path::new(SMOLLM2)).unwrap();
        let mut file = File::open(SMOLLM2).unwrap();
        let content = gguf_file::Content::read(&mut file).unwrap();
        let mut names: Vec<_> = content.tensor_infos.keys().cloned().collect();
        names.sort();
        assert!(names.len() > 200, "{}", names.len());
        for name in &names {
            let theirs = content
                .tensor(&mut file, name, &candle_core::Device::Cpu)
                .unwrap();
            let ours = g.tensor(name).unwrap();
            assert_eq!(ours.dtype(), theirs.dtype(), "{name}");
            assert_eq!(ours.shape(), theirs.shape(), "{name}");
            assert!(ours.data().unwrap() == theirs.data().unwrap(), "{name}");
            // Released pages are read again from the file, unchanged.
            let raw = g.raw(name).unwrap();
            assert!(raw.data == &theirs.data().unwrap()[..], "{name}");
            assert_eq!(raw.dims, theirs.shape().dims(), "{name}");
            g.release(raw);
        }
        let err = g.raw("blk.99.no_such.weight").err().unwrap().to_string();
        assert!(
            err.contains("blk.99.no_such.weight") && err.contains("SmolLM2"),
            "{err}"
        );
    }

    #[test]
    fn a_file_read_whole_gives_the_mapped_bytes() {
        let mapped = Gguf::open(Path::new(SMOLLM2)).unwrap();
        assert!(matches!(mapped.map, Bytes::Mapped(_)));
        let read = Gguf::parse(
            Path::new(SMOLLM2),
            Bytes::Read(std::fs::read(SMOLLM2).unwrap()),
        )
        .unwrap();
        for name in [
            "token_embd.weight",
            "blk.0.attn_q.weight",
            "output_norm.weight",
        ] {
            let (a, b) = (mapped.raw(name).unwrap(), read.raw(name).unwrap());
            assert!(
                a.data == b.data && a.dims == b.dims && a.dtype == b.dtype,
                "{name}"
            );
            read.release(b);
        }
        assert_eq!(read.usize("llama.block_count").unwrap(), 30);
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
