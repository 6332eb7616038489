//! The whole bring-your-own-labels journey, as a team would run it, on a small CSV whose
//! columns are not `text` and `labels`: fine-tune a tiny fixture (`emotion-finetune`),
//! measure it and write its thresholds (`emotion-evaluate --tune-on --write-thresholds`), then
//! classify with decisions under those thresholds and explain, as JSON. Values are checked,
//! not only that the commands ran.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::Command;

use emotion_classifier::{EmotionClassifier, Thresholds};

use crate::support::model_dir;

const LABELS: [&str; 3] = ["billing", "login", "refund"];

/// `tiny-roberta-emotion` without its head: a base encoder a new head is made for.
fn headless_base(dir: &Path) -> PathBuf {
    let from = model_dir("tiny-roberta-emotion");
    let base = dir.join("base");
    std::fs::create_dir_all(&base).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name() != Some("model.safetensors".as_ref()) {
            std::fs::copy(&path, base.join(path.file_name().unwrap())).unwrap();
        }
    }
    let bytes = std::fs::read(from.join("model.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<_> = file
        .tensors()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("classifier."))
        .collect();
    safetensors::serialize_to_file(kept, None, &base.join("model.safetensors")).unwrap();
    base
}

/// `count` tickets in `body,tags` CSV, tags `;`-separated, some with two.
fn tickets(path: &Path, count: usize, offset: usize) {
    let words = [
        ("billing", "invoice charged twice"),
        ("login", "password reset link"),
        ("refund", "money back please"),
    ];
    let mut csv = String::from("id,body,tags\n");
    for i in 0..count {
        let (tag, words_of) = words[(i + offset) % 3];
        let tags = if i % 5 == 4 {
            format!("{tag};refund")
        } else {
            tag.to_owned()
        };
        csv.push_str(&format!("{i},\"ticket {i}: {words_of}\",{tags}\n"));
    }
    std::fs::write(path, csv).unwrap();
}

fn run(binary: &str, args: &[&str]) -> String {
    let output = Command::new(binary).args(args).output().expect(binary);
    assert!(
        output.status.success(),
        "{binary} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

#[test]
fn train_evaluate_set_thresholds_decide_and_explain_on_a_tickets_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let base = headless_base(tmp.path());
    let (train, dev, test) = (
        tmp.path().join("tickets.csv"),
        tmp.path().join("tickets-dev.csv"),
        tmp.path().join("tickets-test.csv"),
    );
    tickets(&train, 48, 0);
    tickets(&dev, 15, 1);
    tickets(&test, 15, 2);
    let model = tmp.path().join("support-model");
    let columns = [
        "--text-column",
        "body",
        "--label-column",
        "tags",
        "--label-separator",
        ";",
    ];
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    let (base, train, dev, test, model_s) = (
        path(&base),
        path(&train),
        path(&dev),
        path(&test),
        path(&model),
    );

    // 1. Fine-tune.
    let mut args = vec![
        "--base",
        &base,
        "--data",
        &train,
        "--dev",
        &dev,
        "--out",
        &model_s,
        "--epochs",
        "2",
        "--batch",
        "8",
        "--lr",
        "3e-3",
        "--threads",
        "1",
        "--quiet",
    ];
    args.extend(columns);
    let report: serde_json::Value =
        serde_json::from_str(run(env!("CARGO_BIN_EXE_emotion-finetune"), &args).trim())
            .expect("the report");
    assert_eq!(report["labels"], serde_json::json!(LABELS));
    assert_eq!(report["multi_label"], true, "some tickets have two tags");
    assert_eq!(report["steps"], 12);

    // 2. Evaluate, tune and write the thresholds beside the model.
    let thresholds = model.join("thresholds.json");
    let thresholds_s = path(&thresholds);
    let mut args = vec![
        test.as_str(),
        "--model",
        &model_s,
        "--tune-on",
        &dev,
        "--write-thresholds",
        &thresholds_s,
        "--json",
    ];
    args.extend(columns);
    let evaluation: serde_json::Value =
        serde_json::from_str(run(env!("CARGO_BIN_EXE_emotion-evaluate"), &args).trim())
            .expect("one JSON object");
    assert_eq!(evaluation["texts"], 15);
    let per_label = evaluation["at_threshold"]["labels"]
        .as_array()
        .expect("labels");
    let names: Vec<&str> = per_label
        .iter()
        .map(|l| l["label"].as_str().unwrap())
        .collect();
    assert_eq!(names, LABELS);
    // Supports counted from the file: 5 tickets each, and tickets 4 and 14 also tagged refund
    // (ticket 9's second refund tag is the same label).
    let supports: Vec<u64> = per_label
        .iter()
        .map(|l| l["support"].as_u64().unwrap())
        .collect();
    assert_eq!(supports, [5, 5, 7]);
    let macro_f1 = evaluation["tuned"]["macro_f1"].as_f64().expect("tuned");
    assert!((0.0..=1.0).contains(&macro_f1));

    // 3. Classify: decisions follow the written thresholds, read from beside the model.
    let written = Thresholds::from_file(&thresholds).expect("thresholds.json");
    let classifier = EmotionClassifier::builder()
        .model(model.clone())
        .build()
        .expect("the trained model loads");
    let expected: Vec<f32> = LABELS.iter().map(|l| written.get(l).unwrap()).collect();
    assert_eq!(classifier.thresholds(), expected.as_slice());
    for text in [
        "ticket 3: invoice charged twice",
        "password reset link",
        "money back",
    ] {
        let scores = classifier.classify(text).unwrap();
        let decided: Vec<&str> = scores.decided().iter().map(|l| l.label).collect();
        let by_hand: Vec<&str> = LABELS
            .iter()
            .zip(scores.scores())
            .zip(&expected)
            .filter(|((_, s), t)| *s >= *t)
            .map(|((l, _), _)| *l)
            .collect();
        let mut decided_sorted = decided.clone();
        decided_sorted.sort();
        let mut by_hand_sorted = by_hand.clone();
        by_hand_sorted.sort();
        assert_eq!(decided_sorted, by_hand_sorted, "{text}");
    }

    // 4. Explain, as JSON a program reads: every word with its span and its effect on every label.
    let explanation = classifier.explain("password reset link please").unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&explanation).unwrap()).unwrap();
    let words = json["words"].as_array().expect("words");
    assert_eq!(words.len(), 4);
    assert_eq!(words[1]["word"], "reset");
    assert_eq!(words[1]["bytes"], serde_json::json!([9, 14]));
    for label in LABELS {
        assert!(words[1]["attributions"][label].is_number(), "{label}");
    }
}
