//! Classify texts to JSON lines: the crate's main job from the command line.
//!
//! ```text
//! cargo run --example classify -- "I can't wait to see you!" "This is awful."
//! printf 'so happy\nso sad\n' | cargo run --example classify
//! cargo run --example classify -- --model path/to/model "What a day"
//! cargo run --example classify -- --model j-hartmann/emotion-english-distilroberta-base "Wow"
//! ```
//!
//! Each text gives one line: `{"text":...,"top":{"label":...,"score":...},"scores":{...}}`, or
//! `{"text":...,"error":...}` if it failed (the others still run; the exit code is then 1).
//! The model is `--model DIR_OR_HUB_ID`, else the `EMOTION_MODEL` environment variable, else the
//! hub model `j-hartmann/emotion-english-distilroberta-base`; the model used is said on stderr
//! first. (`scripts/classify.sh` sets `EMOTION_MODEL` to `../shared/models/emotion-minilm-ekman`
//! when that folder is there.)

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;
use emotion_classifier::{EmotionClassifier, EmotionScores, LabelScore, ModelSource, MODEL_ENV};

/// Classify the emotions of texts, one JSON line per text.
#[derive(Parser)]
struct Args {
    /// Model folder in Hugging Face layout, or hub id `owner/name[@revision]`
    /// [default: $EMOTION_MODEL, else j-hartmann/emotion-english-distilroberta-base].
    #[arg(long)]
    model: Option<String>,
    /// Texts to classify; without any, one text per line is read from stdin.
    texts: Vec<String>,
}

#[derive(serde::Serialize)]
struct Line<'a> {
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    top: Option<LabelScore<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scores: Option<&'a EmotionScores>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Texts per call to the classifier when reading stdin: output streams as input arrives.
const CHUNK: usize = 256;

fn main() -> ExitCode {
    let args = Args::parse();
    let (source, why) = match args.model {
        Some(model) => (ModelSource::parse(&model), "--model"),
        None => match std::env::var(MODEL_ENV) {
            Ok(value) if !value.is_empty() => (ModelSource::from_env(), MODEL_ENV),
            _ => (
                ModelSource::from_env(),
                "the default; pass --model or set EMOTION_MODEL for another",
            ),
        },
    };
    eprintln!("model: {} (from {why})", describe(&source));
    let classifier = match EmotionClassifier::builder()
        .model(source)
        .tune_malloc(true)
        .build()
    {
        Ok(classifier) => classifier,
        Err(e) => {
            eprintln!("error: cannot load the model: {}", report(&e));
            return ExitCode::from(2);
        }
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut failed = false;
    let mut write = |texts: &[String]| -> std::io::Result<()> {
        for (text, result) in texts.iter().zip(classifier.classify_each(texts)) {
            let line = match &result {
                Ok(scores) => Line {
                    text,
                    top: Some(scores.top()),
                    scores: Some(scores),
                    error: None,
                },
                Err(e) => {
                    failed = true;
                    Line {
                        text,
                        top: None,
                        scores: None,
                        error: Some(report(e)),
                    }
                }
            };
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    };
    let written = if args.texts.is_empty() {
        read_stdin_in_chunks(&mut write)
    } else {
        write(&args.texts)
    };
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn read_stdin_in_chunks(
    write: &mut impl FnMut(&[String]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut chunk = Vec::with_capacity(CHUNK);
    for line in std::io::stdin().lock().lines() {
        chunk.push(line?);
        if chunk.len() == CHUNK {
            write(&chunk)?;
            chunk.clear();
        }
    }
    write(&chunk)
}

/// Where the model comes from.
fn describe(source: &ModelSource) -> String {
    match source {
        ModelSource::Hub(model) => format!(
            "{} at {}, Hugging Face Hub",
            model.id(),
            model.revision_name()
        ),
        other => match other.as_dir() {
            Some(dir) => format!("folder {}", dir.display()),
            None => format!("{other:?}"),
        },
    }
}

/// An error with its chain of causes on one line.
/// A cause whose message is already in the text (some errors print their source in their own
/// message too) is not repeated.
fn report(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.ends_with(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}
