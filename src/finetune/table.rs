//! Labelled texts from a CSV, TSV or JSON-lines file: a text column and a labels column
//! (label names, comma-separated; in JSON also an array of names), with the conventions of
//! `emotion-classify-file`: CSV and TSV have a header naming the columns, quoted CSV fields may
//! span lines, and every record is named by its first line.

use std::path::Path;

use serde_json::Value;

use super::error::FineTuneError;
use crate::error::Result;

/// One record: its first line (from 1), its text and its labels' names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamedRecord {
    pub(crate) line: usize,
    pub(crate) text: String,
    pub(crate) labels: Vec<String>,
}

/// The columns (or JSON fields) to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Columns {
    pub(crate) text: String,
    pub(crate) labels: String,
}

impl Default for Columns {
    fn default() -> Self {
        Self {
            text: "text".into(),
            labels: "labels".into(),
        }
    }
}

fn invalid(path: &Path, line: usize, reason: impl Into<String>) -> crate::Error {
    FineTuneError::InvalidRecord {
        path: path.to_path_buf(),
        line,
        reason: reason.into(),
    }
    .into()
}

fn missing_text(path: &Path, line: usize) -> crate::Error {
    FineTuneError::MissingText {
        path: path.to_path_buf(),
        line,
    }
    .into()
}

/// Label names from a comma-separated field: trimmed, empty names dropped.
fn split_names(field: &str) -> Vec<String> {
    field
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Reads every record of `path`, by its extension: `.csv`, `.tsv`, or `.jsonl`/`.ndjson`.
///
/// # Errors
/// [`crate::Error::MissingFile`] or [`crate::Error::Io`]; [`FineTuneError::InvalidUtf8`],
/// [`FineTuneError::MissingText`], [`FineTuneError::MissingColumn`] or
/// [`FineTuneError::InvalidRecord`] (bad JSON, a record without labels), naming the line.
pub(crate) fn read_records(path: &Path, columns: &Columns) -> Result<Vec<NamedRecord>> {
    let bytes = crate::layout::read(path)?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => read_delimited(path, &bytes, b',', columns),
        Some("tsv" | "tab") => read_delimited(path, &bytes, b'\t', columns),
        Some("jsonl" | "ndjson") => read_json_lines(path, &bytes, columns),
        _ => Err(invalid(
            path,
            0,
            "cannot tell the format: the file's name should end in .csv, .tsv or .jsonl",
        )),
    }
}

fn read_delimited(
    path: &Path,
    bytes: &[u8],
    delimiter: u8,
    columns: &Columns,
) -> Result<Vec<NamedRecord>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let headers = reader
        .byte_headers()
        .map_err(|e| invalid(path, 1, e.to_string()))?
        .clone();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| h == name.as_bytes())
            .ok_or_else(|| -> crate::Error {
                FineTuneError::MissingColumn {
                    path: path.to_path_buf(),
                    column: name.to_owned(),
                }
                .into()
            })
    };
    let (text_at, labels_at) = (find(&columns.text)?, find(&columns.labels)?);
    let mut records = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        let more = reader.read_byte_record(&mut record).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            invalid(path, line, e.to_string())
        })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        let field = |at: usize| -> Result<&str> {
            std::str::from_utf8(record.get(at).unwrap_or_default()).map_err(|_| {
                FineTuneError::InvalidUtf8 {
                    path: path.to_path_buf(),
                    line,
                }
                .into()
            })
        };
        let text = field(text_at)?;
        if text.trim().is_empty() {
            return Err(missing_text(path, line));
        }
        let labels = split_names(field(labels_at)?);
        if labels.is_empty() {
            return Err(invalid(
                path,
                line,
                format!("no labels in column {:?}", columns.labels),
            ));
        }
        records.push(NamedRecord {
            line,
            text: text.to_owned(),
            labels,
        });
    }
    Ok(records)
}

fn read_json_lines(path: &Path, bytes: &[u8], columns: &Columns) -> Result<Vec<NamedRecord>> {
    let mut records = Vec::new();
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if std::str::from_utf8(raw).is_err() {
            return Err(FineTuneError::InvalidUtf8 {
                path: path.to_path_buf(),
                line,
            }
            .into());
        }
        let value: Value = serde_json::from_slice(raw)
            .map_err(|e| invalid(path, line, format!("invalid JSON: {e}")))?;
        let Value::Object(mut object) = value else {
            return Err(invalid(path, line, "not a JSON object"));
        };
        let text = match object.remove(&columns.text) {
            Some(Value::String(text)) if !text.trim().is_empty() => text,
            Some(Value::String(_)) | None => return Err(missing_text(path, line)),
            Some(_) => {
                return Err(invalid(
                    path,
                    line,
                    format!("field {:?} is not a string", columns.text),
                ))
            }
        };
        let labels = match object.remove(&columns.labels) {
            Some(Value::String(names)) => split_names(&names),
            Some(Value::Array(names)) => names
                .into_iter()
                .map(|n| match n {
                    Value::String(n) => Ok(n.trim().to_owned()),
                    _ => Err(invalid(
                        path,
                        line,
                        format!("field {:?} holds a non-string label", columns.labels),
                    )),
                })
                .collect::<Result<Vec<_>>>()?,
            None => {
                return Err(invalid(
                    path,
                    line,
                    format!("no field {:?}", columns.labels),
                ))
            }
            Some(_) => {
                return Err(invalid(
                    path,
                    line,
                    format!(
                        "field {:?} is neither a string nor an array of strings",
                        columns.labels
                    ),
                ))
            }
        };
        if labels.is_empty() {
            return Err(invalid(
                path,
                line,
                format!("no labels in field {:?}", columns.labels),
            ));
        }
        records.push(NamedRecord { line, text, labels });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, contents: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(name);
        std::fs::write(&path, contents).expect("write");
        (dir, path)
    }

    fn record(line: usize, text: &str, labels: &[&str]) -> NamedRecord {
        NamedRecord {
            line,
            text: text.into(),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    #[test]
    fn csv_records_with_quoted_multiline_texts_keep_their_first_line() {
        let (_dir, path) = write(
            "train.csv",
            b"id,text,labels\n1,\"so\nhappy, really\",\"joy, surprise\"\n2,plain,anger\n",
        );
        let records = read_records(&path, &Columns::default()).expect("records");
        assert_eq!(
            records,
            vec![
                record(2, "so\nhappy, really", &["joy", "surprise"]),
                record(4, "plain", &["anger"])
            ]
        );
    }

    #[test]
    fn jsonl_records_take_strings_or_arrays_of_labels() {
        let (_dir, path) = write(
            "train.jsonl",
            b"{\"text\":\"a\",\"labels\":\"joy,fear\"}\n\n{\"text\":\"b\",\"labels\":[\"anger\"]}\n",
        );
        let records = read_records(&path, &Columns::default()).expect("records");
        assert_eq!(
            records,
            vec![record(1, "a", &["joy", "fear"]), record(3, "b", &["anger"])]
        );
    }

    fn error(name: &str, contents: &[u8]) -> FineTuneError {
        let (_dir, path) = write(name, contents);
        match read_records(&path, &Columns::default()) {
            Err(crate::Error::FineTune(e)) => e,
            other => panic!("expected a fine-tuning error, got {other:?}"),
        }
    }

    #[test]
    fn bad_records_name_their_line() {
        assert!(matches!(
            error("a.csv", b"text,labels\nok,joy\n,joy\n"),
            FineTuneError::MissingText { line: 3, .. }
        ));
        assert!(matches!(
            error("a.csv", b"text,labels\nok,joy\n\xff\xfe,joy\n"),
            FineTuneError::InvalidUtf8 { line: 3, .. }
        ));
        assert!(matches!(
            error("a.csv", b"body,labels\nok,joy\n"),
            FineTuneError::MissingColumn { ref column, .. } if column == "text"
        ));
        assert!(matches!(
            error("a.tsv", b"text\tlabels\nok\t\n"),
            FineTuneError::InvalidRecord { line: 2, .. }
        ));
        assert!(matches!(
            error("a.jsonl", b"{\"text\":\"a\",\"labels\":\"joy\"}\n{bad\n"),
            FineTuneError::InvalidRecord { line: 2, ref reason, .. } if reason.starts_with("invalid JSON")
        ));
        assert!(matches!(
            error("a.jsonl", b"{\"labels\":\"joy\"}\n"),
            FineTuneError::MissingText { line: 1, .. }
        ));
        assert!(matches!(
            error("a.jsonl", b"{\"text\":\"a\",\"labels\":3}\n"),
            FineTuneError::InvalidRecord { line: 1, .. }
        ));
        assert!(matches!(
            error("a.txt", b"x"),
            FineTuneError::InvalidRecord { .. }
        ));
    }
}
