//! Holding under abuse, on loopback and bounded in time: a flood of clients gets only 200 or
//! 429 while `/health` answers within 100 ms; distinct long texts leave the process's memory
//! bounded; SIGTERM with requests in flight answers them all and exits 0 (the `emotion-serve`
//! binary itself, as Docker and Kubernetes stop it).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use emotion_classifier::server::ServerConfig;

use super::{get, post, Server};
use crate::support::model_dir;

#[test]
fn a_flood_gets_only_200_or_429_while_health_answers_within_100_ms() {
    let _serial = super::serial();
    let server = Server::model(
        "tiny-distilbert-emotion",
        ServerConfig::builder().max_concurrent_requests(16),
    );
    let url = format!("{}/predict", server.url);
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..64)
        .map(|client| {
            let (url, stop) = (url.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let texts: Vec<[String; 1]> = (0..8)
                        .map(|t| [format!("client {client} text {i} {t} is so happy and sad")])
                        .collect();
                    let body = serde_json::json!({"inputs": texts}).to_string();
                    statuses.push(post(&url, &body).status);
                    i += 1;
                }
                statuses
            })
        })
        .collect();
    let mut health = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(4) {
        let asked = Instant::now();
        let got = get(&format!("{}/health", server.url));
        health.push((got.status, asked.elapsed()));
        let metrics_asked = Instant::now();
        assert_eq!(get(&format!("{}/metrics", server.url)).status, 200);
        health.push((200, metrics_asked.elapsed()));
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let statuses: Vec<u16> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!(
        ok + refused,
        statuses.len(),
        "only 200 and 429: {statuses:?}"
    );
    assert!(ok > 0 && refused > 0, "{ok} answered, {refused} refused");
    let slowest = health.iter().map(|&(_, t)| t).max().unwrap();
    assert!(health.iter().all(|&(s, _)| s == 200));
    assert!(
        slowest < Duration::from_millis(100),
        "/health or /metrics took {slowest:?} under the flood ({} probes, {ok} answered, {refused} refused)",
        health.len()
    );
    println!(
        "flood: {} requests, {ok} answered, {refused} refused; {} probes, slowest {slowest:?}",
        statuses.len(),
        health.len()
    );
}

/// The resident memory of process `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// `emotion-serve` on a free port with `args`; its child process and base URL.
fn emotion_serve(args: &[&str]) -> (Child, String) {
    spawn_serve(Command::new(env!("CARGO_BIN_EXE_emotion-serve")), args)
}

/// `command` (an `emotion-serve`) on a free port with `args`; its child and base URL.
fn spawn_serve(mut command: Command, args: &[&str]) -> (Child, String) {
    let mut child = command
        .args(["--port", "0", "--json-output"])
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (found, url) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !sent {
                if let Some(at) = line.find("listening on http://") {
                    let rest = &line[at + "listening on ".len()..];
                    let address: String = rest
                        .chars()
                        .take_while(|c| *c != '"' && !c.is_whitespace())
                        .collect();
                    let _ = found.send(address);
                    sent = true;
                }
            }
        }
    });
    let url = url
        .recv_timeout(Duration::from_secs(60))
        .expect("emotion-serve said where it listens");
    (child, url)
}

#[test]
fn distinct_long_texts_leave_memory_bounded() {
    let _serial = super::serial();
    let model = model_dir("tiny-distilbert-emotion");
    let (mut child, url) = emotion_serve(&[
        "--model-id",
        model.to_str().unwrap(),
        "--cache-bytes",
        "8000000",
    ]);
    let pid = child.id();
    // 200 KB texts, each distinct: 300 of them would be 60 MB of text.
    let send = |from: usize, to: usize| {
        for i in from..to {
            let text = format!("{i} {}", "ab cd ".repeat(33_000));
            let body = serde_json::json!({"inputs": text}).to_string();
            let got = post(&format!("{url}/predict"), &body);
            assert_eq!(got.status, 200, "{}", got.body);
        }
    };
    send(0, 100);
    let settled = rss(pid);
    send(100, 300);
    let after = rss(pid);
    let grown = after.saturating_sub(settled);
    let _ = child.kill();
    let _ = child.wait();
    // Measured: 0.5 MB with this bound, 61 MB with the bound at 1 GB (the old count-only cache).
    println!("RSS {settled} -> {after} bytes after 200 more distinct 200 KB texts");
    assert!(
        grown < 30 << 20,
        "RSS grew by {} MB over 200 distinct 200 KB texts (cache bound 8 MB)",
        grown >> 20
    );
}

#[test]
fn sigterm_with_requests_in_flight_answers_them_all_and_exits_0() {
    let _serial = super::serial();
    let model = model_dir("emotion-minilm-ekman");
    let (mut child, url) = emotion_serve(&[
        "--model-id",
        model.to_str().unwrap(),
        "--cache-capacity",
        "0",
    ]);
    let requests: Vec<_> = (0..8)
        .map(|r| {
            let url = url.clone();
            std::thread::spawn(move || {
                let texts: Vec<[String; 1]> = (0..16)
                    .map(|t| {
                        [format!(
                            "request {r} text {t}: {}",
                            "I was so happy to see you again after all these years, and then sad. "
                                .repeat(5)
                        )]
                    })
                    .collect();
                let body = serde_json::json!({"inputs": texts}).to_string();
                post(&format!("{url}/predict"), &body)
            })
        })
        .collect();
    // Wait until all 8 are in: counted when they arrive, before their passes.
    let deadline = Instant::now() + Duration::from_secs(30);
    let in_flight = loop {
        let scrape = get(&format!("{url}/metrics")).body;
        let arrived = super::metrics::sample(&scrape, r#"te_request_count{method="batch"}"#);
        let done =
            super::metrics::sample(&scrape, r#"te_request_success{method="batch"}"#).unwrap_or(0.0);
        if arrived == Some(8.0) {
            break 8.0 - done;
        }
        assert!(
            Instant::now() < deadline,
            "the requests never arrived:\n{scrape}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        in_flight >= 1.0,
        "every request had finished before SIGTERM"
    );
    for request in requests {
        let answer = request.join().unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.json().as_array().unwrap().len(), 16);
    }
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "{exit:?}");
    println!("SIGTERM with {in_flight} of 8 requests in flight: all answered, exit 0");
}

/// The model's worker panics at its first job (the `failpoints` feature's `worker-panic`): the
/// request gets 503, `/health` 503, and the process exits with code 3 so it is restarted.
#[cfg(feature = "failpoints")]
#[test]
fn a_dead_worker_makes_the_process_exit_non_zero() {
    let _serial = super::serial();
    let model = model_dir("tiny-distilbert-emotion");
    let mut command = Command::new(env!("CARGO_BIN_EXE_emotion-serve"));
    command.env("EMOTION_CLASSIFIER_FAILPOINT", "worker-panic");
    let (mut child, url) = spawn_serve(command, &["--model-id", model.to_str().unwrap()]);
    let got = post(&format!("{url}/predict"), r#"{"inputs": "hello"}"#);
    assert_eq!(got.status, 503, "{}", got.body);
    assert_eq!(got.error_type(), "Unhealthy");
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "still running after its worker died"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(exit.code(), Some(3), "{exit:?}");
}
