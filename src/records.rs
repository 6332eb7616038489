//! Records from a TSV, CSV or JSON-lines stream, one at a time: the reader behind the
//! `emotion-classify-file` tool and behind fine-tuning's data files, so both read a file the same
//! way.
//!
//! - TSV: a record a line, which must be UTF-8, fields split at tabs as they are (no quoting);
//! - CSV: quoted fields may span lines (the `csv` crate), and a record is named by its first line;
//! - JSON lines: an object a line, whose fields are the columns (a bare JSON string is the first
//!   column); a field may hold a string, or an array of strings or integers ([`Field::List`]).
//!
//! A record that cannot give its columns is not an error of the reader: it comes with its line
//! and a [`RecordProblem`], and reading goes on. Reading costs one pass over the input; a record
//! holds only its requested columns.

use std::io::BufRead;
use std::path::Path;

use serde_json::Value;

/// The format of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// Tab-separated, a record a line.
    Tsv,
    /// Comma-separated, quoted fields may span lines.
    Csv,
    /// JSON lines: an object (or a string) a line.
    Jsonl,
}

impl Format {
    /// The format `path`'s extension says: `.tsv`/`.tab`, `.csv`, `.jsonl`/`.ndjson`.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("tsv" | "tab") => Some(Self::Tsv),
            Some("csv") => Some(Self::Csv),
            Some("jsonl" | "ndjson") => Some(Self::Jsonl),
            _ => None,
        }
    }
}

/// Which column (or JSON field) to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// A 0-based index (for JSON lines, the field `text`).
    Index(usize),
    /// A name in the header (for JSON lines, a field name).
    Name(String),
}

/// A column's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A string.
    Text(String),
    /// An array of strings or integers (JSON lines only; integers as their decimal text:
    /// label ids, say).
    List(Vec<String>),
}

/// Why a record has no value for its columns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordProblem {
    /// A field, or a JSON line, is not UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
    /// The record has fewer fields than the column's index.
    #[error("no column {index} (the record has {fields} fields)")]
    NoColumn {
        /// The column asked for.
        index: usize,
        /// The record's fields.
        fields: usize,
    },
    /// A JSON object without the field.
    #[error("no field {0:?}")]
    NoField(String),
    /// A JSON field that is neither a string nor an array of strings.
    #[error("field {0:?} is not a string")]
    NotText(String),
    /// A line that is not JSON.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// A JSON line that is neither an object nor a string.
    #[error("neither a JSON object nor a string")]
    NotAnObject,
    /// A blank JSON line.
    #[error("empty line")]
    EmptyLine,
}

/// One record: its first line (from 1) and its columns' values, in the order asked for, or why
/// it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record's first line in the input.
    pub line: u64,
    /// The columns' values.
    pub fields: Result<Vec<Field>, RecordProblem>,
}

/// Why the input cannot be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordsError {
    /// The header names no such column.
    #[error("no column named {0:?} in the header")]
    MissingColumn(String),
    /// A column given by name without a header (TSV and CSV).
    #[error("column {0:?} is a name, and the input has no header")]
    NameWithoutHeader(String),
    /// Reading the input failed.
    #[error("cannot read the input")]
    Io(#[from] std::io::Error),
    /// The CSV reader stopped at a line.
    #[error("line {line}: {reason}")]
    Csv {
        /// Where.
        line: u64,
        /// What the CSV reader said.
        reason: String,
    },
}

impl From<csv::Error> for RecordsError {
    fn from(error: csv::Error) -> Self {
        let line = error.position().map_or(0, |p| p.line());
        match error.into_kind() {
            csv::ErrorKind::Io(io) => Self::Io(io),
            other => Self::Csv {
                line,
                reason: format!("{other:?}"),
            },
        }
    }
}

/// Reads records one at a time, with their line numbers and the bytes read so far.
pub struct Records<R: BufRead> {
    /// JSON lines: the fields to read.
    columns: Vec<Column>,
    /// TSV and CSV: the columns' indexes.
    indexes: Vec<usize>,
    source: Source<R>,
}

enum Source<R: BufRead> {
    /// TSV and JSONL: one record per line.
    Lines {
        input: R,
        json: bool,
        line: u64,
        bytes: u64,
    },
    /// CSV, where a quoted field may span lines.
    Csv {
        reader: csv::Reader<R>,
        record: csv::ByteRecord,
    },
}

impl<R: BufRead> Records<R> {
    /// Starts reading `columns` of `input`; with a header (TSV and CSV), reads it and finds the
    /// named columns in it.
    ///
    /// # Errors
    /// [`RecordsError::MissingColumn`], [`RecordsError::NameWithoutHeader`], or the input's
    /// read error.
    pub fn new(
        mut input: R,
        format: Format,
        columns: Vec<Column>,
        header: bool,
    ) -> Result<Self, RecordsError> {
        let resolve = |names: &[&[u8]], columns: Vec<Column>| {
            columns
                .into_iter()
                .map(|column| match column {
                    Column::Name(name) if header => names
                        .iter()
                        .position(|h| *h == name.as_bytes())
                        .ok_or(RecordsError::MissingColumn(name)),
                    Column::Name(name) => Err(RecordsError::NameWithoutHeader(name)),
                    Column::Index(index) => Ok(index),
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let (indexes, source) = match format {
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(header)
                    .flexible(true)
                    .from_reader(input);
                let names = if header {
                    reader.byte_headers()?.clone()
                } else {
                    csv::ByteRecord::new()
                };
                let names: Vec<&[u8]> = names.iter().collect();
                let indexes = resolve(&names, columns)?;
                let record = csv::ByteRecord::new();
                (indexes, Source::Csv { reader, record })
            }
            Format::Tsv => {
                let (mut line, mut bytes) = (0, 0);
                let mut first = Vec::new();
                if header {
                    bytes += input.read_until(b'\n', &mut first)? as u64;
                    line += 1;
                }
                let first = trim_line_end(&first);
                let names: Vec<&[u8]> = first.split(|&b| b == b'\t').collect();
                let indexes = resolve(&names, columns)?;
                let source = Source::Lines {
                    input,
                    json: false,
                    line,
                    bytes,
                };
                (indexes, source)
            }
            Format::Jsonl => {
                let source = Source::Lines {
                    input,
                    json: true,
                    line: 0,
                    bytes: 0,
                };
                return Ok(Self {
                    columns,
                    indexes: Vec::new(),
                    source,
                });
            }
        };
        Ok(Self {
            columns: Vec::new(),
            indexes,
            source,
        })
    }

    /// How far into the input reading has got, in bytes.
    pub fn bytes_read(&self) -> u64 {
        match &self.source {
            Source::Lines { bytes, .. } => *bytes,
            Source::Csv { reader, .. } => reader.position().byte(),
        }
    }

    /// The next record; `None` at the end of the input.
    ///
    /// # Errors
    /// The input's read error, or the CSV reader's.
    pub fn next_record(&mut self) -> Result<Option<Record>, RecordsError> {
        match &mut self.source {
            Source::Lines {
                input,
                json,
                line,
                bytes,
            } => {
                let mut buffer = Vec::new();
                let n = input.read_until(b'\n', &mut buffer)?;
                if n == 0 {
                    return Ok(None);
                }
                *line += 1;
                *bytes += n as u64;
                let buffer = trim_line_end(&buffer);
                let fields = if *json {
                    json_fields(buffer, &self.columns)
                } else if std::str::from_utf8(buffer).is_err() {
                    Err(RecordProblem::NotUtf8)
                } else {
                    let fields: Vec<&[u8]> = buffer.split(|&b| b == b'\t').collect();
                    delimited_fields(&fields, &self.indexes)
                };
                Ok(Some(Record {
                    line: *line,
                    fields,
                }))
            }
            Source::Csv { reader, record } => {
                if !reader.read_byte_record(record)? {
                    return Ok(None);
                }
                let line = record.position().map_or(0, |p| p.line());
                let fields: Vec<&[u8]> = record.iter().collect();
                Ok(Some(Record {
                    line,
                    fields: delimited_fields(&fields, &self.indexes),
                }))
            }
        }
    }
}

impl<R: BufRead> Iterator for Records<R> {
    type Item = Result<Record, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

fn trim_line_end(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r'] = line {
        line = rest;
    }
    line
}

fn delimited_fields(fields: &[&[u8]], indexes: &[usize]) -> Result<Vec<Field>, RecordProblem> {
    indexes
        .iter()
        .map(|&index| {
            let field = fields.get(index).ok_or(RecordProblem::NoColumn {
                index,
                fields: fields.len(),
            })?;
            std::str::from_utf8(field)
                .map(|text| Field::Text(text.to_owned()))
                .map_err(|_| RecordProblem::NotUtf8)
        })
        .collect()
}

fn json_fields(line: &[u8], columns: &[Column]) -> Result<Vec<Field>, RecordProblem> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err(RecordProblem::EmptyLine);
    }
    if std::str::from_utf8(line).is_err() {
        return Err(RecordProblem::NotUtf8);
    }
    let value: Value =
        serde_json::from_slice(line).map_err(|e| RecordProblem::InvalidJson(e.to_string()))?;
    let name = |column: &Column| match column {
        Column::Name(name) => name.clone(),
        Column::Index(_) => "text".to_owned(),
    };
    match value {
        Value::String(text) => columns
            .iter()
            .enumerate()
            .map(|(i, column)| match i {
                0 => Ok(Field::Text(text.clone())),
                _ => Err(RecordProblem::NoField(name(column))),
            })
            .collect(),
        Value::Object(mut object) => columns
            .iter()
            .map(|column| {
                let name = name(column);
                match object.remove(&name) {
                    Some(Value::String(text)) => Ok(Field::Text(text)),
                    Some(Value::Array(items)) => items
                        .into_iter()
                        .map(|item| match item {
                            Value::String(text) => Ok(text),
                            Value::Number(n) if n.is_u64() => Ok(n.to_string()),
                            _ => Err(RecordProblem::NotText(name.clone())),
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map(Field::List),
                    Some(_) => Err(RecordProblem::NotText(name)),
                    None => Err(RecordProblem::NoField(name)),
                }
            })
            .collect(),
        _ => Err(RecordProblem::NotAnObject),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], format: Format, columns: Vec<Column>, header: bool) -> Vec<Record> {
        let mut records = Records::new(input, format, columns, header).expect("records");
        let mut all = Vec::new();
        while let Some(record) = records.next_record().expect("a record") {
            all.push(record);
        }
        assert_eq!(records.bytes_read(), input.len() as u64);
        all
    }

    fn text(line: u64, texts: &[&str]) -> Record {
        Record {
            line,
            fields: Ok(texts.iter().map(|t| Field::Text((*t).to_owned())).collect()),
        }
    }

    fn name(name: &str) -> Column {
        Column::Name(name.to_owned())
    }

    #[test]
    fn tsv_records_split_at_tabs_as_they_are() {
        let input = b"happy \"day\"\t1\tid1\nno label column\n\xff\xfe\t2\n\tempty text\r\n";
        let records = read_all(input, Format::Tsv, vec![Column::Index(1)], false);
        assert_eq!(records[0], text(1, &["1"]));
        assert_eq!(
            records[1].fields,
            Err(RecordProblem::NoColumn {
                index: 1,
                fields: 1
            })
        );
        assert_eq!(records[2].fields, Err(RecordProblem::NotUtf8));
        assert_eq!(records[3], text(4, &["empty text"]));
        assert_eq!(
            records[1].fields.clone().unwrap_err().to_string(),
            "no column 1 (the record has 1 fields)"
        );
        // A quote is a character in TSV, not quoting.
        let quoted = read_all(b"\"a\tb\"\n", Format::Tsv, vec![Column::Index(0)], false);
        assert_eq!(quoted, vec![text(1, &["\"a"])]);
        let with_header = read_all(
            b"id\ttext\tlabels\n1\thello\tjoy\n",
            Format::Tsv,
            vec![name("text"), name("labels")],
            true,
        );
        assert_eq!(with_header, vec![text(2, &["hello", "joy"])]);
    }

    #[test]
    fn csv_records_span_lines_and_keep_their_first_line() {
        let input = b"id,text\n1,\"multi\nline, quoted\"\n2\n3,plain\n";
        let records = read_all(input, Format::Csv, vec![name("text")], true);
        assert_eq!(records[0], text(2, &["multi\nline, quoted"]));
        assert_eq!(records[1].line, 4);
        assert_eq!(
            records[1].fields,
            Err(RecordProblem::NoColumn {
                index: 1,
                fields: 1
            })
        );
        assert_eq!(records[2], text(5, &["plain"]));
    }

    #[test]
    fn named_columns_need_a_header_that_names_them() {
        let missing = Records::new(&b"id,body\n"[..], Format::Csv, vec![name("text")], true);
        assert!(matches!(missing, Err(RecordsError::MissingColumn(ref c)) if c == "text"));
        let missing = Records::new(&b"id\tbody\n"[..], Format::Tsv, vec![name("text")], true);
        assert!(matches!(missing, Err(RecordsError::MissingColumn(ref c)) if c == "text"));
        let no_header = Records::new(&b"a,b\n"[..], Format::Csv, vec![name("text")], false);
        assert!(matches!(no_header, Err(RecordsError::NameWithoutHeader(_))));
    }

    #[test]
    fn jsonl_records_and_malformed_lines() {
        let input = b"{\"text\":\"a\"}\n\"just a string\"\n\n{bad json\n{\"body\":\"x\"}\n{\"text\":3}\n[1]\n";
        let records = read_all(input, Format::Jsonl, vec![Column::Index(0)], false);
        assert_eq!(records[0], text(1, &["a"]));
        assert_eq!(records[1], text(2, &["just a string"]));
        assert_eq!(records[2].fields, Err(RecordProblem::EmptyLine));
        assert!(matches!(
            records[3].fields,
            Err(RecordProblem::InvalidJson(_))
        ));
        assert_eq!(
            records[4].fields,
            Err(RecordProblem::NoField("text".into()))
        );
        assert_eq!(
            records[5].fields,
            Err(RecordProblem::NotText("text".into()))
        );
        assert_eq!(records[6].fields, Err(RecordProblem::NotAnObject));
        assert_eq!(records.len(), 7);
    }

    #[test]
    fn jsonl_fields_may_hold_arrays_of_strings_or_ids() {
        let input = b"{\"text\":\"a\",\"labels\":[\"joy\",\"fear\"]}\n{\"text\":\"b\",\"labels\":[1,-2]}\n\"c\"\n";
        let records = read_all(
            input,
            Format::Jsonl,
            vec![name("text"), name("labels")],
            false,
        );
        assert_eq!(
            records[0].fields,
            Ok(vec![
                Field::Text("a".into()),
                Field::List(vec!["joy".into(), "fear".into()])
            ])
        );
        assert_eq!(
            records[1].fields,
            Err(RecordProblem::NotText("labels".into()))
        );
        assert_eq!(
            records[2].fields,
            Err(RecordProblem::NoField("labels".into()))
        );
    }

    #[test]
    fn formats_come_from_extensions() {
        assert_eq!(
            Format::from_path(Path::new("a.ndjson")),
            Some(Format::Jsonl)
        );
        assert_eq!(Format::from_path(Path::new("a.tab")), Some(Format::Tsv));
        assert_eq!(Format::from_path(Path::new("a.csv")), Some(Format::Csv));
        assert_eq!(Format::from_path(Path::new("a.txt")), None);
    }
}
