//! Fine-tune an encoder into an emotion classifier for your labels and texts, and write it as a
//! Hugging Face model folder (see `docs/FINETUNING.md`).
//!
//! ```text
//! cargo install --path . --features cli        # installs `emotion-finetune`
//! emotion-finetune --base ../shared/models/minilm-l6-base \
//!     --data ../shared/data/goemotions/ekman --out models/my-ekman
//! emotion-finetune --base models/base --data tickets.csv --dev tickets-dev.csv --out models/support
//! emotion-finetune ... --resume                 # after Ctrl-C or a crash
//! ```
//!
//! `--data` is a GoEmotions-layout folder (`train.tsv`, `dev.tsv`, `labels.txt`), or a CSV, TSV
//! or JSON-lines file whose `--text-column` (default `text`) holds the text and `--label-column`
//! (default `labels`) its labels: names or ids, separated by `--label-separator` (default `,`),
//! or a JSON array; with `--dev` in the same format and `--labels` (one label a line; default:
//! the training file's labels, sorted). When every training record has one label the task is
//! single-label, else multi-label (as transformers' `run_classification.py` infers it);
//! `--single-label` and `--multi-label` override, and the choice is printed. A progress bar shows the step, loss, learning rate, texts/s and ETA; each
//! epoch's dev macro-F1 is printed, and the best epoch is kept. Ctrl-C stops at the next step
//! with a checkpoint (`<out>.partial`), which `--resume` continues from; a checkpoint is also
//! written every `--checkpoint-every` steps, so a crash loses little. At the end the report is
//! printed as JSON on stdout; `--plots DIR` draws the run as SVG. Exit codes: 0 trained, 1 stopped (resumable), 2 error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;
use emotion_classifier::finetune::{
    read_labels, Columns, FineTune, FineTuneEvent, FineTuneReport, Hyperparameters, TrainingData,
};
use emotion_classifier::{Error, ErrorChain, FineTuneError, ModelSource};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[path = "../support/column_args.rs"]
mod column_args;
use column_args::ColumnArgs;

/// Fine-tune an encoder into an emotion classifier, written as a Hugging Face model folder.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The model to start from: a folder or a hub id; a base encoder (a new head is made) or a
    /// classifier with the data's labels (training continues it).
    #[arg(long)]
    base: String,
    /// A GoEmotions-layout folder, or a CSV / TSV / JSON-lines file with `text` and `labels`.
    #[arg(long)]
    data: PathBuf,
    /// Dev texts (for a data file), in the data's format: scored after each epoch, best kept.
    #[arg(long)]
    dev: Option<PathBuf>,
    /// The labels in id order, one a line (for a data file; default: its labels, sorted).
    #[arg(long)]
    labels: Option<PathBuf>,
    #[command(flatten)]
    columns: ColumnArgs,
    /// The model folder to write.
    #[arg(long)]
    out: PathBuf,
    /// Passes over the training texts.
    #[arg(long, default_value_t = Hyperparameters::default().epochs)]
    epochs: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = Hyperparameters::default().learning_rate)]
    lr: f64,
    /// Texts a batch.
    #[arg(long, default_value_t = Hyperparameters::default().batch_size)]
    batch: usize,
    /// Tokens a text is cut to.
    #[arg(long, default_value_t = Hyperparameters::default().max_length)]
    max_len: usize,
    /// Share of the steps the learning rate warms up over.
    #[arg(long, default_value_t = Hyperparameters::default().warmup_ratio)]
    warmup: f64,
    /// AdamW weight decay (matrices only).
    #[arg(long, default_value_t = Hyperparameters::default().weight_decay)]
    weight_decay: f64,
    /// Seed of the batch order and dropout.
    #[arg(long, default_value_t = Hyperparameters::default().seed)]
    seed: u64,
    /// libtorch threads (default: the cores).
    #[arg(long)]
    threads: Option<usize>,
    /// A new head learns one label per text (softmax) [default: inferred from the data].
    #[arg(long, conflicts_with = "multi_label")]
    single_label: bool,
    /// A new head learns several labels per text (sigmoids) [default: inferred from the data].
    #[arg(long)]
    multi_label: bool,
    /// Steps between checkpoints (one is also written at each epoch's end).
    #[arg(long, default_value_t = emotion_classifier::finetune::DEFAULT_CHECKPOINT_EVERY)]
    checkpoint_every: usize,
    /// Continue the interrupted run from its checkpoint in `<out>.partial`.
    #[arg(long)]
    resume: bool,
    /// Replace an existing output folder (and an interrupted run's checkpoint).
    #[arg(long)]
    overwrite: bool,
    /// No progress bar (the epochs' lines and the report are still printed).
    #[arg(long)]
    quiet: bool,
    /// Draw the run (loss and learning rate per step, dev macro-F1 per epoch with the best
    /// marked) as SVG files in this folder.
    #[arg(long)]
    plots: Option<PathBuf>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let args = Args::parse();
    let stop = Arc::new(AtomicBool::new(false));
    let handler = {
        let stop = stop.clone();
        ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                // A second Ctrl-C: the user does not want to wait for the checkpoint.
                std::process::exit(130);
            }
            eprintln!("\nstopping after this step (Ctrl-C again to quit at once)...");
        })
    };
    if let Err(e) = handler {
        eprintln!("warning: Ctrl-C will not stop cleanly: {e}");
    }
    let outcome = run(&args, stop).and_then(|report| {
        println!("{}", serde_json::to_string(&report)?);
        eprintln!(
            "wrote {} (epoch {}, dev macro-F1 {})",
            report.output.display(),
            report.best_epoch,
            report
                .best_dev_macro_f1
                .map_or("not measured".to_owned(), |f1| format!("{f1:.4}"))
        );
        Ok(())
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", ErrorChain(e.as_ref()));
            match e.downcast_ref::<Error>() {
                Some(Error::FineTune(FineTuneError::Stopped { .. })) => ExitCode::from(1),
                _ => ExitCode::from(2),
            }
        }
    }
}

fn data(args: &Args) -> Result<TrainingData, BoxError> {
    let columns = args.columns.columns();
    if args.data.is_dir() {
        if args.dev.is_some() || args.labels.is_some() || columns != Columns::default() {
            return Err(format!(
                "{} is a GoEmotions-layout folder: its dev.tsv and labels.txt are used, so --dev, --labels and the column options are for data files",
                args.data.display()
            )
            .into());
        }
        return Ok(TrainingData::goemotions(&args.data));
    }
    let data = TrainingData::files(&args.data, args.dev.clone()).with_columns(columns);
    Ok(match args.labels.as_deref() {
        Some(file) => data.with_labels(read_labels(file)?),
        None => data,
    })
}

/// Trains as `args` say; `stop`, once set, stops the run at its next step with a checkpoint.
fn run(args: &Args, stop: Arc<AtomicBool>) -> Result<FineTuneReport, BoxError> {
    let hyperparameters = Hyperparameters {
        learning_rate: args.lr,
        batch_size: args.batch,
        max_length: args.max_len,
        epochs: args.epochs,
        warmup_ratio: args.warmup,
        weight_decay: args.weight_decay,
        seed: args.seed,
        ..Hyperparameters::default()
    };
    let mut builder = FineTune::builder()
        .base(ModelSource::parse(&args.base))
        .data(data(args)?)
        .output(&args.out)
        .hyperparameters(hyperparameters)
        .checkpoint_every(args.checkpoint_every)
        .resume(args.resume)
        .overwrite(args.overwrite)
        .stop_flag(stop);
    if let Some(threads) = args.threads {
        builder = builder.threads(threads);
    }
    if args.single_label || args.multi_label {
        builder = builder.multi_label(args.multi_label);
    }
    let fine_tune = builder.build()?;
    let bar = ProgressBar::new(0);
    if args.quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(ProgressStyle::with_template(
        "{bar:30} step {pos}/{len} epoch {prefix} {msg} ETA {eta}",
    )?);
    // A hidden bar prints nothing, so --quiet's lines go straight to stderr.
    let say = |line: String| {
        if args.quiet {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
    };
    let report = fine_tune.run_with_progress(|event| match event {
        FineTuneEvent::Step(step) => {
            bar.set_length(step.total_steps as u64);
            bar.set_position(step.step as u64);
            bar.set_prefix(step.epoch.to_string());
            bar.set_message(format!(
                "loss {:.4} lr {:.2e} {:.1} texts/s",
                step.loss, step.learning_rate, step.texts_per_second
            ));
        }
        FineTuneEvent::Epoch(epoch) => {
            let f1 = epoch.dev_macro_f1.map_or("no dev texts".to_owned(), |f1| {
                format!("dev macro-F1 {f1:.4}")
            });
            say(format!(
                "epoch {}: mean loss {:.4}, {f1}, {:.1} texts/s",
                epoch.epoch, epoch.mean_loss, epoch.texts_per_second
            ));
        }
        FineTuneEvent::Task {
            multi_label,
            inferred,
        } => {
            let kind = if *multi_label {
                "multi-label (sigmoids)"
            } else {
                "single-label (softmax)"
            };
            let why = if *inferred {
                if *multi_label {
                    ", inferred: some training records have several labels (--single-label overrides)"
                } else {
                    ", inferred: every training record has one label (--multi-label overrides)"
                }
            } else {
                ""
            };
            say(format!("task: {kind}{why}"));
        }
        _ => {}
    });
    bar.finish_and_clear();
    let report = report?;
    if let Some(dir) = &args.plots {
        let name = format!("{} on {}", args.out.display(), args.data.display());
        for file in report.write_plots(dir, &name)? {
            eprintln!("wrote {}", file.display());
        }
    }
    Ok(report)
}

#[cfg(test)]
#[path = "../support/test_models.rs"]
mod test_models;

#[cfg(test)]
mod tests {
    use super::*;

    /// The command line with `extra`, on the tiny DistilBERT unless `extra` names a base.
    fn args(extra: &[&str]) -> Args {
        let model = test_models::tiny_distilbert();
        let mut all = vec!["emotion-finetune", "--quiet", "--threads", "1"];
        if !extra.contains(&"--base") {
            all.extend(["--base", &model]);
        }
        all.extend_from_slice(extra);
        Args::parse_from(all)
    }

    fn fine_tune_error(result: Result<FineTuneReport, BoxError>) -> FineTuneError {
        match result.map_err(|e| e.downcast::<Error>()) {
            Err(Ok(error)) => match *error {
                Error::FineTune(e) => e,
                other => panic!("expected a fine-tuning error, got {other:?}"),
            },
            Err(Err(other)) => panic!("expected a crate error, got {other}"),
            Ok(report) => panic!("expected an error, got {report:?}"),
        }
    }

    #[test]
    fn a_csv_file_with_a_dev_file_trains_and_an_existing_output_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (train, dev, out) = (
            dir.path().join("train.csv"),
            dir.path().join("dev.csv"),
            dir.path().join("out"),
        );
        let mut rows = String::from("text,labels\n");
        for (i, label) in ["joy", "anger", "fear", "sadness"]
            .iter()
            .cycle()
            .take(24)
            .enumerate()
        {
            rows.push_str(&format!("\"text {i}, full of {label}\",{label}\n"));
        }
        std::fs::write(&train, &rows).unwrap();
        std::fs::write(&dev, "text,labels\nfull of joy,joy\nfull of fear,fear\n").unwrap();
        // The model's head has the seven Ekman labels: --labels gives them in its order.
        let labels = dir.path().join("labels.txt");
        std::fs::write(
            &labels,
            "anger\ndisgust\nfear\njoy\nneutral\nsadness\nsurprise\n",
        )
        .unwrap();
        let paths = [&train, &dev, &out, &labels].map(|p| p.to_str().unwrap().to_owned());
        let command = [
            "--data", &paths[0], "--dev", &paths[1], "--out", &paths[2], "--labels", &paths[3],
            "--epochs", "2", "--batch", "8",
        ];
        let report = run(&args(&command), Arc::default()).expect("training");
        assert_eq!((report.steps, report.epochs.len()), (6, 2));
        assert!(report.best_dev_macro_f1.is_some() && !report.new_head);
        assert!(out.join("model.safetensors").is_file() && out.join("config.json").is_file());
        // Again: the output exists.
        assert!(matches!(
            fine_tune_error(run(&args(&command), Arc::default())),
            FineTuneError::OutputExists { .. }
        ));
        let mut overwrite = command.to_vec();
        overwrite.push("--overwrite");
        run(&args(&overwrite), Arc::default()).expect("overwritten");
        // Without --labels the file's labels (four, sorted) are not the head's seven.
        let elsewhere = dir.path().join("elsewhere").to_str().unwrap().to_owned();
        assert!(matches!(
            fine_tune_error(run(
                &args(&["--data", &paths[0], "--out", &elsewhere]),
                Arc::default()
            )),
            FineTuneError::LabelsDiffer { .. }
        ));
        // A labels file that lists a label twice is refused, naming the file.
        let twice = dir.path().join("twice.txt");
        std::fs::write(&twice, "joy\nanger\njoy\n").unwrap();
        let mut twice_args = command.to_vec();
        let twice_path = twice.to_str().unwrap().to_owned();
        twice_args[7] = &twice_path;
        assert!(matches!(
            fine_tune_error(run(&args(&twice_args), Arc::default())),
            FineTuneError::InvalidLabelList { ref path, ref reason }
                if *path == twice && reason.contains("\"joy\" is listed twice")
        ));
        // A stop flag set before the first step: a checkpoint, exit code 1's error.
        let stopped = dir.path().join("stopped").to_str().unwrap().to_owned();
        let mut stop_args = command.to_vec();
        stop_args[5] = &stopped;
        assert!(matches!(
            fine_tune_error(run(&args(&stop_args), Arc::new(AtomicBool::new(true)))),
            FineTuneError::Stopped { step: 0, .. }
        ));
    }

    /// The tiny DistilBERT without its head, in `dir`: a base a new head is made for.
    fn headless_base(dir: &std::path::Path) -> String {
        let from = PathBuf::from(test_models::tiny_distilbert());
        let base = dir.join("base");
        std::fs::create_dir_all(&base).unwrap();
        for entry in std::fs::read_dir(&from).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name() != Some("model.safetensors".as_ref()) {
                std::fs::copy(&path, base.join(path.file_name().unwrap())).unwrap();
            }
        }
        let bytes = std::fs::read(from.join("model.safetensors")).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let kept: Vec<_> = file
            .tensors()
            .into_iter()
            .filter(|(name, _)| !name.contains("classifier"))
            .collect();
        safetensors::serialize_to_file(kept, None, &base.join("model.safetensors")).unwrap();
        base.to_str().unwrap().to_owned()
    }

    #[test]
    fn any_columns_and_separator_and_the_task_inferred_from_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let base = headless_base(dir.path());
        let tickets = dir.path().join("tickets.csv");
        let mut rows = String::from("id,body,tags\n");
        for i in 0..16 {
            let tags = ["billing", "login", "billing;refund", "refund"][i % 4];
            rows.push_str(&format!("{i},\"ticket {i} about {tags}\",{tags}\n"));
        }
        std::fs::write(&tickets, &rows).unwrap();
        let data = tickets.to_str().unwrap().to_owned();
        let out = dir.path().join("multi").to_str().unwrap().to_owned();
        let columns = [
            "--text-column",
            "body",
            "--label-column",
            "tags",
            "--label-separator",
            ";",
        ];
        let mut command = vec![
            "--base", &base, "--data", &data, "--out", &out, "--epochs", "1",
        ];
        command.extend(columns);
        let report = run(&args(&command), Arc::default()).expect("training");
        assert_eq!(report.labels, ["billing", "login", "refund"]);
        assert!(
            report.new_head && report.multi_label,
            "some tickets have two tags"
        );

        // One label each: single-label, unless --multi-label says otherwise.
        let single = dir.path().join("single.jsonl");
        let lines: String = (0..16)
            .map(|i| format!("{{\"body\":\"ticket {i}\",\"tags\":[{}]}}\n", i % 3))
            .collect();
        std::fs::write(&single, lines).unwrap();
        let labels = dir.path().join("labels.txt");
        std::fs::write(&labels, "billing\nlogin\nrefund\n").unwrap();
        let (single, labels) = (single.to_str().unwrap(), labels.to_str().unwrap());
        for (flag, multi) in [(None, false), (Some("--multi-label"), true)] {
            let out = dir.path().join(format!("single-{multi}"));
            let out = out.to_str().unwrap();
            let mut command = vec![
                "--base", &base, "--data", single, "--out", out, "--labels", labels,
            ];
            command.extend([
                "--epochs",
                "1",
                "--text-column",
                "body",
                "--label-column",
                "tags",
            ]);
            command.extend(flag);
            let report = run(&args(&command), Arc::default()).expect("training");
            // The ids 0, 1, 2 are the labels file's.
            assert_eq!(report.labels, ["billing", "login", "refund"]);
            assert_eq!(report.multi_label, multi, "{flag:?}");
        }

        // Bad data names the file, the line and the column.
        let cases: [(&str, &str); 4] = [
            ("id,text,tags\n1,hello,billing\n", "missing column"),
            ("id,body,tags\n1,hello,billing\n2,again, \n", "empty label"),
            (
                "id,body,tags\n1,hello,billing\n2,again,shipping\n",
                "outside the labels",
            ),
            ("id,body,tags\n1,hello,billing\n2,,login\n", "no text"),
        ];
        for (content, case) in cases {
            let file = dir.path().join("bad.csv");
            std::fs::write(&file, content).unwrap();
            let file = file.to_str().unwrap();
            let out = dir.path().join("bad-out");
            let out = out.to_str().unwrap();
            let mut command = vec![
                "--base", &base, "--data", file, "--out", out, "--labels", labels,
            ];
            command.extend(columns);
            let error = fine_tune_error(run(&args(&command), Arc::default()));
            let message = error.to_string();
            assert!(message.contains("bad.csv"), "{case}: {message}");
            match (case, &error) {
                ("missing column", FineTuneError::MissingColumn { column, .. }) => {
                    assert_eq!(column, "body")
                }
                ("empty label", FineTuneError::InvalidRecord { line, reason, .. }) => {
                    assert_eq!(*line, 3);
                    assert!(
                        reason.contains("empty label") && reason.contains("tags"),
                        "{reason}"
                    );
                }
                ("outside the labels", FineTuneError::UnknownLabel { line, label, .. }) => {
                    assert_eq!((*line, label.as_str()), (3, "shipping"))
                }
                ("no text", FineTuneError::MissingText { line, .. }) => assert_eq!(*line, 3),
                _ => panic!("{case}: unexpected {error:?}"),
            }
        }
    }

    #[test]
    fn a_goemotions_folder_takes_no_dev_or_labels_file() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap().to_owned();
        let out = dir.path().join("out").to_str().unwrap().to_owned();
        let error = run(
            &args(&["--data", &data, "--dev", "x.tsv", "--out", &out]),
            Arc::default(),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("GoEmotions-layout folder"),
            "{error}"
        );
    }
}
