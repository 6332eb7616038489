//! Classify texts to JSON lines: the crate's main job from the command line.
//!
//! ```text
//! cargo run --example classify -- "I can't wait to see you!" "This is awful."
//! printf 'so happy\nso sad\n' | cargo run --example classify
//! cargo run --example classify -- --model path/to/model "What a day"
//! cargo run --example classify -- --model j-hartmann/emotion-english-distilroberta-base "Wow"
//! cargo run --example classify -- --explain "I love this so much" "I'm terrified of the dark"
//! cargo run --example classify -- --explain-html explain.html "I love this so much"
//! ```
//!
//! `--explain` prints each text with its words colored by how much each raised (green) or
//! lowered (red) the top label's score, then the words ranked; `--explain-html FILE` writes
//! the same as a small HTML page (hover a word for its numbers). Both by occlusion
//! ([`EmotionClassifier::explain`]).
//!
//! Each text gives one line: `{"text":...,"top":{"label":...,"score":...},"scores":{...}}`, or
//! `{"text":...,"error":...}` if it failed (the others still run; the exit code is then 1).
//! The model is `--model DIR_OR_HUB_ID`, else the `EMOTION_MODEL` environment variable, else the
//! hub model `j-hartmann/emotion-english-distilroberta-base`; the model used is said on stderr
//! first. (`scripts/classify.sh` sets `EMOTION_MODEL` to `../shared/models/emotion-minilm-ekman`
//! when that folder is there.)

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;
use std::sync::mpsc;

use clap::Parser;

#[path = "classify/explain.rs"]
mod explain;
use emotion_classifier::{
    EmotionClassifier, EmotionScores, Error, ErrorChain, LabelScore, ModelSource, MODEL_ENV,
};

/// Classify the emotions of texts, one JSON line per text.
#[derive(Parser)]
struct Args {
    /// Model folder in Hugging Face layout, or hub id `owner/name[@revision]`
    /// [default: $EMOTION_MODEL, else j-hartmann/emotion-english-distilroberta-base].
    #[arg(long)]
    model: Option<String>,
    /// After the last line, print to stderr how many texts were classified and how fast, from
    /// the first line read to the last written (model loading excluded).
    #[arg(long)]
    timing: bool,
    /// Explain each text in the terminal: its words colored by their attribution to the top
    /// label (green raised it, red lowered it), then the words ranked. Instead of JSON lines.
    #[arg(long)]
    explain: bool,
    /// Write the explanations as an HTML page to this file (with or without --explain).
    #[arg(long, value_name = "FILE")]
    explain_html: Option<std::path::PathBuf>,
    /// Explain this label instead of each text's top one (with --explain or --explain-html).
    #[arg(long, value_name = "LABEL")]
    explain_label: Option<String>,
    /// With --explain: print each explanation as one JSON line (the text, its scores, its
    /// words with their byte spans, and each word's effect on every label) instead of colors.
    #[arg(long, requires = "explain")]
    json: bool,
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
    /// The labels decided under the model's thresholds (`thresholds.json` beside it).
    #[serde(skip_serializing_if = "Option::is_none")]
    decided: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The most lines in one round when reading stdin.
const MAX_ROUND: usize = 2048;

/// Rounds classified at once when reading stdin: one is tokenized while another computes.
const IN_FLIGHT: usize = 2;

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
            eprintln!("error: cannot load the model: {}", ErrorChain(&e));
            return ExitCode::from(2);
        }
    };
    if let Some(label) = &args.explain_label {
        if !classifier.labels().contains(label) {
            eprintln!(
                "error: --explain-label {label:?}: the model's labels are {}",
                classifier.labels().join(", ")
            );
            return ExitCode::from(2);
        }
    }
    if args.explain || args.explain_html.is_some() {
        let texts = if args.texts.is_empty() {
            match std::io::stdin()
                .lock()
                .lines()
                .collect::<std::io::Result<Vec<_>>>()
            {
                Ok(lines) => lines,
                Err(e) => {
                    eprintln!("error: cannot read stdin: {e}");
                    return ExitCode::FAILURE;
                }
            }
        } else {
            args.texts
        };
        let shown = match (args.explain, args.json) {
            (false, _) => explain::Shown::Nothing,
            (true, true) => explain::Shown::Json,
            (true, false) => explain::Shown::Text {
                color: explain::color_wanted(),
            },
        };
        return explain::run(
            &classifier,
            &texts,
            shown,
            args.explain_label.as_deref(),
            args.explain_html.as_deref(),
        );
    }
    let written = if args.texts.is_empty() {
        stream_stdin(&classifier, args.timing)
    } else {
        write_chunk(
            &mut BufWriter::new(std::io::stdout().lock()),
            &args.texts,
            &classifier.classify_each(&args.texts),
        )
    };
    match written {
        Ok(false) => ExitCode::SUCCESS,
        Ok(true) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Classifies stdin's lines as they come, in three overlapping stages: a thread reads lines,
/// this thread cuts them into rounds and starts each round's `classify_each` on its own thread
/// (up to [`IN_FLIGHT`] rounds at once, so one round is tokenized while another computes),
/// and a writer thread writes the rounds' lines in input order. A round is every line waiting
/// when it starts, up to [`MAX_ROUND`]: one line at a time when lines come slowly (output
/// follows input), large rounds when they come fast (the batch rate). Returns whether any text
/// failed.
fn stream_stdin(classifier: &EmotionClassifier, timing: bool) -> std::io::Result<bool> {
    let (lines, arriving) = mpsc::sync_channel::<std::io::Result<String>>(4 * MAX_ROUND);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let failed = line.is_err();
            if lines.send(line).is_err() || failed {
                return;
            }
        }
    });
    type Computed = std::thread::JoinHandle<(Vec<String>, Vec<Result<EmotionScores, Error>>)>;
    let (rounds, computed) = mpsc::sync_channel::<Computed>(IN_FLIGHT);
    let writer = std::thread::spawn(move || -> std::io::Result<(bool, usize)> {
        let mut out = BufWriter::new(std::io::stdout().lock());
        let mut failed = false;
        let mut written = 0;
        for round in computed {
            let (texts, results) = round
                .join()
                .map_err(|_| std::io::Error::other("a classifying thread panicked"))?;
            failed |= write_chunk(&mut out, &texts, &results)?;
            written += texts.len();
        }
        Ok((failed, written))
    });
    let mut read_error = None;
    let mut started = None;
    'rounds: while let Ok(first) = arriving.recv() {
        started.get_or_insert_with(std::time::Instant::now);
        let mut round = Vec::new();
        for line in std::iter::once(first).chain(arriving.try_iter().take(MAX_ROUND - 1)) {
            match line {
                Ok(line) => round.push(line),
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            }
        }
        let classifier = classifier.clone();
        let compute = std::thread::spawn(move || {
            let results = classifier.classify_each(&round);
            (round, results)
        });
        if rounds.send(compute).is_err() || read_error.is_some() {
            break 'rounds;
        }
    }
    drop(rounds);
    let (failed, written) = writer
        .join()
        .map_err(|_| std::io::Error::other("the writing thread panicked"))??;
    if let (true, Some(started)) = (timing, started) {
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "{written} texts in {seconds:.2} s: {:.0} texts/s",
            written as f64 / seconds
        );
    }
    match read_error {
        Some(e) => Err(e),
        None => Ok(failed),
    }
}

/// Writes one JSON line per text; returns whether any text failed.
fn write_chunk(
    out: &mut impl Write,
    texts: &[String],
    results: &[Result<EmotionScores, Error>],
) -> std::io::Result<bool> {
    let mut failed = false;
    for (text, result) in texts.iter().zip(results) {
        let line = match result {
            Ok(scores) => Line {
                text,
                top: Some(scores.top()),
                scores: Some(scores),
                decided: Some(scores.decided().iter().map(|l| l.label).collect()),
                error: None,
            },
            Err(e) => {
                failed = true;
                Line {
                    text,
                    top: None,
                    scores: None,
                    decided: None,
                    error: Some(ErrorChain(e).to_string()),
                }
            }
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(failed)
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
