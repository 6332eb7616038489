//! The server (`emotion_classifier::server`, feature `server`) on 127.0.0.1, driven by a real
//! HTTP client. A test binary of its own, its tests one at a time (`serial`), so the timing and
//! memory checks see no other test's load: every route against a separate classifier with its cache off (`routes`), every
//! status and header of TEI's table (`statuses`), the answers against TEI's OpenAPI document
//! and the server's own (`conformance`), the metrics under TEI's names (`metrics`), and abuse:
//! floods, slow clients, long texts, SIGTERM and dead workers (`abuse`). All bounded in time.

#![cfg(feature = "server")]

#[path = "../support/mod.rs"]
mod support;

mod abuse;
mod conformance;
mod metrics;
mod routes;
mod statuses;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use emotion_classifier::server::{serve, ServerConfig, ServerConfigBuilder};
use emotion_classifier::EmotionClassifier;

use crate::support::model_dir;

/// Holds the suite's one lock: each test takes it first, so they run one at a time.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A server running on its own runtime thread.
pub struct Server {
    pub url: String,
    pub address: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<emotion_classifier::Result<()>>>,
}

impl Server {
    /// Serves `classifier` under `config` on a free loopback port.
    pub fn start(classifier: EmotionClassifier, config: ServerConfig) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(serve(listener, classifier, config, async {
                let _ = stopped.await;
            }))
        });
        Self {
            url: format!("http://{address}"),
            address,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Serves test model `model` (with its cache on) under `config`.
    pub fn model(model: &str, config: ServerConfigBuilder) -> Self {
        let classifier = EmotionClassifier::builder()
            .model(model_dir(model))
            .build()
            .unwrap();
        Self::start(classifier, config.model_id(model).build().unwrap())
    }

    /// Shuts the server down and returns what `serve` returned.
    pub fn stop(mut self) -> emotion_classifier::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread.take().unwrap().join().unwrap()
    }

    /// What `serve` returned, if it has returned within `wait`.
    pub fn finished_within(&mut self, wait: Duration) -> Option<emotion_classifier::Result<()>> {
        let deadline = std::time::Instant::now() + wait;
        while std::time::Instant::now() < deadline {
            if self.thread.as_ref().is_some_and(|t| t.is_finished()) {
                return Some(self.thread.take().unwrap().join().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An answer: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The error body's `error_type`, checking the body is `{error, error_type}`.
    pub fn error_type(&self) -> String {
        let body = self.json();
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
        body["error_type"].as_str().unwrap().to_owned()
    }
}

/// A request with a real HTTP client (ureq), with `headers`.
pub fn call(method: &str, url: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Answer {
    let mut request = ureq::request(method, url).timeout(Duration::from_secs(60));
    if body.is_some() {
        request = request.set("content-type", "application/json");
    }
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let sent = match body {
        Some(body) => request.send_string(body),
        None => request.call(),
    };
    let response = match sent {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(other) => panic!("{method} {url}: {other}"),
    };
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .map(|name| {
            let value = response.header(&name).unwrap_or_default().to_owned();
            (name.to_lowercase(), value)
        })
        .collect();
    let body = response.into_string().unwrap();
    Answer {
        status,
        headers,
        body,
    }
}

pub fn post(url: &str, body: &str) -> Answer {
    call("POST", url, Some(body), &[])
}

pub fn get(url: &str) -> Answer {
    call("GET", url, None, &[])
}

/// Sends `raw` bytes on a new connection and reads the answer until the server closes it or
/// `wait` passes: what came back.
pub fn raw_exchange(address: std::net::SocketAddr, raw: &[u8], wait: Duration) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(wait)).unwrap();
    stream.write_all(raw).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// `[{"score", "label"}]` against the scores of `want`: same labels, values within 1e-5,
/// highest first.
pub fn assert_predictions(got: &serde_json::Value, want: &[(String, f32)]) {
    let got = got
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {got}"));
    assert_eq!(got.len(), want.len(), "{got:?}");
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

/// Test model `model`'s `tokenizer.json` as the server sets it up: without the padding and
/// truncation the file may carry (the MiniLM ones pad and truncate to 128), as transformers.
pub fn tokenizer(model: &str) -> tokenizers::Tokenizer {
    let mut tokenizer =
        tokenizers::Tokenizer::from_file(model_dir(model).join("tokenizer.json")).unwrap();
    tokenizer.with_padding(None);
    tokenizer.with_truncation(None).unwrap();
    tokenizer
}

/// Labels and values as pairs.
pub fn pairs(labels: &[String], values: &[f32]) -> Vec<(String, f32)> {
    labels.iter().cloned().zip(values.iter().copied()).collect()
}
