//! Where a model comes from.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The environment variable that names the default model: a directory in Hugging Face layout.
pub const MODEL_ENV: &str = "EMOTION_MODEL";

/// Where to load a model from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModelSource {
    /// A local directory in Hugging Face layout: `config.json`, `tokenizer.json` and
    /// `model.safetensors`.
    Dir(PathBuf),
}

impl ModelSource {
    /// A local model directory.
    pub fn dir(path: impl Into<PathBuf>) -> Self {
        Self::Dir(path.into())
    }

    /// The model named by the `EMOTION_MODEL` environment variable.
    ///
    /// # Errors
    /// [`Error::NoModelConfigured`] when the variable is unset or empty.
    pub fn from_env() -> Result<Self> {
        match std::env::var_os(MODEL_ENV) {
            Some(value) if !value.is_empty() => Ok(Self::dir(value)),
            _ => Err(Error::NoModelConfigured),
        }
    }

    /// The local directory, for a directory source.
    pub fn as_dir(&self) -> Option<&Path> {
        match self {
            Self::Dir(path) => Some(path),
        }
    }
}

impl From<&Path> for ModelSource {
    fn from(path: &Path) -> Self {
        Self::dir(path)
    }
}

impl From<PathBuf> for ModelSource {
    fn from(path: PathBuf) -> Self {
        Self::Dir(path)
    }
}
