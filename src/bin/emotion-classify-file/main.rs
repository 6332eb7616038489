//! Classify a file of texts (TSV, CSV or JSON lines) into JSON lines, streaming, resumable.
//! (Over 450 lines with its end-to-end tests; the program itself is about 330, and reading
//! the input formats is in `records.rs`.)
//!
//! ```text
//! cargo install --path . --features cli        # installs `emotion-classify-file`
//! emotion-classify-file comments.csv --header --column body -o out.jsonl
//! emotion-classify-file posts.jsonl --column text -o out.jsonl --resume
//! cargo run --release --features cli --bin emotion-classify-file -- \
//!     ../shared/data/goemotions/ekman/test.tsv -o scores.jsonl
//! ```
//!
//! Each input record gives one output line, in input order:
//! `{"line":N,"text":..,"top":{"label":..,"score":..},"scores":{..}}`, where `N` is the record's
//! line in the input (1-based). A text the model fails on gives `{"line":N,"error":..}`. A
//! malformed record (not UTF-8, no such column, bad JSON, no such field) is reported on stderr with
//! its line number and, with `--on-malformed keep` (the default), also written as
//! `{"line":N,"malformed":..}`; `--on-malformed skip` leaves it out of the output. Either way the
//! summary counts it and the exit code is 1, so nothing disappears unnoticed.
//!
//! `--resume` continues an interrupted run: it keeps the output's complete lines, drops a
//! half-written last line, and classifies only the records after the last line number written.
//! What a run was started with (the input file's path, size and modification time, format,
//! column, header, malformed-record policy and model) is recorded beside the output in
//! `<output>.run.json`; a resume with anything else is refused, naming what differs. The output
//! is flushed to disk (`fsync`) at the end, and `--overwrite` leaves the old output untouched
//! until the model has loaded.
//! The format comes from the input's extension (`.tsv`, `.csv`, `.jsonl`/`.ndjson`) or `--format`.
//! The model is `--model`, else `EMOTION_MODEL`, as for the `classify` example.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use emotion_classifier::{EmotionClassifier, EmotionScores, ErrorChain, LabelScore, ModelSource};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

mod records;

use records::{format_of, parse_column, Format, Record, TextRecords};

/// Classify the emotions of every text in a TSV, CSV or JSONL file, to JSON lines.
#[derive(Parser, Debug, Clone)]
struct Args {
    /// The input file.
    input: PathBuf,
    /// The output file [default: stdout].
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// The input format [default: from the extension].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// The text's column: a 0-based index, or a name (with --header; for JSONL a field name)
    /// [default: 0, or "text" for JSONL].
    #[arg(long)]
    column: Option<String>,
    /// The first TSV/CSV line is a header.
    #[arg(long)]
    header: bool,
    /// Texts per call to the classifier (and between flushes of the output).
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    /// libtorch threads [default: libtorch's choice].
    #[arg(long)]
    threads: Option<usize>,
    /// Result cache capacity in texts; 0 turns it off.
    #[arg(long, default_value_t = 10_000)]
    cache: usize,
    /// What to do with a malformed record besides reporting it on stderr.
    #[arg(long, value_enum, default_value_t = OnMalformed::Keep)]
    on_malformed: OnMalformed,
    /// Continue an interrupted run into the existing output.
    #[arg(long)]
    resume: bool,
    /// Replace an existing output file.
    #[arg(long)]
    overwrite: bool,
    /// Model folder or hub id [default: $EMOTION_MODEL].
    #[arg(long)]
    model: Option<String>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum OnMalformed {
    /// Write `{"line":N,"malformed":..}` in the output.
    Keep,
    /// Leave it out of the output (it is still reported on stderr and counted).
    Skip,
}

/// What a run did.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    classified: u64,
    failed: u64,
    malformed: u64,
    /// Records already in the output when resuming.
    resumed_after: u64,
}

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args, &mut std::io::stderr()) {
        Ok(summary) if summary.failed == 0 && summary.malformed == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {}", ErrorChain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args, log: &mut dyn Write) -> Result<Summary, BoxError> {
    if args.batch_size == 0 {
        return Err("--batch-size must be at least 1".into());
    }
    let format = match args.format {
        Some(format) => format,
        None => format_of(&args.input)?,
    };
    let input = File::open(&args.input)
        .map_err(|e| format!("cannot open {}: {e}", args.input.display()))?;
    let input_len = input.metadata()?.len();
    let column = parse_column(args.column.as_deref(), format, args.header)?;

    let started_with = RunIdentity::of(args, format, &input)?;
    if let Some(path) = &args.output {
        check_output(path, args.resume, args.overwrite, &started_with)?;
    } else if args.resume {
        return Err("--resume needs --output".into());
    }

    let mut builder = EmotionClassifier::builder()
        .cache_capacity(args.cache)
        .tune_malloc(true);
    if let Some(model) = &args.model {
        builder = builder.model(ModelSource::parse(model));
    }
    if let Some(threads) = args.threads {
        builder = builder.threads(threads);
    }
    let classifier = builder.build()?;

    // Only now, with the model loaded, is an old output replaced.
    let mut summary = Summary::default();
    let mut synced: Option<File> = None;
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => {
            let (file, resumed_after) = open_output(path, args.resume, args.overwrite)?;
            started_with.record(path)?;
            summary.resumed_after = resumed_after;
            synced = Some(file.try_clone()?);
            Box::new(BufWriter::new(file))
        }
        None => Box::new(BufWriter::new(std::io::stdout())),
    };

    let progress = ProgressBar::with_draw_target(Some(input_len), ProgressDrawTarget::stderr());
    progress.set_style(ProgressStyle::with_template(
        "[{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} ETA {eta}",
    )?);
    let started = Instant::now();
    let mut chunk: Vec<Record> = Vec::with_capacity(args.batch_size);
    let mut flush = |chunk: &mut Vec<Record>, summary: &mut Summary| -> Result<(), BoxError> {
        write_chunk(
            &classifier,
            chunk,
            args.on_malformed,
            &mut out,
            log,
            summary,
        )?;
        out.flush()?;
        chunk.clear();
        let done = summary.classified + summary.failed;
        let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
        progress.set_message(format!("{done} texts, {rate:.0} texts/s"));
        Ok(())
    };
    let mut reader = TextRecords::new(BufReader::new(input), format, column, args.header)?;
    while let Some(record) = reader.next_record()? {
        progress.set_position(reader.bytes_read());
        if record.line <= summary.resumed_after {
            continue;
        }
        chunk.push(record);
        if chunk.len() == args.batch_size {
            flush(&mut chunk, &mut summary)?;
        }
    }
    flush(&mut chunk, &mut summary)?;
    out.flush()?;
    if let Some(file) = synced {
        file.sync_all()?;
    }
    progress.finish_and_clear();
    writeln!(
        log,
        "classified {}, failed {}, malformed {} ({}){}",
        summary.classified,
        summary.failed,
        summary.malformed,
        match args.on_malformed {
            OnMalformed::Keep => "kept in the output",
            OnMalformed::Skip => "left out of the output",
        },
        if summary.resumed_after > 0 {
            format!(", resumed after line {}", summary.resumed_after)
        } else {
            String::new()
        }
    )?;
    Ok(summary)
}

/// Classifies the chunk's texts in one call and writes one line per record, in order.
fn write_chunk(
    classifier: &EmotionClassifier,
    chunk: &[Record],
    on_malformed: OnMalformed,
    out: &mut dyn Write,
    log: &mut dyn Write,
    summary: &mut Summary,
) -> Result<(), BoxError> {
    #[derive(serde::Serialize)]
    struct Line<'a> {
        line: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        top: Option<LabelScore<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        scores: Option<&'a EmotionScores>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        malformed: Option<&'a str>,
    }
    let texts: Vec<&str> = chunk
        .iter()
        .filter_map(|r| r.text.as_deref().ok())
        .collect();
    let mut results = classifier.classify_each(&texts).into_iter();
    for record in chunk {
        let line = match &record.text {
            Err(why) => {
                summary.malformed += 1;
                writeln!(log, "line {}: malformed: {why}", record.line)?;
                if on_malformed == OnMalformed::Skip {
                    continue;
                }
                Line {
                    line: record.line,
                    text: None,
                    top: None,
                    scores: None,
                    error: None,
                    malformed: Some(why),
                }
            }
            Ok(text) => match results.next() {
                Some(Ok(scores)) => {
                    summary.classified += 1;
                    serde_json::to_writer(
                        &mut *out,
                        &Line {
                            line: record.line,
                            text: Some(text),
                            top: Some(scores.top()),
                            scores: Some(&scores),
                            error: None,
                            malformed: None,
                        },
                    )?;
                    out.write_all(b"\n")?;
                    continue;
                }
                Some(Err(error)) => {
                    summary.failed += 1;
                    let error = ErrorChain(&error).to_string();
                    writeln!(log, "line {}: failed: {error}", record.line)?;
                    Line {
                        line: record.line,
                        text: Some(text),
                        top: None,
                        scores: None,
                        error: Some(error),
                        malformed: None,
                    }
                }
                None => return Err("the classifier returned fewer results than texts".into()),
            },
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// What a run was started with, recorded beside its output so that a resume with other
/// settings or another input is refused instead of mixing two runs in one file.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct RunIdentity {
    input: PathBuf,
    input_bytes: u64,
    /// The input's modification time, in nanoseconds since the epoch (0 if unknown).
    input_modified_ns: u128,
    format: String,
    column: Option<String>,
    header: bool,
    on_malformed: String,
    /// `--model`, else `EMOTION_MODEL`, else the default.
    model: Option<String>,
}

impl RunIdentity {
    fn of(args: &Args, format: Format, input: &File) -> Result<Self, BoxError> {
        let metadata = input.metadata()?;
        let modified = metadata
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        Ok(Self {
            input: std::fs::canonicalize(&args.input)?,
            input_bytes: metadata.len(),
            input_modified_ns: modified,
            format: format!("{format:?}"),
            column: args.column.clone(),
            header: args.header,
            on_malformed: format!("{:?}", args.on_malformed),
            model: args
                .model
                .clone()
                .or_else(|| std::env::var("EMOTION_MODEL").ok()),
        })
    }

    /// `<output>.run.json`.
    fn path(output: &Path) -> PathBuf {
        let mut name = output.as_os_str().to_owned();
        name.push(".run.json");
        PathBuf::from(name)
    }

    /// Writes the identity beside `output`, crash-safely (temporary name, fsync, rename).
    fn record(&self, output: &Path) -> Result<(), BoxError> {
        let path = Self::path(output);
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        let mut file = File::create(&temporary)?;
        serde_json::to_writer_pretty(&mut file, self)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)?;
        Ok(())
    }

    /// Why resuming `output` with this identity is refused, if it is.
    fn refuse_resume(&self, output: &Path) -> Option<String> {
        let path = Self::path(output);
        let recorded: Self = match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(recorded) => recorded,
            Err(e) => {
                return Some(format!(
                    "what it was started with is unknown ({}: {e}); pass --overwrite to start over",
                    path.display()
                ))
            }
        };
        let differs = |what: &str, was: String, now: String| {
            (was != now).then(|| format!("its {what} was {was}, now {now}"))
        };
        differs(
            "input",
            recorded.input.display().to_string(),
            self.input.display().to_string(),
        )
        .or_else(|| {
            differs(
                "input (size and modification time)",
                format!(
                    "{} bytes at {}",
                    recorded.input_bytes, recorded.input_modified_ns
                ),
                format!("{} bytes at {}", self.input_bytes, self.input_modified_ns),
            )
        })
        .or_else(|| differs("format", recorded.format.clone(), self.format.clone()))
        .or_else(|| {
            differs(
                "column",
                format!("{:?}", recorded.column),
                format!("{:?}", self.column),
            )
        })
        .or_else(|| {
            differs(
                "header",
                recorded.header.to_string(),
                self.header.to_string(),
            )
        })
        .or_else(|| {
            differs(
                "--on-malformed",
                recorded.on_malformed.clone(),
                self.on_malformed.clone(),
            )
        })
        .or_else(|| {
            differs(
                "model",
                format!("{:?}", recorded.model),
                format!("{:?}", self.model),
            )
        })
    }
}

/// Refuses, before anything is loaded or written, an output that exists without `--resume` or
/// `--overwrite`, or a resume of a run started with something else.
fn check_output(
    path: &Path,
    resume: bool,
    overwrite: bool,
    identity: &RunIdentity,
) -> Result<(), BoxError> {
    if !path.exists() || overwrite {
        return Ok(());
    }
    if !resume {
        return Err(format!(
            "{} exists: pass --resume to continue it or --overwrite to replace it",
            path.display()
        )
        .into());
    }
    match identity.refuse_resume(path) {
        Some(why) => Err(format!("cannot resume {}: {why}", path.display()).into()),
        None => Ok(()),
    }
}

/// Opens the output: new, replaced (`--overwrite`), or continued (`--resume`, returning the last
/// input line already written, after cutting off a half-written last line).
fn open_output(path: &Path, resume: bool, overwrite: bool) -> Result<(File, u64), BoxError> {
    if !path.exists() || overwrite {
        return Ok((File::create(path)?, 0));
    }
    if !resume {
        return Err(format!(
            "{} exists: pass --resume to continue it or --overwrite to replace it",
            path.display()
        )
        .into());
    }
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let mut content = Vec::new();
    file.read_to_end(&mut content)?;
    let complete = content
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let last_line = content[..complete]
        .split(|&b| b == b'\n')
        .rfind(|line| !line.is_empty())
        .map(|line| {
            #[derive(serde::Deserialize)]
            struct Written {
                line: u64,
            }
            serde_json::from_slice::<Written>(line)
                .map(|w| w.line)
                .map_err(|e| format!("cannot resume {}: its last line: {e}", path.display()))
        })
        .transpose()?
        .unwrap_or(0);
    file.set_len(complete as u64)?;
    file.seek(SeekFrom::End(0))?;
    Ok((file, last_line))
}

#[cfg(test)]
#[path = "../support/test_models.rs"]
mod test_models;

#[cfg(test)]
mod tests {
    use super::*;

    fn args(input: &Path, output: &Path) -> Args {
        Args::parse_from([
            "emotion-classify-file",
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
            "--model",
            &test_models::tiny_distilbert(),
            "--batch-size",
            "3",
        ])
    }

    fn read_lines(path: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Same line numbers, texts and labels, scores within 1e-5 (batch shape moves the last bits).
    fn assert_close(actual: &[serde_json::Value], expected: &[serde_json::Value]) {
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(expected) {
            assert_eq!((&a["line"], &a["text"]), (&e["line"], &e["text"]));
            let (a, e) = (
                a["scores"].as_object().unwrap(),
                e["scores"].as_object().unwrap(),
            );
            assert_eq!(a.keys().collect::<Vec<_>>(), e.keys().collect::<Vec<_>>());
            for (label, score) in a {
                let diff = score.as_f64().unwrap() - e[label].as_f64().unwrap();
                assert!(diff.abs() < 1e-5, "{label}: {score} vs {}", e[label]);
            }
        }
    }

    #[test]
    fn every_record_gives_one_line_in_order_with_the_classifiers_scores() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.tsv");
        let texts = [
            "I love this",
            "so angry right now",
            "",
            "what?!",
            "meh",
            "yay",
        ];
        let mut content = String::new();
        for (i, text) in texts.iter().enumerate() {
            content.push_str(&format!("{text}\t{i}\n"));
            if i == 2 {
                content.push_str("\u{0}\u{1}\n"); // one column only: malformed with --column 1
            }
        }
        std::fs::write(&input, content).unwrap();
        let output = dir.path().join("out.jsonl");
        let mut log = Vec::new();
        let summary = run(&args(&input, &output), &mut log).unwrap();
        assert_eq!(
            summary,
            Summary {
                classified: 7,
                failed: 0,
                malformed: 0,
                resumed_after: 0
            }
        );
        let lines = read_lines(&output);
        assert_eq!(lines.len(), 7);
        let classifier = EmotionClassifier::builder()
            .model(ModelSource::parse(&test_models::tiny_distilbert()))
            .build()
            .unwrap();
        // The input's texts in order, the short line's first column among them: the expected
        // lines come from the input, never from the output under test.
        let mut inputs: Vec<&str> = texts.to_vec();
        inputs.insert(3, "\u{0}\u{1}");
        let expected: Vec<serde_json::Value> = inputs
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let scores = classifier.classify(text).unwrap();
                serde_json::json!({ "line": i + 1, "text": text, "scores": scores })
            })
            .collect();
        assert_close(&lines, &expected);

        // The text in column 1 instead: the short line is malformed, reported, kept or skipped.
        for (flag, kept) in [("keep", true), ("skip", false)] {
            let mut args = args(&input, &output);
            args.column = Some("1".into());
            args.overwrite = true;
            args.on_malformed = OnMalformed::from_str(flag, true).unwrap();
            let mut log = Vec::new();
            let summary = run(&args, &mut log).unwrap();
            assert_eq!((summary.classified, summary.malformed), (6, 1));
            let log = String::from_utf8(log).unwrap();
            assert!(log.contains("line 4: malformed: no column 1"), "{log}");
            let lines = read_lines(&output);
            assert_eq!(lines.len(), if kept { 7 } else { 6 });
            if kept {
                assert_eq!(lines[3]["line"], 4);
                assert!(lines[3]["malformed"].is_string());
            }
        }
    }

    #[test]
    fn resume_finishes_an_interrupted_run() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.jsonl");
        let content: String = (0..20)
            .map(|i| format!("{{\"text\":\"text number {i}, {}\"}}\n", "!".repeat(i)))
            .collect();
        std::fs::write(&input, content).unwrap();
        let output = dir.path().join("out.jsonl");
        run(&args(&input, &output), &mut Vec::new()).unwrap();
        let full = std::fs::read_to_string(&output).unwrap();
        let full_lines = read_lines(&output);

        // Without --resume an existing output is not touched.
        assert!(run(&args(&input, &output), &mut Vec::new()).is_err());
        assert_eq!(std::fs::read_to_string(&output).unwrap(), full);

        // Cut in the middle of line 8, as a killed run would leave it.
        let cut = full.match_indices('\n').nth(6).unwrap().0 + 20;
        std::fs::write(&output, &full[..cut]).unwrap();
        let mut resume = args(&input, &output);
        resume.resume = true;
        let summary = run(&resume, &mut Vec::new()).unwrap();
        assert_eq!((summary.resumed_after, summary.classified), (7, 13));
        let resumed = std::fs::read_to_string(&output).unwrap();
        assert_eq!(
            resumed[..cut - 20],
            full[..cut - 20],
            "complete lines kept as they were"
        );
        assert_close(&read_lines(&output), &full_lines);
        assert!(RunIdentity::path(&output).is_file());
    }

    #[test]
    fn a_resume_with_another_input_or_settings_is_refused_and_touches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.jsonl");
        let content: String = (0..6)
            .map(|i| format!("{{\"text\":\"text {i}\"}}\n"))
            .collect();
        std::fs::write(&input, &content).unwrap();
        let output = dir.path().join("out.jsonl");
        run(&args(&input, &output), &mut Vec::new()).unwrap();
        let written = std::fs::read_to_string(&output).unwrap();

        let mut other_column = args(&input, &output);
        other_column.resume = true;
        other_column.column = Some("body".into());
        let error = run(&other_column, &mut Vec::new()).unwrap_err().to_string();
        assert!(
            error.contains("its column was None, now Some(\"body\")"),
            "{error}"
        );

        let mut other_model = args(&input, &output);
        other_model.resume = true;
        other_model.model = Some("another-model".into());
        let error = run(&other_model, &mut Vec::new()).unwrap_err().to_string();
        assert!(error.contains("its model was"), "{error}");

        // The same path with other content (a new size) is another input.
        std::fs::write(&input, format!("{content}{{\"text\":\"one more\"}}\n")).unwrap();
        let mut resume = args(&input, &output);
        resume.resume = true;
        let error = run(&resume, &mut Vec::new()).unwrap_err().to_string();
        assert!(error.contains("size and modification time"), "{error}");
        assert_eq!(std::fs::read_to_string(&output).unwrap(), written);

        // --overwrite with a model that fails to load leaves the old output whole.
        let mut broken = args(&input, &output);
        broken.overwrite = true;
        broken.model = Some(dir.path().join("no-such-model").display().to_string());
        assert!(run(&broken, &mut Vec::new()).is_err());
        assert_eq!(std::fs::read_to_string(&output).unwrap(), written);
    }
}
