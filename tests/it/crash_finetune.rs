//! `emotion-finetune` killed with SIGKILL at every step of its work, then resumed: the model
//! folder it ends with equals an uninterrupted run's, and it is never half-written at a kill.
//!
//! The kills are real: the CLI runs as a child process and, with the `failpoints` feature,
//! SIGKILLs itself where `EMOTION_CLASSIFIER_FAILPOINT` says (mid-epoch, right after a periodic
//! checkpoint, between a checkpoint's tensors and its state, at an epoch's end, and at each step
//! of the finish), so no destructor or flush runs, as in a power cut.
#![cfg(all(feature = "cli", feature = "failpoints", unix))]

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::model_dir;

const FIXTURE: &str = "tiny-roberta-emotion";

/// The fixture's labels, in id order.
fn labels() -> Vec<String> {
    let config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(model_dir(FIXTURE).join("config.json")).expect("config"),
    )
    .expect("json");
    let id2label = config["id2label"].as_object().expect("id2label");
    (0..id2label.len())
        .map(|i| id2label[&i.to_string()].as_str().expect("label").to_owned())
        .collect()
}

/// Training and dev CSV files in `dir`: 40 and 10 texts, 5 steps an epoch at 8 a batch.
fn data(dir: &Path) -> (PathBuf, PathBuf) {
    let labels = labels();
    let rows = |count: usize, offset: usize| {
        let mut csv = String::from("text,labels\n");
        for i in 0..count {
            let label = &labels[(i + offset) % labels.len()];
            csv.push_str(&format!("so much {label} today number {i},{label}\n"));
        }
        csv
    };
    let (train, dev) = (dir.join("train.csv"), dir.join("dev.csv"));
    std::fs::write(&train, rows(40, 0)).expect("train");
    std::fs::write(&dev, rows(10, 1)).expect("dev");
    (train, dev)
}

fn finetune(data: &(PathBuf, PathBuf), out: &Path, extra: &[&str], point: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_emotion-finetune"));
    command
        .arg("--base")
        .arg(model_dir(FIXTURE))
        .arg("--data")
        .arg(&data.0)
        .arg("--dev")
        .arg(&data.1)
        .arg("--out")
        .arg(out)
        .args([
            "--epochs",
            "2",
            "--batch",
            "8",
            "--lr",
            "1e-3",
            "--threads",
            "1",
        ])
        .args(["--checkpoint-every", "2", "--quiet"])
        .args(extra)
        .env_remove("EMOTION_CLASSIFIER_FAILPOINT");
    if let Some(point) = point {
        command.env("EMOTION_CLASSIFIER_FAILPOINT", point);
    }
    command.output().expect("run emotion-finetune")
}

/// The f32 tensors of a folder's `model.safetensors`, by name.
fn tensors(dir: &Path) -> HashMap<String, Vec<f32>> {
    let bytes = std::fs::read(dir.join("model.safetensors")).expect("model.safetensors");
    let file = safetensors::SafeTensors::deserialize(&bytes).expect("whole safetensors");
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, values)
        })
        .collect()
}

/// The largest difference between two folders' tensors (infinite when the names differ).
fn difference(a: &Path, b: &Path) -> f32 {
    let (a, b) = (tensors(a), tensors(b));
    let mut names: Vec<&String> = a.keys().collect();
    names.sort();
    let mut other: Vec<&String> = b.keys().collect();
    other.sort();
    if names != other {
        return f32::INFINITY;
    }
    names
        .iter()
        .flat_map(|name| a[*name].iter().zip(&b[*name]).map(|(x, y)| (x - y).abs()))
        .fold(0.0, f32::max)
}

/// The files of a folder, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn report(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("no report ({e}) in {stdout}"))
}

#[test]
fn killed_at_any_step_and_resumed_it_writes_what_an_uninterrupted_run_writes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = data(tmp.path());
    let whole = tmp.path().join("whole");
    let uninterrupted = finetune(&data, &whole, &[], None);
    assert!(
        uninterrupted.status.success(),
        "{}",
        String::from_utf8_lossy(&uninterrupted.stderr)
    );
    let expected = report(&uninterrupted);
    let expected_files = files(&whole);
    assert!(expected_files.contains(&"model.safetensors".to_owned()));
    assert!(expected_files.contains(&"config.json".to_owned()));

    for point in [
        "step-3",                     // mid-epoch, one step past a checkpoint
        "checkpoint-4",               // right after a periodic checkpoint
        "checkpoint-tensors-written", // a checkpoint's tensors written, its state not yet
        "epoch-1",                    // right after the first epoch's end
        "step-7",                     // in the second epoch, with a best epoch kept
        "finish-staged",              // the folder staged, not yet recorded
        "finish-recorded",            // recorded, not yet moved into place
        "finish-published",           // in place, the checkpoint not yet removed
        "finish-cleaning",            // the checkpoint half removed
    ] {
        let out = tmp.path().join(point);
        let killed = finetune(&data, &out, &[], Some(point));
        assert_eq!(
            killed.status.signal(),
            Some(9),
            "{point}: not killed: {}",
            String::from_utf8_lossy(&killed.stderr)
        );
        // Never half-written: absent, or whole and final.
        if out.exists() {
            assert_eq!(files(&out), expected_files, "{point}");
            assert!(difference(&whole, &out) <= 1e-5, "{point}");
        }
        let resumed = finetune(&data, &out, &["--resume"], None);
        assert!(
            resumed.status.success(),
            "{point}: resume failed: {}",
            String::from_utf8_lossy(&resumed.stderr)
        );
        let got = report(&resumed);
        assert_eq!(got["best_epoch"], expected["best_epoch"], "{point}");
        assert_eq!(got["epochs"].as_array().map(Vec::len), Some(2), "{point}");
        assert_eq!(files(&out), expected_files, "{point}");
        let worst = difference(&whole, &out);
        assert!(
            worst <= 1e-5,
            "{point}: the resumed model differs by {worst}"
        );
        assert!(
            !tmp.path().join(format!("{point}.partial")).exists(),
            "{point}"
        );
    }
}

#[test]
fn an_overwritten_folder_is_the_old_one_or_the_new_one_at_any_kill() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = data(tmp.path());
    let whole = tmp.path().join("whole");
    assert!(finetune(&data, &whole, &[], None).status.success());

    for point in ["finish-recorded", "finish-exchanged", "finish-published"] {
        let out = tmp.path().join(point);
        std::fs::create_dir_all(&out).expect("old output");
        std::fs::write(out.join("old.txt"), "the previous model").expect("old file");
        // Without --overwrite the old folder is refused before any work, and left alone.
        let refused = finetune(&data, &out, &[], None);
        assert_eq!(refused.status.code(), Some(2), "{point}");
        assert_eq!(files(&out), ["old.txt"], "{point}");

        let killed = finetune(&data, &out, &["--overwrite"], Some(point));
        assert_eq!(killed.status.signal(), Some(9), "{point}");
        let now = files(&out);
        assert!(
            now == ["old.txt"] || now == files(&whole),
            "{point}: half-written: {now:?}"
        );
        let resumed = finetune(&data, &out, &["--resume", "--overwrite"], None);
        assert!(
            resumed.status.success(),
            "{point}: {}",
            String::from_utf8_lossy(&resumed.stderr)
        );
        assert_eq!(files(&out), files(&whole), "{point}");
        assert!(difference(&whole, &out) <= 1e-5, "{point}");
    }
}
