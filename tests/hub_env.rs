//! The hub settings that come from the environment: `HF_ENDPOINT`, `HF_HOME`, `HF_HUB_CACHE`,
//! `HF_HUB_OFFLINE`, `EMOTION_MODEL` as a hub id, and the default model when nothing is set.
//! One test in its own binary, since it sets process-wide variables.

mod support;

use emotion_classifier::{
    classify, EmotionClassifier, Error, HubError, DEFAULT_HUB_MODEL, MODEL_ENV,
};
use support::hub_server::HubServer;

/// A folder laid out like the default model's hub repository: slow RoBERTa tokenizer files and
/// `pytorch_model.bin`, no `tokenizer.json` nor safetensors (here with the tiny RoBERTa's
/// weights, since the real hub is out of reach).
fn default_model_layout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = support::model_dir("tiny-roberta-emotion-bin");
    for file in [
        "config.json",
        "vocab.json",
        "merges.txt",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "pytorch_model.bin",
    ] {
        std::fs::copy(source.join(file), dir.path().join(file)).unwrap();
    }
    dir
}

#[test]
fn environment_variables_steer_the_hub() {
    let repo = default_model_layout();
    let server = HubServer::start(&[(DEFAULT_HUB_MODEL, repo.path().to_path_buf())]);
    let hf_home = tempfile::tempdir().unwrap();
    for var in [MODEL_ENV, "HF_HUB_CACHE", "HF_HUB_OFFLINE", "HF_TOKEN"] {
        std::env::remove_var(var);
    }
    std::env::set_var("HF_ENDPOINT", server.endpoint());
    std::env::set_var("HF_HOME", hf_home.path());

    // Nothing configured: the default hub model, fetched from HF_ENDPOINT into $HF_HOME/hub.
    let reference = &support::references("tiny-roberta-emotion")[0];
    let scores = classify(&reference.text).unwrap();
    for (label, expected) in &reference.scores {
        assert!(
            (scores.get(label).unwrap() - expected).abs() < 1e-4,
            "{label}"
        );
    }
    let snapshot = hf_home
        .path()
        .join("hub/models--j-hartmann--emotion-english-distilroberta-base/snapshots")
        .join(support::hub_server::COMMIT);
    assert!(snapshot.join("pytorch_model.bin").is_file());
    assert!(snapshot.join("merges.txt").is_file());
    server.stop();

    // EMOTION_MODEL as a hub id, HF_HUB_OFFLINE=1: the cache alone.
    std::env::set_var(MODEL_ENV, DEFAULT_HUB_MODEL);
    std::env::set_var("HF_HUB_OFFLINE", "1");
    let offline = EmotionClassifier::builder().build().unwrap();
    assert_eq!(offline.classify(&reference.text).unwrap(), scores);

    // Another id, offline: not in the cache, and the error says where it looked.
    std::env::set_var(MODEL_ENV, "someone/other-model@v2");
    match EmotionClassifier::builder().build() {
        Err(Error::Hub(HubError::NotInCache {
            repo,
            revision,
            cache_dir,
            ..
        })) => {
            assert_eq!(
                (repo.as_str(), revision.as_str()),
                ("someone/other-model", "v2")
            );
            assert_eq!(cache_dir, hf_home.path().join("hub"));
        }
        other => panic!("expected NotInCache, got {:?}", other.err()),
    }

    // HF_HUB_CACHE wins over HF_HOME: an empty cache there lacks the default model.
    let other_cache = tempfile::tempdir().unwrap();
    std::env::set_var("HF_HUB_CACHE", other_cache.path());
    std::env::set_var(MODEL_ENV, DEFAULT_HUB_MODEL);
    match EmotionClassifier::builder().build() {
        Err(Error::Hub(HubError::NotInCache { cache_dir, .. })) => {
            assert_eq!(cache_dir, other_cache.path())
        }
        other => panic!("expected NotInCache, got {:?}", other.err()),
    }

    // A folder in EMOTION_MODEL is still a folder.
    std::env::set_var(MODEL_ENV, support::model_dir("tiny-roberta-emotion"));
    let from_dir = EmotionClassifier::builder().build().unwrap();
    assert_eq!(from_dir.classify(&reference.text).unwrap(), scores);
}
