//! Measure this crate on a file of texts, as `../shared/peers/hf_pipeline.py` measures Python.
//!
//! ```text
//! cargo run --release --example throughput -- ../shared/data/goemotions/ekman/test.tsv \
//!     --mode batch [--precision f32|bf16|int8] [--threads 2] [--limit N] [--out scores.jsonl]
//! ```
//!
//! Modes: `batch` (one `classify_batch` call over all texts), `single` (one `classify` call per
//! text, cache off: latency), `concurrent` (`--callers` threads calling `classify`, with or
//! without `--no-dynamic`). Prints one JSON line:
//! `{"peer":"emotion-classifier","mode":..,"texts":N,"seconds":S,"texts_per_s":R,...}`, with
//! how the forward passes were filled (`passes`, `texts_per_pass`, `padding`, `mean_pass_ms`,
//! `workers_busy`, from [`EmotionClassifier::pass_stats`]), and with `--out`, every text's
//! scores as JSON lines in the reference files' shape.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use emotion_classifier::{EmotionClassifier, Precision};

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Batch,
    Single,
    Concurrent,
}

#[derive(Clone, Copy, ValueEnum)]
enum Float {
    F32,
    Bf16,
    Int8,
}

/// Time this crate on the first tab-separated field of each line of a file.
#[derive(Parser)]
struct Args {
    /// Texts, one per line (GoEmotions TSVs work as they are).
    texts: PathBuf,
    /// Model directory [default: $EMOTION_MODEL].
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "batch")]
    mode: Mode,
    #[arg(long, value_enum, default_value = "f32")]
    precision: Float,
    /// libtorch intra-op threads, all workers together [default: libtorch's choice].
    #[arg(long)]
    threads: Option<usize>,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Padded tokens per forward pass.
    #[arg(long, default_value_t = 8192)]
    batch_tokens: usize,
    /// Only the first N texts (0: all).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// Repeat the texts until there are this many (0: no repeat), each repeat made distinct
    /// with a suffix (` #2`, ` #3`, ...) so that every one is computed; for memory tests.
    #[arg(long, default_value_t = 0)]
    cycle_to: usize,
    /// Caller threads in `concurrent` mode.
    #[arg(long, default_value_t = 8)]
    callers: usize,
    /// Turn dynamic batching off.
    #[arg(long)]
    no_dynamic: bool,
    /// With dynamic batching, wait up to this many milliseconds for more requests
    /// [default: the crate's, 2].
    #[arg(long)]
    max_wait_ms: Option<f64>,
    /// Worker threads, sharing the threads [default: the crate's: 2 on 2+ threads, else 1].
    #[arg(long)]
    workers: Option<usize>,
    /// Keep weight matrices as loaded (libtorch's `linear`) instead of MKL-packed.
    #[arg(long)]
    plain_weights: bool,
    /// Run every pass on libtorch's ops (`small_passes(false)`), not small passes on the
    /// crate's row kernels, to measure what they give.
    #[arg(long)]
    no_small_passes: bool,
    /// Leave glibc's malloc as it is (the library's default) instead of tuning it for
    /// libtorch (`tune_malloc(true)`), to measure what the tuning gives.
    #[arg(long)]
    default_malloc: bool,
    /// Write every text's scores here, as JSON lines.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut texts: Vec<String> = std::fs::read_to_string(&args.texts)?
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect();
    if args.limit > 0 {
        texts.truncate(args.limit);
    }
    if args.cycle_to > texts.len() && !texts.is_empty() {
        let original = texts.clone();
        // A call computes a repeated text once: the suffix makes every copy a new text.
        texts = (0..args.cycle_to)
            .map(|i| {
                let text = &original[i % original.len()];
                match i / original.len() {
                    0 => text.clone(),
                    round => format!("{text} #{}", round + 1),
                }
            })
            .collect();
    }
    let mut builder = EmotionClassifier::builder();
    if let Some(ms) = args.max_wait_ms {
        builder = builder.max_wait(
            std::time::Duration::try_from_secs_f64(ms / 1000.0)
                .map_err(|e| format!("--max-wait-ms {ms}: {e}"))?,
        );
    }
    let mut builder = builder
        .max_batch_size(args.batch_size)
        .max_batch_tokens(args.batch_tokens)
        .cache_capacity(0)
        .dynamic_batching(!args.no_dynamic)
        .pack_weights(!args.plain_weights)
        .small_passes(!args.no_small_passes)
        .tune_malloc(!args.default_malloc)
        .precision(match args.precision {
            Float::F32 => Precision::F32,
            Float::Bf16 => Precision::Bf16,
            Float::Int8 => Precision::Int8,
        });
    if let Some(model) = &args.model {
        builder = builder.model(model.as_path());
    }
    if let Some(threads) = args.threads {
        builder = builder.threads(threads);
    }
    if let Some(workers) = args.workers {
        builder = builder.workers(workers);
    }
    let classifier = builder.build()?;
    // Warm up as the peer does: one small batch.
    classifier.classify_batch(&texts[..texts.len().min(8)])?;

    let mut report = serde_json::json!({
        "peer": "emotion-classifier",
        "mode": match args.mode { Mode::Batch => "batch", Mode::Single => "single", Mode::Concurrent => "concurrent" },
        "precision": match args.precision { Float::F32 => "f32", Float::Bf16 => "bf16", Float::Int8 => "int8" },
        "texts": texts.len(),
        "batch": args.batch_size,
        "threads": classifier.threads(),
        "workers": classifier.workers(),
        "small_passes": !args.no_small_passes,
        "packed_weights": !args.plain_weights
            && matches!(args.precision, Float::F32)
            && emotion_classifier::mkl_packed_gemm_available(),
    });
    let before = classifier.pass_stats();
    let start = Instant::now();
    let scores = match args.mode {
        Mode::Batch => classifier.classify_batch(&texts)?,
        Mode::Single => {
            let mut latencies = Vec::with_capacity(texts.len());
            let mut all = Vec::with_capacity(texts.len());
            for text in &texts {
                let t = Instant::now();
                all.push(classifier.classify(text)?);
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            percentiles(&mut latencies, &mut report);
            all
        }
        Mode::Concurrent => {
            report["callers"] = args.callers.into();
            report["dynamic"] = (!args.no_dynamic).into();
            report["max_wait_ms"] = (classifier.batching().max_wait.as_secs_f64() * 1000.0).into();
            let (all, mut latencies) = concurrent(&classifier, &texts, args.callers)?;
            percentiles(&mut latencies, &mut report);
            all
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    report["seconds"] = seconds.into();
    report["texts_per_s"] = (texts.len() as f64 / seconds).into();
    report["peak_rss_mib"] = peak_rss_mib().into();
    // How the forward passes were filled: texts per pass, padding, and how busy the workers were.
    let passes = classifier.pass_stats().since(&before);
    report["passes"] = passes.passes.into();
    report["texts_per_pass"] = passes.sequences_per_pass().into();
    report["padding"] = passes.padding_fraction().into();
    report["mean_pass_ms"] = (passes.mean_forward_time().as_secs_f64() * 1000.0).into();
    report["workers_busy"] =
        (passes.forward_time.as_secs_f64() / (seconds * classifier.workers() as f64)).into();
    println!("{report}");
    if let Some(path) = &args.out {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for (text, s) in texts.iter().zip(&scores) {
            serde_json::to_writer(&mut out, &serde_json::json!({"text": text, "scores": s}))?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// `callers` threads each classify every `callers`-th text, one call per text.
/// p50 and p99 of per-call latencies (ms) into the report.
fn percentiles(latencies: &mut [f64], report: &mut serde_json::Value) {
    if latencies.is_empty() {
        return;
    }
    latencies.sort_by(f64::total_cmp);
    report["p50_ms"] = latencies[latencies.len() / 2].into();
    report["p99_ms"] = latencies[(latencies.len() - 1) * 99 / 100].into();
}

/// Every text classified by `callers` threads, each calling `classify` on its share in turn:
/// the scores in input order, and each call's latency in ms.
fn concurrent(
    classifier: &EmotionClassifier,
    texts: &[String],
    callers: usize,
) -> Result<(Vec<emotion_classifier::EmotionScores>, Vec<f64>), emotion_classifier::Error> {
    let mut results: Vec<Option<emotion_classifier::EmotionScores>> = vec![None; texts.len()];
    let mut latencies = Vec::with_capacity(texts.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..callers)
            .map(|c| {
                let classifier = classifier.clone();
                s.spawn(move || {
                    (c..texts.len())
                        .step_by(callers)
                        .map(|i| {
                            let t = Instant::now();
                            classifier
                                .classify(&texts[i])
                                .map(|r| (i, r, t.elapsed().as_secs_f64() * 1000.0))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        for handle in handles {
            let done = handle
                .join()
                .map_err(|_| emotion_classifier::Error::WorkerStopped)??;
            for (i, r, ms) in done {
                results[i] = Some(r);
                latencies.push(ms);
            }
        }
        Ok::<(), emotion_classifier::Error>(())
    })?;
    Ok((results.into_iter().flatten().collect(), latencies))
}

/// Peak resident memory of this process, from /proc (Linux); 0 elsewhere.
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}
