//! A bounded loopback load generator for `emotion-serve` (`scripts/bench-serve.sh` runs it):
//! for each number of concurrent clients and texts per request, clients post TEI `/predict`
//! requests for a fixed time, and it reports requests/s, texts/s and p50/p99 latency; in the
//! same run, the library's own `classify_batch` rate on the same texts and model, as the
//! ceiling the server is measured against.
//!
//! ```text
//! cargo run --release --example serve-load -- --url http://127.0.0.1:3000 --seconds 10
//! ```

#[path = "../benches/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use emotion_classifier::Precision;

/// Load `emotion-serve` on loopback and compare with the library's batch rate.
#[derive(Parser)]
struct Args {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// Seconds each cell runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent clients, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    clients: Vec<usize>,
    /// Texts per request, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    texts: Vec<usize>,
    /// Skip the library's batch rate (no model loaded here).
    #[arg(long)]
    no_library: bool,
    /// The library's precision, as the server's `--precision`: f32, bf16 or int8.
    #[arg(long, default_value = "f32", value_parser = ["f32", "bf16", "int8"])]
    precision: String,
}

/// The `q` quantile of sorted `values`.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

struct Cell {
    clients: usize,
    per_request: usize,
    requests: usize,
    refused: usize,
    seconds: f64,
    p50: Duration,
    p99: Duration,
}

/// `clients` threads posting `per_request` texts a request for `seconds`.
fn run_cell(
    url: &str,
    texts: &Arc<Vec<String>>,
    clients: usize,
    per_request: usize,
    seconds: u64,
) -> Cell {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let (url, texts, stop) = (format!("{url}/predict"), Arc::clone(texts), Arc::clone(&stop));
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(120))
                    .build();
                let mut latencies = Vec::new();
                let mut refused = 0;
                let mut next = client * 997;
                while !stop.load(Ordering::Relaxed) {
                    let batch: Vec<&str> = (0..per_request)
                        .map(|i| texts[(next + i) % texts.len()].as_str())
                        .collect();
                    next += per_request;
                    let body = if per_request == 1 {
                        serde_json::json!({ "inputs": batch[0] })
                    } else {
                        serde_json::json!({ "inputs": batch.iter().map(|t| [t]).collect::<Vec<_>>() })
                    };
                    let asked = Instant::now();
                    match agent
                        .post(&url)
                        .set("content-type", "application/json")
                        .send_string(&body.to_string())
                    {
                        Ok(response) => {
                            let _ = response.into_string();
                            latencies.push(asked.elapsed());
                        }
                        Err(ureq::Error::Status(429, _)) => refused += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
                (latencies, refused)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut refused = 0;
    for thread in threads {
        let (mine, no) = thread.join().expect("client thread");
        latencies.extend(mine);
        refused += no;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    Cell {
        clients,
        per_request,
        requests: latencies.len(),
        refused,
        seconds,
        p50: quantile(&latencies, 0.5),
        p99: quantile(&latencies, 0.99),
    }
}

/// The library's `classify_batch` rate on `texts` (cache off), in texts/s, over `seconds`.
fn library_rate(texts: &[String], seconds: u64, precision: Precision) -> f64 {
    let classifier = common::classifier(|b| b.precision(precision));
    let chunk = &texts[..texts.len().min(1024)];
    let _ = classifier.classify_batch(&chunk[..64.min(chunk.len())]);
    let started = Instant::now();
    let mut done = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        let scored = classifier.classify_batch(chunk).expect("classify_batch");
        done += scored.len();
    }
    done as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let args = Args::parse();
    common::print_cpu();
    let mut texts = common::test_texts();
    let mut rng = common::Rng::new(7);
    for i in (1..texts.len()).rev() {
        texts.swap(i, rng.below(i + 1));
    }
    let texts = Arc::new(texts);
    let precision = match args.precision.as_str() {
        "bf16" => Precision::Bf16,
        "int8" => Precision::Int8,
        _ => Precision::F32,
    };
    let library = (!args.no_library).then(|| library_rate(&texts, args.seconds, precision));
    let mut cells = Vec::new();
    for &per_request in &args.texts {
        for &clients in &args.clients {
            let cell = run_cell(&args.url, &texts, clients, per_request, args.seconds);
            eprintln!(
                "{clients} clients x {per_request} texts: {:.1} requests/s, p50 {:?}, p99 {:?}",
                cell.requests as f64 / cell.seconds,
                cell.p50,
                cell.p99
            );
            cells.push(cell);
        }
    }
    println!("| clients | texts/request | requests/s | texts/s | p50 (ms) | p99 (ms) | 429s | texts/s vs classify_batch |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for cell in &cells {
        let rate = cell.requests as f64 / cell.seconds;
        let text_rate = rate * cell.per_request as f64;
        let ratio = library.map_or("".to_owned(), |l| format!("{:.2}x", text_rate / l));
        println!(
            "| {} | {} | {rate:.1} | {text_rate:.1} | {:.1} | {:.1} | {} | {ratio} |",
            cell.clients,
            cell.per_request,
            cell.p50.as_secs_f64() * 1e3,
            cell.p99.as_secs_f64() * 1e3,
            cell.refused
        );
    }
    if let Some(library) = library {
        println!(
            "\nclassify_batch (library, same model and texts, cache off): {library:.1} texts/s"
        );
    }
    let single = cells.iter().find(|c| c.clients == 1 && c.per_request == 1);
    let eight = cells.iter().find(|c| c.clients == 8 && c.per_request == 1);
    if let Some(eight) = eight {
        println!(
            "p99 / p50 at 8 clients x 1 text: {:.2} (goal <= 3)",
            eight.p99.as_secs_f64() / eight.p50.as_secs_f64()
        );
        if let Some(single) = single {
            println!(
                "p99 at 8 clients x 1 text / p50 at 1 client x 1 text: {:.2} (at least 8 / the texts/s at 64 clients x 1 text / that p50, by Little's law)",
                eight.p99.as_secs_f64() / single.p50.as_secs_f64()
            );
        }
    }
    let full = cells
        .iter()
        .find(|c| c.clients == 64 && c.per_request == 32);
    if let (Some(full), Some(library)) = (full, library) {
        println!(
            "texts/s at 64 clients x 32 texts / classify_batch: {:.2} (goal >= 0.8)",
            full.requests as f64 * 32.0 / full.seconds / library
        );
    }
}
