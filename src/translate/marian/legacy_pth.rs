//! PyTorch checkpoints in the format `torch.save` wrote before version 1.6 (and still writes with
//! `_use_new_zipfile_serialization=False`): not a zip archive but pickles one after another — magic
//! number, protocol version, system info, the state dict (tensors refer to storages by key), the list
//! of storage keys — followed by each storage as a little-endian u64 element count and its raw bytes.
//! Early opus-mt uploads were converted with such PyTorch versions; candle reads only the zip format,
//! so this reads the other one with candle's own pickle machinery.

use std::collections::HashMap;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use candle_core::{bail, Result, Tensor};

use super::pickle::{self, TensorRef, Value};

/// The first pickle of a legacy checkpoint: protocol 2, LONG1 of 10 bytes holding torch's magic number
/// 0x1950a86a20f9469cfc6c (little-endian), STOP. (Read by hand: the number does not fit an i64.)
const MAGIC_PICKLE: [u8; 15] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
];

/// A legacy checkpoint: tensor layouts from the pickled state dict, storages located in the file.
pub struct LegacyPth {
    path: PathBuf,
    tensors: HashMap<String, TensorRef>,
    /// Storage key → (byte offset of its data, byte length).
    storages: HashMap<String, (u64, u64)>,
}

/// Whether the file starts like a legacy checkpoint rather than a zip archive.
pub fn is_legacy(path: &Path) -> bool {
    let mut head = [0u8; MAGIC_PICKLE.len()];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|_| head == MAGIC_PICKLE)
}

fn read_pickle<R: std::io::BufRead>(r: &mut R) -> Result<pickle::Node> {
    pickle::read(r).map_err(|e| candle_core::Error::Msg(e.to_string()))
}

impl LegacyPth {
    pub fn open(path: &Path) -> Result<LegacyPth> {
        let file = std::fs::File::open(path)?;
        let file_len = file.metadata()?.len();
        let mut r = BufReader::new(file);
        let mut head = [0u8; MAGIC_PICKLE.len()];
        r.read_exact(&mut head)?;
        if head != MAGIC_PICKLE {
            bail!("not a PyTorch checkpoint (bad magic number)");
        }
        read_pickle(&mut r)?; // protocol version
        read_pickle(&mut r)?; // system info
        let state = read_pickle(&mut r)?;
        let tensors: HashMap<String, TensorRef> = pickle::state_dict(&state)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?
            .into_iter()
            .collect();
        let keys: Vec<String> = match read_pickle(&mut r)?.value {
            Value::List(items) | Value::Tuple(items) => items
                .iter()
                .map(|k| k.str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| candle_core::Error::Msg("bad storage key list".into()))?,
            _ => bail!("bad storage key list"),
        };
        // Element size of each storage, from any tensor that uses it.
        let elem_size: HashMap<&str, usize> = tensors
            .values()
            .map(|t| (t.storage.as_str(), t.dtype.size_in_bytes()))
            .collect();
        let mut storages = HashMap::new();
        let mut pos = r.stream_position()?;
        for key in &keys {
            let mut count = [0u8; 8];
            r.read_exact(&mut count)?;
            let numel = u64::from_le_bytes(count);
            let size = *elem_size.get(key.as_str()).unwrap_or(&1) as u64;
            let bytes = numel.saturating_mul(size);
            let start = pos.saturating_add(8);
            if start.saturating_add(bytes) > file_len {
                bail!(
                    "storage {key} claims {numel} elements, which run past the end of the file \
                     ({file_len} bytes; truncated?)"
                );
            }
            storages.insert(key.clone(), (start, bytes));
            pos = r.seek(SeekFrom::Start(start + bytes))?;
        }
        Ok(LegacyPth {
            path: path.to_path_buf(),
            tensors,
            storages,
        })
    }

    pub fn names(&self) -> Vec<String> {
        self.tensors.keys().cloned().collect()
    }

    pub fn get(&self, name: &str) -> Result<Option<Tensor>> {
        let Some(info) = self.tensors.get(name) else {
            return Ok(None);
        };
        let key = info.storage.as_str();
        let Some(&(start, len)) = self.storages.get(key) else {
            bail!("tensor {name} refers to a storage the file does not have");
        };
        if !info.layout.is_contiguous() {
            bail!("tensor {name} is not stored contiguously");
        }
        let elem = info.dtype.size_in_bytes() as u64;
        let offset = info.layout.start_offset() as u64;
        // Checked when the layout was read: element count × size fits a usize.
        let bytes = info.layout.shape().elem_count() as u64 * elem;
        if offset.checked_add(bytes).is_none_or(|end| end > len) {
            bail!("tensor {name} runs past its storage");
        }
        let mut f = std::fs::File::open(&self.path)?;
        f.seek(SeekFrom::Start(start + offset))?;
        let mut buf = vec![0u8; bytes as usize];
        f.read_exact(&mut buf)?;
        Tensor::from_raw_buffer(
            &buf,
            info.dtype,
            info.layout.shape().dims(),
            &candle_core::Device::Cpu,
        )
        .map(Some)
    }
}
