//! Texts far over the model's limit: truncated by default, or classified window by window.

use crate::support;

use emotion_classifier::{Aggregate, EmotionClassifier, Error, LongTexts};

const MODEL: &str = "emotion-minilm-ekman";

fn build(long_texts: LongTexts) -> Result<EmotionClassifier, Error> {
    EmotionClassifier::builder()
        .model(support::model_dir(MODEL))
        .long_texts(long_texts)
        .build()
}

/// About 1,500 tokens of flat, neutral text, then anger in the last sentence only.
fn angry_ending() -> String {
    let filler = "The committee meeting is scheduled for Tuesday at the usual room. ".repeat(110);
    format!("{filler}I am absolutely furious, this is outrageous and I hate it!")
}

#[test]
fn truncation_misses_an_emotion_at_the_end_and_chunking_finds_it() {
    let text = angry_ending();
    let truncated = build(LongTexts::Truncate).unwrap().classify(&text).unwrap();
    let head = build(LongTexts::Truncate)
        .unwrap()
        .classify(&text[..text.len() / 4])
        .unwrap();
    // Truncated, the text is only its neutral beginning.
    assert_eq!(truncated.top().label, "neutral");
    assert!(truncated.get("anger").unwrap() < 0.1, "{truncated:?}");
    for (a, b) in truncated.scores().iter().zip(head.scores()) {
        assert!(
            (a - b).abs() < 0.05,
            "truncation reads more than the first window"
        );
    }

    let max = build(LongTexts::chunk(64, Aggregate::Max)).unwrap();
    let chunked = max.classify(&text).unwrap();
    assert!(chunked.get("anger").unwrap() > 0.5, "{chunked:?}");

    let mean = build(LongTexts::chunk(64, Aggregate::Mean)).unwrap();
    let averaged = mean.classify(&text).unwrap();
    let anger = averaged.get("anger").unwrap();
    assert!(anger > truncated.get("anger").unwrap() && anger < chunked.get("anger").unwrap());
}

#[test]
fn chunking_leaves_short_texts_unchanged() {
    let plain = build(LongTexts::Truncate).unwrap();
    let chunked = build(LongTexts::chunk(128, Aggregate::Mean)).unwrap();
    let texts = ["I love this!", "", "This is so sad and unfair."];
    let a = plain.classify_batch(&texts).unwrap();
    let b = chunked.classify_batch(&texts).unwrap();
    for (x, y) in a.iter().zip(&b) {
        for (p, q) in x.scores().iter().zip(y.scores()) {
            assert!((p - q).abs() < 1e-5);
        }
    }
}

#[test]
fn a_stride_without_room_is_rejected() {
    assert!(matches!(
        build(LongTexts::chunk(510, Aggregate::Max)),
        Err(Error::InvalidOption { .. })
    ));
}

#[test]
fn every_architecture_chunks_a_long_text_into_windows() {
    // One window per model limit (1,024 tokens for the Longformer): the first window is what
    // truncation reads, so with Aggregate::Max no label can score lower than truncated.
    for (model, repeats) in [
        ("tiny-roberta-emotion", 1),
        ("tiny-xlm-roberta-emotion", 1),
        ("tiny-distilbert-emotion", 1),
        ("tiny-albert-emotion", 1),
        ("tiny-deberta-v2-emotion", 1),
        ("tiny-mobilebert-emotion", 1),
        ("tiny-longformer-emotion", 8),
    ] {
        let text = angry_ending().repeat(repeats);
        let build = |long_texts| {
            EmotionClassifier::builder()
                .model(support::model_dir(model))
                .long_texts(long_texts)
                .cache_capacity(0)
                .build()
                .unwrap()
        };
        let truncated = build(LongTexts::Truncate).classify(&text).unwrap();
        let chunking = build(LongTexts::chunk(16, Aggregate::Max));
        let chunked = chunking.classify(&text).unwrap();
        let windows = chunking.pass_stats().sequences;
        assert!(windows > 2, "{model}: {windows} windows");
        for (label, (t, c)) in truncated
            .labels()
            .iter()
            .zip(truncated.scores().iter().zip(chunked.scores()))
        {
            assert!(c + 1e-6 >= *t, "{model}: {label} {c} < truncated {t}");
        }
        assert_ne!(truncated.scores(), chunked.scores(), "{model}");
    }
}
