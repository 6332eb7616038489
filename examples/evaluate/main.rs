//! Evaluate a model on a GoEmotions-format TSV: per-label precision, recall and F1 at a
//! threshold, macro and micro F1, and (with `--tune-on`) per-label thresholds chosen on another
//! split and applied to this one; `--write-thresholds` saves those as a `thresholds.json`,
//! which the classifier reads when it sits beside the model.
//!
//! ```text
//! cargo run --release --example evaluate -- ../shared/data/goemotions/ekman/test.tsv \
//!     --tune-on ../shared/data/goemotions/ekman/dev.tsv [--threshold 0.3] [--json]
//!     [--write-thresholds thresholds.json] [--precision bf16|int8] [--limit N]
//! ```
//!
//! TSV lines are `text<TAB>comma-separated label ids<TAB>id`; ids index `labels.txt` beside the
//! file (or `--labels`). A table goes to stdout (or one JSON object with `--json`); a progress
//! bar to stderr.

use std::path::{Path, PathBuf};

use clap::Parser;
use emotion_classifier::{EmotionClassifier, Precision, Thresholds};
use indicatif::{ProgressBar, ProgressStyle};
use metrics::{evaluate, Report};

mod metrics;

/// Evaluate an emotion model on a labelled TSV.
#[derive(Parser)]
struct Args {
    /// The split to evaluate.
    data: PathBuf,
    /// Model directory [default: $EMOTION_MODEL].
    #[arg(long)]
    model: Option<PathBuf>,
    /// Label names, one per line [default: labels.txt beside DATA].
    #[arg(long)]
    labels: Option<PathBuf>,
    /// The threshold for every label.
    #[arg(long, default_value_t = 0.3)]
    threshold: f32,
    /// Also choose per-label thresholds on this split and report DATA with them.
    #[arg(long)]
    tune_on: Option<PathBuf>,
    /// Write the thresholds tuned on --tune-on to this file (as `thresholds.json`: put it
    /// beside the model's config.json and the classifier decides with them).
    #[arg(long, requires = "tune_on")]
    write_thresholds: Option<PathBuf>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    /// Numeric precision: f32 (default), bf16 or int8.
    #[arg(long, default_value = "f32", value_parser = ["f32", "bf16", "int8"])]
    precision: String,
    /// Only the first N texts of DATA (0: all), e.g. for a slow precision.
    #[arg(long, default_value_t = 0)]
    limit: usize,
}

struct Split {
    texts: Vec<String>,
    gold: Vec<Vec<bool>>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let precision = match args.precision.as_str() {
        "bf16" => Precision::Bf16,
        "int8" => Precision::Int8,
        "f32" => Precision::F32,
        other => return Err(format!("--precision {other}: use f32, bf16 or int8").into()),
    };
    let mut builder = EmotionClassifier::builder()
        .tune_malloc(true)
        .cache_capacity(0)
        .precision(precision);
    if let Some(model) = &args.model {
        builder = builder.model(model.as_path());
    }
    let classifier = builder.build()?;
    let labels_path = args
        .labels
        .clone()
        .unwrap_or_else(|| args.data.with_file_name("labels.txt"));
    let names: Vec<String> = std::fs::read_to_string(&labels_path)?
        .lines()
        .map(str::to_string)
        .collect();
    // Model output index for each dataset label, by name.
    let columns: Vec<usize> = names
        .iter()
        .map(|n| {
            classifier
                .labels()
                .iter()
                .position(|l| l == n)
                .ok_or_else(|| format!("the model has no label {n:?}"))
        })
        .collect::<Result<_, _>>()?;

    let mut test = read_split(&args.data, names.len())?;
    if args.limit > 0 {
        test.texts.truncate(args.limit);
        test.gold.truncate(args.limit);
    }
    let test_scores = score(&classifier, &test, &columns, "scoring")?;
    let at_threshold = evaluate(
        &names,
        &test_scores,
        &test.gold,
        &vec![args.threshold; names.len()],
    );
    let tuned = match &args.tune_on {
        Some(path) => {
            let dev = read_split(path, names.len())?;
            let dev_scores = score(&classifier, &dev, &columns, "tuning")?;
            let tuned = Thresholds::tune(&names, &dev_scores, &dev.gold)?;
            if let Some(out) = &args.write_thresholds {
                tuned.write(out)?;
                eprintln!("wrote {}", out.display());
            }
            let thresholds: Vec<f32> = names
                .iter()
                .map(|n| tuned.get(n).unwrap_or(args.threshold))
                .collect();
            Some(evaluate(&names, &test_scores, &test.gold, &thresholds))
        }
        None => None,
    };
    if args.json {
        let out = serde_json::json!({
            "data": args.data, "texts": test.texts.len(), "threshold": args.threshold,
            "at_threshold": at_threshold, "tuned": tuned,
        });
        println!("{out}");
    } else {
        println!("{} texts from {}", test.texts.len(), args.data.display());
        print_report(&format!("threshold {}", args.threshold), &at_threshold);
        if let Some(tuned) = &tuned {
            print_report("per-label thresholds tuned on --tune-on", tuned);
        }
    }
    Ok(())
}

fn read_split(path: &Path, label_count: usize) -> Result<Split, Box<dyn std::error::Error>> {
    let mut split = Split {
        texts: Vec::new(),
        gold: Vec::new(),
    };
    for (n, line) in std::fs::read_to_string(path)?.lines().enumerate() {
        let mut fields = line.split('\t');
        let (Some(text), Some(ids)) = (fields.next(), fields.next()) else {
            return Err(
                format!("{}:{}: expected text<TAB>label ids", path.display(), n + 1).into(),
            );
        };
        let mut gold = vec![false; label_count];
        for id in ids.split(',') {
            let id: usize = id
                .trim()
                .parse()
                .map_err(|_| format!("{}:{}: bad label id {id:?}", path.display(), n + 1))?;
            *gold.get_mut(id).ok_or_else(|| {
                format!("{}:{}: label id {id} out of range", path.display(), n + 1)
            })? = true;
        }
        split.texts.push(text.to_string());
        split.gold.push(gold);
    }
    Ok(split)
}

/// Every text's probabilities, in dataset label order, with a progress bar.
fn score(
    classifier: &EmotionClassifier,
    split: &Split,
    columns: &[usize],
    what: &str,
) -> Result<Vec<Vec<f32>>, emotion_classifier::Error> {
    let bar = ProgressBar::new(split.texts.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} texts, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(what.to_string());
    let mut out = Vec::with_capacity(split.texts.len());
    for chunk in split.texts.chunks(512) {
        for scores in classifier.classify_batch(chunk)? {
            out.push(columns.iter().map(|&c| scores.scores()[c]).collect());
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(out)
}

fn print_report(title: &str, report: &Report) {
    println!(
        "\n{title}: macro-F1 {:.4}, micro-F1 {:.4}",
        report.macro_f1, report.micro_f1
    );
    println!("| label | threshold | precision | recall | F1 | support |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for m in &report.labels {
        println!(
            "| {} | {:.2} | {:.3} | {:.3} | {:.3} | {} |",
            m.label, m.threshold, m.precision, m.recall, m.f1, m.support
        );
    }
}
