//! Run SQL with the emotion functions over CSV, Parquet or JSON files.
//!
//! ```text
//! cargo run --release -p emotion-classifier-sql --example sql -- \
//!     --model ../shared/models/emotion-minilm-ekman \
//!     --make-demo target/goemotions-test.parquet \
//!     -c "SELECT emotion_top(text)['label'] AS emotion, count(*) AS texts \
//!         FROM 'target/goemotions-test.parquet' GROUP BY 1 ORDER BY 2 DESC"
//! ```
//!
//! Files are named in the query (`FROM 'tickets.parquet'`, `'*.csv'`, `'logs.json'`), or
//! written with `COPY (SELECT ...) TO 'out.parquet'`. The functions are `emotion_scores(text)`,
//! `emotion_top(text)` and `emotion(text, 'joy')`; see `emotion_classifier_sql`. A progress
//! line on stderr counts the texts scored and their rate. `--make-demo PATH` first writes the
//! GoEmotions Ekman test split (`id`, `text`) to a Parquet file, for a demo without data of
//! your own. `--strict` fails the query on a text the model cannot score (default: `NULL`).
//!
//! With the feature `ballista`, `--remote df://host:port` runs the query on an Apache
//! DataFusion Ballista cluster of `emotion-scheduler` and `emotion-executor`s (files must be at
//! paths the executors can read; the model is loaded there, not here), and `--standalone` on
//! one inside this process; see `docs/BALLISTA.md`:
//!
//! ```text
//! cargo run --release -p emotion-classifier-sql --features ballista --example sql -- --remote df://127.0.0.1:50050 \
//!     --model ../shared/models/emotion-minilm-ekman \
//!     -c "SELECT emotion_top(text)['label'], count(*) FROM '$PWD/target/goemotions-test.parquet' GROUP BY 1"
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::{SessionConfig, SessionContext};
use emotion_classifier::{EmotionClassifier, ModelSource};
use emotion_classifier_sql::{register, EmotionFunctions};

/// Run SQL with emotion functions over files.
#[derive(Parser)]
struct Args {
    /// The query (one or more statements separated by `;`).
    #[arg(short = 'c', long = "command")]
    command: String,
    /// Model folder or hub id [default: $EMOTION_MODEL, else the crate's default hub model].
    #[arg(long)]
    model: Option<String>,
    /// Fail the query on a text the model cannot score, instead of NULL.
    #[arg(long)]
    strict: bool,
    /// First write the GoEmotions Ekman test split to this Parquet file (`id`, `text`).
    #[arg(long)]
    make_demo: Option<PathBuf>,
    /// With `--make-demo`: write this many files into the folder PATH instead of one file, so
    /// a scan has that many partitions (one task each on a cluster).
    #[arg(long, default_value_t = 1)]
    demo_files: usize,
    /// The TSV `--make-demo` reads.
    #[arg(long, default_value = "../shared/data/goemotions/ekman/test.tsv")]
    demo_source: PathBuf,
    /// Texts the result cache holds; 0 turns it off [default: the crate's].
    #[arg(long)]
    cache_capacity: Option<usize>,
    /// Query partitions [default: the number of CPUs].
    #[arg(long)]
    partitions: Option<usize>,
    /// Run on the Ballista cluster whose scheduler is at this URL (`df://host:port`).
    #[cfg(feature = "ballista")]
    #[arg(long, conflicts_with = "standalone")]
    remote: Option<String>,
    /// Run on a Ballista cluster inside this process.
    #[cfg(feature = "ballista")]
    #[arg(long)]
    standalone: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(path) = &args.make_demo {
        let rows = write_demo(&args.demo_source, path, args.demo_files)?;
        eprintln!("wrote {rows} texts to {}", path.display());
    }
    let source = match &args.model {
        Some(model) => ModelSource::parse(model),
        None => ModelSource::from_env(),
    };
    let mut builder = EmotionClassifier::builder().model(source).tune_malloc(true);
    if let Some(capacity) = args.cache_capacity {
        builder = builder.cache_capacity(capacity);
    }
    // On a remote cluster the executors score the texts (their logs count them): here the
    // model is only read for its labels. Otherwise it runs here.
    #[cfg(feature = "ballista")]
    let remote = args.remote.is_some();
    #[cfg(not(feature = "ballista"))]
    let remote = false;
    let local = if remote {
        None
    } else {
        Some(Arc::new(builder.clone().build()?))
    };
    let functions = match &local {
        Some(classifier) => EmotionFunctions::new(classifier.clone()),
        None => EmotionFunctions::lazy(builder)?,
    }
    .strict(args.strict);
    let ctx = context(&args, &functions).await?;

    let done = Arc::new(AtomicBool::new(false));
    let progress = local.clone().map(|classifier| {
        let done = done.clone();
        std::thread::spawn(move || report_progress(&classifier, &done))
    });
    let started = Instant::now();
    let mut outcome: datafusion::error::Result<()> = Ok(());
    for statement in args.command.split(';').filter(|s| !s.trim().is_empty()) {
        // `run`: an input error names the files; a failed COPY leaves no partial output.
        outcome = async {
            let batches = emotion_classifier_sql::run(&ctx, statement).await?;
            println!("{}", pretty_format_batches(&batches)?);
            Ok(())
        }
        .await;
        if let Err(e) = outcome {
            #[cfg(feature = "ballista")]
            let e = emotion_classifier_sql::ballista::explain(e);
            outcome = Err(e);
            break;
        }
    }
    done.store(true, Ordering::Relaxed);
    if let Some(progress) = progress {
        let _ = progress.join();
    }
    let stats = functions.stats();
    let seconds = started.elapsed().as_secs_f64();
    if remote {
        eprintln!("query took {seconds:.2} s");
        return Ok(outcome?);
    }
    eprintln!(
        "{} texts in {seconds:.1} s ({:.0} texts/s); {} NULL, {} unscored",
        stats.rows,
        stats.rows as f64 / seconds.max(1e-9),
        stats.null_texts,
        stats.unscored
    );
    Ok(outcome?)
}

/// A session on this machine, or with `ballista` on a cluster, with the functions registered.
async fn context(
    args: &Args,
    functions: &EmotionFunctions,
) -> datafusion::error::Result<SessionContext> {
    #[cfg(feature = "ballista")]
    if args.remote.is_some() || args.standalone {
        use ballista::prelude::SessionConfigExt;
        let mut config = SessionConfig::new_with_ballista();
        if let Some(partitions) = args.partitions {
            config = config.with_target_partitions(partitions);
        }
        return match &args.remote {
            Some(url) => emotion_classifier_sql::ballista::remote(url, config, functions).await,
            None => emotion_classifier_sql::ballista::standalone(config, functions).await,
        }
        .map(SessionContext::enable_url_table);
    }
    let mut config = SessionConfig::new();
    if let Some(partitions) = args.partitions {
        config = config.with_target_partitions(partitions);
    }
    let ctx = SessionContext::new_with_config(config).enable_url_table();
    register(&ctx, functions);
    Ok(ctx)
}

/// Prints the texts through the model so far and their rate, once a second, on one stderr
/// line. The model's own counter moves with every forward pass; the functions' row count would
/// move only when a whole Arrow batch (up to 8,192 rows) is done.
fn report_progress(classifier: &EmotionClassifier, done: &AtomicBool) {
    let started = Instant::now();
    let mut printed = false;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        let elapsed = started.elapsed();
        if elapsed.as_millis() % 1000 >= 200 {
            continue;
        }
        let texts = classifier.pass_stats().sequences;
        eprint!(
            "\r{texts} texts through the model, {:.0} texts/s   ",
            texts as f64 / elapsed.as_secs_f64().max(1e-9)
        );
        printed = true;
    }
    if printed {
        eprintln!();
    }
}

/// The GoEmotions TSV's texts as Parquet with `id` and `text`: one file at `parquet`, or
/// `files` files in the folder `parquet` when `files > 1`.
fn write_demo(
    tsv: &Path,
    parquet: &Path,
    files: usize,
) -> Result<usize, Box<dyn std::error::Error>> {
    let data =
        std::fs::read_to_string(tsv).map_err(|e| format!("cannot read {}: {e}", tsv.display()))?;
    let texts: Vec<&str> = data
        .lines()
        .map(|line| line.split('\t').next().unwrap_or(""))
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, false),
    ]));
    let paths: Vec<PathBuf> = match files {
        0 => return Err("--demo-files must be at least 1".into()),
        1 => vec![parquet.to_path_buf()],
        n => (0..n)
            .map(|i| parquet.join(format!("part-{i}.parquet")))
            .collect(),
    };
    let per_file = texts.len().div_ceil(paths.len()).max(1);
    for (i, path) in paths.iter().enumerate() {
        let first = (i * per_file).min(texts.len());
        let last = (first + per_file).min(texts.len());
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(first as i64..last as i64)),
                Arc::new(StringArray::from(texts[first..last].to_vec())),
            ],
        )?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut writer = ArrowWriter::try_new(std::fs::File::create(path)?, schema.clone(), None)?;
        writer.write(&batch)?;
        writer.close()?;
    }
    Ok(texts.len())
}
