//! One test per row of TEI 1.9.3's status table, and one per response header.

use std::time::Duration;

use emotion_classifier::server::ServerConfig;
use emotion_classifier::EmotionClassifier;

use super::{call, get, post, raw_exchange, Server};
use crate::support::model_dir;

const MODEL: &str = "tiny-distilbert-emotion";

#[test]
fn validation_errors_are_422_validation() {
    let _serial = super::serial();
    let server = Server::model(MODEL, ServerConfig::builder().max_client_batch_size(4));
    let url = format!("{}/predict", server.url);
    for (body, says) in [
        (
            r#"{"inputs": [["a"], ["b"], ["c"], ["d"], ["e"]]}"#,
            "batch size 5 > maximum allowed batch size 4",
        ),
        (r#"{"inputs": ["a", "b"]}"#, "pair"),
        (r#"{"inputs": [["a"], ["b", "c"]]}"#, "item 1 is a pair"),
        (r#"{"inputs": 3}"#, "must be a string"),
        (r#"{"inputs": "a", "truncation_direction": "Up"}"#, "Up"),
        (r#"{"text": "no inputs"}"#, "inputs"),
        ("{", ""),
    ] {
        let got = post(&url, body);
        assert_eq!(got.status, 422, "{body}: {}", got.body);
        assert_eq!(got.error_type(), "Validation", "{body}");
        assert!(got.body.contains(says), "{body}: {}", got.body);
    }
    let tokenize = post(
        &format!("{}/tokenize", server.url),
        r#"{"inputs": ["a", "b", "c", "d", "e"]}"#,
    );
    assert_eq!(tokenize.status, 422);
    let decode = post(
        &format!("{}/decode", server.url),
        r#"{"ids": [[1], [2], [3], [4], [5]]}"#,
    );
    assert_eq!(decode.status, 422);
}

#[test]
fn an_empty_batch_is_400_empty() {
    let _serial = super::serial();
    let server = Server::model(MODEL, ServerConfig::builder());
    for (route, body) in [
        ("/predict", r#"{"inputs": []}"#),
        ("/decide", r#"{"inputs": []}"#),
        ("/tokenize", r#"{"inputs": []}"#),
    ] {
        let got = post(&format!("{}{route}", server.url), body);
        assert_eq!(got.status, 400, "{route}: {}", got.body);
        assert_eq!(got.error_type(), "Empty", "{route}");
    }
    // `[]` is one empty list of ids to TEI (its `InputIds` tries the single form first).
    let decoded = post(&format!("{}/decode", server.url), r#"{"ids": []}"#);
    assert_eq!(
        (decoded.status, decoded.json()),
        (200, serde_json::json!([""]))
    );
}

#[test]
fn overload_is_429_before_anything_is_tokenized() {
    let _serial = super::serial();
    // A queue of 2 texts cannot take a request of 3: refused at admission.
    let classifier = EmotionClassifier::builder()
        .model(model_dir(MODEL))
        .max_queued(2)
        .build()
        .unwrap();
    let server = Server::start(classifier, ServerConfig::builder().build().unwrap());
    let url = format!("{}/predict", server.url);
    let passes = || {
        let metrics = get(&format!("{}/metrics", server.url)).body;
        super::metrics::sample(&metrics, "emotion_passes").unwrap_or(0.0)
    };
    let before = passes();
    let got = post(&url, r#"{"inputs": [["one"], ["two"], ["three"]]}"#);
    assert_eq!(got.status, 429, "{}", got.body);
    assert_eq!(got.error_type(), "Overloaded");
    // Nothing of the refused request reached the workers.
    assert_eq!(passes(), before);
    assert_eq!(post(&url, r#"{"inputs": [["one"], ["two"]]}"#).status, 200);
    assert!(passes() > before);
    let metrics = get(&format!("{}/metrics", server.url)).body;
    assert!(
        metrics.contains("te_request_failure{err=\"overloaded\"} 1"),
        "{metrics}"
    );
}

#[test]
fn a_route_for_another_kind_of_model_is_424_backend() {
    let _serial = super::serial();
    let server = Server::model(MODEL, ServerConfig::builder());
    let got = post(&format!("{}/embed", server.url), r#"{"inputs": "a"}"#);
    assert_eq!(got.status, 424);
    assert_eq!(got.error_type(), "Backend");
}

#[test]
fn stopped_workers_are_503_unhealthy_and_end_serve_with_an_error() {
    let _serial = super::serial();
    let classifier = EmotionClassifier::builder()
        .model(model_dir(MODEL))
        .build()
        .unwrap();
    let mut server = Server::start(classifier.clone(), ServerConfig::builder().build().unwrap());
    assert_eq!(get(&format!("{}/health", server.url)).status, 200);
    classifier.shutdown();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while classifier.workers_alive() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(classifier.workers_alive(), 0);
    let health = get(&format!("{}/health", server.url));
    assert_eq!(health.status, 503, "{}", health.body);
    assert_eq!(health.error_type(), "Unhealthy");
    // serve() sees the dead workers and returns an error (emotion-serve then exits non-zero).
    let ended = server.finished_within(Duration::from_secs(5));
    assert!(
        matches!(ended, Some(Err(emotion_classifier::Error::WorkerStopped))),
        "{ended:?}"
    );
}

#[test]
fn a_body_over_the_payload_limit_is_413_unparsed() {
    let _serial = super::serial();
    let server = Server::model(MODEL, ServerConfig::builder().payload_limit(1000));
    let big = format!(r#"{{"inputs": "{}"}}"#, "a".repeat(2000));
    // From its Content-Length, before the body is read.
    let got = post(&format!("{}/predict", server.url), &big);
    assert_eq!(got.status, 413, "{}", got.body);
    assert_eq!(got.error_type(), "Validation");
    // Chunked, with no length: cut off while it is read. The JSON would be invalid after the
    // limit (never closed): a parse would answer 422, so 413 shows nothing was parsed.
    let chunk = format!("{{\"inputs\": \"{}", "b".repeat(1500));
    let raw = format!(
        "POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    let answer = raw_exchange(server.address, raw.as_bytes(), Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"error_type\":\"Validation\""), "{answer}");
    // Under the limit, the same route answers.
    assert_eq!(
        post(&format!("{}/predict", server.url), r#"{"inputs": "ok"}"#).status,
        200
    );
}

#[test]
fn a_missing_or_wrong_bearer_token_is_401_and_health_stays_open() {
    let _serial = super::serial();
    let server = Server::model(MODEL, ServerConfig::builder().api_key("s3cret"));
    let url = format!("{}/predict", server.url);
    let body = Some(r#"{"inputs": "hi"}"#);
    for headers in [
        vec![],
        vec![("authorization", "Bearer wrong")],
        vec![("authorization", "s3cret")],
        vec![("authorization", "Bearer s3cret2")],
    ] {
        let got = call("POST", &url, body, &headers);
        assert_eq!(got.status, 401, "{headers:?}");
        assert_eq!(got.error_type(), "Validation");
    }
    let ok = call("POST", &url, body, &[("authorization", "Bearer s3cret")]);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        call("GET", &format!("{}/info", server.url), None, &[]).status,
        401
    );
    for open in ["/health", "/", "/metrics", "/api-doc/openapi.json"] {
        assert_eq!(get(&format!("{}{open}", server.url)).status, 200, "{open}");
    }
}

#[test]
fn a_slow_body_is_cut_off_with_408() {
    let _serial = super::serial();
    let server = Server::model(
        MODEL,
        ServerConfig::builder().body_timeout(Duration::from_millis(300)),
    );
    // Headers promise 100 bytes; 10 arrive, then nothing.
    let raw = "POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
               content-length: 100\r\n\r\n{\"inputs\":";
    let started = std::time::Instant::now();
    let answer = raw_exchange(server.address, raw.as_bytes(), Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_slow_client_is_cut_off_before_its_headers_end() {
    let _serial = super::serial();
    let server = Server::model(
        MODEL,
        ServerConfig::builder().header_timeout(Duration::from_millis(300)),
    );
    let started = std::time::Instant::now();
    // Half a request line, then nothing: the server closes the connection.
    let answer = raw_exchange(server.address, b"POST /predict HT", Duration::from_secs(10));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "held for {took:?}: {answer}");
    assert!(!answer.contains("200 OK"), "{answer}");
}

/// A batch of two texts (13 characters) answered by a fresh server: its headers.
fn computed_answer() -> super::Answer {
    let server = Server::model(MODEL, ServerConfig::builder());
    let got = post(
        &format!("{}/predict", server.url),
        r#"{"inputs": [["héllo there"], ["ab"]]}"#,
    );
    assert_eq!(got.status, 200);
    got
}

/// Header `name` of `answer` as a number of milliseconds (or a count).
fn number(answer: &super::Answer, name: &str) -> u64 {
    answer
        .header(name)
        .unwrap_or_else(|| panic!("{name} missing: {:?}", answer.headers))
        .parse()
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn x_compute_type_is_cpu() {
    let _serial = super::serial();
    assert_eq!(computed_answer().header("x-compute-type"), Some("cpu"));
}

#[test]
fn x_compute_characters_counts_unicode_characters() {
    let _serial = super::serial();
    assert_eq!(number(&computed_answer(), "x-compute-characters"), 13);
}

#[test]
fn x_compute_tokens_counts_the_tokens_with_special_ones() {
    let _serial = super::serial();
    // "héllo there" and "ab", each with [CLS] and [SEP], through tiny-distilbert's tokenizer.
    let tokenizer = super::tokenizer(MODEL);
    let want: usize = ["héllo there", "ab"]
        .iter()
        .map(|t| tokenizer.encode(*t, true).unwrap().len())
        .sum();
    assert_eq!(number(&computed_answer(), "x-compute-tokens"), want as u64);
}

#[test]
fn x_compute_time_and_x_total_time_are_the_whole_request() {
    let _serial = super::serial();
    let started = std::time::Instant::now();
    let answer = computed_answer();
    let total = number(&answer, "x-total-time");
    assert_eq!(number(&answer, "x-compute-time"), total);
    assert!(u128::from(total) <= started.elapsed().as_millis());
}

#[test]
fn x_tokenization_time_is_within_the_total() {
    let _serial = super::serial();
    let answer = computed_answer();
    assert!(number(&answer, "x-tokenization-time") <= number(&answer, "x-total-time"));
}

#[test]
fn x_queue_time_is_within_the_total() {
    let _serial = super::serial();
    let answer = computed_answer();
    assert!(number(&answer, "x-queue-time") <= number(&answer, "x-total-time"));
}

#[test]
fn x_inference_time_is_within_the_total() {
    let _serial = super::serial();
    let answer = computed_answer();
    let parts = number(&answer, "x-tokenization-time")
        + number(&answer, "x-queue-time")
        + number(&answer, "x-inference-time");
    // Each part rounds down to whole milliseconds: together at most the total plus 2.
    assert!(
        parts <= number(&answer, "x-total-time") + 2,
        "{:?}",
        answer.headers
    );
}

#[test]
fn refusals_carry_no_compute_headers() {
    let _serial = super::serial();
    let server = Server::model(MODEL, ServerConfig::builder());
    let got = post(&format!("{}/predict", server.url), r#"{"inputs": []}"#);
    assert_eq!(got.status, 400);
    assert!(got.header("x-compute-time").is_none(), "{:?}", got.headers);
}
