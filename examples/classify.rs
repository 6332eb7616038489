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
//! The model is `--model DIR_OR_HUB_ID`, else the `EMOTION_MODEL` environment variable (in this
//! repository `.cargo/config.toml` sets it to `../shared/models/emotion-minilm-ekman`), else the
//! hub model `j-hartmann/emotion-english-distilroberta-base`.

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;
use emotion_classifier::{EmotionClassifier, EmotionScores, Error, LabelScore, ModelSource};

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
    let source = match args.model {
        Some(model) => ModelSource::parse(&model),
        None => ModelSource::from_env(),
    };
    let classifier = match EmotionClassifier::builder().model(source.clone()).build() {
        Ok(classifier) => classifier,
        Err(Error::MissingFile { path }) if Some(path.as_path()) == source.as_dir() => {
            eprintln!("error: model directory {} does not exist", path.display());
            return fail_without_model();
        }
        Err(e) => {
            eprintln!("error: cannot load the model: {}", report(&e));
            return ExitCode::FAILURE;
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

fn fail_without_model() -> ExitCode {
    eprintln!(
        "error: no model. Pass --model DIR (a model directory in Hugging Face layout: \
         config.json, tokenizer.json, model.safetensors) or a hub id, or set EMOTION_MODEL."
    );
    ExitCode::from(2)
}

/// An error with its chain of causes on one line.
fn report(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
