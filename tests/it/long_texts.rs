//! Texts far over the model's limit: truncated by default, or classified window by window.

use crate::support;

use emotion_classifier::{
    Aggregate, EmotionClassifier, Error, LongTexts, Truncation, TruncationSide,
};

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

/// 600 single-token words of one kind, then 510 of another: over MiniLM's 512 either way.
fn two_halves() -> String {
    format!("{}{}", "awful ".repeat(600), "happy ".repeat(510))
}

#[test]
fn the_left_side_keeps_the_end_and_the_flag_says_it_was_cut() {
    let text = two_halves();
    let build = |side| {
        EmotionClassifier::builder()
            .model(support::model_dir(MODEL))
            .truncation_side(side)
            .cache_capacity(0)
            .build()
            .unwrap()
    };
    let left = build(TruncationSide::Left).classify(&text).unwrap();
    let right = build(TruncationSide::Right).classify(&text).unwrap();
    let end = build(TruncationSide::Right)
        .classify(&"happy ".repeat(510))
        .unwrap();
    let start = build(TruncationSide::Right)
        .classify(&"awful ".repeat(510))
        .unwrap();
    assert!(left.truncated() && right.truncated());
    assert!(!end.truncated() && !start.truncated());
    for (a, b) in left.scores().iter().zip(end.scores()) {
        assert!(
            (a - b).abs() < 1e-5,
            "left keeps the last 510 words: {left:?} {end:?}"
        );
    }
    for (a, b) in right.scores().iter().zip(start.scores()) {
        assert!((a - b).abs() < 1e-5, "right keeps the first 510 words");
    }
    assert_eq!(left.top().label, "joy");
    assert_ne!(right.top().label, "joy");
    // A text that fits is not cut, whichever the side; chunked texts are never "cut".
    assert!(!build(TruncationSide::Left)
        .classify("so happy")
        .unwrap()
        .truncated());
    let chunked = build_chunked().classify(&text).unwrap();
    assert!(!chunked.truncated());
}

fn build_chunked() -> EmotionClassifier {
    build(LongTexts::chunk(64, Aggregate::Mean)).unwrap()
}

#[test]
fn reject_mode_names_the_token_count_and_limit_and_costs_the_others_nothing() {
    let classifier = build(LongTexts::Reject).unwrap();
    let text = two_halves();
    match classifier.classify(&text) {
        Err(
            e @ Error::TooLong {
                tokens: 1112,
                limit: 512,
            },
        ) => {
            let message = e.to_string();
            assert!(
                message.contains("1112") && message.contains("512"),
                "{message}"
            );
        }
        other => panic!("expected TooLong with 1,110 words + 2 special tokens, got {other:?}"),
    }
    let each = classifier.classify_each(&["so happy", text.as_str(), "so sad"]);
    assert!(matches!(each[1], Err(Error::TooLong { .. })));
    assert_eq!(each[0].as_ref().unwrap().top().label, "joy");
    assert_eq!(each[2].as_ref().unwrap().top().label, "sadness");
    // Exactly at the limit is fine.
    let fits = "happy ".repeat(510);
    assert!(!classifier.classify(&fits).unwrap().truncated());
    match classifier.classify_batch(&[fits.as_str(), text.as_str()]) {
        Err(Error::InBatch { index: 1, source }) => {
            assert!(matches!(*source, Error::TooLong { .. }))
        }
        other => panic!("expected InBatch 1, got {other:?}"),
    }
}

#[test]
fn one_call_can_cut_otherwise_and_the_cache_answers_only_texts_that_fit() {
    let classifier = build(LongTexts::Truncate).unwrap();
    let text = two_halves();
    let right = classifier.classify(&text).unwrap();
    let left = Truncation {
        long_texts: LongTexts::Truncate,
        side: TruncationSide::Left,
    };
    let short = classifier.classify("so happy").unwrap();
    let before = classifier.cache_stats();
    let computed = classifier.computed_texts();
    let other = classifier.classify_each_with(&[text.as_str(), "so happy"], left);
    let (long, fits) = (other[0].as_ref().unwrap(), other[1].as_ref().unwrap());
    assert_eq!(long.top().label, "joy");
    assert_ne!(
        long.scores(),
        right.scores(),
        "must not be the cached right cut"
    );
    assert_eq!(
        fits, &short,
        "a text that fits is cut no way: the cache answers it"
    );
    let after = classifier.cache_stats();
    assert_eq!(after.hits, before.hits + 1, "only the short text was a hit");
    assert_eq!(
        classifier.computed_texts(),
        computed + 1,
        "only the long text ran"
    );
    // The classifier's own setting still answers from the cache, with its own cut.
    assert_eq!(classifier.classify(&text).unwrap(), right);
    let refuse = Truncation {
        long_texts: LongTexts::Reject,
        side: TruncationSide::Right,
    };
    assert!(matches!(
        classifier.classify_each_with(&[text.as_str()], refuse)[0],
        Err(Error::TooLong { .. })
    ));
    assert_eq!(classifier.truncation(), Truncation::default());
}
