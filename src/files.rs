//! Reading the files of a model directory with errors that name them.

use std::path::Path;

use crate::error::{Error, Result};

/// Reads a whole file; a missing file is [`Error::MissingFile`], anything else [`Error::Io`].
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => Error::MissingFile {
            path: path.to_path_buf(),
        },
        _ => Error::Io {
            path: path.to_path_buf(),
            source,
        },
    })
}
