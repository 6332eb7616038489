//! The readers of a stranger's model files, from bytes, for the fuzz targets (`fuzz/`) and the
//! random-input tests. Not part of the API: hidden from the docs, and free to change.
//!
//! Each returns what it read or the reader's error; none may panic, hang, or allocate more
//! than a bounded multiple of its input, whatever the bytes.

use std::path::Path;
use std::sync::Arc;

/// The reader's error, as the reader gives it.
pub type ReadError = Box<dyn std::error::Error + Send + Sync>;

/// `pytorch_model.bin`'s pickle (its `data.pkl`) through the strict pickle machine.
///
/// # Errors
/// Whatever the machine refuses.
pub fn pickle(bytes: &[u8]) -> Result<(), ReadError> {
    crate::checkpoint::run_pickle(bytes)
}

/// A whole `pytorch_model.bin` (a zip archive): the number of tensors.
///
/// # Errors
/// Whatever the archive reader or the pickle machine refuses.
pub fn torch_archive(bytes: &[u8]) -> Result<usize, ReadError> {
    crate::checkpoint::parse_archive_bytes(bytes.to_vec())
}

/// A `model.safetensors` file: the number of tensors.
///
/// # Errors
/// Whatever the safetensors reader refuses.
pub fn safetensors(bytes: &[u8]) -> Result<usize, ReadError> {
    Ok(crate::checkpoint::safetensors_views(&Arc::new(bytes.to_vec()))?.len())
}

/// A `config.json`: its labels.
///
/// # Errors
/// [`crate::Error`] as loading gives it.
pub fn config(bytes: &[u8]) -> Result<Vec<String>, crate::Error> {
    crate::config::ModelConfig::from_slice(Path::new("config.json"), bytes)
        .map(|c| c.labels().to_vec())
}
