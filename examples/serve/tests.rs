//! The server on 127.0.0.1, driven with a real HTTP client (ureq): every route, and the
//! metrics' counts after known requests.

use std::path::PathBuf;

use emotion_classifier::{EmotionClassifier, LongTexts, Truncation, TruncationSide};

use super::*;

fn model() -> PathBuf {
    std::env::var_os("EMOTION_TEST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/models"))
        .join("tiny-distilbert-emotion")
}

fn classifier(max_queued: usize) -> EmotionClassifier {
    EmotionClassifier::builder()
        .model(model())
        .max_queued(max_queued)
        .build()
        .unwrap()
}

/// Serves `classifier` (at most 4 texts a request) on a free port; returns the base URL.
async fn serve(classifier: EmotionClassifier) -> String {
    let service = Service {
        max_inputs: 4,
        ..Service::new(classifier, "tiny-distilbert-emotion")
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app(service)).await });
    url
}

/// A request with a real HTTP client, on a blocking thread: status and body.
async fn call(method: &'static str, url: String, body: Option<String>) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        let request = ureq::request(method, &url).set("content-type", "application/json");
        let sent = match body {
            Some(body) => request.send_string(&body),
            None => request.call(),
        };
        let response = match sent {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(other) => panic!("{other}"),
        };
        (response.status(), response.into_string().unwrap())
    })
    .await
    .unwrap()
}

async fn post(url: &str, body: impl Into<String>) -> (u16, serde_json::Value) {
    let (status, text) = call("POST", url.to_owned(), Some(body.into())).await;
    (status, serde_json::from_str(&text).unwrap())
}

async fn get(url: &str) -> (u16, String) {
    call("GET", url.to_owned(), None).await
}

/// `[{"score", "label"}]` against `(label, value)` pairs: same labels, values within 1e-5,
/// highest first.
fn assert_predictions(got: &serde_json::Value, want: &[(String, f32)]) {
    let got = got.as_array().unwrap();
    assert_eq!(got.len(), want.len());
    for p in got {
        let label = p["label"].as_str().unwrap();
        let score = p["score"].as_f64().unwrap() as f32;
        let (_, expected) = want.iter().find(|(l, _)| l == label).unwrap();
        assert!(
            (score - expected).abs() < 1e-5,
            "{label}: {score} vs {expected}"
        );
    }
    let scores: Vec<f64> = got.iter().map(|p| p["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "highest first");
}

fn pairs(labels: &[String], values: &[f32]) -> Vec<(String, f32)> {
    labels.iter().cloned().zip(values.iter().copied()).collect()
}

#[tokio::test]
async fn classify_answers_one_text_and_a_list_in_the_predict_shape() {
    let classifier = classifier(64);
    let url = serve(classifier.clone()).await + "/classify";
    let expected = classifier.classify("I love this").unwrap();
    let (status, one) = post(&url, r#"{"inputs": "I love this"}"#).await;
    assert_eq!(status, 200);
    assert_predictions(&one, &pairs(expected.labels(), expected.scores()));
    assert_eq!(one[0]["label"], expected.top().label);
    let (status, many) = post(&url, r#"{"inputs": ["I love this", "", "so sad"]}"#).await;
    assert_eq!(status, 200);
    assert_eq!(many.as_array().unwrap().len(), 3);
    assert_eq!(many[0], one);
}

#[tokio::test]
async fn classify_answers_bad_requests_with_422_and_a_full_queue_with_429() {
    let url = serve(classifier(64)).await + "/classify";
    for body in [
        "not json",
        r#"{"text": "no inputs field"}"#,
        r#"{"inputs": 3}"#,
        r#"{"inputs": ["a", "b", "c", "d", "e"]}"#,
    ] {
        let (status, error) = post(&url, body).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(error["error_type"], "Validation", "{body}");
        assert!(!error["error"].as_str().unwrap().is_empty(), "{body}");
    }
    // A queue of 2 texts cannot take a request of 3 without waiting: the server refuses.
    let url = serve(classifier(2)).await + "/classify";
    let (status, error) = post(&url, r#"{"inputs": ["one", "two", "three"]}"#).await;
    assert_eq!(status, 429);
    assert_eq!(error["error_type"], "Overloaded");
    assert_eq!(post(&url, r#"{"inputs": ["one", "two"]}"#).await.0, 200);
}

#[tokio::test]
async fn predict_and_root_answer_as_tei_with_scores_or_raw_logits() {
    let classifier = classifier(64);
    let base = serve(classifier.clone()).await;
    let love = classifier.classify("I love this").unwrap();
    let sad = classifier.classify("so sad").unwrap();
    for route in ["/predict", "/"] {
        let url = format!("{base}{route}");
        let (status, one) = post(&url, r#"{"inputs": "I love this"}"#).await;
        assert_eq!(status, 200, "{route}");
        assert_predictions(&one, &pairs(love.labels(), love.scores()));
        let (status, batch) = post(&url, r#"{"inputs": [["I love this"], ["so sad"]]}"#).await;
        assert_eq!(status, 200);
        assert_predictions(&batch[0], &pairs(love.labels(), love.scores()));
        assert_predictions(&batch[1], &pairs(sad.labels(), sad.scores()));
        let (status, raw) = post(&url, r#"{"inputs": [["so sad"]], "raw_scores": true}"#).await;
        assert_eq!(status, 200);
        assert_predictions(&raw[0], &pairs(sad.labels(), sad.logits().unwrap()));
    }
}

#[tokio::test]
async fn predict_refuses_pairs_empty_and_oversized_batches_with_teis_statuses() {
    let url = serve(classifier(64)).await + "/predict";
    for (body, status, kind, says) in [
        (r#"{"inputs": ["a", "b"]}"#, 422, "Validation", "pair"),
        (
            r#"{"inputs": [["a"], ["b", "c"]]}"#,
            422,
            "Validation",
            "item 1 is a pair",
        ),
        (r#"{"inputs": []}"#, 400, "Empty", "empty"),
        (
            r#"{"inputs": [["a"], ["b"], ["c"], ["d"], ["e"]]}"#,
            413,
            "Validation",
            "5 > maximum",
        ),
        (
            r#"{"inputs": "a", "truncation_direction": "Up"}"#,
            422,
            "Validation",
            "Up",
        ),
        ("{", 422, "Validation", ""),
    ] {
        let (got, error) = post(&url, body).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(error["error_type"], kind, "{body}");
        let message = error["error"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
}

#[tokio::test]
async fn long_texts_are_refused_unless_truncate_and_the_direction_is_honoured() {
    let classifier = classifier(64);
    let url = serve(classifier.clone()).await + "/predict";
    let long = format!("{}{}", "awful ".repeat(600), "happy ".repeat(510));
    let body = |extra: &str| format!(r#"{{"inputs": "{long}"{extra}}}"#);
    let (status, error) = post(&url, body("")).await;
    assert_eq!(status, 422);
    assert_eq!(error["error_type"], "Validation");
    assert!(error["error"].as_str().unwrap().contains("512"), "{error}");
    for (extra, side) in [
        (r#", "truncate": true"#, TruncationSide::Right),
        (
            r#", "truncate": true, "truncation_direction": "Left""#,
            TruncationSide::Left,
        ),
        (
            r#", "truncate": true, "truncation_direction": "left""#,
            TruncationSide::Left,
        ),
    ] {
        let (status, got) = post(&url, body(extra)).await;
        assert_eq!(status, 200, "{extra}");
        let truncation = Truncation {
            long_texts: LongTexts::Truncate,
            side,
        };
        let want = classifier.classify_each_with(&[long.as_str()], truncation);
        let want = want[0].as_ref().unwrap();
        assert!(want.truncated());
        assert_predictions(&got, &pairs(want.labels(), want.scores()));
    }
}

#[tokio::test]
async fn health_and_info_answer_in_teis_shape() {
    let classifier = classifier(64);
    let base = serve(classifier.clone()).await;
    for route in ["/health", "/"] {
        assert_eq!(
            get(&format!("{base}{route}")).await,
            (200, String::new()),
            "{route}"
        );
    }
    let (status, info) = get(&format!("{base}/info")).await;
    assert_eq!(status, 200);
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["model_id"], "tiny-distilbert-emotion");
    assert_eq!(info["model_dtype"], "float32");
    assert_eq!(info["max_input_length"], 512);
    assert_eq!(info["max_client_batch_size"], 4);
    assert_eq!(info["auto_truncate"], false);
    let id2label = &info["model_type"]["classifier"]["id2label"];
    for (i, label) in classifier.labels().iter().enumerate() {
        assert_eq!(id2label[i.to_string()], label.as_str());
        assert_eq!(info["model_type"]["classifier"]["label2id"][label], i);
    }
    for field in [
        "max_concurrent_requests",
        "max_batch_tokens",
        "tokenization_workers",
        "version",
    ] {
        assert!(!info[field].is_null(), "{field}");
    }
    classifier.shutdown();
    let (status, body) = get(&format!("{base}/health")).await;
    assert_eq!(status, 503);
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error_type"], "Unhealthy");
}

/// The value of the sample `name` (with its labels, exactly as rendered) in a scrape.
fn sample(scrape: &str, name: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_texts_errors_and_passes() {
    let classifier = classifier(64);
    let base = serve(classifier).await;
    let predict = format!("{base}/predict");
    assert_eq!(post(&predict, r#"{"inputs": "one"}"#).await.0, 200);
    assert_eq!(
        post(&predict, r#"{"inputs": [["two"], ["three"]]}"#)
            .await
            .0,
        200
    );
    assert_eq!(post(&predict, r#"{"inputs": ["a", "pair"]}"#).await.0, 422);
    assert_eq!(post(&predict, r#"{"inputs": []}"#).await.0, 400);
    assert_eq!(
        post(
            &format!("{base}/classify"),
            r#"{"inputs": ["x", "y", "z"]}"#
        )
        .await
        .0,
        200
    );
    let (status, scrape) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    let count = |name: &str| sample(&scrape, name).unwrap_or_else(|| panic!("{name} in\n{scrape}"));
    assert_eq!(count(r#"te_request_count_total{route="/predict"}"#), 4.0);
    assert_eq!(count(r#"te_request_count_total{route="/classify"}"#), 1.0);
    assert_eq!(
        count(r#"te_request_failure_total{route="/predict",status="422"}"#),
        1.0
    );
    assert_eq!(
        count(r#"te_request_failure_total{route="/predict",status="400"}"#),
        1.0
    );
    assert_eq!(count("te_request_inputs_total"), 6.0);
    assert_eq!(
        count(r#"te_request_duration_seconds_count{route="/predict"}"#),
        4.0
    );
    assert_eq!(count("te_queue_size"), 0.0);
    assert!(count("te_batch_passes_total") >= 1.0);
    assert_eq!(count("te_batch_sequences_total"), 6.0);
    assert!(scrape.contains("# TYPE te_request_duration_seconds histogram"));
    assert!(scrape.trim_end().ends_with("# EOF"));
}
