//! [`ModelFolder`]: one reader of a model folder in Hugging Face layout, for inference
//! (`model/loaded.rs`), the hub (which reads a downloaded `config.json` to choose the rest)
//! and fine-tuning alike, so a base that inference loads also trains, and the two never drift.
//!
//! It covers `config.json` (kept raw, as export writes it back, and checked as
//! [`ModelConfig`] checks it before anything is built: docs/SECURITY.md), the tokenizer with
//! its fallbacks to the slow files, and the weights, `model.safetensors` or `pytorch_model.bin`
//! through the strict pickle reader. The file names are [`crate::layout`]'s.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use tokenizers::Tokenizer;

use crate::checkpoint::Weights;
use crate::config::{Architecture, ModelConfig};
use crate::error::{Error, Result};
use crate::layout::{self, ModelFiles, WeightsFile};

/// A model folder whose `config.json` has been read and whose files have been chosen.
#[derive(Debug, Clone)]
pub(crate) struct ModelFolder {
    dir: PathBuf,
    config_path: PathBuf,
    config_bytes: Vec<u8>,
    raw: Map<String, Value>,
    architecture: Architecture,
    files: ModelFiles,
}

impl ModelFolder {
    /// Reads `dir/config.json` and chooses the tokenizer and weights files the architecture
    /// reads among those present.
    ///
    /// # Errors
    /// [`Error::MissingModelDir`], [`Error::MissingFile`] (naming the first kind missing),
    /// [`Error::Io`], [`Error::InvalidConfig`] (not a JSON object, or an absurd integer),
    /// [`Error::UnsupportedModelType`].
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::MissingModelDir {
                path: dir.to_path_buf(),
            });
        }
        let config_path = dir.join(layout::CONFIG);
        let config_bytes = layout::read(&config_path)?;
        let (raw, architecture) = read_architecture(&config_path, &config_bytes)?;
        let files = ModelFiles::in_dir(dir, architecture)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            config_path,
            config_bytes,
            raw,
            architecture,
            files,
        })
    }

    /// The folder.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The architecture `model_type` names.
    pub(crate) fn architecture(&self) -> Architecture {
        self.architecture
    }

    /// `config.json`'s path.
    pub(crate) fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// `config.json` as written, every field kept (export writes it back).
    pub(crate) fn raw_config(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// The validated config, with its labels (a classifier's).
    ///
    /// # Errors
    /// As [`ModelConfig::from_file`].
    pub(crate) fn config(&self) -> Result<ModelConfig> {
        ModelConfig::from_slice(&self.config_path, &self.config_bytes)
    }

    /// The files chosen.
    #[cfg(test)]
    pub(crate) fn files(&self) -> &ModelFiles {
        &self.files
    }

    /// The tokenizer: `tokenizer.json`, else the architecture's slow files, and the path of
    /// the file it was read from.
    ///
    /// # Errors
    /// [`Error::MissingFile`], [`Error::Io`] or [`Error::TokenizerLoad`] naming the file.
    pub(crate) fn tokenizer(&self) -> Result<(Tokenizer, PathBuf)> {
        crate::tokenize::load_tokenizer(&self.dir, &self.files)
    }

    /// The weights file's path.
    pub(crate) fn weights_path(&self) -> PathBuf {
        self.dir.join(self.files.weights.file())
    }

    /// Every tensor of the weights file (views into the file's one buffer).
    ///
    /// # Errors
    /// [`Error::MissingFile`], [`Error::Io`], [`Error::InvalidWeights`] naming the file.
    pub(crate) fn weights(&self) -> Result<Weights> {
        let path = self.weights_path();
        match self.files.weights {
            WeightsFile::Safetensors => Weights::from_safetensors(&path),
            WeightsFile::Pytorch => crate::checkpoint::read_torch_zip(&path),
        }
    }

    /// The tokenizer files present in the folder, of all the kinds a model folder may carry
    /// (what an exported folder copies).
    pub(crate) fn tokenizer_files(&self) -> Vec<PathBuf> {
        layout::TOKENIZER_FILES
            .iter()
            .map(|name| self.dir.join(name))
            .filter(|path| path.is_file())
            .collect()
    }
}

/// The raw object of a `config.json` and the architecture its `model_type` names, with every
/// integer checked as [`ModelConfig`] checks them (no label is needed: a base encoder has none).
///
/// # Errors
/// [`Error::InvalidConfig`] or [`Error::UnsupportedModelType`], naming `path`.
pub(crate) fn read_architecture(
    path: &Path,
    bytes: &[u8],
) -> Result<(Map<String, Value>, Architecture)> {
    let invalid = |source| Error::InvalidConfig {
        path: path.to_path_buf(),
        source,
    };
    let value: Value = serde_json::from_slice(bytes).map_err(invalid)?;
    crate::config::check_integers(&value).map_err(invalid)?;
    let Value::Object(raw) = value else {
        return Err(invalid(serde::de::Error::custom(
            "config.json is not a JSON object",
        )));
    };
    let model_type = raw.get("model_type").and_then(Value::as_str).unwrap_or("");
    let architecture =
        Architecture::from_model_type(model_type).ok_or_else(|| Error::UnsupportedModelType {
            path: path.to_path_buf(),
            model_type: model_type.to_owned(),
        })?;
    Ok((raw, architecture))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_reader_for_every_fixture_and_layout() {
        for (name, weights, tokenizer) in [
            (
                "tiny-roberta-emotion",
                WeightsFile::Safetensors,
                "tokenizer.json",
            ),
            (
                "tiny-roberta-emotion-bin",
                WeightsFile::Pytorch,
                "tokenizer.json",
            ),
            (
                "tiny-albert-emotion",
                WeightsFile::Safetensors,
                "tokenizer.json",
            ),
        ] {
            let folder = ModelFolder::open(&crate::model::test_model_dir(name)).expect(name);
            assert_eq!(folder.files().weights, weights, "{name}");
            let (_, path) = folder.tokenizer().expect("tokenizer");
            assert!(path.ends_with(tokenizer), "{name}: {}", path.display());
            let head = crate::model::classifier_output_weight(folder.architecture());
            assert!(
                folder.weights().expect("weights").shape(&head).is_ok(),
                "{name}"
            );
            assert_eq!(
                folder.config().expect("config").architecture(),
                folder.architecture()
            );
        }
    }

    #[test]
    fn a_base_without_labels_opens_and_its_config_says_what_is_missing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let from = crate::model::test_model_dir("tiny-roberta-emotion");
        for file in ["tokenizer.json", "model.safetensors"] {
            std::fs::copy(from.join(file), tmp.path().join(file)).expect("copy");
        }
        let mut config: Value =
            serde_json::from_slice(&std::fs::read(from.join("config.json")).expect("config"))
                .expect("json");
        config.as_object_mut().expect("object").remove("id2label");
        std::fs::write(tmp.path().join("config.json"), config.to_string()).expect("write");
        let folder = ModelFolder::open(tmp.path()).expect("a base opens");
        assert_eq!(folder.architecture(), Architecture::Roberta);
        assert!(matches!(folder.config(), Err(Error::MissingLabels { .. })));
        assert!(matches!(
            ModelFolder::open(&tmp.path().join("nowhere")),
            Err(Error::MissingModelDir { .. })
        ));
    }
}
