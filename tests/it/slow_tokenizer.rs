//! Models without `tokenizer.json` (only a "slow" tokenizer's `vocab.json` + `merges.txt` or
//! `vocab.txt`, as many hub checkpoints ship) score exactly as with the fast tokenizer file.

use crate::support;

use emotion_classifier::{EmotionClassifier, Error};

/// Texts that exercise what the two tokenizers could disagree on: casing, accents, CJK,
/// punctuation, emoji, special-token strings, spaces around `<mask>`, long words.
fn tricky_texts() -> Vec<String> {
    let mut texts: Vec<String> = [
        "I LOVE this, it's GREAT!!!",
        "Crème brûlée à la française, naïve café",
        "我今天很高兴 and 日本語のテキスト",
        "emoji 😀🎉👨‍👩‍👧 and flags 🇫🇷🇯🇵",
        "[CLS] [SEP] <s> </s> <pad> <mask> [MASK] <unk>",
        "a <mask> b<mask>c   <mask>",
        "tabs\tand\nnewlines\r\nand  double  spaces ",
        "",
        "   ",
        "don't won't y'all'd've",
        "supercalifragilisticexpialidocious-antidisestablishmentarianism",
        "\u{0}\u{1}control\u{7f}chars",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    texts.push("word".repeat(200));
    texts
}

fn assert_same_scores(model: &str, keep: &[&str]) {
    // Bit-identical scores prove the two tokenizers gave the same ids. They need one worker
    // with a fixed thread count: with two, a pass's thread count depends on whether the other
    // worker is busy, and MKL's GEMM then rounds differently (scores move by about 1e-8).
    let one_worker = |dir: &std::path::Path| {
        EmotionClassifier::builder()
            .model(dir)
            .workers(1)
            .threads(2)
            .cache_capacity(0)
            .build()
            .unwrap()
    };
    let full = one_worker(&support::model_dir(model));
    let temp = tempfile::tempdir().unwrap();
    for file in keep {
        std::fs::copy(support::model_dir(model).join(file), temp.path().join(file)).unwrap();
    }
    let slow = one_worker(temp.path());
    let mut texts: Vec<String> = support::references(model)
        .into_iter()
        .map(|r| r.text)
        .collect();
    texts.extend(tricky_texts());
    let expected = full.classify_each(&texts);
    let actual = slow.classify_each(&texts);
    for ((text, e), a) in texts.iter().zip(&expected).zip(&actual) {
        let (e, a) = (e.as_ref().unwrap(), a.as_ref().unwrap());
        assert_eq!(e, a, "{model}: scores differ for {text:?}");
    }
}

#[test]
fn roberta_from_vocab_json_and_merges_matches_tokenizer_json() {
    assert_same_scores(
        "tiny-roberta-emotion",
        &[
            "config.json",
            "model.safetensors",
            "vocab.json",
            "merges.txt",
            "tokenizer_config.json",
            "special_tokens_map.json",
        ],
    );
}

#[test]
fn roberta_without_tokenizer_config_uses_roberta_defaults() {
    assert_same_scores(
        "tiny-roberta-emotion",
        &[
            "config.json",
            "model.safetensors",
            "vocab.json",
            "merges.txt",
        ],
    );
}

#[test]
fn bert_from_vocab_txt_matches_tokenizer_json() {
    assert_same_scores(
        "emotion-minilm-ekman",
        &[
            "config.json",
            "model.safetensors",
            "vocab.txt",
            "tokenizer_config.json",
        ],
    );
}

#[test]
fn distilbert_from_vocab_txt_matches_tokenizer_json() {
    assert_same_scores(
        "tiny-distilbert-emotion",
        &["config.json", "model.safetensors", "vocab.txt"],
    );
}

#[test]
fn no_tokenizer_files_names_tokenizer_json() {
    let temp = support::temp_copy("tiny-roberta-emotion");
    for file in ["tokenizer.json", "merges.txt"] {
        std::fs::remove_file(temp.path().join(file)).unwrap();
    }
    match EmotionClassifier::builder().model(temp.path()).build() {
        Err(Error::MissingFile { path }) => assert!(path.ends_with("tokenizer.json"), "{path:?}"),
        other => panic!("expected MissingFile, got {:?}", other.err()),
    }
}

#[test]
fn bad_tokenizer_config_is_an_invalid_config_error() {
    let temp = support::temp_copy("tiny-roberta-emotion");
    std::fs::remove_file(temp.path().join("tokenizer.json")).unwrap();
    std::fs::write(temp.path().join("tokenizer_config.json"), "{not json").unwrap();
    match EmotionClassifier::builder().model(temp.path()).build() {
        Err(Error::InvalidConfig { path, .. }) => {
            assert!(path.ends_with("tokenizer_config.json"), "{path:?}")
        }
        other => panic!("expected InvalidConfig, got {:?}", other.err()),
    }
}
