//! The consumer's binary, run as a user runs theirs (found libtorch through its build.rs's
//! rpath, no LD_LIBRARY_PATH): it must name joy as the top emotion of a glad text.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `../shared/models/emotion-minilm-ekman`, or under `EMOTION_TEST_MODELS`.
fn model() -> PathBuf {
    std::env::var_os("EMOTION_TEST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/models"))
        .join("emotion-minilm-ekman")
}

#[test]
fn the_consumer_names_joy_for_a_glad_text() {
    let output = Command::new(env!("CARGO_BIN_EXE_emotion-classifier-consumer"))
        .arg("I am so glad you came!")
        .env("EMOTION_MODEL", model())
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("run the consumer");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "consumer failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let fields: Vec<&str> = stdout.trim_end().split('\t').collect();
    assert_eq!(
        fields.len(),
        3,
        "one line of text, label, score: {stdout:?}"
    );
    assert_eq!(fields[0], "I am so glad you came!");
    assert_eq!(fields[1], "joy", "{stdout:?}");
    let score: f32 = fields[2].parse().expect("a score");
    assert!(score > 0.5 && score <= 1.0, "{stdout:?}");
}
