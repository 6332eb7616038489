//! The test models for the binaries' tests: `EMOTION_TEST_MODELS` (which `.cargo/config.toml`
//! sets), else `../shared/models` beside the checkout. Included by each binary's tests with
//! `#[path]`: a binary cannot use another's modules, and this folder is no binary (it has no
//! `main.rs`).

use std::path::{Path, PathBuf};

/// The folder of the tiny DistilBERT emotion model (the seven Ekman labels), as a string for
/// command lines.
pub fn tiny_distilbert() -> String {
    std::env::var_os("EMOTION_TEST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/models"))
        .join("tiny-distilbert-emotion")
        .to_string_lossy()
        .into_owned()
}
