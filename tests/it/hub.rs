//! Models from a hub: a stand-in hub on 127.0.0.1 (tests/support/hub_server.rs) serves the test
//! models in the Hugging Face URL layout; each test has its own temporary cache.

use crate::support;

use std::path::{Path, PathBuf};

use emotion_classifier::{EmotionClassifier, Error, HubError, HubModel};
use support::hub_server::{Fault, HubServer, COMMIT, LISTING};

const ROBERTA: &str = "test-org/tiny-roberta";
const ROBERTA_BIN: &str = "test-org/tiny-roberta-bin";

fn server() -> HubServer {
    HubServer::start(&[
        (ROBERTA, support::model_dir("tiny-roberta-emotion")),
        (ROBERTA_BIN, support::model_dir("tiny-roberta-emotion-bin")),
    ])
}

fn hub_model(id: &str, server: &HubServer, cache: &Path) -> HubModel {
    HubModel::new(id)
        .endpoint(server.endpoint())
        .cache_dir(cache)
        .offline(false)
}

fn build(model: HubModel) -> Result<EmotionClassifier, Error> {
    EmotionClassifier::builder().model(model).build()
}

fn snapshot(cache: &Path, id: &str) -> PathBuf {
    cache
        .join(format!("models--{}", id.replace('/', "--")))
        .join("snapshots")
        .join(COMMIT)
}

/// Every reference text of tiny-roberta-emotion scores as transformers said, within 1e-4.
fn assert_matches_reference(classifier: &EmotionClassifier) {
    let references = support::references("tiny-roberta-emotion");
    let texts: Vec<&str> = references.iter().map(|r| r.text.as_str()).collect();
    let scores = classifier.classify_batch(&texts).unwrap();
    for (reference, scores) in references.iter().zip(&scores) {
        for (label, expected) in &reference.scores {
            let actual = scores.get(label).unwrap();
            assert!(
                (actual - expected).abs() < 1e-4,
                "{label} of {:?}: {actual} vs {expected}",
                reference.text
            );
        }
    }
}

#[test]
fn downloads_only_what_the_model_needs_then_classifies() {
    let server = server();
    let cache = tempfile::tempdir().unwrap();
    let classifier = build(hub_model(ROBERTA, &server, cache.path())).unwrap();
    assert_matches_reference(&classifier);
    // Fast tokenizer and safetensors preferred; vocab.json, merges.txt and the rest not fetched.
    let mut downloaded = server.downloaded_files();
    downloaded.sort();
    assert_eq!(
        downloaded,
        ["config.json", "model.safetensors", "tokenizer.json"]
    );
    // Python's cache layout: a ref, snapshot links into blobs named by ETag.
    let repo = cache.path().join("models--test-org--tiny-roberta");
    assert_eq!(
        std::fs::read_to_string(repo.join("refs/main")).unwrap(),
        COMMIT
    );
    let config = snapshot(cache.path(), ROBERTA).join("config.json");
    let blob = std::fs::canonicalize(&config).unwrap();
    let content = std::fs::read(support::model_dir("tiny-roberta-emotion").join("config.json"));
    assert_eq!(
        blob.file_name().unwrap().to_str().unwrap(),
        support::hub_server::git_blob_hash(&content.unwrap())
    );
}

#[test]
fn second_build_uses_the_cache_with_the_server_stopped() {
    let server = server();
    let cache = tempfile::tempdir().unwrap();
    let model = hub_model(ROBERTA, &server, cache.path());
    drop(build(model.clone()).unwrap());
    let requests = server.requests().len();
    // While the server runs, a cached model costs one listing request, no download.
    drop(build(model.clone()).unwrap());
    assert_eq!(server.requests().len(), requests + 1);
    assert_eq!(server.downloaded_files().len(), 3);
    server.stop();
    // Online but unreachable: falls back to the complete snapshot, as Python does.
    assert_matches_reference(&build(model.clone()).unwrap());
    // Offline: the cache alone.
    assert_matches_reference(&build(model.offline(true)).unwrap());
}

#[test]
fn offline_without_the_model_in_cache_names_what_is_missing() {
    let server = server();
    let cache = tempfile::tempdir().unwrap();
    let model = hub_model(ROBERTA, &server, cache.path()).offline(true);
    match build(model) {
        Err(Error::Hub(HubError::NotInCache {
            repo,
            revision,
            cache_dir,
            file,
        })) => {
            assert_eq!(
                (repo.as_str(), revision.as_str(), file),
                (ROBERTA, "main", "config.json")
            );
            assert_eq!(cache_dir, cache.path());
        }
        other => panic!("expected NotInCache, got {:?}", other.err()),
    }
    assert!(
        server.requests().is_empty(),
        "offline must not touch the network"
    );
}

#[test]
fn a_repository_with_both_slow_tokenizers_gets_the_one_its_architecture_reads() {
    // A DistilBERT repository without tokenizer.json that also ships RoBERTa's vocab.json and
    // merges.txt: the hub client must fetch vocab.txt, the file the loader reads for it.
    let repo = tempfile::tempdir().unwrap();
    let distilbert = support::model_dir("tiny-distilbert-emotion");
    for file in ["config.json", "model.safetensors", "vocab.txt"] {
        std::fs::copy(distilbert.join(file), repo.path().join(file)).unwrap();
    }
    let roberta = support::model_dir("tiny-roberta-emotion");
    for file in ["vocab.json", "merges.txt"] {
        std::fs::copy(roberta.join(file), repo.path().join(file)).unwrap();
    }
    let server = HubServer::start(&[("test-org/both-tokenizers", repo.path().to_path_buf())]);
    let cache = tempfile::tempdir().unwrap();
    let classifier = EmotionClassifier::builder()
        .model(hub_model("test-org/both-tokenizers", &server, cache.path()))
        .workers(1)
        .threads(1)
        .build()
        .unwrap();
    let mut downloaded = server.downloaded_files();
    downloaded.sort();
    assert_eq!(
        downloaded,
        ["config.json", "model.safetensors", "vocab.txt"]
    );
    // And it scores as the same model with its tokenizer.json does.
    let local = EmotionClassifier::builder()
        .model(distilbert)
        .workers(1)
        .threads(1)
        .build()
        .unwrap();
    let texts = ["I love this!", "what a terrible, awful day", "Crème brûlée"];
    assert_eq!(
        classifier.classify_batch(&texts).unwrap(),
        local.classify_batch(&texts).unwrap()
    );
}

#[test]
fn an_xlm_roberta_repository_downloads_its_tokenizer_json() {
    let dir = support::model_dir("tiny-xlm-roberta-emotion");
    let server = HubServer::start(&[("test-org/tiny-xlm-roberta", dir.clone())]);
    let cache = tempfile::tempdir().unwrap();
    let classifier = build(hub_model(
        "test-org/tiny-xlm-roberta",
        &server,
        cache.path(),
    ))
    .unwrap();
    let mut downloaded = server.downloaded_files();
    downloaded.sort();
    assert_eq!(
        downloaded,
        ["config.json", "model.safetensors", "tokenizer.json"]
    );
    let local = support::classifier("tiny-xlm-roberta-emotion");
    for text in ["Das ist wunderbar!", "我今天很高兴", "so sad"] {
        let (a, b) = (
            classifier.classify(text).unwrap(),
            local.classify(text).unwrap(),
        );
        for (x, y) in a.scores().iter().zip(b.scores()) {
            assert!((x - y).abs() < 1e-5, "{text}");
        }
    }
}

#[test]
fn library_architectures_download_what_they_need_and_match_transformers() {
    for name in [
        "tiny-albert-emotion",
        "tiny-deberta-v2-emotion",
        "tiny-mobilebert-emotion",
        "tiny-longformer-emotion",
    ] {
        let id = format!("test-org/{name}");
        let server = HubServer::start(&[(id.as_str(), support::model_dir(name))]);
        let cache = tempfile::tempdir().unwrap();
        let classifier = build(hub_model(&id, &server, cache.path())).unwrap();
        let mut downloaded = server.downloaded_files();
        downloaded.sort();
        // The fast tokenizer only, though MobileBERT's and Longformer's repositories also
        // hold their slow tokenizers' files.
        assert_eq!(
            downloaded,
            ["config.json", "model.safetensors", "tokenizer.json"],
            "{name}"
        );
        for reference in support::references(name).iter().take(40) {
            let got = classifier.classify(&reference.text).unwrap();
            for (label, want) in &reference.scores {
                let have = got.get(label).unwrap();
                assert!(
                    (have - want).abs() <= 1e-4,
                    "{name}: {label} = {have}, transformers says {want}, for {:?}",
                    reference.text
                );
            }
        }
    }
}

#[test]
fn pickle_only_repository_downloads_pytorch_model_bin() {
    let server = server();
    let cache = tempfile::tempdir().unwrap();
    let classifier = build(hub_model(ROBERTA_BIN, &server, cache.path())).unwrap();
    assert_matches_reference(&classifier);
    assert!(server
        .downloaded_files()
        .contains(&"pytorch_model.bin".to_string()));
}

#[test]
fn unknown_model_and_missing_file_are_not_found() {
    let server = server();
    let cache = tempfile::tempdir().unwrap();
    match build(hub_model("test-org/nope", &server, cache.path())) {
        Err(Error::Hub(HubError::NotFound { repo, what, .. })) => {
            assert_eq!(
                (repo.as_str(), what.as_str()),
                ("test-org/nope", "the file list")
            )
        }
        other => panic!("expected HubError::NotFound, got {:?}", other.err()),
    }
    server.set_fault("model.safetensors", Some(Fault::NotFound));
    match build(hub_model(ROBERTA, &server, cache.path())) {
        Err(Error::Hub(HubError::NotFound { what, .. })) => assert_eq!(what, "model.safetensors"),
        other => panic!("expected HubError::NotFound, got {:?}", other.err()),
    }
    assert!(!snapshot(cache.path(), ROBERTA)
        .join("model.safetensors")
        .exists());
}

#[test]
fn server_errors_are_typed_with_their_status() {
    let server = server();
    let cache = tempfile::tempdir().unwrap();
    server.set_fault("tokenizer.json", Some(Fault::ServerError));
    match build(hub_model(ROBERTA, &server, cache.path())) {
        Err(Error::Hub(HubError::Status { status, what, .. })) => {
            assert_eq!((status, what.as_str()), (500, "tokenizer.json"))
        }
        other => panic!("expected HubStatus, got {:?}", other.err()),
    }
    assert!(!snapshot(cache.path(), ROBERTA)
        .join("tokenizer.json")
        .exists());
    // A failing listing with nothing cached: the 500, not a cache error.
    server.set_fault("tokenizer.json", None);
    server.set_fault(LISTING, Some(Fault::ServerError));
    match build(hub_model(ROBERTA, &server, cache.path())) {
        Err(Error::Hub(HubError::Status {
            status: 500, what, ..
        })) => assert_eq!(what, "the file list"),
        other => panic!("expected HubStatus, got {:?}", other.err()),
    }
    // Once the model is cached, a 5xx listing falls back to the cache.
    server.set_fault(LISTING, None);
    drop(build(hub_model(ROBERTA, &server, cache.path())).unwrap());
    server.set_fault(LISTING, Some(Fault::ServerError));
    assert_matches_reference(&build(hub_model(ROBERTA, &server, cache.path())).unwrap());
}

#[test]
fn a_malformed_answer_that_panics_the_hub_client_is_an_error() {
    let server = server();
    let cache = tempfile::tempdir().unwrap();
    server.set_fault("config.json", Some(Fault::RedirectWithoutLocation));
    match build(hub_model(ROBERTA, &server, cache.path())) {
        Err(error @ Error::Hub(HubError::Other { .. })) => {
            let source = std::error::Error::source(&error).unwrap().to_string();
            assert!(source.contains("panicked"), "{source}");
        }
        other => panic!("expected Hub, got {:?}", other.err()),
    }
    assert!(!snapshot(cache.path(), ROBERTA).join("config.json").exists());
}

#[test]
fn truncated_download_is_typed_and_never_trusted() {
    let server = server();
    let cache = tempfile::tempdir().unwrap();
    server.set_fault("model.safetensors", Some(Fault::Truncate));
    match build(hub_model(ROBERTA, &server, cache.path())) {
        Err(Error::Hub(HubError::Incomplete { repo, file, .. })) => {
            assert_eq!(
                (repo.as_str(), file.as_str()),
                (ROBERTA, "model.safetensors")
            )
        }
        other => panic!("expected HubIncomplete, got {:?}", other.err()),
    }
    assert!(!snapshot(cache.path(), ROBERTA)
        .join("model.safetensors")
        .exists());
    // The bytes received wait in a .part file, which no load takes for the file.
    let blobs = cache.path().join("models--test-org--tiny-roberta/blobs");
    let parts: Vec<_> = std::fs::read_dir(&blobs)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "part"))
        .collect();
    assert_eq!(parts.len(), 1);
    match build(hub_model(ROBERTA, &server, cache.path()).offline(true)) {
        Err(Error::Hub(HubError::NotInCache { file, .. })) => assert_eq!(file, "model.safetensors"),
        other => panic!("expected NotInCache, got {:?}", other.err()),
    }
    // With the hub healthy again the download resumes from the .part file, and checks out.
    server.set_fault("model.safetensors", None);
    assert_matches_reference(&build(hub_model(ROBERTA, &server, cache.path())).unwrap());
    assert!(server
        .requests()
        .iter()
        .any(|r| r.contains("model.safetensors bytes=")
            && !r.ends_with("bytes=0-")
            && !r.ends_with("bytes=0-0")));
}

#[test]
fn corrupted_download_is_detected_and_removed() {
    let server = server();
    let cache = tempfile::tempdir().unwrap();
    for file in ["config.json", "model.safetensors"] {
        server.set_fault(file, Some(Fault::Corrupt));
        match build(hub_model(ROBERTA, &server, cache.path())) {
            Err(Error::Hub(HubError::Integrity {
                file: failed,
                expected,
                actual,
                ..
            })) => {
                assert_eq!(failed, file);
                assert_ne!(expected, actual);
                let blob = cache
                    .path()
                    .join("models--test-org--tiny-roberta/blobs")
                    .join(&expected);
                assert!(!blob.exists(), "corrupt blob kept: {}", blob.display());
            }
            other => panic!("expected HubIntegrity for {file}, got {:?}", other.err()),
        }
        assert!(!snapshot(cache.path(), ROBERTA).join(file).exists());
        server.set_fault(file, None);
    }
    assert_matches_reference(&build(hub_model(ROBERTA, &server, cache.path())).unwrap());
}

#[test]
fn a_repository_without_weights_is_a_missing_file() {
    let repo = tempfile::tempdir().unwrap();
    for file in ["config.json", "tokenizer.json"] {
        std::fs::copy(
            support::model_dir("tiny-roberta-emotion").join(file),
            repo.path().join(file),
        )
        .unwrap();
    }
    let server = HubServer::start(&[("test-org/no-weights", repo.path().to_path_buf())]);
    let cache = tempfile::tempdir().unwrap();
    match build(hub_model("test-org/no-weights", &server, cache.path())) {
        Err(Error::Hub(HubError::MissingFile { file, .. })) => {
            assert_eq!(file, "model.safetensors")
        }
        other => panic!("expected HubError::MissingFile, got {:?}", other.err()),
    }
    // Only the config, which says the architecture and so the files it needs.
    assert_eq!(server.downloaded_files(), ["config.json"]);
}

#[test]
fn unreachable_hub_and_invalid_ids_are_typed() {
    let cache = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let model = HubModel::new(ROBERTA)
        .endpoint(endpoint.clone())
        .cache_dir(cache.path())
        .offline(false);
    match build(model) {
        Err(Error::Hub(HubError::Unreachable { endpoint: e, .. })) => assert_eq!(e, endpoint),
        other => panic!("expected HubUnreachable, got {:?}", other.err()),
    }
    for id in ["../../etc", "a/b/c", "", "owner/na me"] {
        let model = HubModel::new(id).cache_dir(cache.path()).offline(true);
        match build(model) {
            Err(Error::Hub(HubError::InvalidId { id: got })) => assert_eq!(got, id),
            other => panic!("expected InvalidHubId for {id:?}, got {:?}", other.err()),
        }
    }
    // A revision names a file under refs/: one that climbs out of the cache is refused.
    for revision in ["../../../escape", "/abs", ""] {
        let model = HubModel::new(ROBERTA)
            .revision(revision)
            .cache_dir(cache.path())
            .offline(false);
        match build(model) {
            Err(Error::Hub(HubError::InvalidRevision { revision: got })) => {
                assert_eq!(got, revision)
            }
            other => panic!(
                "expected InvalidRevision for {revision:?}, got {:?}",
                other.err()
            ),
        }
    }
}

#[test]
fn a_revision_is_part_of_the_url_and_of_the_cache() {
    let server = server();
    let cache = tempfile::tempdir().unwrap();
    let model = hub_model(ROBERTA, &server, cache.path()).revision("v1.0");
    drop(build(model).unwrap());
    assert!(server
        .requests()
        .iter()
        .all(|r| r.contains("/v1.0/") || r.ends_with("/revision/v1.0")));
    let repo = cache.path().join("models--test-org--tiny-roberta");
    assert_eq!(
        std::fs::read_to_string(repo.join("refs/v1.0")).unwrap(),
        COMMIT
    );
    // By commit hash, offline: straight to the snapshot, no ref needed.
    let by_commit = HubModel::new(ROBERTA)
        .revision(COMMIT)
        .cache_dir(cache.path())
        .offline(true);
    assert_matches_reference(&build(by_commit).unwrap());
}

#[test]
fn a_stalled_hub_times_out_or_falls_back_to_a_complete_cached_snapshot() {
    use std::time::{Duration, Instant};
    let server = server();
    let cache = tempfile::tempdir().unwrap();
    // Long enough that a busy machine's pauses between a request and its answer stay under it,
    // short enough to see that a stall ends the build.
    let timeout = Duration::from_secs(1);
    // The listing stalls and nothing is cached: a typed timeout, within about the timeout.
    server.set_fault(LISTING, Some(Fault::Stall));
    let begun = Instant::now();
    match build(hub_model(ROBERTA, &server, cache.path()).timeout(timeout)) {
        Err(Error::Hub(HubError::Timeout { what, after, .. })) => {
            assert_eq!(what, "the file list");
            assert_eq!(after, timeout);
        }
        other => panic!("expected a timeout, got {:?}", other.map(|_| ())),
    }
    assert!(
        begun.elapsed() < Duration::from_secs(5),
        "{:?}",
        begun.elapsed()
    );

    // A file stalls mid-fetch: the timeout names it, and nothing half-downloaded is trusted.
    server.set_fault(LISTING, None);
    server.set_fault("model.safetensors", Some(Fault::Stall));
    match build(hub_model(ROBERTA, &server, cache.path()).timeout(timeout)) {
        Err(Error::Hub(HubError::Timeout { what, .. })) => assert_eq!(what, "model.safetensors"),
        other => panic!("expected a timeout, got {:?}", other.map(|_| ())),
    }
    assert!(!snapshot(cache.path(), ROBERTA)
        .join("model.safetensors")
        .exists());

    // Once the snapshot is complete, a stalled hub falls back to it, as an unreachable one does.
    server.set_fault("model.safetensors", None);
    build(hub_model(ROBERTA, &server, cache.path())).expect("fetched");
    server.set_fault(LISTING, Some(Fault::Stall));
    let begun = Instant::now();
    let classifier = build(hub_model(ROBERTA, &server, cache.path()).timeout(timeout))
        .expect("the cached snapshot");
    assert!(begun.elapsed() < Duration::from_secs(5));
    assert_matches_reference(&classifier);
}

#[test]
fn fine_tuning_starts_from_a_hub_id_as_inference_does() {
    use emotion_classifier::finetune::{FineTune, TrainingData};
    let server = server();
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    // The pickle-only repository: its .bin weights, read by the same strict reader.
    let config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(support::model_dir("tiny-roberta-emotion-bin").join("config.json")).unwrap(),
    )
    .unwrap();
    let id2label = config["id2label"].as_object().unwrap();
    let labels: Vec<String> = (0..id2label.len())
        .map(|i| id2label[&i.to_string()].as_str().unwrap().to_owned())
        .collect();
    let train: Vec<(String, Vec<String>)> = (0..16)
        .map(|i| {
            let label = &labels[i % labels.len()];
            (format!("so much {label} today"), vec![label.clone()])
        })
        .collect();
    let report = FineTune::builder()
        .base(hub_model(ROBERTA_BIN, &server, cache.path()))
        .data(TrainingData::texts(
            labels,
            train.clone(),
            train[..4].to_vec(),
        ))
        .output(out.path().join("model"))
        .batch_size(8)
        .epochs(1)
        .threads(1)
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert_eq!(report.steps, 2);
    assert!(server
        .downloaded_files()
        .contains(&"pytorch_model.bin".to_owned()));
    EmotionClassifier::builder()
        .model(out.path().join("model"))
        .build()
        .expect("the trained folder loads");
}
