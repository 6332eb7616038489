//! Run SQL with the emotion functions over CSV, Parquet or JSON files (feature `datafusion`).
//!
//! ```text
//! cargo run --release --features datafusion --example sql -- \
//!     --model ../shared/models/emotion-minilm-ekman \
//!     --make-demo target/goemotions-test.parquet \
//!     -c "SELECT emotion_top(text)['label'] AS emotion, count(*) AS texts \
//!         FROM 'target/goemotions-test.parquet' GROUP BY 1 ORDER BY 2 DESC"
//! ```
//!
//! Files are named in the query (`FROM 'tickets.parquet'`, `'*.csv'`, `'logs.json'`), or
//! written with `COPY (SELECT ...) TO 'out.parquet'`. The functions are `emotion_scores(text)`,
//! `emotion_top(text)` and `emotion(text, 'joy')`; see `emotion_classifier::sql`. A progress
//! line on stderr counts the texts scored and their rate. `--make-demo PATH` first writes the
//! GoEmotions Ekman test split (`id`, `text`) to a Parquet file, for a demo without data of
//! your own. `--strict` fails the query on a text the model cannot score (default: `NULL`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::{SessionConfig, SessionContext};
use emotion_classifier::sql::{register, EmotionFunctions};
use emotion_classifier::{EmotionClassifier, ModelSource};

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
    /// The TSV `--make-demo` reads.
    #[arg(long, default_value = "../shared/data/goemotions/ekman/test.tsv")]
    demo_source: PathBuf,
    /// Query partitions [default: the number of CPUs].
    #[arg(long)]
    partitions: Option<usize>,
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
        let rows = write_demo(&args.demo_source, path)?;
        eprintln!("wrote {rows} texts to {}", path.display());
    }
    let source = match &args.model {
        Some(model) => ModelSource::parse(model),
        None => ModelSource::from_env(),
    };
    let classifier = Arc::new(
        EmotionClassifier::builder()
            .model(source)
            .tune_malloc(true)
            .build()?,
    );
    let functions = EmotionFunctions::new(classifier).strict(args.strict);
    let mut config = SessionConfig::new();
    if let Some(partitions) = args.partitions {
        config = config.with_target_partitions(partitions);
    }
    let ctx = SessionContext::new_with_config(config).enable_url_table();
    register(&ctx, &functions);

    let done = Arc::new(AtomicBool::new(false));
    let progress = {
        let (functions, done) = (functions.clone(), done.clone());
        std::thread::spawn(move || report_progress(&functions, &done))
    };
    let started = Instant::now();
    let mut outcome = Ok(());
    for statement in args.command.split(';').filter(|s| !s.trim().is_empty()) {
        outcome = async {
            let df = ctx.sql(statement).await?;
            df.show().await
        }
        .await;
        if outcome.is_err() {
            break;
        }
    }
    done.store(true, Ordering::Relaxed);
    let _ = progress.join();
    let stats = functions.stats();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{} texts in {seconds:.1} s ({:.0} texts/s); {} NULL, {} unscored",
        stats.rows,
        stats.rows as f64 / seconds.max(1e-9),
        stats.null_texts,
        stats.unscored
    );
    Ok(outcome?)
}

/// Prints the texts scored so far and the rate, once a second, on one stderr line.
fn report_progress(functions: &EmotionFunctions, done: &AtomicBool) {
    let started = Instant::now();
    let mut printed = false;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        let elapsed = started.elapsed();
        if elapsed.as_millis() % 1000 >= 200 {
            continue;
        }
        let rows = functions.stats().rows;
        eprint!(
            "\r{rows} texts, {:.0} texts/s   ",
            rows as f64 / elapsed.as_secs_f64().max(1e-9)
        );
        printed = true;
    }
    if printed {
        eprintln!();
    }
}

/// The GoEmotions TSV's texts as a Parquet file with `id` and `text`.
fn write_demo(tsv: &Path, parquet: &Path) -> Result<usize, Box<dyn std::error::Error>> {
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
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(0..texts.len() as i64)),
            Arc::new(StringArray::from(texts.clone())),
        ],
    )?;
    if let Some(parent) = parquet.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut writer = ArrowWriter::try_new(std::fs::File::create(parquet)?, schema, None)?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(texts.len())
}
