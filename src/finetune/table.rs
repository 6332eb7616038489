//! Labelled texts from a CSV, TSV or JSON-lines file: a text column and a labels column
//! (label names or ids, separated by [`Columns::separator`], or a JSON array of them; in JSON
//! lines also an array field), read with
//! [`crate::records`], the reader of `emotion-classify-file`: CSV and TSV have a header naming
//! the columns, quoted CSV fields may span lines, TSV fields are split at tabs as they are, and
//! every record is named by its first line.

use std::path::Path;

use super::error::FineTuneError;
use crate::error::Result;
use crate::records::{Column, Field, Format, RecordProblem, Records, RecordsError};

/// One record: its first line (from 1), its text and its labels' names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamedRecord {
    pub(crate) line: usize,
    pub(crate) text: String,
    pub(crate) labels: Vec<String>,
}

/// Which columns (or JSON fields) of a labelled file hold the text and the labels, and what
/// separates several labels in one field.
///
/// ```
/// use emotion_classifier::finetune::Columns;
/// let tickets = Columns::default().text("body").labels("tags").separator(";");
/// assert_eq!(tickets, Columns::new("body", "tags", ";"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Columns {
    pub(crate) text: String,
    pub(crate) labels: String,
    pub(crate) separator: String,
}

impl Default for Columns {
    /// `text`, `labels`, and a comma.
    fn default() -> Self {
        Self::new("text", "labels", ",")
    }
}

impl Columns {
    /// The text column, the labels column, and the labels' separator.
    pub fn new(
        text: impl Into<String>,
        labels: impl Into<String>,
        separator: impl Into<String>,
    ) -> Self {
        Self {
            text: text.into(),
            labels: labels.into(),
            separator: separator.into(),
        }
    }

    /// The column (a CSV/TSV header's name, or a JSON field) holding the text.
    pub fn text(mut self, column: impl Into<String>) -> Self {
        self.text = column.into();
        self
    }

    /// The column holding the labels.
    pub fn labels(mut self, column: impl Into<String>) -> Self {
        self.labels = column.into();
        self
    }

    /// What separates several labels in one field (default `,`). A field that is a JSON array
    /// (`["anger", "fear"]`) is read as one whatever the separator.
    pub fn separator(mut self, separator: impl Into<String>) -> Self {
        self.separator = separator.into();
        self
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

/// Labels from a field: a JSON array of names or ids, else names split at `separator`;
/// trimmed, empty names dropped (a field with none is an empty label, refused by the caller).
fn split_names(field: &str, separator: &str) -> Vec<String> {
    let trimmed = field.trim();
    if trimmed.starts_with('[') {
        if let Ok(items) = serde_json::from_str::<Vec<serde_json::Value>>(trimmed) {
            return items
                .iter()
                .map(|item| match item {
                    serde_json::Value::String(s) => s.trim().to_owned(),
                    other => other.to_string(),
                })
                .filter(|n| !n.is_empty())
                .collect();
        }
    }
    let parts: Vec<&str> = if separator.is_empty() {
        vec![trimmed]
    } else {
        trimmed.split(separator).collect()
    };
    parts
        .into_iter()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Reads every record of `path` with [`crate::records`] (the reader of `emotion-classify-file`),
/// by its extension: `.csv`, `.tsv`, or `.jsonl`/`.ndjson`. CSV and TSV have a header; blank JSON
/// lines are skipped.
///
/// # Errors
/// [`crate::Error::MissingFile`] or [`crate::Error::Io`]; [`FineTuneError::InvalidUtf8`],
/// [`FineTuneError::MissingText`], [`FineTuneError::MissingColumn`] or
/// [`FineTuneError::InvalidRecord`] (bad JSON, a record without labels), naming the line.
pub(crate) fn read_records(path: &Path, columns: &Columns) -> Result<Vec<NamedRecord>> {
    let format = Format::from_path(path).ok_or_else(|| {
        invalid(
            path,
            0,
            "cannot tell the format: the file's name should end in .csv, .tsv or .jsonl",
        )
    })?;
    let bytes = crate::layout::read(path)?;
    let wanted = vec![
        Column::Name(columns.text.clone()),
        Column::Name(columns.labels.clone()),
    ];
    let header = format != Format::Jsonl;
    let mut reader =
        Records::new(&bytes[..], format, wanted, header).map_err(|e| records_error(path, e))?;
    let mut records = Vec::new();
    while let Some(record) = reader.next_record().map_err(|e| records_error(path, e))? {
        let line = record.line as usize;
        let (text, labels) = match record.fields {
            Ok(fields) => match <[Field; 2]>::try_from(fields) {
                Ok([text, labels]) => (text, labels),
                Err(_) => return Err(invalid(path, line, "not two columns")),
            },
            Err(RecordProblem::EmptyLine) => continue,
            Err(RecordProblem::NotUtf8) => {
                return Err(FineTuneError::InvalidUtf8 {
                    path: path.to_path_buf(),
                    line,
                }
                .into())
            }
            Err(RecordProblem::NoField(field)) if field == columns.text => {
                return Err(missing_text(path, line))
            }
            Err(problem) => return Err(invalid(path, line, problem.to_string())),
        };
        let text = match text {
            Field::Text(text) if !text.trim().is_empty() => text,
            Field::Text(_) => return Err(missing_text(path, line)),
            Field::List(_) => {
                let reason = format!("field {:?} is not a string", columns.text);
                return Err(invalid(path, line, reason));
            }
        };
        let labels = match labels {
            Field::Text(names) => split_names(&names, &columns.separator),
            Field::List(names) => names
                .iter()
                .map(|n| n.trim())
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect(),
        };
        if labels.is_empty() {
            let reason = format!("an empty label in column {:?}", columns.labels);
            return Err(invalid(path, line, reason));
        }
        records.push(NamedRecord { line, text, labels });
    }
    Ok(records)
}

fn records_error(path: &Path, error: RecordsError) -> crate::Error {
    match error {
        RecordsError::MissingColumn(column) | RecordsError::NameWithoutHeader(column) => {
            FineTuneError::MissingColumn {
                path: path.to_path_buf(),
                column,
            }
            .into()
        }
        RecordsError::Csv { line, reason } => invalid(path, line as usize, reason),
        other => invalid(path, 0, other.to_string()),
    }
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
    fn tsv_texts_keep_their_quotes_as_emotion_classify_file_reads_them() {
        let (_dir, path) = write("train.tsv", b"text\tlabels\n\"so\" happy\tjoy\n");
        let records = read_records(&path, &Columns::default()).expect("records");
        assert_eq!(records, vec![record(2, "\"so\" happy", &["joy"])]);
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

    #[test]
    fn other_columns_separators_and_json_arrays_in_a_field() {
        let (_dir, path) = write(
            "tickets.csv",
            b"id,body,tags\n1,late parcel,shipping; refund\n2,\"wrong size\",\"[\"\"returns\"\", 3]\"\n",
        );
        let columns = Columns::default()
            .text("body")
            .labels("tags")
            .separator(";");
        let records = read_records(&path, &columns).expect("records");
        assert_eq!(
            records,
            vec![
                record(2, "late parcel", &["shipping", "refund"]),
                record(3, "wrong size", &["returns", "3"]),
            ]
        );
        assert_eq!(split_names(" a | b ||", "|"), ["a", "b"]);
        assert_eq!(split_names("a,b", ""), ["a,b"]);
        assert!(split_names(" ; ", ";").is_empty());
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
