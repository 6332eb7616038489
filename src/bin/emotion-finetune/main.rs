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
//! or JSON-lines file with `text` and `labels` columns (label names, comma-separated), with
//! `--dev` in the same format and `--labels` (one label a line; default: the training file's
//! labels, sorted). A progress bar shows the step, loss, learning rate, texts/s and ETA; each
//! epoch's dev macro-F1 is printed, and the best epoch is kept. Ctrl-C stops at the next step
//! with a checkpoint (`<out>.partial`), which `--resume` continues from; a checkpoint is also
//! written every `--checkpoint-every` steps, so a crash loses little. At the end the report is
//! printed as JSON on stdout. Exit codes: 0 trained, 1 stopped (resumable), 2 error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;
use emotion_classifier::finetune::{FineTune, FineTuneEvent, Hyperparameters, TrainingData};
use emotion_classifier::{Error, ErrorChain, FineTuneError, ModelSource};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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
    /// A new head learns one label per text (softmax) instead of several (sigmoids).
    #[arg(long)]
    single_label: bool,
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
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
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

/// One label a line, blank lines skipped.
fn read_labels(path: &Path) -> Result<Vec<String>, BoxError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the labels file {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

fn data(args: &Args) -> Result<TrainingData, BoxError> {
    if args.data.is_dir() {
        if args.dev.is_some() || args.labels.is_some() {
            return Err(format!(
                "{} is a GoEmotions-layout folder: its dev.tsv and labels.txt are used, so --dev and --labels are for data files",
                args.data.display()
            )
            .into());
        }
        return Ok(TrainingData::goemotions(&args.data));
    }
    let labels = args.labels.as_deref().map(read_labels).transpose()?;
    Ok(TrainingData::Files {
        train: args.data.clone(),
        dev: args.dev.clone(),
        labels,
    })
}

fn run(args: &Args) -> Result<(), BoxError> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                // A second Ctrl-C: the user does not want to wait for the checkpoint.
                std::process::exit(130);
            }
            eprintln!("\nstopping after this step (Ctrl-C again to quit at once)...");
        })?;
    }
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
        .single_label(args.single_label)
        .checkpoint_every(args.checkpoint_every)
        .resume(args.resume)
        .overwrite(args.overwrite)
        .stop_flag(stop);
    if let Some(threads) = args.threads {
        builder = builder.threads(threads);
    }
    let fine_tune = builder.build()?;
    let bar = ProgressBar::new(0);
    if args.quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(ProgressStyle::with_template(
        "{bar:30} step {pos}/{len} epoch {prefix} {msg} ETA {eta}",
    )?);
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
            bar.println(format!(
                "epoch {}: mean loss {:.4}, {f1}, {:.1} texts/s",
                epoch.epoch, epoch.mean_loss, epoch.texts_per_second
            ));
        }
        _ => {}
    });
    bar.finish_and_clear();
    let report = report?;
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
}
