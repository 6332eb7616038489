//! Scores as transformers' text-classification pipeline gives them
//! (`../shared/reference/scoring/`): raw values for a regression, a sigmoid for one label or
//! multi-label, a softmax on request; the raw logits; and decisions with per-label thresholds
//! tuned on dev.

use std::collections::HashMap;

use crate::support;

use emotion_classifier::{EmotionClassifier, EmotionScores, Error, ScoreFunction, Thresholds};

const TOLERANCE: f32 = 1e-5;

/// One line of `reference/scoring/<model>.jsonl`.
#[derive(serde::Deserialize)]
struct Line {
    text: String,
    scores: HashMap<String, f32>,
    logits: HashMap<String, f32>,
    #[serde(default)]
    softmax: Option<HashMap<String, f32>>,
}

fn lines(model: &str) -> Vec<Line> {
    let path = support::reference_dir().join(format!("scoring/{model}.jsonl"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).expect("scoring line"))
        .collect()
}

fn build(model: &str, function: Option<ScoreFunction>) -> EmotionClassifier {
    let mut builder = EmotionClassifier::builder()
        .model(support::model_dir(model))
        .cache_capacity(0);
    if let Some(function) = function {
        builder = builder.score_function(function);
    }
    builder.build().unwrap()
}

fn assert_close(
    what: &str,
    text: &str,
    got: &[f32],
    labels: &[String],
    want: &HashMap<String, f32>,
) {
    assert_eq!(labels.len(), want.len(), "{what}: label count");
    for (label, have) in labels.iter().zip(got) {
        let expected = want[label];
        assert!(
            (have - expected).abs() <= TOLERANCE,
            "{what}: {label} = {have}, transformers says {expected}, for {text:?}"
        );
    }
}

/// Every line's scores (and logits) against the reference, one by one and in one batch.
fn check(
    model: &str,
    classifier: &EmotionClassifier,
    pick: impl Fn(&Line) -> &HashMap<String, f32>,
) {
    let refs = lines(model);
    assert!(refs.len() >= 50, "{model}: reference too short");
    let texts: Vec<&str> = refs.iter().map(|l| l.text.as_str()).collect();
    let batched = classifier.classify_batch(&texts).unwrap();
    for (line, batch) in refs.iter().zip(&batched) {
        let single = classifier.classify(&line.text).unwrap();
        for (how, got) in [("single", &single), ("batched", batch)] {
            let what = format!("{model} {} ({how})", got.function());
            assert_close(&what, &line.text, got.scores(), got.labels(), pick(line));
            let logits = got.logits().expect("a classifier's scores carry logits");
            assert_close(
                &format!("{what} logits"),
                &line.text,
                logits,
                got.labels(),
                &line.logits,
            );
        }
    }
}

#[test]
fn a_regression_model_gives_raw_values() {
    let model = "tiny-bert-vad-regression";
    let classifier = build(model, None);
    assert_eq!(classifier.score_function(), ScoreFunction::Raw);
    assert_eq!(classifier.labels(), ["valence", "arousal", "dominance"]);
    check(model, &classifier, |l| &l.scores);
    let scores = classifier.classify("I feel calm").unwrap();
    assert!(!scores.is_probability());
    assert_eq!(Some(scores.scores()), scores.logits());
    // Raw values are not squeezed into 0..1: the reference has some outside it.
    let outside = lines(model)
        .iter()
        .flat_map(|l| l.scores.values().copied().collect::<Vec<_>>())
        .filter(|v| !(0.0..=1.0).contains(v))
        .count();
    assert!(outside > 0);
}

#[test]
fn a_one_label_model_gives_a_sigmoid_not_a_constant_one() {
    let model = "tiny-bert-distress-1label";
    let classifier = build(model, None);
    assert_eq!(classifier.score_function(), ScoreFunction::Sigmoid);
    check(model, &classifier, |l| &l.scores);
    let values: Vec<f32> = lines(model).iter().map(|l| l.scores["distress"]).collect();
    assert!(
        values.iter().any(|&v| v < 0.99),
        "the fixture must not be all ones"
    );
}

#[test]
fn the_multi_label_model_gives_sigmoids_and_on_request_a_softmax_or_raw_logits() {
    let model = "emotion-minilm-ekman";
    let default = build(model, None);
    assert_eq!(default.score_function(), ScoreFunction::Sigmoid);
    check(model, &default, |l| &l.scores);
    let softmax = build(model, Some(ScoreFunction::Softmax));
    check(model, &softmax, |l| {
        l.softmax.as_ref().expect("softmax column")
    });
    let raw = build(model, Some(ScoreFunction::Raw));
    assert!(!raw.classify("hello").unwrap().is_probability());
    check(model, &raw, |l| &l.logits);
}

/// `Per-label thresholds tuned on dev:` of the Ekman model in `models/SCORES.md`.
fn expected_ekman_thresholds() -> Vec<(String, f32)> {
    let scores = std::fs::read_to_string(support::models_dir().join("SCORES.md")).unwrap();
    let section = scores
        .split("## emotion-minilm-ekman")
        .nth(1)
        .expect("ekman section");
    let line = section
        .lines()
        .find_map(|l| l.strip_prefix("Per-label thresholds tuned on dev: "))
        .expect("tuned thresholds line");
    line.split(", ")
        .map(|pair| {
            let (label, value) = pair.split_once(' ').expect("label value");
            (label.to_owned(), value.parse().expect("threshold"))
        })
        .collect()
}

/// The dev split of GoEmotions' Ekman taxonomy: texts and, per text, its labels in `labels`.
fn dev_split(labels: &[String]) -> (Vec<String>, Vec<Vec<bool>>) {
    let dir = support::models_dir().join("../data/goemotions/ekman");
    let names: Vec<String> = std::fs::read_to_string(dir.join("labels.txt"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let (mut texts, mut gold) = (Vec::new(), Vec::new());
    for line in std::fs::read_to_string(dir.join("dev.tsv"))
        .unwrap()
        .lines()
    {
        let mut fields = line.split('\t');
        let (text, ids) = (fields.next().unwrap(), fields.next().unwrap());
        let mut row = vec![false; labels.len()];
        for id in ids.split(',') {
            let name = &names[id.parse::<usize>().unwrap()];
            row[labels.iter().position(|l| l == name).unwrap()] = true;
        }
        texts.push(text.to_owned());
        gold.push(row);
    }
    (texts, gold)
}

#[test]
fn thresholds_tuned_on_dev_are_the_documented_ones_and_decide_labels() {
    let model = "emotion-minilm-ekman";
    let classifier = build(model, None);
    let labels = classifier.labels().to_vec();
    let (texts, gold) = dev_split(&labels);
    assert!(texts.len() > 5000);
    let scores: Vec<Vec<f32>> = classifier
        .classify_batch(&texts)
        .unwrap()
        .iter()
        .map(|s| s.scores().to_vec())
        .collect();
    let tuned = Thresholds::tune(&labels, &scores, &gold).unwrap();
    for (label, want) in expected_ekman_thresholds() {
        let got = tuned.get(&label).unwrap();
        assert!(
            (got - want).abs() < 1e-6,
            "{label}: tuned {got}, SCORES.md {want}"
        );
    }

    // Written beside a copy of the model, the loader reads them.
    let copy = support::temp_copy(model);
    tuned.write(&copy.path().join("thresholds.json")).unwrap();
    let with_file = EmotionClassifier::builder()
        .model(copy.path())
        .build()
        .unwrap();
    let in_order: Vec<f32> = labels.iter().map(|l| tuned.get(l).unwrap()).collect();
    assert_eq!(with_file.thresholds(), in_order);
    let on_builder = EmotionClassifier::builder()
        .model(support::model_dir(model))
        .thresholds(tuned.clone())
        .build()
        .unwrap();
    assert_eq!(on_builder.thresholds(), in_order);

    // Decided labels are exactly those at or over their own threshold.
    let mut decided_any = 0;
    for text in texts.iter().take(300) {
        let scores = with_file.classify(text).unwrap();
        let decided: Vec<&str> = scores.decided().iter().map(|s| s.label).collect();
        let mut expected: Vec<(usize, f32)> = scores
            .scores()
            .iter()
            .enumerate()
            .filter(|&(i, &s)| s >= in_order[i])
            .map(|(i, &s)| (i, s))
            .collect();
        expected.sort_by(|a, b| b.1.total_cmp(&a.1));
        let expected: Vec<&str> = expected.iter().map(|&(i, _)| labels[i].as_str()).collect();
        assert_eq!(decided, expected, "{text:?}");
        decided_any += usize::from(!decided.is_empty());
    }
    assert!(
        decided_any > 200,
        "only {decided_any} of 300 texts got a label"
    );
    // The untuned classifier decides at 0.5.
    assert_eq!(classifier.thresholds(), vec![0.5; labels.len()]);
}

#[test]
fn a_softmax_decides_the_argmax_and_top_k_ranks() {
    let classifier = build("emotion-minilm-ekman", Some(ScoreFunction::Softmax));
    let scores = classifier.classify("I'm terrified of the dark").unwrap();
    let decided = scores.decided();
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0], scores.top());
    assert_eq!(decided[0].label, "fear");
    let top3 = scores.top_k(3).unwrap();
    assert_eq!(top3.len(), 3);
    assert_eq!(top3[0], scores.top());
    assert!(top3[0].score >= top3[1].score && top3[1].score >= top3[2].score);
    assert_eq!(scores.top_k(100).unwrap().len(), 7);
    assert!(matches!(
        scores.top_k(0),
        Err(Error::InvalidOption {
            option: "top_k",
            ..
        })
    ));
}

#[test]
fn bad_thresholds_are_refused_at_load_naming_the_label_and_file() {
    let model = "emotion-minilm-ekman";
    let copy = support::temp_copy(model);
    let file = copy.path().join("thresholds.json");
    std::fs::write(&file, r#"{"joy": 0.4, "love": 0.3}"#).unwrap();
    match EmotionClassifier::builder().model(copy.path()).build() {
        Err(e @ Error::UnknownThresholdLabel { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("\"love\"") && message.contains("thresholds.json"),
                "{message}"
            );
        }
        other => panic!("expected UnknownThresholdLabel, got {other:?}"),
    }
    std::fs::write(&file, r#"{"joy": 1.5}"#).unwrap();
    assert!(matches!(
        EmotionClassifier::builder().model(copy.path()).build(),
        Err(Error::InvalidThreshold { ref label, value, path: Some(_), .. }) if label == "joy" && value == 1.5
    ));
    std::fs::write(&file, "[0.5]").unwrap();
    assert!(matches!(
        EmotionClassifier::builder().model(copy.path()).build(),
        Err(Error::InvalidThresholdsFile { .. })
    ));
    // The builder's thresholds are checked alike, and replace the file's.
    assert!(matches!(
        EmotionClassifier::builder()
            .model(copy.path())
            .thresholds(Thresholds::new().with("joy", -0.2))
            .build(),
        Err(Error::InvalidThreshold { path: None, .. })
    ));
    // Raw scores take any finite threshold.
    let raw = EmotionClassifier::builder()
        .model(copy.path())
        .score_function(ScoreFunction::Raw)
        .thresholds(Thresholds::new().with("joy", -0.2))
        .build()
        .unwrap();
    assert!((raw.thresholds()[3] + 0.2).abs() < 1e-7);
}

#[test]
fn scores_without_a_model_keep_the_json_shape_and_say_what_they_are() {
    let scores = EmotionScores::new(vec!["joy".to_owned()].into(), vec![0.25]).unwrap();
    assert_eq!(serde_json::to_string(&scores).unwrap(), r#"{"joy":0.25}"#);
    assert_eq!(scores.function(), ScoreFunction::Sigmoid);
    assert_eq!(scores.logits(), None);
    let raw = scores.with_function(ScoreFunction::Raw);
    assert_eq!(serde_json::to_string(&raw).unwrap(), r#"{"joy":0.25}"#);
    assert!(!raw.is_probability());
}
