//! Every loading error, triggered by a real broken copy of a model directory.

use crate::support;

use std::path::Path;

use emotion_classifier::{EmotionClassifier, Error};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use support::temp_copy;

const ROBERTA: &str = "tiny-roberta-emotion";
const DISTILBERT: &str = "tiny-distilbert-emotion";

fn build(dir: &Path) -> Result<EmotionClassifier, Error> {
    EmotionClassifier::builder().model(dir).build()
}

/// Rewrites `config.json` through `edit`.
fn edit_config(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
}

/// One tensor as owned parts, for rewriting a safetensors file.
struct Owned {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

/// Rewrites `model.safetensors`: `edit` may change, add or remove tensors.
fn edit_weights(dir: &Path, edit: impl FnOnce(&mut Vec<(String, Owned)>)) {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<(String, Owned)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let owned = Owned {
                dtype: view.dtype(),
                shape: view.shape().to_vec(),
                data: view.data().to_vec(),
            };
            (name, owned)
        })
        .collect();
    edit(&mut tensors);
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(name, t)| {
            let view = TensorView::new(t.dtype, t.shape.clone(), &t.data).unwrap();
            (name.clone(), view)
        })
        .collect();
    let out = safetensors::serialize(views, None).unwrap();
    std::fs::write(path, out).unwrap();
}

#[test]
fn missing_directory() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("nowhere");
    match build(&dir) {
        Err(Error::MissingModelDir { path }) => assert_eq!(path, dir),
        other => panic!("expected MissingModelDir, got {other:?}"),
    }
}

#[test]
fn missing_files_are_named() {
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        let temp = temp_copy(ROBERTA);
        std::fs::remove_file(temp.path().join(file)).unwrap();
        if file == "tokenizer.json" {
            // Without the slow tokenizer's files too, so there is no tokenizer at all.
            std::fs::remove_file(temp.path().join("vocab.json")).unwrap();
        }
        match build(temp.path()) {
            Err(Error::MissingFile { path }) => assert_eq!(path, temp.path().join(file)),
            other => panic!("{file}: expected MissingFile, got {other:?}"),
        }
    }
}

/// The variable that hands the directory to the unprivileged child run of the test below.
const UNREADABLE_DIR_ENV: &str = "EMOTION_TEST_UNREADABLE_DIR";

#[test]
fn unreadable_directory_is_io_naming_the_file() {
    use std::os::unix::fs::PermissionsExt;
    let is_root = unsafe { libc::geteuid() } == 0;
    if let Some(dir) = std::env::var_os(UNREADABLE_DIR_ENV) {
        // The child run, as an unprivileged user: the directory exists but cannot be read.
        assert!(!is_root, "the child run must not be root");
        let dir = std::path::PathBuf::from(dir);
        match build(&dir) {
            Err(Error::Io { path, source }) => {
                assert_eq!(path, dir.join("config.json"));
                assert_eq!(source.kind(), std::io::ErrorKind::PermissionDenied);
            }
            other => panic!("expected Io, got {other:?}"),
        }
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = temp.path().join("model");
    std::fs::create_dir(&dir).unwrap();
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(support::model_dir(ROBERTA).join(file), dir.join(file)).unwrap();
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o000)).unwrap();
    // The test's name as the harness lists it: its module path inside the test binary.
    let this_test = match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::unreadable_directory_is_io_naming_the_file"),
        None => "unreadable_directory_is_io_naming_the_file".to_owned(),
    };
    // Root reads any directory, so as root run this test again as user `nobody`. That needs
    // `nobody` to be able to run this binary from where the checkout is (libtorch lives in the
    // checkout's virtualenv): a checkout in root's home or a `mktemp -d` folder is out of its
    // reach. Then the case cannot run here, which says nothing of the behaviour checked: skip.
    if is_root {
        let probe = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(std::env::current_exe().unwrap())
            .args(["--list", "--format", "terse"])
            .output();
        let reason = match &probe {
            Ok(output) if output.status.success() => None,
            Ok(output) => Some(String::from_utf8_lossy(&output.stderr).trim().to_owned()),
            Err(e) => Some(format!("setpriv: {e}")),
        };
        if let Some(reason) = reason {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            eprintln!(
                "skipped: user nobody cannot run this test binary from this checkout's \
                 location, so the unreadable-folder case cannot be tried here ({reason})"
            );
            return;
        }
    }
    let mut command = if is_root {
        let mut command = std::process::Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        command.arg(std::env::current_exe().unwrap());
        command
    } else {
        std::process::Command::new(std::env::current_exe().unwrap())
    };
    let output = command
        .args(["--exact", &this_test, "--nocapture"])
        .env(UNREADABLE_DIR_ENV, &dir)
        .output()
        .expect("run the test binary again (as root this needs setpriv, from util-linux)");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child run failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn unreadable_config_is_io() {
    let temp = temp_copy(ROBERTA);
    let path = temp.path().join("config.json");
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    match build(temp.path()) {
        Err(Error::Io { path: p, source }) => {
            assert_eq!(p, path);
            assert!(std::error::Error::source(&Error::Io { path: p, source }).is_some());
        }
        other => panic!("expected Io, got {other:?}"),
    }
}

#[test]
fn invalid_json_config() {
    let temp = temp_copy(ROBERTA);
    std::fs::write(temp.path().join("config.json"), b"{ not json").unwrap();
    match build(temp.path()) {
        Err(Error::InvalidConfig { path, .. }) => assert!(path.ends_with("config.json")),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn config_without_a_required_field() {
    let temp = temp_copy(DISTILBERT);
    edit_config(temp.path(), |c| {
        c.as_object_mut().unwrap().remove("n_layers");
    });
    match build(temp.path()) {
        Err(Error::InvalidConfig { source, .. }) => {
            assert!(source.to_string().contains("n_layers"), "{source}")
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn unsupported_model_type() {
    let temp = temp_copy(ROBERTA);
    edit_config(temp.path(), |c| c["model_type"] = "gpt2".into());
    match build(temp.path()) {
        Err(Error::UnsupportedModelType { model_type, .. }) => assert_eq!(model_type, "gpt2"),
        other => panic!("expected UnsupportedModelType, got {other:?}"),
    }
}

#[test]
fn config_without_labels() {
    let temp = temp_copy(ROBERTA);
    edit_config(temp.path(), |c| {
        c.as_object_mut().unwrap().remove("id2label");
    });
    assert!(matches!(
        build(temp.path()),
        Err(Error::MissingLabels { .. })
    ));
}

#[test]
fn labels_not_matching_the_classifier() {
    let temp = temp_copy(ROBERTA);
    edit_config(temp.path(), |c| {
        c["id2label"].as_object_mut().unwrap().remove("6");
    });
    match build(temp.path()) {
        Err(Error::LabelCountMismatch {
            tensor,
            labels,
            outputs,
            ..
        }) => {
            assert_eq!(tensor, "classifier.out_proj.weight");
            assert_eq!((labels, outputs), (6, 7));
        }
        other => panic!("expected LabelCountMismatch, got {other:?}"),
    }
}

#[test]
fn missing_tensor_is_named() {
    let temp = temp_copy(DISTILBERT);
    let name = "distilbert.transformer.layer.1.ffn.lin1.weight";
    edit_weights(temp.path(), |t| t.retain(|(n, _)| n != name));
    match build(temp.path()) {
        Err(Error::MissingTensor { name: n, path }) => {
            assert_eq!(n, name);
            assert!(path.ends_with("model.safetensors"));
        }
        other => panic!("expected MissingTensor, got {other:?}"),
    }
}

#[test]
fn tensor_of_the_wrong_shape_is_named() {
    let temp = temp_copy(ROBERTA);
    let name = "roberta.encoder.layer.0.intermediate.dense.weight";
    edit_weights(temp.path(), |t| {
        let (_, tensor) = t.iter_mut().find(|(n, _)| n == name).unwrap();
        tensor.shape = vec![32, 64]; // stored as [64, 32]
    });
    match build(temp.path()) {
        Err(Error::TensorShape {
            name: n,
            expected,
            found,
            ..
        }) => {
            assert_eq!(n, name);
            assert_eq!((expected, found), (vec![64, 32], vec![32, 64]));
        }
        other => panic!("expected TensorShape, got {other:?}"),
    }
}

#[test]
fn tensor_of_a_non_float_dtype_is_named() {
    let temp = temp_copy(ROBERTA);
    let name = "classifier.dense.bias";
    edit_weights(temp.path(), |t| {
        let (_, tensor) = t.iter_mut().find(|(n, _)| n == name).unwrap();
        tensor.dtype = Dtype::I32; // same byte count as F32
    });
    match build(temp.path()) {
        Err(Error::TensorDtype { name: n, dtype, .. }) => {
            assert_eq!(n, name);
            assert_eq!(dtype, "I32");
        }
        other => panic!("expected TensorDtype, got {other:?}"),
    }
}

#[test]
fn truncated_weights() {
    let temp = temp_copy(ROBERTA);
    let path = temp.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    match build(temp.path()) {
        Err(Error::InvalidWeights { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected InvalidWeights, got {other:?}"),
    }
}

#[test]
fn broken_tokenizer() {
    let temp = temp_copy(ROBERTA);
    std::fs::write(temp.path().join("tokenizer.json"), b"{\"model\": 3}").unwrap();
    match build(temp.path()) {
        Err(Error::TokenizerLoad { path, .. }) => assert!(path.ends_with("tokenizer.json")),
        other => panic!("expected TokenizerLoad, got {other:?}"),
    }
}

#[test]
fn vocabulary_larger_than_the_embeddings() {
    let temp = temp_copy(ROBERTA);
    let name = "roberta.embeddings.word_embeddings.weight";
    edit_weights(temp.path(), |t| {
        let (_, tensor) = t.iter_mut().find(|(n, _)| n == name).unwrap();
        tensor.shape = vec![1000, 32];
        tensor.data.truncate(1000 * 32 * 4);
    });
    edit_config(temp.path(), |c| c["vocab_size"] = 1000.into());
    match build(temp.path()) {
        Err(Error::VocabularyMismatch {
            tokenizer_vocab,
            embedding_rows,
            ..
        }) => {
            assert_eq!(embedding_rows, 1000);
            assert!(tokenizer_vocab > 1000);
        }
        other => panic!("expected VocabularyMismatch, got {other:?}"),
    }
}

#[test]
fn errors_keep_their_sources_and_name_the_file() {
    let temp = temp_copy(ROBERTA);
    std::fs::write(temp.path().join("config.json"), b"[]").unwrap();
    let err = build(temp.path()).unwrap_err();
    assert!(err.to_string().contains("config.json"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn invalid_options_are_rejected_before_loading() {
    let dir = Path::new("/nonexistent");
    let zero_batch = EmotionClassifier::builder()
        .model(dir)
        .max_batch_size(0)
        .build();
    assert!(matches!(
        zero_batch,
        Err(Error::InvalidOption {
            option: "max_batch_size",
            ..
        })
    ));
    let zero_threads = EmotionClassifier::builder().model(dir).threads(0).build();
    assert!(matches!(
        zero_threads,
        Err(Error::InvalidOption {
            option: "threads",
            ..
        })
    ));
}

#[test]
fn rust_bert_architectures_refuse_bf16_and_name_a_missing_tensor() {
    // bf16 is the fused encoder's; the rust-bert path runs f32 and says so.
    match EmotionClassifier::builder()
        .model(support::model_dir("tiny-albert-emotion"))
        .precision(emotion_classifier::Precision::Bf16)
        .build()
    {
        Err(Error::InvalidOption { option, .. }) => assert_eq!(option, "precision"),
        other => panic!("expected InvalidOption for precision, got {other:?}"),
    }
    // A variable rust-bert's module needs that the checkpoint lacks is named.
    let dir = temp_copy("tiny-longformer-emotion");
    let gone = "longformer.encoder.layer.1.attention.self.key_global.weight";
    edit_weights(dir.path(), |tensors| {
        tensors.retain(|(name, _)| name != gone)
    });
    match build(dir.path()) {
        Err(Error::MissingTensor { name, .. }) => assert_eq!(name, gone),
        other => panic!("expected MissingTensor, got {other:?}"),
    }
}
