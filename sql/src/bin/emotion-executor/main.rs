//! `emotion-executor`: a Ballista executor that knows the emotion SQL functions.
//!
//! ```text
//! EMOTION_MODEL=/models/emotion-minilm-ekman \
//!     emotion-executor --scheduler-host 10.0.0.1 --scheduler-port 50050 --vcores 8
//! ```
//!
//! It takes the stock `ballista-executor`'s flags (`--help` lists them), plus `--model`,
//! `--strict`, `--cache-capacity` and `--report-seconds`. The model is read from `--model`, else
//! `EMOTION_MODEL`, else the crate's default hub model: its `config.json` at start (a hub
//! model is downloaded into the cache then), its weights when the first task calls a
//! function, once per process. The classifier gets `--vcores` threads, shared by all the
//! executor's tasks. Every `--report-seconds` in which rows were scored, it logs the total.
//! The deployment guide is `docs/BALLISTA.md`.

use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ballista_core::object_store::{runtime_env_with_s3_support, session_config_with_s3_support};
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_executor::health::spawn_health_server;
use clap::Parser;
use emotion_classifier::{EmotionClassifier, ErrorChain, ModelSource};
use emotion_classifier_sql::{ballista::function_registry, EmotionFunctions};
use tracing_subscriber::EnvFilter;

/// A Ballista executor with the emotion SQL functions (`emotion_scores`, `emotion_top`,
/// `emotion`).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Model folder or hub id [default: $EMOTION_MODEL, else the crate's default hub model].
    #[arg(long)]
    model: Option<String>,
    /// Fail a query on a text the model cannot score, instead of answering NULL.
    #[arg(long)]
    strict: bool,
    /// Texts the classifier's result cache holds; 0 turns it off [default: the crate's].
    #[arg(long)]
    cache_capacity: Option<usize>,
    /// Log the rows scored so far every this many seconds while rows are scored (0: never).
    #[arg(long, default_value_t = 5)]
    report_seconds: u64,
    #[command(flatten)]
    ballista: ballista_executor::config::Config,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("emotion-executor: {}", ErrorChain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let health_addr: SocketAddr = format!(
        "{}:{}",
        args.ballista.bind_host, args.ballista.bind_health_port
    )
    .parse()
    .map_err(|e| format!("invalid --bind-host or --bind-health-port: {e}"))?;
    let mut config: ExecutorProcessConfig = args.ballista.try_into()?;
    let filter = std::env::var(EnvFilter::DEFAULT_ENV)
        .unwrap_or_else(|_| config.special_mod_log_level.clone());
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_env_filter(EnvFilter::new(filter))
        .init();

    let source = args
        .model
        .as_deref()
        .map_or_else(ModelSource::from_env, ModelSource::parse);
    // As Ballista reads `--vcores`: 0 means every core.
    let vcores = match config.vcores {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let mut builder = EmotionClassifier::builder()
        .model(source)
        .threads(vcores)
        .tune_malloc(true);
    if let Some(capacity) = args.cache_capacity {
        builder = builder.cache_capacity(capacity);
    }
    let functions = EmotionFunctions::lazy(builder)?.strict(args.strict);
    log::info!(
        "emotion functions registered; labels: {}",
        functions.labels().join(", ")
    );
    if args.report_seconds > 0 {
        let (functions, every) = (functions.clone(), Duration::from_secs(args.report_seconds));
        std::thread::spawn(move || report_rows(&functions, every));
    }
    config.override_function_registry = Some(Arc::new(function_registry(&functions)));
    config.override_config_producer = Some(Arc::new(session_config_with_s3_support));
    config.override_runtime_producer = Some(Arc::new(runtime_env_with_s3_support));

    let (stop_health, health_stopped) = tokio::sync::oneshot::channel();
    let health = spawn_health_server(health_addr, config.health.clone(), health_stopped);
    let result = start_executor_process(Arc::new(config)).await;
    let _ = stop_health.send(());
    let _ = health.await;
    Ok(result?)
}

/// Logs the functions' row count whenever it changed since the last look.
fn report_rows(functions: &EmotionFunctions, every: Duration) {
    let mut last = 0;
    loop {
        std::thread::sleep(every);
        let stats = functions.stats();
        if stats.rows != last {
            last = stats.rows;
            log::info!(
                "emotion functions: {} rows scored ({} NULL, {} unscored)",
                stats.rows,
                stats.null_texts,
                stats.unscored
            );
        }
    }
}
