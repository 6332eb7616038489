//! End-to-end runs on the tiny fixtures: a keyword task learned from a new head, the written
//! folder loaded back, resuming, and every refusal.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::*;
use crate::checkpoint::Weights;
use crate::model::test_model_dir;

/// A copy of a fixture without its classification head: a base encoder.
fn headless(fixture: &str, into: &Path) -> PathBuf {
    let from = test_model_dir(fixture);
    let dir = into.join(format!("{fixture}-base"));
    std::fs::create_dir_all(&dir).expect("dir");
    for entry in std::fs::read_dir(&from).expect("fixture") {
        let path = entry.expect("entry").path();
        if path.file_name() != Some("model.safetensors".as_ref()) {
            std::fs::copy(&path, dir.join(path.file_name().expect("name"))).expect("copy");
        }
    }
    let bytes = std::fs::read(from.join("model.safetensors")).expect("weights");
    let file = safetensors::SafeTensors::deserialize(&bytes).expect("safetensors");
    let kept: Vec<_> = file
        .tensors()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("classifier."))
        .collect();
    safetensors::serialize_to_file(kept, None, &dir.join("model.safetensors")).expect("write");
    dir
}

const SUPPORT_LABELS: [&str; 3] = ["frustrated", "confused", "satisfied"];

/// Texts whose labels their keywords decide, with neutral filler around them.
fn keyword_texts(count: usize) -> Vec<(String, Vec<String>)> {
    let keywords = [
        ("frustrated", &["annoyed", "furious", "fed up"][..]),
        ("confused", &["puzzled", "lost", "unclear"][..]),
        ("satisfied", &["great", "perfect", "thanks"][..]),
    ];
    let fillers = [
        "the order",
        "my account",
        "this update",
        "the invoice",
        "your app",
    ];
    (0..count)
        .map(|i| {
            let (label, words) = keywords[i % 3];
            let word = words[(i / 3) % words.len()];
            let filler = fillers[(i / 9) % fillers.len()];
            let text = if i % 2 == 0 {
                format!("{word} about {filler}")
            } else {
                format!("{filler} , {word}")
            };
            (text, vec![label.to_owned()])
        })
        .collect()
}

fn names(path: &Path) -> Vec<String> {
    let weights = Weights::from_safetensors(path).expect("weights");
    let mut names: Vec<String> = weights.names().map(str::to_owned).collect();
    names.sort();
    names
}

fn metadata(path: &Path) -> Option<HashMap<String, String>> {
    let bytes = std::fs::read(path).expect("weights");
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).expect("header");
    meta.metadata().clone()
}

fn fine_tune_error(result: crate::Result<FineTuneReport>) -> FineTuneError {
    match result {
        Err(crate::Error::FineTune(e)) => e,
        other => panic!("expected a fine-tuning error, got {other:?}"),
    }
}

#[test]
fn a_new_head_learns_a_keyword_task_and_the_folder_loads_back() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = headless("tiny-bert-vad-regression", tmp.path());
    let texts = keyword_texts(90);
    let out = tmp.path().join("support-model");
    let run = FineTune::builder()
        .base(base.as_path())
        .data(TrainingData::texts(
            SUPPORT_LABELS,
            texts.clone(),
            Vec::<(String, Vec<String>)>::new(),
        ))
        .output(&out)
        .multi_label(true)
        .learning_rate(3e-3)
        .batch_size(8)
        .epochs(30)
        .threads(1)
        .build()
        .expect("settings");
    let mut losses = Vec::new();
    let (report, trainer) = run::train(&run, &mut |event| {
        if let FineTuneEvent::Step(step) = event {
            losses.push(step.loss);
        }
    })
    .expect("training");
    assert!(report.new_head && report.multi_label);
    assert_eq!(report.steps, 30 * 90usize.div_ceil(8));
    let first = report.epochs[0].mean_loss;
    let last = report.epochs.last().expect("epochs").mean_loss;
    assert!(
        last <= first / 2.0,
        "the loss fell from {first} to {last} only"
    );

    // Training macro-F1 at 0.3, from the trainer as it ended.
    let folder = crate::model_folder::ModelFolder::open(&base).expect("base");
    let tokenizer = tokens::TrainingTokenizer::from_folder(&folder, 64).expect("tokenizer");
    let strs: Vec<&str> = texts.iter().map(|(t, _)| t.as_str()).collect();
    let ids = tokenizer.encode(&strs).expect("ids");
    let refs: Vec<&[i64]> = ids.iter().map(Vec::as_slice).collect();
    let trained = trainer.scores(&refs, 16).expect("scores");
    let truth: Vec<Vec<usize>> = texts
        .iter()
        .map(|(_, l)| {
            vec![SUPPORT_LABELS
                .iter()
                .position(|s| *s == l[0])
                .expect("label")]
        })
        .collect();
    let f1 = metrics::macro_f1(&trained, &truth, 3, true, 0.3);
    eprintln!("loss {first} -> {last}, training macro-F1 {f1}");
    assert!(f1 >= 0.9, "training macro-F1 {f1}");

    // The folder: transformers' tensor names (the fixture's), `format: pt`, a whole config,
    // the tokenizer, no checkpoint left, and the crate's scores equal the trainer's.
    let model = out.join("model.safetensors");
    assert_eq!(
        names(&model),
        names(&test_model_dir("tiny-bert-vad-regression").join("model.safetensors"))
    );
    assert_eq!(
        metadata(&model).and_then(|m| m.get("format").cloned()),
        Some("pt".to_owned())
    );
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).expect("config"))
            .expect("json");
    assert_eq!(config["architectures"][0], "BertForSequenceClassification");
    assert_eq!(config["problem_type"], "multi_label_classification");
    assert_eq!(config["id2label"]["1"], "confused");
    assert_eq!(config["label2id"]["satisfied"], 2);
    assert_eq!(config["model_type"], "bert");
    assert!(out.join("tokenizer.json").is_file() && out.join("vocab.txt").is_file());
    assert!(!run.checkpoint_dir().exists());
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .expect("out")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(
        !files
            .iter()
            .any(|f| f.contains("checkpoint") || f.ends_with(".tmp")),
        "{files:?}"
    );
    let classifier = crate::EmotionClassifier::builder()
        .model(out.as_path())
        .build()
        .expect("the crate loads the folder");
    assert_eq!(classifier.labels(), SUPPORT_LABELS);
    let loaded = classifier.classify_batch(&strs).expect("classify");
    let mut worst = 0f32;
    for (got, want) in loaded.iter().zip(&trained) {
        for (a, b) in got.scores().iter().zip(want) {
            worst = worst.max((a - b).abs());
        }
    }
    assert!(worst <= 1e-5, "the loaded model's scores differ by {worst}");
}

/// Trains `fixture` (a classifier with a head) for two epochs on keyword texts over its labels.
fn continued(fixture: &str, out: &Path) -> FineTuneBuilder {
    let config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(test_model_dir(fixture).join("config.json")).expect("config"),
    )
    .expect("json");
    let labels: Vec<String> = (0..config["id2label"].as_object().expect("labels").len())
        .map(|i| {
            config["id2label"][i.to_string()]
                .as_str()
                .expect("label")
                .to_owned()
        })
        .collect();
    let train: Vec<(String, Vec<String>)> = (0..40)
        .map(|i| {
            let label = &labels[i % labels.len()];
            (format!("so much {label} today"), vec![label.clone()])
        })
        .collect();
    let dev = train[..10].to_vec();
    FineTune::builder()
        .base(test_model_dir(fixture))
        .data(TrainingData::texts(labels, train, dev))
        .output(out)
        .learning_rate(1e-3)
        .batch_size(8)
        .epochs(2)
        .threads(1)
}

#[test]
fn every_architecture_keeps_transformers_tensor_names_and_loads_back() {
    for fixture in [
        "tiny-roberta-emotion",
        "tiny-distilbert-emotion",
        "tiny-xlm-roberta-emotion",
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path().join("out");
        let report = continued(fixture, &out)
            .build()
            .expect("settings")
            .run()
            .expect("training");
        assert!(!report.new_head && !report.multi_label, "{fixture}");
        assert_eq!(report.epochs.len(), 2);
        assert!(report.best_dev_macro_f1.is_some());
        assert_eq!(
            names(&out.join("model.safetensors")),
            names(&test_model_dir(fixture).join("model.safetensors")),
            "{fixture}"
        );
        let classifier = crate::EmotionClassifier::builder()
            .model(out.as_path())
            .build()
            .expect("the crate loads the folder");
        assert_eq!(classifier.labels(), report.labels.as_slice(), "{fixture}");
    }
}

/// An uninterrupted run into `tmp/whole`, and one into `tmp/<name>` stopped at step 7 (in the
/// second epoch, past a periodic checkpoint at 6 and between two): the uninterrupted folder.
fn whole_and_stopped_at_7(tmp: &Path, name: &str) -> PathBuf {
    let whole = tmp.join("whole");
    continued("tiny-roberta-emotion", &whole)
        .build()
        .expect("settings")
        .run()
        .expect("uninterrupted");
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = continued("tiny-roberta-emotion", &tmp.join(name))
        .checkpoint_every(2)
        .stop_flag(stop.clone())
        .build()
        .expect("settings")
        .run_with_progress(|event| {
            if let FineTuneEvent::Step(step) = event {
                if step.step == 7 {
                    stop.store(true, Ordering::SeqCst);
                }
            }
        });
    assert!(matches!(
        fine_tune_error(stopped),
        FineTuneError::Stopped { step: 7, .. }
    ));
    whole
}

#[test]
fn a_resumed_run_ends_where_an_uninterrupted_one_does() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let whole = whole_and_stopped_at_7(tmp.path(), "resumed");
    let resumed = tmp.path().join("resumed");
    assert!(!resumed.exists());
    // Starting over without saying so would lose the checkpoint: refused.
    assert!(matches!(
        fine_tune_error(
            continued("tiny-roberta-emotion", &resumed)
                .build()
                .expect("settings")
                .run()
        ),
        FineTuneError::CheckpointExists { .. }
    ));
    // So is resuming with other settings.
    assert!(matches!(
        fine_tune_error(
            continued("tiny-roberta-emotion", &resumed)
                .learning_rate(2e-3)
                .resume(true)
                .build()
                .expect("settings")
                .run()
        ),
        FineTuneError::CheckpointMismatch { .. }
    ));
    let report = continued("tiny-roberta-emotion", &resumed)
        .resume(true)
        .build()
        .expect("settings")
        .run()
        .expect("resumed");
    assert_eq!(report.resumed_from_step, Some(7));
    assert_eq!(report.epochs.len(), 2);
    // The history survives the stop: every step once, in order.
    let steps: Vec<usize> = report.history.iter().map(|s| s.step).collect();
    assert_eq!(steps, (1..=report.steps).collect::<Vec<_>>());

    let worst = largest_difference(&whole, &resumed);
    assert!(worst <= 1e-5, "the resumed model differs by {worst}");
}

/// The largest difference between the tensors of two model folders' weights.
fn largest_difference(a: &Path, b: &Path) -> f64 {
    let x = Weights::from_safetensors(&a.join("model.safetensors")).expect("a");
    let y = Weights::from_safetensors(&b.join("model.safetensors")).expect("b");
    let mut worst = 0f64;
    for name in names(&a.join("model.safetensors")) {
        let shape = x.shape(&name).expect("shape").to_vec();
        let p = x.tensor_f32(&name, &shape).expect("a");
        let q = y.tensor_f32(&name, &shape).expect("b");
        worst = worst.max((p - q).abs().max().double_value(&[]));
    }
    worst
}

#[test]
fn a_torn_checkpoint_falls_back_to_the_previous_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let whole = whole_and_stopped_at_7(tmp.path(), "torn");
    let torn = tmp.path().join("torn");
    // Tear the newest checkpoint's tensors, as a power cut mid-write on a disk that reorders
    // writes could: its checksum no longer matches, so the one before (step 6) is used.
    let partial = tmp.path().join("torn.partial");
    let tensors = partial.join("checkpoint-7.safetensors");
    let length = std::fs::metadata(&tensors).expect("step 7's tensors").len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&tensors)
        .expect("open");
    file.set_len(length / 2).expect("truncate");
    assert!(partial.join("checkpoint-6.safetensors").is_file());
    let report = continued("tiny-roberta-emotion", &torn)
        .resume(true)
        .build()
        .expect("settings")
        .run()
        .expect("resumed from the previous checkpoint");
    assert_eq!(report.resumed_from_step, Some(6));
    let worst = largest_difference(&whole, &torn);
    assert!(worst <= 1e-5, "the resumed model differs by {worst}");
    assert!(!partial.exists());
}

#[test]
fn refusals_name_what_is_wrong_before_any_training() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).expect("dir");
    let run = |builder: FineTuneBuilder| fine_tune_error(builder.build().expect("settings").run());
    assert!(matches!(
        run(continued("tiny-roberta-emotion", &out)),
        FineTuneError::OutputExists { ref path } if *path == out
    ));
    let fresh = tmp.path().join("fresh");
    assert!(matches!(
        run(continued("tiny-roberta-emotion", &fresh).resume(true)),
        FineTuneError::NoCheckpoint { .. }
    ));
    assert!(matches!(
        run(continued("tiny-roberta-emotion", &fresh).base(test_model_dir("tiny-albert-emotion"))),
        FineTuneError::UnsupportedArchitecture {
            model_type: "albert"
        }
    ));
    let other_labels = continued("tiny-roberta-emotion", &fresh).data(TrainingData::texts(
        ["calm", "upset"],
        [("fine", vec!["calm"])],
        Vec::<(&str, Vec<&str>)>::new(),
    ));
    assert!(matches!(
        run(other_labels),
        FineTuneError::LabelsDiffer { .. }
    ));
    // A learning rate that blows the weights up: the loss turns non-finite, the step is named.
    let error = run(continued("tiny-roberta-emotion", &fresh).learning_rate(1e36));
    assert!(
        matches!(error, FineTuneError::NonFiniteLoss { step, .. } if step >= 1),
        "{error:?}"
    );
    assert!(!fresh.exists());
}

#[test]
fn a_base_with_absurd_sizes_is_refused_before_anything_is_built() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("base");
    std::fs::create_dir_all(&base).expect("dir");
    let from = test_model_dir("tiny-roberta-emotion");
    for entry in std::fs::read_dir(&from).expect("fixture") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, base.join(path.file_name().expect("name"))).expect("copy");
    }
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(base.join("config.json")).expect("config"))
            .expect("json");
    config["intermediate_size"] = serde_json::json!(4_000_000);
    std::fs::write(base.join("config.json"), config.to_string()).expect("write");
    let begun = std::time::Instant::now();
    let outcome = continued("tiny-roberta-emotion", &tmp.path().join("out"))
        .base(base.clone())
        .build()
        .expect("settings")
        .run();
    assert!(begun.elapsed().as_secs_f64() < 1.0);
    match outcome {
        Err(crate::Error::InvalidConfig { path, source }) => {
            assert_eq!(path, base.join("config.json"));
            assert!(source.to_string().contains("feed-forward"), "{source}");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

/// A copy of fixture `name` in `into`, without the files `leave_out`.
fn copy_without(name: &str, into: &Path, leave_out: &[&str]) -> PathBuf {
    let dir = into.join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    for entry in std::fs::read_dir(test_model_dir(name)).expect("fixture") {
        let path = entry.expect("entry").path();
        let file = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if !leave_out.contains(&file.as_str()) {
            std::fs::copy(&path, dir.join(&file)).expect("copy");
        }
    }
    dir
}

#[test]
fn a_pytorch_checkpoint_base_trains_as_its_safetensors_twin_does() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The .bin fixture, and a twin with the same tensors written as safetensors by this crate's
    // own reader of the .bin.
    let bin = copy_without("tiny-roberta-emotion-bin", tmp.path(), &[]);
    let twin = tmp.path().join("twin");
    std::fs::create_dir_all(&twin).expect("dir");
    for entry in std::fs::read_dir(&bin).expect("bin") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "bin") {
            std::fs::copy(&path, twin.join(path.file_name().expect("name"))).expect("copy");
        }
    }
    let weights = crate::checkpoint::read_torch_zip(&bin.join("pytorch_model.bin")).expect("bin");
    let names: Vec<String> = weights.names().map(str::to_owned).collect();
    let tensors: Vec<(String, tch::Tensor)> = names
        .iter()
        .map(|name| {
            let shape = weights.shape(name).expect("shape").to_vec();
            (
                name.clone(),
                weights.tensor_f32(name, &shape).expect("tensor"),
            )
        })
        .collect();
    super::export::write_safetensors(&twin.join("model.safetensors"), &tensors).expect("twin");

    let from_bin = tmp.path().join("from-bin");
    let from_twin = tmp.path().join("from-twin");
    for (base, out) in [(&bin, &from_bin), (&twin, &from_twin)] {
        continued("tiny-roberta-emotion-bin", out)
            .base(base.clone())
            .build()
            .expect("settings")
            .run()
            .unwrap_or_else(|e| panic!("{}: {e}", base.display()));
    }
    let worst = largest_difference(&from_bin, &from_twin);
    assert!(
        worst <= 1e-6,
        "the .bin base trained {worst} away from its twin"
    );
}

#[test]
fn a_base_with_only_the_slow_tokenizer_files_trains_as_with_tokenizer_json() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fast = copy_without("tiny-roberta-emotion-bin", &tmp.path().join("fast"), &[]);
    let slow = copy_without(
        "tiny-roberta-emotion-bin",
        &tmp.path().join("slow"),
        &["tokenizer.json"],
    );
    assert!(slow.join("vocab.json").is_file() && !slow.join("tokenizer.json").exists());
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for (base, out) in [(&fast, &a), (&slow, &b)] {
        continued("tiny-roberta-emotion-bin", out)
            .base(base.clone())
            .build()
            .expect("settings")
            .run()
            .unwrap_or_else(|e| panic!("{}: {e}", base.display()));
    }
    assert!(largest_difference(&a, &b) <= 1e-6);
    // The slow base's tokenizer files travel with the model, which then loads.
    assert!(b.join("vocab.json").is_file() && b.join("merges.txt").is_file());
    crate::EmotionClassifier::builder()
        .model(b.clone())
        .build()
        .expect("the folder loads");
}

#[cfg(feature = "plots")]
#[test]
fn the_report_draws_loss_learning_rate_and_dev_f1_with_the_best_epoch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let report = continued("tiny-roberta-emotion", &tmp.path().join("out"))
        .build()
        .expect("settings")
        .run()
        .expect("trained");
    assert_eq!(report.history.len(), report.steps);
    let written = report
        .write_plots(&tmp.path().join("plots"), "tiny on keywords")
        .expect("plots");
    assert_eq!(written.len(), 3);
    let parse = |path: &Path| {
        crate::evaluation::svg_texts_and_lines(&std::fs::read_to_string(path).expect("svg"))
    };
    let (texts, lines) = parse(&written[0]);
    assert!(
        texts.contains(&"training loss: tiny on keywords".to_owned()),
        "{texts:?}"
    );
    assert!(lines.contains(&report.steps), "one point a step: {lines:?}");
    let (texts, _) = parse(&written[1]);
    assert!(texts.contains(&"learning rate".to_owned()));
    let (texts, lines) = parse(&written[2]);
    assert!(texts.contains(&"best".to_owned()) && texts.contains(&"dev macro-F1".to_owned()));
    assert!(lines.contains(&report.epochs.len()));
}
