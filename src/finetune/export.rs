//! Writing a model folder transformers and this crate load: `model.safetensors` (f32, under
//! transformers' names, with the `format: pt` metadata `save_pretrained` writes and
//! `from_pretrained` requires), `config.json`, and the base's tokenizer files.

use std::collections::HashMap;
use std::path::Path;

use tch::{Kind, Tensor};

use crate::error::{Error, Result};

/// [`Error::Write`] for `path`, for `map_err`.
pub(crate) fn write_error(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `tensors` as f32 safetensors with `format: pt` metadata, through a temporary file
/// renamed into place ([`write_atomically`]); returns the file's SHA-256 (hex).
pub(crate) fn write_safetensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<String> {
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
    write_atomically(path, &bytes)?;
    Ok(sha256_hex(&bytes))
}

/// The SHA-256 of `bytes`, in hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The SHA-256 of the file at `path`, in hex, or `None` when it cannot be read.
pub(crate) fn file_sha256(path: &Path) -> Option<String> {
    use sha2::Digest;
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut file, &mut hasher).ok()?;
    Some(
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Writes `bytes` to `path` crash-safely: into `path.tmp`, flushed to disk (`fsync`), renamed
/// over `path`, and the folder's entry flushed too. A crash at any moment leaves either the
/// old file or the new one whole, never a torn one, under `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".tmp");
    let partial = std::path::PathBuf::from(partial);
    let mut file = std::fs::File::create(&partial).map_err(write_error(&partial))?;
    file.write_all(bytes).map_err(write_error(&partial))?;
    file.sync_all().map_err(write_error(&partial))?;
    drop(file);
    std::fs::rename(&partial, path).map_err(write_error(path))?;
    sync_parent(path)
}

/// Flushes the folder holding `path` (its entries: a rename or a removal) to disk.
pub(crate) fn sync_parent(path: &Path) -> Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => sync_dir(dir),
        None => sync_dir(Path::new(".")),
    }
}

/// Flushes the folder `dir`'s entries to disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(write_error(dir))
}

/// Writes `config.json` into `dir`.
pub(crate) fn write_config(dir: &Path, config: &serde_json::Value) -> Result<()> {
    let path = dir.join(crate::layout::CONFIG);
    let text = serde_json::to_vec_pretty(config)
        .map_err(|e| write_error(&path)(std::io::Error::other(e)))?;
    write_atomically(&path, &text)
}

/// Copies the tokenizer files the base folder has into `dir`, each crash-safely.
pub(crate) fn copy_tokenizer(base: &crate::model_folder::ModelFolder, dir: &Path) -> Result<()> {
    for from in base.tokenizer_files() {
        let bytes = crate::layout::read(&from)?;
        if let Some(name) = from.file_name() {
            write_atomically(&dir.join(name), &bytes)?;
        }
    }
    Ok(())
}
