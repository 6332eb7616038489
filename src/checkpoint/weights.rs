//! Named weight tensors read from a checkpoint file, checked before they reach libtorch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};
use tch::{Kind, Tensor};

use crate::error::{Error, Result};

/// One tensor as stored on disk: its dtype, shape and little-endian bytes.
#[derive(Debug, Clone)]
pub(crate) struct RawTensor {
    pub(crate) dtype: Dtype,
    pub(crate) shape: Vec<i64>,
    pub(crate) data: Vec<u8>,
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
        let bytes = crate::layout::read(path)?;
        let file = SafeTensors::deserialize(&bytes).map_err(|source| Error::InvalidWeights {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        let tensors = file
            .tensors()
            .into_iter()
            .map(|(name, view)| {
                let tensor = RawTensor {
                    dtype: view.dtype(),
                    shape: view.shape().iter().map(|&d| d as i64).collect(),
                    data: view.data().to_vec(),
                };
                (name, tensor)
            })
            .collect();
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
        let elements: i64 = raw.shape.iter().product();
        let expected_bytes =
            usize::try_from(elements).unwrap_or(usize::MAX) * raw.dtype.bitsize() / 8;
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
        let tensor = Tensor::f_from_data_size(&raw.data, &raw.shape, kind)?;
        Ok(tensor.f_to_kind(Kind::Float)?)
    }
}
