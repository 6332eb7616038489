//! Shared helpers for the SQL crate's tests: where the test models are, and the SQL table.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub mod sql_table;

use emotion_classifier::EmotionClassifier;

/// The folder holding the test models: `EMOTION_TEST_MODELS` (set by the checkout's
/// `.cargo/config.toml`), else `../shared/models` beside the checkout.
pub fn models_dir() -> PathBuf {
    let dir = std::env::var_os("EMOTION_TEST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models"));
    assert!(
        dir.join("tiny-roberta-emotion").is_dir(),
        "test models not found in {}: set EMOTION_TEST_MODELS to ../shared/models",
        dir.display()
    );
    dir
}

/// The directory of one test model.
pub fn model_dir(name: &str) -> PathBuf {
    models_dir().join(name)
}

/// A classifier on test model `name` without a result cache, so every call runs the network.
pub fn uncached_classifier(name: &str) -> EmotionClassifier {
    EmotionClassifier::builder()
        .model(model_dir(name))
        .cache_capacity(0)
        .build()
        .unwrap_or_else(|e| panic!("cannot load {name}: {e:?}"))
}

/// A copy of test model `name` in a temporary folder, for tests that break or remove its files.
pub fn temp_copy(name: &str) -> tempfile::TempDir {
    let temp = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(model_dir(name)).expect("model dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), temp.path().join(entry.file_name())).expect("copy");
    }
    temp
}
