//! The lazily built default classifier behind `emotion_classifier::classify`.
//! One test in its own binary, since it sets a process-wide environment variable.

mod support;

use emotion_classifier::{classify, default_classifier, MODEL_ENV};

#[test]
fn default_classifier_follows_emotion_model_and_is_built_once() {
    std::env::set_var(MODEL_ENV, support::model_dir("emotion-minilm-ekman"));
    let scores = classify("what a wonderful surprise, I love it").unwrap();
    assert_eq!(scores.labels().len(), 7);
    assert_eq!(scores.top().label, "joy");

    // Built once: the same classifier whatever the variable says now.
    let first = default_classifier().unwrap() as *const _;
    std::env::set_var(MODEL_ENV, "/nonexistent");
    assert_eq!(default_classifier().unwrap() as *const _, first);
}
