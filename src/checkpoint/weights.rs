//! Named weight tensors read from a checkpoint file, checked before they reach libtorch.
//!
//! Memory: a file is read once, whole (so its size bounds what it costs), and every tensor is
//! a view into that one buffer ([`SharedBytes`]): tensors that share a storage, or a file that
//! names one region many times, cost nothing more. Bytes reach libtorch only for the tensors a
//! network asks for, each checked against the shape the network expects first.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use safetensors::{Dtype, SafeTensors};
use tch::{Kind, Tensor};

use crate::error::{Error, Result};

/// A range of bytes inside a buffer that several tensors may share.
#[derive(Debug, Clone)]
pub(crate) struct SharedBytes {
    buffer: Arc<Vec<u8>>,
    range: Range<usize>,
}

impl SharedBytes {
    /// `range` of `buffer`, or `None` when it lies outside it.
    pub(crate) fn new(buffer: &Arc<Vec<u8>>, range: Range<usize>) -> Option<Self> {
        buffer.get(range.clone())?;
        Some(Self {
            buffer: Arc::clone(buffer),
            range,
        })
    }

    /// A whole buffer.
    pub(crate) fn whole(buffer: Vec<u8>) -> Self {
        let range = 0..buffer.len();
        Self {
            buffer: Arc::new(buffer),
            range,
        }
    }

    /// The bytes (the range was checked when it was made).
    pub(crate) fn as_slice(&self) -> &[u8] {
        self.buffer.get(self.range.clone()).unwrap_or_default()
    }

    /// A sub-range, relative to this one, or `None` when it lies outside it.
    pub(crate) fn slice(&self, range: Range<usize>) -> Option<Self> {
        let start = self.range.start.checked_add(range.start)?;
        let end = self.range.start.checked_add(range.end)?;
        if end > self.range.end || start > end {
            return None;
        }
        Self::new(&self.buffer, start..end)
    }

    /// Its length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.range.len()
    }
}

/// One tensor as stored on disk: its dtype, shape and little-endian bytes.
#[derive(Debug, Clone)]
pub(crate) struct RawTensor {
    pub(crate) dtype: Dtype,
    pub(crate) shape: Vec<i64>,
    pub(crate) data: SharedBytes,
}

/// Every tensor of one checkpoint file, by name.
#[derive(Debug)]
pub(crate) struct Weights {
    path: PathBuf,
    tensors: HashMap<String, RawTensor>,
}

impl Weights {
    /// Reads a `.safetensors` file.
    ///
    /// # Errors
    /// [`Error::MissingFile`], [`Error::Io`], or [`Error::InvalidWeights`] for a file that is
    /// truncated or not safetensors at all.
    pub(crate) fn from_safetensors(path: &Path) -> Result<Self> {
        let buffer = Arc::new(crate::layout::read(path)?);
        let tensors = safetensors_views(&buffer).map_err(|source| Error::InvalidWeights {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self::new(path, tensors))
    }

    pub(crate) fn new(path: &Path, tensors: HashMap<String, RawTensor>) -> Self {
        Self {
            path: path.to_path_buf(),
            tensors,
        }
    }

    /// The file the tensors came from.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The names of every tensor in the file.
    #[cfg(test)]
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The shape of tensor `name`, or [`Error::MissingTensor`].
    pub(crate) fn shape(&self, name: &str) -> Result<&[i64]> {
        Ok(&self.get(name)?.shape)
    }

    fn get(&self, name: &str) -> Result<&RawTensor> {
        self.tensors.get(name).ok_or_else(|| Error::MissingTensor {
            name: name.to_string(),
            path: self.path.clone(),
        })
    }

    /// Tensor `name` as an f32 tensor of shape `expected`, whatever float type it has on disk.
    ///
    /// # Errors
    /// [`Error::MissingTensor`], [`Error::TensorShape`], [`Error::TensorDtype`], or
    /// [`Error::InvalidWeights`] when its byte count does not match its shape.
    pub(crate) fn tensor_f32(&self, name: &str, expected: &[i64]) -> Result<Tensor> {
        let raw = self.get(name)?;
        if raw.shape != expected {
            return Err(Error::TensorShape {
                name: name.to_string(),
                path: self.path.clone(),
                expected: expected.to_vec(),
                found: raw.shape.clone(),
            });
        }
        let kind = match raw.dtype {
            Dtype::F16 => Kind::Half,
            Dtype::BF16 => Kind::BFloat16,
            Dtype::F32 => Kind::Float,
            Dtype::F64 => Kind::Double,
            other => {
                return Err(Error::TensorDtype {
                    name: name.to_string(),
                    path: self.path.clone(),
                    dtype: format!("{other:?}"),
                })
            }
        };
        let expected_bytes = raw
            .shape
            .iter()
            .try_fold(raw.dtype.bitsize() / 8, |bytes, &d| {
                usize::try_from(d).ok().and_then(|d| bytes.checked_mul(d))
            })
            .unwrap_or(usize::MAX);
        if raw.data.len() != expected_bytes {
            return Err(Error::InvalidWeights {
                path: self.path.clone(),
                source: format!(
                    "tensor {name} holds {} bytes, its shape needs {expected_bytes}",
                    raw.data.len()
                )
                .into(),
            });
        }
        // `from_data_size` copies exactly `elements * kind size` bytes, checked just above.
        let tensor = Tensor::f_from_data_size(raw.data.as_slice(), &raw.shape, kind)?;
        Ok(tensor.f_to_kind(Kind::Float)?)
    }
}

/// The tensors of a safetensors file held in `buffer`, each a view into it.
///
/// The header is parsed by the `safetensors` crate, which refuses a header longer than
/// 100 MB or than the file, offsets past the data or out of order, and byte counts that do
/// not match a tensor's shape, all before anything is allocated from them.
pub(crate) fn safetensors_views(
    buffer: &Arc<Vec<u8>>,
) -> std::result::Result<HashMap<String, RawTensor>, Box<dyn std::error::Error + Send + Sync>> {
    let file = SafeTensors::deserialize(buffer)?;
    let base = buffer.as_ptr() as usize;
    let mut tensors = HashMap::new();
    for (name, view) in file.tensors() {
        // The view borrows `buffer`: its offset there is its data's address less the buffer's.
        let start = (view.data().as_ptr() as usize)
            .checked_sub(base)
            .ok_or("a tensor outside the file")?;
        let end = start
            .checked_add(view.data().len())
            .ok_or("a tensor outside the file")?;
        let data = SharedBytes::new(buffer, start..end).ok_or("a tensor outside the file")?;
        let tensor = RawTensor {
            dtype: view.dtype(),
            shape: view.shape().iter().map(|&d| d as i64).collect(),
            data,
        };
        tensors.insert(name, tensor);
    }
    Ok(tensors)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Weights::from_safetensors` on `bytes`: its error, within a second, naming the file.
    fn refusal(bytes: &[u8]) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("model.safetensors");
        std::fs::write(&path, bytes).expect("write");
        let begun = std::time::Instant::now();
        let outcome = Weights::from_safetensors(&path);
        assert!(begun.elapsed().as_secs_f64() < 1.0);
        match outcome {
            Err(Error::InvalidWeights {
                path: named,
                source,
            }) => {
                assert_eq!(named, path);
                source.to_string()
            }
            other => panic!("expected InvalidWeights, got {other:?}"),
        }
    }

    /// A safetensors file: an 8-byte header length, the header, the data.
    fn file(claimed: Option<u64>, header: &str, data: usize) -> Vec<u8> {
        let mut bytes = claimed
            .unwrap_or(header.len() as u64)
            .to_le_bytes()
            .to_vec();
        bytes.extend(header.as_bytes());
        bytes.extend(std::iter::repeat_n(0u8, data));
        bytes
    }

    #[test]
    fn a_header_that_claims_2_to_the_60_bytes_is_refused_before_any_allocation() {
        let header = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
        let message = refusal(&file(Some(1 << 60), header, 8));
        assert!(message.to_lowercase().contains("header"), "{message}");
    }

    #[test]
    fn a_tensor_past_the_end_of_its_file_is_refused() {
        // 2^28 f32 values claimed, 8 bytes there.
        let header = r#"{"w":{"dtype":"F32","shape":[268435456],"data_offsets":[0,1073741824]}}"#;
        refusal(&file(None, header, 8));
        // Offsets that stop short of the data, or overlap, are refused as well.
        let short = r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
        refusal(&file(None, short, 8));
        let good = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("model.safetensors");
        std::fs::write(&path, file(None, good, 8)).expect("write");
        let weights = Weights::from_safetensors(&path).expect("a whole file loads");
        assert_eq!(weights.shape("w").expect("w"), [2]);
    }

    #[test]
    fn shared_bytes_never_reach_outside_their_buffer() {
        let buffer = Arc::new((0u8..10).collect::<Vec<u8>>());
        let all = SharedBytes::new(&buffer, 0..10).expect("whole");
        assert_eq!(all.slice(2..5).expect("inside").as_slice(), [2, 3, 4]);
        assert!(all.slice(8..11).is_none());
        assert!(all.slice(usize::MAX..usize::MAX).is_none());
        assert!(SharedBytes::new(&buffer, 5..11).is_none());
        let part = all.slice(4..8).expect("inside");
        assert_eq!(part.slice(1..3).expect("inside").as_slice(), [5, 6]);
        assert!(part.slice(2..5).is_none());
    }
}
