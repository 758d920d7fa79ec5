//! PyTorch's zip checkpoints (`torch.save` since 1.6): `archive/data.pkl` holds the state dict,
//! `archive/data/<key>` each storage's raw bytes.
//!
//! Replaces candle's `PthTensors` so that a hostile file is bounded: the pickle goes through
//! [`super::pickle`], and a tensor is read only when the bytes its layout needs are inside its zip
//! entry and the entry inside the file, before anything is allocated.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use candle_core::{bail, Result, Tensor};

use super::pickle::{self, TensorRef};

/// The tensors of a zip checkpoint, read on demand.
pub struct PthZip {
    path: PathBuf,
    file_len: u64,
    /// Tensor name → (its layout, the zip entry holding its storage).
    tensors: HashMap<String, (TensorRef, String)>,
    zip: Mutex<zip::ZipArchive<BufReader<File>>>,
}

fn msg(e: impl std::fmt::Display) -> candle_core::Error {
    candle_core::Error::Msg(e.to_string())
}

impl PthZip {
    pub fn open(path: &Path) -> Result<PthZip> {
        let file = File::open(path)?;
        let file_len = file.metadata()?.len();
        let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(msg)?;
        let names = zip
            .file_names()
            .map(|f| f.map(|f| f.into_owned()))
            .collect::<std::result::Result<Vec<String>, _>>()
            .map_err(msg)?;
        let pickles: Vec<String> = names.into_iter().filter(|n| n.ends_with("data.pkl")).collect();
        let mut tensors = HashMap::new();
        for name in pickles {
            let dir = name.trim_end_matches(".pkl").to_string();
            let entry = zip.by_name(&name).map_err(msg)?;
            let root = pickle::read(&mut BufReader::new(entry))
                .map_err(|e| msg(format!("{name}: {e}")))?;
            for (tensor, r) in pickle::state_dict(&root).map_err(|e| msg(format!("{name}: {e}")))? {
                let entry = format!("{dir}/{}", r.storage);
                tensors.insert(tensor, (r, entry));
            }
        }
        if tensors.is_empty() {
            bail!("the archive holds no PyTorch state dict (no data.pkl with tensors)");
        }
        Ok(PthZip {
            path: path.to_path_buf(),
            file_len,
            tensors,
            zip: Mutex::new(zip),
        })
    }

    pub fn names(&self) -> Vec<String> {
        self.tensors.keys().cloned().collect()
    }

    pub fn get(&self, name: &str) -> Result<Option<Tensor>> {
        let Some((info, entry)) = self.tensors.get(name) else {
            return Ok(None);
        };
        let layout = &info.layout;
        let fortran = layout.is_fortran_contiguous() && !layout.is_contiguous();
        if !layout.is_contiguous() && !fortran {
            bail!("tensor {name} is not stored contiguously");
        }
        let start = layout.start_offset() as u64;
        // Fits: checked when the layout was read.
        let bytes = (layout.shape().elem_count() * info.dtype.size_in_bytes()) as u64;
        let mut zip = self
            .zip
            .lock()
            .map_err(|_| msg("the checkpoint reader failed earlier"))?;
        let mut reader = zip
            .by_name(entry)
            .map_err(|e| msg(format!("tensor {name}: storage {entry}: {e}")))?;
        let have = reader.size();
        let end = start.checked_add(bytes);
        if end.is_none_or(|end| end > have) || have > self.file_len {
            bail!(
                "tensor {name} needs {bytes} bytes at offset {start} of storage {entry}, which has \
                 {have} (in a file of {} bytes, {}); the file is damaged",
                self.file_len,
                self.path.display()
            );
        }
        std::io::copy(&mut (&mut reader).take(start), &mut std::io::sink())?;
        let mut buf = Vec::with_capacity(bytes as usize);
        (&mut reader).take(bytes).read_to_end(&mut buf)?;
        if buf.len() as u64 != bytes {
            bail!("tensor {name}: storage {entry} is cut short");
        }
        let dims = layout.shape().dims();
        if fortran && dims.len() > 1 {
            // Stored transposed: read with the dimensions reversed, then put them back.
            let reversed: Vec<usize> = dims.iter().rev().copied().collect();
            let t = Tensor::from_raw_buffer(&buf, info.dtype, &reversed, &candle_core::Device::Cpu)?;
            let order: Vec<usize> = (0..dims.len()).rev().collect();
            return t.permute(order).map(Some);
        }
        Tensor::from_raw_buffer(&buf, info.dtype, dims, &candle_core::Device::Cpu).map(Some)
    }
}
