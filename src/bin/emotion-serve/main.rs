//! `emotion-serve`: an emotion classifier over HTTP, speaking text-embeddings-inference (TEI)
//! 1.9.3's API under TEI's flags and environment variables, so it drops in where TEI runs
//! (see `docs/SERVING.md`).
//!
//! ```text
//! cargo install --path . --features server
//! emotion-serve --model-id ../shared/models/emotion-minilm-ekman --port 8080
//! MODEL_ID=j-hartmann/emotion-english-distilroberta-base PORT=8080 emotion-serve
//! curl -s localhost:8080/predict -H 'content-type: application/json' -d '{"inputs": "I love it"}'
//! ```
//!
//! Every flag is also read from its variable (`--max-client-batch-size` from
//! `MAX_CLIENT_BATCH_SIZE`, ...), as TEI's. Exit codes: 0 after a shutdown on SIGTERM or
//! Ctrl-C (requests in flight answered), 1 when the model cannot load or the server cannot
//! listen, 3 when the model's workers died while serving (so an orchestrator restarts it).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use emotion_classifier::server::{serve, shutdown_signal, ServerConfig};
use emotion_classifier::{EmotionClassifier, Error, ErrorChain, ModelSource, Precision};

/// Serve an emotion classifier over HTTP with text-embeddings-inference's API.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The model: a hub id (`owner/name`) or a folder in Hugging Face layout [default:
    /// $EMOTION_MODEL, else the crate's default hub model].
    #[arg(long, env)]
    model_id: Option<String>,
    /// The hub revision (branch, tag or commit) of `--model-id`.
    #[arg(long, env)]
    revision: Option<String>,
    /// Threads that tokenize requests [default: the CPU's cores].
    #[arg(long, env)]
    tokenization_workers: Option<usize>,
    /// The name `/info` gives the model [default: --model-id].
    #[arg(long, env)]
    served_model_name: Option<String>,
    /// Requests handled at once; more are refused with 429 before they are tokenized.
    #[arg(long, env, default_value_t = 512)]
    max_concurrent_requests: usize,
    /// Tokens in one forward pass at most [default: the crate's, 16,384].
    #[arg(long, env)]
    max_batch_tokens: Option<usize>,
    /// Texts in one forward pass at most [default: the crate's].
    #[arg(long, env)]
    max_batch_requests: Option<usize>,
    /// Texts in one request at most; more is 422.
    #[arg(long, env, default_value_t = 32)]
    max_client_batch_size: usize,
    /// Cut texts longer than the model takes when a request does not say `truncate`;
    /// `--auto-truncate false` refuses them with 422.
    #[arg(long, env, default_value = "true", num_args = 0..=1, default_missing_value = "true")]
    auto_truncate: bool,
    /// A Hugging Face token for private models [default: $HF_TOKEN or the token file].
    #[arg(long, env, hide_env_values = true)]
    hf_token: Option<String>,
    /// The address (or a name that resolves to one) to listen on. TEI's default is 0.0.0.0;
    /// this one listens on the loopback only unless told otherwise.
    #[arg(long, env, default_value = "127.0.0.1")]
    hostname: String,
    /// The port to listen on.
    #[arg(long, short, env, default_value_t = 3000)]
    port: u16,
    /// The Hugging Face hub cache folder [default: $HF_HUB_CACHE or ~/.cache/huggingface/hub].
    #[arg(long, env)]
    huggingface_hub_cache: Option<PathBuf>,
    /// The largest request body, in bytes; larger is 413.
    #[arg(long, env, default_value_t = 2_000_000)]
    payload_limit: usize,
    /// Require `Authorization: Bearer <key>` on every route but /health, /ping, GET / and
    /// /metrics.
    #[arg(long, env, hide_env_values = true)]
    api_key: Option<String>,
    /// Logs as JSON lines.
    #[arg(long, env)]
    json_output: bool,
    /// Also serve the metrics on this port (at any path) [default: only at /metrics].
    #[arg(long, env)]
    prometheus_port: Option<u16>,
    /// Origins CORS allows, comma-separated [default: any].
    #[arg(long, env, value_delimiter = ',')]
    cors_allow_origin: Option<Vec<String>>,
    /// Numeric precision: f32, bf16 or int8 (the crate's own flag).
    #[arg(long, env = "EMOTION_PRECISION", default_value = "f32", value_parser = ["f32", "bf16", "int8"])]
    precision: String,
    /// Texts the result cache keeps; 0 turns it off.
    #[arg(long, env = "EMOTION_CACHE_CAPACITY", default_value_t = emotion_classifier::DEFAULT_CACHE_CAPACITY)]
    cache_capacity: usize,
    /// Bytes the result cache holds at most, texts and scores counted; 0 turns it off.
    #[arg(long, env = "EMOTION_CACHE_BYTES", default_value_t = emotion_classifier::DEFAULT_CACHE_BYTES)]
    cache_bytes: usize,
    /// Texts that may wait for a forward pass; a request that would pass it gets 429.
    #[arg(long, env = "EMOTION_MAX_QUEUED", default_value_t = emotion_classifier::DEFAULT_MAX_QUEUED)]
    max_queued: usize,
    /// Seconds a request may take in all (then 408).
    #[arg(long, env = "EMOTION_REQUEST_TIMEOUT", default_value_t = 60)]
    request_timeout: u64,
    /// Seconds a client may take to send a request's headers, and its body.
    #[arg(long, env = "EMOTION_CLIENT_TIMEOUT", default_value_t = 10)]
    client_timeout: u64,
    /// Seconds a shutdown waits for the requests in flight.
    #[arg(long, env = "EMOTION_SHUTDOWN_TIMEOUT", default_value_t = 30)]
    shutdown_timeout: u64,
}

fn logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal, and not with NO_COLOR (logs to a file or a collector stay
    // plain text).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn source(args: &Args) -> ModelSource {
    let mut source = args
        .model_id
        .as_deref()
        .map_or_else(ModelSource::from_env, ModelSource::parse);
    if let ModelSource::Hub(hub) = &mut source {
        let mut model = hub.clone();
        if let Some(revision) = &args.revision {
            model = model.revision(revision.clone());
        }
        if let Some(cache) = &args.huggingface_hub_cache {
            model = model.cache_dir(cache.clone());
        }
        *hub = model;
    }
    source
}

/// The address of `--hostname` (an IP address, or a name such as a container's `HOSTNAME`,
/// resolved) and `port`.
fn address(hostname: &str, port: u16) -> Result<SocketAddr, Error> {
    if let Ok(ip) = hostname.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let resolve = |source| Error::Serve {
        address: format!("{hostname}:{port}"),
        source,
    };
    (hostname, port)
        .to_socket_addrs()
        .map_err(resolve)?
        .next()
        .ok_or_else(|| {
            resolve(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the name resolves to no address",
            ))
        })
}

fn config(args: &Args, model_id: String, dtype: &str) -> Result<ServerConfig, Error> {
    let client = Duration::from_secs(args.client_timeout);
    let mut config = ServerConfig::builder()
        .model_id(args.served_model_name.clone().unwrap_or(model_id))
        .model_dtype(dtype)
        .max_concurrent_requests(args.max_concurrent_requests)
        .max_client_batch_size(args.max_client_batch_size)
        .auto_truncate(args.auto_truncate)
        .payload_limit(args.payload_limit)
        .header_timeout(client)
        .body_timeout(client)
        .request_timeout(Duration::from_secs(args.request_timeout))
        .shutdown_timeout(Duration::from_secs(args.shutdown_timeout));
    if let Some(workers) = args.tokenization_workers {
        config = config.tokenization_workers(workers);
    }
    if let Some(key) = &args.api_key {
        config = config.api_key(key.clone());
    }
    if let Some(origins) = &args.cors_allow_origin {
        config = config.cors_allow_origin(origins.clone());
    }
    if let Some(port) = args.prometheus_port {
        config = config.prometheus_address(address(&args.hostname, port)?);
    }
    config.build()
}

async fn run(args: Args) -> Result<(), Error> {
    let (precision, dtype) = match args.precision.as_str() {
        "bf16" => (Precision::Bf16, "bfloat16"),
        "int8" => (Precision::Int8, "int8"),
        _ => (Precision::F32, "float32"),
    };
    let source = source(&args);
    let model_id = match &source {
        ModelSource::Hub(hub) => hub.id().to_owned(),
        other => other
            .as_dir()
            .map_or_else(String::new, |dir| dir.display().to_string()),
    };
    let config = config(&args, model_id, dtype)?;
    tracing::info!(?source, "loading the model");
    let mut builder = EmotionClassifier::builder()
        .model(source)
        .precision(precision)
        .max_queued(args.max_queued)
        .cache_capacity(args.cache_capacity)
        .cache_bytes(args.cache_bytes)
        .tune_malloc(true);
    if let Some(tokens) = args.max_batch_tokens {
        builder = builder.max_batch_tokens(tokens);
    }
    if let Some(size) = args.max_batch_requests {
        builder = builder.max_batch_size(size);
    }
    // Loading reads files and may download: off the async executor.
    let classifier = tokio::task::spawn_blocking(move || builder.build())
        .await
        .map_err(|_| Error::WorkerStopped)??;
    let address = address(&args.hostname, args.port)?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| Error::Serve {
            address: address.to_string(),
            source,
        })?;
    match listener.local_addr() {
        Ok(bound) => tracing::info!("listening on http://{bound}"),
        Err(_) => tracing::info!("listening on http://{address}"),
    }
    serve(listener, classifier, config, shutdown_signal()).await
}

fn main() -> ExitCode {
    let args = Args::parse();
    logging(args.json_output);
    if let Some(token) = &args.hf_token {
        // Read by the hub client when the model is fetched; set before any other thread runs.
        std::env::set_var("HF_TOKEN", token);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("emotion-serve: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(Error::WorkerStopped) => {
            tracing::error!("the model's workers stopped; exiting so the server is restarted");
            ExitCode::from(3)
        }
        Err(e) => {
            tracing::error!("{}", ErrorChain(&e));
            eprintln!("emotion-serve: {}", ErrorChain(&e));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_defaults_are_teis() {
        let args = Args::try_parse_from(["emotion-serve"]).unwrap();
        assert_eq!(args.max_concurrent_requests, 512);
        assert_eq!(args.max_client_batch_size, 32);
        assert_eq!(args.payload_limit, 2_000_000);
        assert_eq!(args.port, 3000);
        assert!(args.auto_truncate);
        assert_eq!(
            address(&args.hostname, args.port).unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 3000))
        );
        // A name, as a container's HOSTNAME: resolved.
        assert!(address("localhost", 80).unwrap().ip().is_loopback());
        assert!(matches!(
            address("no-such-host.invalid", 80),
            Err(Error::Serve { .. })
        ));
        let args = Args::try_parse_from([
            "emotion-serve",
            "--model-id",
            "owner/model",
            "--revision",
            "v2",
            "--hostname",
            "0.0.0.0",
            "-p",
            "8080",
            "--max-concurrent-requests",
            "64",
            "--max-batch-tokens",
            "4096",
            "--max-batch-requests",
            "16",
            "--max-client-batch-size",
            "8",
            "--auto-truncate",
            "false",
            "--payload-limit",
            "1000",
            "--api-key",
            "k",
            "--cors-allow-origin",
            "https://a.example,https://b.example",
            "--json-output",
            "--prometheus-port",
            "9000",
            "--hf-token",
            "t",
            "--huggingface-hub-cache",
            "/tmp/hub",
        ])
        .unwrap();
        assert!(!args.auto_truncate);
        assert_eq!(args.port, 8080);
        assert_eq!(args.max_batch_requests, Some(16));
        assert_eq!(args.cors_allow_origin.as_ref().map(Vec::len), Some(2));
        assert_eq!(args.prometheus_port, Some(9000));
        let config = config(&args, "owner/model".into(), "float32").unwrap();
        assert_eq!(config.max_client_batch_size(), 8);
        assert_eq!(config.payload_limit(), 1000);
        match source(&args) {
            ModelSource::Hub(hub) => {
                assert_eq!(hub.id(), "owner/model");
                assert_eq!(hub.revision_name(), "v2");
            }
            other => panic!("{other:?}"),
        }
        // A bare --auto-truncate is true, as TEI's.
        let args = Args::try_parse_from(["emotion-serve", "--auto-truncate"]).unwrap();
        assert!(args.auto_truncate);
    }

    #[test]
    fn every_flag_reads_its_teis_environment_variable() {
        // The variable names clap derives: TEI's own (`MODEL_ID`, `PORT`, ...).
        let command = <Args as clap::CommandFactory>::command();
        let env = |flag: &str| {
            command
                .get_arguments()
                .find(|a| a.get_long() == Some(flag))
                .and_then(|a| a.get_env())
                .map(|e| e.to_string_lossy().into_owned())
        };
        for (flag, variable) in [
            ("model-id", "MODEL_ID"),
            ("revision", "REVISION"),
            ("hostname", "HOSTNAME"),
            ("port", "PORT"),
            ("max-concurrent-requests", "MAX_CONCURRENT_REQUESTS"),
            ("max-batch-tokens", "MAX_BATCH_TOKENS"),
            ("max-batch-requests", "MAX_BATCH_REQUESTS"),
            ("max-client-batch-size", "MAX_CLIENT_BATCH_SIZE"),
            ("auto-truncate", "AUTO_TRUNCATE"),
            ("payload-limit", "PAYLOAD_LIMIT"),
            ("api-key", "API_KEY"),
            ("cors-allow-origin", "CORS_ALLOW_ORIGIN"),
            ("json-output", "JSON_OUTPUT"),
            ("prometheus-port", "PROMETHEUS_PORT"),
            ("hf-token", "HF_TOKEN"),
            ("huggingface-hub-cache", "HUGGINGFACE_HUB_CACHE"),
            ("tokenization-workers", "TOKENIZATION_WORKERS"),
            ("precision", "EMOTION_PRECISION"),
        ] {
            assert_eq!(env(flag).as_deref(), Some(variable), "--{flag}");
        }
    }
}
