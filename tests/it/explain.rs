//! Explanations by occlusion: every attribution is the score change it claims, spans index the
//! original text (multi-byte included), and on the real model the emotion's word ranks first.

use crate::support;

use emotion_classifier::{EmotionClassifier, Error};

fn classifier() -> EmotionClassifier {
    support::uncached_classifier("emotion-minilm-ekman")
}

/// The documented rule, written again here: the word and the whitespace after it, or for the
/// last word the whitespace before it.
fn variant(text: &str, start: usize, end: usize) -> String {
    let rest = &text[end..];
    let after = rest.len() - rest.trim_start().len();
    if end + after < text.len() {
        format!("{}{}", &text[..start], &text[end + after..])
    } else {
        text[..start].trim_end().to_owned()
    }
}

#[test]
fn every_attribution_is_the_score_change_of_removing_its_word() {
    let classifier = classifier();
    for text in [
        "I love this so much",
        "Je suis très content, merci 😀 !",
        "  leading and\ttabbed   spaces ",
        "alone",
    ] {
        let explanation = classifier.explain(text).unwrap();
        let full = classifier.classify(text).unwrap();
        assert_eq!(explanation.text(), text);
        for (a, b) in explanation.scores().scores().iter().zip(full.scores()) {
            assert!((a - b).abs() < 1e-5);
        }
        let chars: Vec<char> = text.chars().collect();
        let mut words = Vec::new();
        for (i, word) in explanation.words().iter().enumerate() {
            // Spans index the original text, bytes and characters alike.
            let by_bytes = &text[word.bytes.clone()];
            let by_chars: String = chars[word.chars.clone()].iter().collect();
            assert_eq!(by_bytes, by_chars);
            assert!(!by_bytes.is_empty() && !by_bytes.contains(char::is_whitespace));
            words.push(by_bytes);
            let less = classifier
                .classify(&variant(text, word.bytes.start, word.bytes.end))
                .unwrap();
            let claimed = explanation.word_attributions(i).unwrap();
            for ((label, claim), (f, l)) in full
                .labels()
                .iter()
                .zip(claimed)
                .zip(full.scores().iter().zip(less.scores()))
            {
                assert!(
                    (claim - (f - l)).abs() < 1e-5,
                    "{text:?}, word {by_bytes:?}, {label}: claimed {claim}, recomputed {}",
                    f - l
                );
            }
        }
        assert_eq!(words, text.split_whitespace().collect::<Vec<_>>());
    }
}

#[test]
fn the_word_that_carries_the_emotion_ranks_first() {
    let classifier = classifier();
    for (text, label, word) in [
        ("I love this so much", "joy", "love"),
        ("I'm terrified of the dark", "fear", "terrified"),
        ("This makes me so angry", "anger", "angry"),
        (
            "Losing my dog left me heartbroken",
            "sadness",
            "heartbroken",
        ),
    ] {
        let explanation = classifier.explain(text).unwrap();
        assert_eq!(explanation.scores().top().label, label, "{text:?}");
        let ranked = explanation.ranked(label).unwrap();
        let first = explanation.words()[ranked[0].0].in_text(text);
        assert_eq!(first, word, "{text:?}: {ranked:?}");
        assert!(ranked[0].1 > 0.0);
    }
    assert!(classifier
        .explain("so happy")
        .unwrap()
        .ranked("love")
        .is_none());
}

#[test]
fn nothing_to_explain_is_an_error_and_json_carries_spans() {
    let classifier = classifier();
    for text in ["", "   \t\n"] {
        assert!(matches!(
            classifier.explain(text),
            Err(Error::NothingToExplain)
        ));
    }
    let explanation = classifier.explain("très bien").unwrap();
    let json: serde_json::Value = serde_json::to_value(&explanation).unwrap();
    assert_eq!(json["words"][1]["word"], "bien");
    assert_eq!(json["words"][1]["bytes"], serde_json::json!([6, 10]));
    assert_eq!(json["words"][1]["chars"], serde_json::json!([5, 9]));
    assert_eq!(
        json["words"][0]["attributions"].as_object().unwrap().len(),
        7
    );
}
