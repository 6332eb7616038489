//! Measure an emotion model on any labelled file: per-label precision, recall, F1 and support,
//! macro and micro F1, and for a single-label (softmax) model accuracy and the confusion
//! matrix; per-label thresholds tuned on another file and written as `thresholds.json`; and
//! pictures (`--plots`).
//!
//! ```text
//! cargo install --path . --features cli        # installs `emotion-evaluate`
//! emotion-evaluate ../shared/data/goemotions/ekman/test.tsv --model ../shared/models/emotion-minilm-ekman \
//!     --tune-on ../shared/data/goemotions/ekman/dev.tsv --write-thresholds thresholds.json
//! emotion-evaluate tickets-test.csv --model models/support --text-column body --label-column tags \
//!     --label-separator ';' --json --plots plots/
//! ```
//!
//! DATA is read as `emotion-finetune` reads its data (`emotion_classifier::finetune::read_labelled`):
//! a GoEmotions split (`text<TAB>label ids<TAB>id`, `labels.txt` beside it), or a CSV, TSV or
//! JSON-lines file with `--text-column`, `--label-column` and `--label-separator`. Its labels
//! must be among the model's (by name). A table goes to stdout, or one JSON object with
//! `--json`; a progress bar to stderr. Exit codes: 0 measured, 2 error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use emotion_classifier::evaluation::{
    confusion_svg, evaluate, precision_recall_curve, precision_recall_svg, EvaluationReport,
};
use emotion_classifier::finetune::{read_labelled, read_labels, LabelledSet};
use emotion_classifier::{
    EmotionClassifier, ErrorChain, ModelSource, Precision, ScoreFunction, Thresholds,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[path = "../support/column_args.rs"]
mod column_args;
use column_args::ColumnArgs;

/// Measure an emotion model on a labelled file.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The labelled file to measure on.
    data: PathBuf,
    /// Model folder or hub id [default: $EMOTION_MODEL].
    #[arg(long)]
    model: Option<String>,
    /// The labels in id order, one a line [default: labels.txt beside a GoEmotions split, else
    /// the file's own labels].
    #[arg(long)]
    labels: Option<PathBuf>,
    #[command(flatten)]
    columns: ColumnArgs,
    /// The threshold for every label (a multi-label model's decisions).
    #[arg(long, default_value_t = 0.3)]
    threshold: f32,
    /// Also choose per-label thresholds on this file (same format) and measure DATA with them.
    #[arg(long)]
    tune_on: Option<PathBuf>,
    /// Write the thresholds tuned on --tune-on to this file (put it beside the model's
    /// config.json as `thresholds.json` and the classifier decides with them).
    #[arg(long, requires = "tune_on")]
    write_thresholds: Option<PathBuf>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    /// Draw a precision-recall curve per label (and a single-label model's confusion matrix)
    /// as SVG files in this folder.
    #[arg(long)]
    plots: Option<PathBuf>,
    /// Numeric precision: f32, bf16 or int8.
    #[arg(long, default_value = "f32", value_parser = ["f32", "bf16", "int8"])]
    precision: String,
    /// Only the first N texts of DATA (0: all).
    #[arg(long, default_value_t = 0)]
    limit: usize,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", ErrorChain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

/// The set's texts, and each text's gold labels as flags in the set's label order.
fn gold(set: &LabelledSet) -> Vec<Vec<bool>> {
    set.texts
        .iter()
        .map(|t| {
            let mut row = vec![false; set.labels.len()];
            for &id in &t.labels {
                if let Some(flag) = row.get_mut(id) {
                    *flag = true;
                }
            }
            row
        })
        .collect()
}

/// Every text's scores in the set's label order (`columns[l]` is label `l`'s model output).
fn score(
    classifier: &EmotionClassifier,
    set: &LabelledSet,
    columns: &[usize],
    what: &str,
    quiet: bool,
) -> Result<Vec<Vec<f32>>, BoxError> {
    let bar = ProgressBar::new(set.texts.len() as u64);
    if quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(ProgressStyle::with_template(
        "{msg} {bar:40} {pos}/{len} texts, {per_sec}, eta {eta}",
    )?);
    bar.set_message(what.to_owned());
    let mut out = Vec::with_capacity(set.texts.len());
    let texts: Vec<&str> = set.texts.iter().map(|t| t.text.as_str()).collect();
    for chunk in texts.chunks(512) {
        for scores in classifier.classify_batch(chunk)? {
            out.push(columns.iter().map(|&c| scores.scores()[c]).collect());
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(out)
}

fn run(args: &Args) -> Result<(), BoxError> {
    let precision = match args.precision.as_str() {
        "bf16" => Precision::Bf16,
        "int8" => Precision::Int8,
        _ => Precision::F32,
    };
    let columns = args.columns.columns();
    let labels = args.labels.as_deref().map(read_labels).transpose()?;
    let mut test = read_labelled(&args.data, &columns, labels.clone())?;
    if args.limit > 0 {
        test.texts.truncate(args.limit);
    }
    let mut builder = EmotionClassifier::builder()
        .tune_malloc(true)
        .cache_capacity(0)
        .precision(precision);
    if let Some(model) = &args.model {
        builder = builder.model(ModelSource::parse(model));
    }
    let classifier = builder.build()?;
    let model_name = args
        .model
        .clone()
        .or_else(|| std::env::var("EMOTION_MODEL").ok())
        .unwrap_or_else(|| "the default model".to_owned());
    // The model's output for each of the data's labels, by name.
    let outputs: Vec<usize> = test
        .labels
        .iter()
        .map(|name| {
            classifier
                .labels()
                .iter()
                .position(|l| l == name)
                .ok_or_else(|| {
                    format!(
                        "{}: the model has no label {name:?} (its labels: {})",
                        args.data.display(),
                        classifier.labels().join(", ")
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    let single_label = classifier.score_function() == ScoreFunction::Softmax;
    let test_gold = gold(&test);
    let test_scores = score(&classifier, &test, &outputs, "scoring", args.json)?;
    let names = &test.labels;
    let at_threshold = evaluate(
        names,
        &test_scores,
        &test_gold,
        &vec![args.threshold; names.len()],
        single_label,
    );
    let tuned = match &args.tune_on {
        Some(path) => {
            let dev = read_labelled(path, &columns, Some(test.labels.clone()))?;
            let dev_scores = score(&classifier, &dev, &outputs, "tuning", args.json)?;
            let thresholds = Thresholds::tune(names, &dev_scores, &gold(&dev))?;
            if let Some(out) = &args.write_thresholds {
                thresholds.write(out)?;
                eprintln!("wrote {}", out.display());
            }
            let per_label: Vec<f32> = names
                .iter()
                .map(|n| thresholds.get(n).unwrap_or(args.threshold))
                .collect();
            // Tuned thresholds decide multi-label models; a single-label one takes its top.
            Some(evaluate(names, &test_scores, &test_gold, &per_label, false))
        }
        None => None,
    };
    if let Some(dir) = &args.plots {
        draw(
            dir,
            &model_name,
            &args.data,
            names,
            &test_scores,
            &test_gold,
            &at_threshold,
        )?;
    }
    if args.json {
        let out = serde_json::json!({
            "model": model_name, "data": args.data, "texts": test.texts.len(),
            "threshold": args.threshold, "at_threshold": at_threshold, "tuned": tuned,
        });
        println!("{out}");
    } else {
        println!(
            "{} texts from {}, model {model_name}",
            test.texts.len(),
            args.data.display()
        );
        let how = if single_label {
            "the top label (softmax)".to_owned()
        } else {
            format!("threshold {}", args.threshold)
        };
        print_report(&how, &at_threshold);
        if let Some(tuned) = &tuned {
            print_report("per-label thresholds tuned on --tune-on", tuned);
        }
    }
    Ok(())
}

/// The pictures: `pr-<label>.svg` per label, and `confusion.svg` for a single-label model.
fn draw(
    dir: &Path,
    model: &str,
    data: &Path,
    names: &[String],
    scores: &[Vec<f32>],
    gold: &[Vec<bool>],
    report: &EvaluationReport,
) -> Result<(), BoxError> {
    std::fs::create_dir_all(dir)?;
    let data = data.display();
    for (l, name) in names.iter().enumerate() {
        let curve = precision_recall_curve(scores, gold, l, 400);
        let title = format!("{name}: precision-recall of {model} on {data}");
        let file = dir.join(format!("pr-{}.svg", file_safe(name)));
        std::fs::write(&file, precision_recall_svg(&title, &curve)?)?;
    }
    if let Some(confusion) = &report.confusion {
        let title = format!("confusion of {model} on {data}");
        std::fs::write(dir.join("confusion.svg"), confusion_svg(&title, confusion)?)?;
    }
    eprintln!("wrote the plots in {}", dir.display());
    Ok(())
}

/// A label as a file name: letters, digits, `-` and `_` kept, anything else `_`.
fn file_safe(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn print_report(title: &str, report: &EvaluationReport) {
    print!(
        "\n{title}: macro-F1 {:.4}, micro-F1 {:.4}",
        report.macro_f1, report.micro_f1
    );
    match report.accuracy {
        Some(accuracy) => println!(", accuracy {accuracy:.4}"),
        None => println!(),
    }
    println!("| label | threshold | precision | recall | F1 | support |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for m in &report.labels {
        let threshold = if report.single_label {
            "top".to_owned()
        } else {
            format!("{:.2}", m.threshold)
        };
        println!(
            "| {} | {threshold} | {:.3} | {:.3} | {:.3} | {} |",
            m.label, m.precision, m.recall, m.f1, m.support
        );
    }
    if let Some(confusion) = &report.confusion {
        println!("\nconfusion (rows: gold, columns: predicted)");
        println!("| | {} |", confusion.labels.join(" | "));
        println!("| --- |{}", " ---: |".repeat(confusion.labels.len()));
        for (label, row) in confusion.labels.iter().zip(&confusion.counts) {
            let cells: Vec<String> = row.iter().map(u64::to_string).collect();
            println!("| {label} | {} |", cells.join(" | "));
        }
    }
}

#[cfg(test)]
#[path = "../support/test_models.rs"]
mod test_models;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_with_other_columns_is_measured_tuned_and_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("tickets-test.csv");
        let labels = ["anger", "joy", "sadness"];
        let mut rows = String::from("body,tags\n");
        for i in 0..12 {
            let label = labels[i % 3];
            rows.push_str(&format!("\"ticket {i}: so much {label}\",{label}\n"));
        }
        std::fs::write(&data, rows).unwrap();
        let plots = dir.path().join("plots");
        let thresholds = dir.path().join("thresholds.json");
        let args = Args::parse_from([
            "emotion-evaluate",
            data.to_str().unwrap(),
            "--model",
            &test_models::tiny_distilbert(),
            "--text-column",
            "body",
            "--label-column",
            "tags",
            "--tune-on",
            data.to_str().unwrap(),
            "--write-thresholds",
            thresholds.to_str().unwrap(),
            "--plots",
            plots.to_str().unwrap(),
            "--json",
        ]);
        run(&args).expect("measured");
        let written = Thresholds::from_file(&thresholds).expect("thresholds");
        for label in labels {
            assert!(written.get(label).is_some(), "{label}");
            let svg = std::fs::read_to_string(plots.join(format!("pr-{label}.svg"))).unwrap();
            assert!(svg.contains(label) && svg.contains("tickets-test.csv"));
        }
        // A label the model lacks is named.
        std::fs::write(&data, "body,tags\nhello,shipping\n").unwrap();
        let error = run(&args).unwrap_err().to_string();
        assert!(error.contains("no label \"shipping\""), "{error}");
    }
}
