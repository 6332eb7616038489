//! `emotion-scheduler`: a Ballista scheduler that knows the emotion SQL functions.
//!
//! ```text
//! EMOTION_MODEL=/models/emotion-minilm-ekman emotion-scheduler --bind-port 50050
//! ```
//!
//! A scheduler plans every query, so it must know the functions by name and their output
//! types (the model's labels); the stock `ballista-scheduler` fails such queries with
//! `LogicalExtensionCodec is not provided for scalar function emotion_top`. This one takes the
//! stock scheduler's flags (`--help` lists them) plus `--model`, and reads only the model's
//! `config.json` (from `--model`, else `EMOTION_MODEL`, else the crate's default hub model):
//! it never loads the weights, unless a query calls a function on a constant, which is folded
//! while planning. The deployment guide is `docs/BALLISTA.md`.

use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use ballista_core::object_store::{session_config_with_s3_support, session_state_with_s3_support};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use clap::Parser;
use emotion_classifier::{EmotionClassifier, ErrorChain, ModelSource};
use emotion_classifier_sql::{ballista::session_builder_over, EmotionFunctions};
use tracing_subscriber::EnvFilter;

/// A Ballista scheduler with the emotion SQL functions (`emotion_scores`, `emotion_top`,
/// `emotion`).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Model folder or hub id [default: $EMOTION_MODEL, else the crate's default hub model];
    /// the executors must use the same model.
    #[arg(long)]
    model: Option<String>,
    #[command(flatten)]
    ballista: ballista_scheduler::config::Config,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // As the stock scheduler: planning deep plans recurses, hence the large stacks.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 * 1024 * 1024)
        .build();
    let outcome = match runtime {
        Ok(runtime) => runtime.block_on(run(args)),
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("emotion-scheduler: {}", ErrorChain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let filter = std::env::var(EnvFilter::DEFAULT_ENV)
        .unwrap_or_else(|_| args.ballista.log_level_setting.clone());
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(std::io::stdout)
        .with_env_filter(EnvFilter::new(filter))
        .init();
    let addr: SocketAddr = format!("{}:{}", args.ballista.bind_host, args.ballista.bind_port)
        .parse()
        .map_err(|e| format!("invalid --bind-host or --bind-port: {e}"))?;

    let source = args
        .model
        .as_deref()
        .map_or_else(ModelSource::from_env, ModelSource::parse);
    let functions = EmotionFunctions::lazy(EmotionClassifier::builder().model(source))?;
    log::info!(
        "emotion functions registered; labels: {}",
        functions.labels().join(", ")
    );
    let config: SchedulerConfig = args.ballista.try_into()?;
    let config = config
        .with_override_config_producer(Arc::new(session_config_with_s3_support))
        .with_override_session_builder(session_builder_over(
            session_state_with_s3_support,
            functions,
        ));
    let cluster = BallistaCluster::new_from_config(&config).await?;
    start_server(cluster, addr, Arc::new(config)).await?;
    Ok(())
}
