//! Where a model comes from: a local folder or the Hugging Face Hub.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::hub::{HubModel, DEFAULT_HUB_MODEL};

/// The environment variable that names the default model: a model folder in Hugging Face layout,
/// or a hub id (`owner/name`, optionally `@revision`).
pub const MODEL_ENV: &str = "EMOTION_MODEL";

/// Where to load a model from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModelSource {
    /// A local folder in Hugging Face layout: `config.json`, a tokenizer (`tokenizer.json`, or
    /// `vocab.json` + `merges.txt`, or `vocab.txt`) and weights (`model.safetensors` or
    /// `pytorch_model.bin`).
    Dir(PathBuf),
    /// A model on the Hugging Face Hub, downloaded into (or found in) the shared cache.
    Hub(HubModel),
}

impl ModelSource {
    /// A local model folder.
    pub fn dir(path: impl Into<PathBuf>) -> Self {
        Self::Dir(path.into())
    }

    /// A hub model (`owner/name`) at its `main` branch; see [`HubModel`] for a revision and
    /// other options.
    pub fn hub(id: impl Into<String>) -> Self {
        Self::Hub(HubModel::new(id))
    }

    /// Reads a folder path or a hub id, as `EMOTION_MODEL` and the examples' `--model` take them:
    /// an existing folder is a folder; otherwise `owner/name` or `owner/name@revision` is a hub
    /// model; anything else is taken as a folder (and loading it will name the missing path).
    pub fn parse(text: &str) -> Self {
        let path = Path::new(text);
        if path.is_dir() {
            return Self::dir(path);
        }
        HubModel::parse(text).map_or_else(|| Self::dir(path), Self::Hub)
    }

    /// The model named by `EMOTION_MODEL` (see [`parse`](Self::parse)), or, when it is unset or
    /// empty, the hub model [`DEFAULT_HUB_MODEL`].
    pub fn from_env() -> Self {
        match std::env::var(MODEL_ENV) {
            Ok(value) if !value.is_empty() => Self::parse(&value),
            _ => Self::hub(DEFAULT_HUB_MODEL),
        }
    }

    /// The local folder, for a folder source.
    pub fn as_dir(&self) -> Option<&Path> {
        match self {
            Self::Dir(path) => Some(path),
            Self::Hub(_) => None,
        }
    }

    /// The local folder holding the model's files: the folder itself, or the hub model's
    /// snapshot in the cache after downloading what it lacks.
    ///
    /// # Errors
    /// For a hub model, [`Error::Hub`](crate::Error::Hub) with the [`HubError`](crate::HubError)
    /// that says why.
    pub fn local_dir(&self) -> Result<PathBuf> {
        match self {
            Self::Dir(path) => Ok(path.clone()),
            Self::Hub(model) => crate::hub::resolve(model),
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

impl From<HubModel> for ModelSource {
    fn from(model: HubModel) -> Self {
        Self::Hub(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_tells_folders_from_hub_ids() {
        let temp = tempfile::tempdir().unwrap();
        let existing = temp.path().to_str().unwrap();
        assert_eq!(ModelSource::parse(existing), ModelSource::dir(existing));
        assert_eq!(
            ModelSource::parse("owner/name@v2"),
            ModelSource::Hub(HubModel::new("owner/name").revision("v2"))
        );
        assert_eq!(
            ModelSource::parse("./missing/folder"),
            ModelSource::dir("./missing/folder")
        );
        assert_eq!(
            ModelSource::parse("/abs/missing"),
            ModelSource::dir("/abs/missing")
        );
    }
}
