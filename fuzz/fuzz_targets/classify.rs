//! Arbitrary bytes as texts, through tokenization, truncation or chunking, batch planning, the
//! forward pass and scoring, on two tiny models (byte-level BPE and WordPiece), cache off.
//!
//! The input is read as UTF-8 (lossily) and split on U+001E into up to 8 texts, given to
//! `classify_each` at once. Checked: one result per text; every result is scores (one per label,
//! finite, in [0, 1]) or a tokenizer error, never a panic nor another error.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use emotion_classifier::{Aggregate, EmotionClassifier, Error, LongTexts};
use libfuzzer_sys::fuzz_target;

fn models_dir() -> PathBuf {
    std::env::var_os("EMOTION_TEST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/models"))
}

fn classifiers() -> &'static [EmotionClassifier] {
    static CLASSIFIERS: OnceLock<Vec<EmotionClassifier>> = OnceLock::new();
    CLASSIFIERS.get_or_init(|| {
        let build = |name: &str, long_texts: LongTexts| {
            EmotionClassifier::builder()
                .model(models_dir().join(name))
                .cache_capacity(0)
                .threads(1)
                // Small budgets, so that planning splits and long texts run alone.
                .max_batch_size(3)
                .max_batch_tokens(96)
                .long_texts(long_texts)
                .build()
                .unwrap_or_else(|e| panic!("cannot load {name}: {e}"))
        };
        vec![
            build("tiny-roberta-emotion", LongTexts::Truncate),
            build(
                "tiny-distilbert-emotion",
                LongTexts::chunk(16, Aggregate::Max),
            ),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let texts: Vec<&str> = text.split('\u{1e}').take(8).collect();
    for classifier in classifiers() {
        let results = classifier.classify_each(&texts);
        assert_eq!(results.len(), texts.len());
        for result in results {
            match result {
                Ok(scores) => {
                    assert_eq!(scores.len(), classifier.labels().len());
                    for score in scores.iter() {
                        assert!(
                            score.score.is_finite() && (0.0..=1.0).contains(&score.score),
                            "{score:?}"
                        );
                    }
                }
                Err(Error::Tokenize { .. }) => {}
                Err(other) => panic!("unexpected error: {other:?}"),
            }
        }
    }
});
