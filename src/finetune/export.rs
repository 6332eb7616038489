//! Writing a model folder transformers and this crate load: `model.safetensors` (f32, under
//! transformers' names, with the `format: pt` metadata `save_pretrained` writes and
//! `from_pretrained` requires), `config.json`, and the base's tokenizer files.

use std::collections::HashMap;
use std::path::Path;

use tch::{Kind, Tensor};

use crate::error::{Error, Result};

/// The tokenizer files a model folder may have; those the base has are copied.
const TOKENIZER_FILES: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "added_tokens.json",
];

/// [`Error::Write`] for `path`, for `map_err`.
pub(crate) fn write_error(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `tensors` as f32 safetensors with `format: pt` metadata, through a temporary file
/// renamed into place.
pub(crate) fn write_safetensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        let values = tensor.f_detach()?.f_to_kind(Kind::Float)?.f_contiguous()?;
        let shape: Vec<usize> = values.size().iter().map(|&d| d as usize).collect();
        let flat: Vec<f32> = values.f_flatten(0, -1)?.try_into()?;
        let bytes: Vec<u8> = flat.iter().flat_map(|v| v.to_le_bytes()).collect();
        data.push((name.clone(), shape, bytes));
    }
    let views = data
        .iter()
        .map(|(name, shape, bytes)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                .map(|view| (name.as_str(), view))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| write_error(path)(std::io::Error::other(e)))?;
    let metadata = HashMap::from([("format".to_owned(), "pt".to_owned())]);
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| write_error(path)(std::io::Error::other(e)))?;
    write_atomically(path, &bytes)
}

/// Writes `bytes` to `path` through `path.tmp`, renamed over it once complete.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".tmp");
    let partial = std::path::PathBuf::from(partial);
    std::fs::write(&partial, bytes).map_err(write_error(&partial))?;
    std::fs::rename(&partial, path).map_err(write_error(path))
}

/// Writes `config.json` into `dir`.
pub(crate) fn write_config(dir: &Path, config: &serde_json::Value) -> Result<()> {
    let path = dir.join("config.json");
    let text = serde_json::to_vec_pretty(config)
        .map_err(|e| write_error(&path)(std::io::Error::other(e)))?;
    write_atomically(&path, &text)
}

/// Copies the tokenizer files `base` has into `dir`.
pub(crate) fn copy_tokenizer(base: &Path, dir: &Path) -> Result<()> {
    for name in TOKENIZER_FILES {
        let from = base.join(name);
        if from.is_file() {
            let to = dir.join(name);
            std::fs::copy(&from, &to).map_err(write_error(&to))?;
        }
    }
    Ok(())
}
