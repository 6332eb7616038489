//! Hostile and odd inputs: each gets scores or a typed error, never a panic, through `classify`
//! and inside a mixed `classify_each`/`classify_batch`, with exactly one result per input.

use crate::support;

use emotion_classifier::EmotionClassifier;

fn rows() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("whitespace", " \t\n\r  \u{3000}".to_string()),
        ("one megabyte", "I am so happy today. ".repeat(50_000)),
        ("100k-char word", "a".repeat(100_000)),
        (
            "NUL and controls",
            "hello\0world\u{1}\u{7}\u{1b}[31m\u{7f}".to_string(),
        ),
        (
            "right-to-left",
            "אני כל כך שמח היום مرحبا بالعالم \u{202e}reversed".to_string(),
        ),
        (
            "combining marks",
            "Z\u{351}\u{36b}\u{343}\u{36a}a\u{302}\u{36b}l\u{34c}g\u{30c}o\u{35b}".repeat(200),
        ),
        ("emoji ZWJ and flags", "👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷🇯🇵 😡😭🎉 ❤️‍🔥".to_string()),
        (
            "mixed scripts",
            "Hello Привет こんにちは 你好 안녕하세요 γειά σου".to_string(),
        ),
        (
            "special tokens",
            "[CLS] [SEP] <s> </s> <pad> [PAD] [MASK] <unk> [UNK]".to_string(),
        ),
        (
            "escapes",
            r#"\u0000 \x00 \n %s %n {} {{}} \\ \" ' <script>"#.to_string(),
        ),
        ("lone surrogate escapes", "\\ud800 \\udfff".to_string()),
    ]
}

fn check_model(model: &str) {
    let classifier: EmotionClassifier = support::classifier(model);
    let labels = classifier.labels().len();
    let rows = rows();
    for (name, text) in &rows {
        let scores = classifier
            .classify(text)
            .unwrap_or_else(|e| panic!("{model}: {name}: {e:?}"));
        assert_eq!(scores.len(), labels, "{name}");
        assert!(
            scores
                .scores()
                .iter()
                .all(|p| p.is_finite() && (0.0..=1.0).contains(p)),
            "{name}"
        );
    }
    // All rows mixed with ordinary texts, in one call: one result per input, in order, each equal
    // to the text classified alone.
    let mut mixed: Vec<&str> = Vec::new();
    for (_, text) in &rows {
        mixed.push("what a lovely day");
        mixed.push(text);
    }
    let each = classifier.classify_each(&mixed);
    assert_eq!(each.len(), mixed.len());
    for (text, result) in mixed.iter().zip(&each) {
        let alone = classifier.classify(text).unwrap();
        let batched = result.as_ref().unwrap();
        for (a, b) in alone.scores().iter().zip(batched.scores()) {
            assert!(
                (a - b).abs() < 1e-5,
                "{model}: batched differs for {:?}",
                &text[..text.len().min(40)]
            );
        }
    }
    assert_eq!(
        classifier.classify_batch(&mixed).unwrap().len(),
        mixed.len()
    );
}

#[test]
fn every_row_through_bert() {
    check_model("emotion-minilm-ekman");
}

#[test]
fn every_row_through_roberta_and_distilbert() {
    check_model("tiny-roberta-emotion");
    check_model("tiny-distilbert-emotion");
}

#[test]
fn a_100k_text_batch_gives_100k_results_in_order() {
    let classifier = EmotionClassifier::builder()
        .model(support::model_dir("tiny-distilbert-emotion"))
        .cache_capacity(0)
        .build()
        .unwrap();
    let texts: Vec<String> = (0..100_000)
        .map(|i| format!("text {i} {}", "x".repeat(i % 17)))
        .collect();
    let all = classifier.classify_batch(&texts).unwrap();
    assert_eq!(all.len(), texts.len());
    for i in [0, 1, 16, 17, 50_000, 99_999] {
        let alone = classifier.classify(&texts[i]).unwrap();
        for (a, b) in alone.scores().iter().zip(all[i].scores()) {
            assert!((a - b).abs() < 1e-5, "text {i}: {a} vs {b}");
        }
    }
}
