//! `/metrics` under TEI's names and labels, counted from known requests.

use emotion_classifier::server::ServerConfig;

use super::{get, post, Server};

/// The value of the sample `name` (with its labels, exactly as rendered) in a scrape.
pub fn sample(scrape: &str, name: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn metrics_count_requests_failures_and_passes_under_teis_names() {
    let _serial = super::serial();
    let server = Server::model(
        "tiny-distilbert-emotion",
        ServerConfig::builder().max_client_batch_size(3),
    );
    let predict = format!("{}/predict", server.url);
    assert_eq!(post(&predict, r#"{"inputs": "one"}"#).status, 200);
    assert_eq!(
        post(&predict, r#"{"inputs": [["two"], ["three"]]}"#).status,
        200
    );
    assert_eq!(
        post(&predict, r#"{"inputs": [["a"], ["b"], ["c"], ["d"]]}"#).status,
        422
    );
    assert_eq!(post(&predict, r#"{"inputs": ["a", "pair"]}"#).status, 422);
    assert_eq!(post(&predict, r#"{"inputs": []}"#).status, 400);
    assert_eq!(
        post(&format!("{}/embed", server.url), r#"{"inputs": "x"}"#).status,
        424
    );
    let scrape = get(&format!("{}/metrics", server.url));
    assert_eq!(scrape.status, 200);
    let scrape = scrape.body;
    let count = |name: &str| sample(&scrape, name).unwrap_or_else(|| panic!("{name} in\n{scrape}"));
    assert_eq!(count(r#"te_request_count{method="single"}"#), 1.0);
    assert_eq!(count(r#"te_request_count{method="batch"}"#), 2.0);
    assert_eq!(count(r#"te_request_success{method="single"}"#), 1.0);
    assert_eq!(count(r#"te_request_success{method="batch"}"#), 1.0);
    assert_eq!(count(r#"te_request_failure{err="batch_size"}"#), 1.0);
    assert_eq!(count(r#"te_request_failure{err="validation"}"#), 2.0);
    assert_eq!(count(r#"te_request_failure{err="model_type"}"#), 1.0);
    assert_eq!(count("te_predict_count"), 3.0);
    assert_eq!(count("te_predict_success"), 3.0);
    assert_eq!(count("te_request_duration_count"), 2.0);
    assert_eq!(count("te_predict_inference_duration_count"), 2.0);
    assert_eq!(count("te_request_input_length_count"), 2.0);
    assert_eq!(count("te_queue_size"), 0.0);
    assert_eq!(count("te_batch_next_size_sum"), 3.0);
    let passes = count("te_batch_next_size_count");
    assert!(passes >= 1.0);
    assert_eq!(count("emotion_passes"), passes);
    assert_eq!(count(r#"te_batch_next_size_bucket{le="+Inf"}"#), passes);
    assert!(count("te_batch_next_tokens_sum") >= 9.0);
    assert_eq!(count("emotion_cache_misses"), 3.0);
    assert_eq!(count("emotion_workers_alive"), 1.0);
    for histogram in [
        "te_request_duration",
        "te_request_tokenization_duration",
        "te_request_queue_duration",
        "te_request_inference_duration",
        "te_request_input_length",
        "te_batch_next_size",
        "te_batch_next_tokens",
    ] {
        assert!(
            scrape.contains(&format!("# TYPE {histogram} histogram")),
            "{histogram}"
        );
    }
    assert!(
        !scrape.contains("_total"),
        "TEI's names carry no _total suffix"
    );
}

#[test]
fn the_prometheus_port_serves_the_same_metrics_at_any_path() {
    let _serial = super::serial();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = Server::model(
        "tiny-distilbert-emotion",
        ServerConfig::builder().prometheus_address(port),
    );
    assert_eq!(
        post(&format!("{}/predict", server.url), r#"{"inputs": "one"}"#).status,
        200
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let scrape = loop {
        match ureq::get(&format!("http://{port}/anything")).call() {
            Ok(response) => break response.into_string().unwrap(),
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(
        sample(&scrape, r#"te_request_count{method="single"}"#),
        Some(1.0)
    );
}
