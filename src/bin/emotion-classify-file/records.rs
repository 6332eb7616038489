//! Reading the input file's records: TSV and JSON lines a line at a time, CSV with quoted
//! fields that may span lines; each record with its first line number and its text, or why it
//! has none (not UTF-8, no such column, bad JSON).

use std::io::BufRead;
use std::path::Path;

use clap::ValueEnum;

use crate::BoxError;

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Tsv,
    Csv,
    Jsonl,
}

/// One input record: where it starts, and its text or why it has none.
#[derive(Debug, PartialEq)]
pub(crate) struct Record {
    pub(crate) line: u64,
    pub(crate) text: Result<String, String>,
}

/// The format `path`'s extension says.
pub(crate) fn format_of(path: &Path) -> Result<Format, BoxError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("tsv" | "tab") => Ok(Format::Tsv),
        Some("csv") => Ok(Format::Csv),
        Some("jsonl" | "ndjson") => Ok(Format::Jsonl),
        _ => Err(format!(
            "cannot tell the format of {}: pass --format",
            path.display()
        )
        .into()),
    }
}

/// Which column (or JSON field) holds the text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Column {
    Index(usize),
    Name(String),
}

impl Column {
    pub(crate) fn parse(
        column: Option<&str>,
        format: Format,
        header: bool,
    ) -> Result<Self, BoxError> {
        let column = match (column, format) {
            (Some(column), _) => column,
            (None, Format::Jsonl) => "text",
            (None, _) => "0",
        };
        match (column.parse::<usize>(), format) {
            (_, Format::Jsonl) => Ok(Self::Name(column.to_string())),
            (Ok(index), _) => Ok(Self::Index(index)),
            (Err(_), _) if header => Ok(Self::Name(column.to_string())),
            (Err(_), _) => Err(format!("--column {column:?} is a name: pass --header").into()),
        }
    }
}

/// Reads records one at a time, with their line numbers and the bytes read so far.
pub(crate) enum Records<R: BufRead> {
    /// TSV and JSONL: one record per line.
    Lines {
        input: R,
        format: Format,
        column: Column,
        line: u64,
        bytes: u64,
    },
    /// CSV, where a quoted field may span lines.
    Csv {
        reader: csv::Reader<R>,
        index: usize,
        record: csv::ByteRecord,
    },
}

impl<R: BufRead> Records<R> {
    /// Starts reading; with a header, reads it and finds a named column in it.
    pub(crate) fn new(
        mut input: R,
        format: Format,
        column: Column,
        header: bool,
    ) -> Result<Self, BoxError> {
        let missing = |name: &str| format!("no column named {name:?} in the header");
        match format {
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(header)
                    .flexible(true)
                    .from_reader(input);
                let index = match column {
                    Column::Index(index) => index,
                    Column::Name(name) => reader
                        .byte_headers()?
                        .iter()
                        .position(|h| h == name.as_bytes())
                        .ok_or_else(|| missing(&name))?,
                };
                Ok(Self::Csv {
                    reader,
                    index,
                    record: csv::ByteRecord::new(),
                })
            }
            Format::Tsv | Format::Jsonl => {
                let (mut line, mut bytes) = (0, 0);
                let column = match (header, format, column) {
                    (true, Format::Tsv, column) => {
                        let mut first = String::new();
                        bytes += input.read_line(&mut first)? as u64;
                        line += 1;
                        let names: Vec<&str> =
                            first.trim_end_matches(['\r', '\n']).split('\t').collect();
                        match column {
                            Column::Name(name) => Column::Index(
                                names
                                    .iter()
                                    .position(|h| *h == name)
                                    .ok_or_else(|| missing(&name))?,
                            ),
                            index => index,
                        }
                    }
                    (_, _, column) => column,
                };
                Ok(Self::Lines {
                    input,
                    format,
                    column,
                    line,
                    bytes,
                })
            }
        }
    }

    /// How far into the input reading has got, in bytes.
    pub(crate) fn bytes_read(&self) -> u64 {
        match self {
            Self::Lines { bytes, .. } => *bytes,
            Self::Csv { reader, .. } => reader.position().byte(),
        }
    }

    /// The next record; `None` at the end of the input.
    pub(crate) fn next_record(&mut self) -> std::io::Result<Option<Record>> {
        match self {
            Self::Lines {
                input,
                format,
                column,
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
                while buffer.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
                    buffer.pop();
                }
                let text = match format {
                    Format::Jsonl => json_text(&buffer, column),
                    _ => tsv_text(&buffer, column),
                };
                Ok(Some(Record { line: *line, text }))
            }
            Self::Csv {
                reader,
                index,
                record,
            } => match reader.read_byte_record(record) {
                Ok(false) => Ok(None),
                Ok(true) => {
                    let line = record.position().map_or(0, |p| p.line());
                    let text = match record.get(*index) {
                        Some(field) => {
                            String::from_utf8(field.to_vec()).map_err(|_| "not UTF-8".to_string())
                        }
                        None => Err(format!(
                            "no column {index} (the record has {} fields)",
                            record.len()
                        )),
                    };
                    Ok(Some(Record { line, text }))
                }
                Err(error) => match error.into_kind() {
                    csv::ErrorKind::Io(io) => Err(io),
                    other => Err(std::io::Error::other(format!("{other:?}"))),
                },
            },
        }
    }
}

fn tsv_text(line: &[u8], column: &Column) -> Result<String, String> {
    let line = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_string())?;
    let index = match column {
        Column::Index(index) => *index,
        Column::Name(name) => return Err(format!("no column named {name:?}")),
    };
    let fields = line.split('\t').count();
    line.split('\t')
        .nth(index)
        .map(str::to_string)
        .ok_or_else(|| format!("no column {index} (the line has {fields} fields)"))
}

fn json_text(line: &[u8], column: &Column) -> Result<String, String> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err("empty line".to_string());
    }
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let name = match column {
        Column::Name(name) => name.as_str(),
        Column::Index(_) => "text",
    };
    match value {
        serde_json::Value::String(text) => Ok(text),
        serde_json::Value::Object(mut object) => match object.remove(name) {
            Some(serde_json::Value::String(text)) => Ok(text),
            Some(_) => Err(format!("field {name:?} is not a string")),
            None => Err(format!("no field {name:?}")),
        },
        _ => Err("neither a JSON object nor a string".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], format: Format, column: Option<&str>, header: bool) -> Vec<Record> {
        let column = Column::parse(column, format, header).unwrap();
        let mut records = Records::new(input, format, column, header).unwrap();
        let mut all = Vec::new();
        while let Some(record) = records.next_record().unwrap() {
            all.push(record);
        }
        assert_eq!(records.bytes_read(), input.len() as u64);
        all
    }

    fn ok(line: u64, text: &str) -> Record {
        Record {
            line,
            text: Ok(text.to_string()),
        }
    }

    #[test]
    fn tsv_records_and_malformed_lines() {
        let input = b"happy day\t1\tid1\nno label column\n\xff\xfe\t2\n\tempty text\r\n";
        let records = read_all(input, Format::Tsv, Some("1"), false);
        assert_eq!(records[0], ok(1, "1"));
        assert_eq!(
            records[1].text,
            Err("no column 1 (the line has 1 fields)".into())
        );
        assert_eq!(records[2].text, Err("not UTF-8".into()));
        assert_eq!(records[3], ok(4, "empty text"));
        let with_header = read_all(b"id\ttext\n1\thello\n", Format::Tsv, Some("text"), true);
        assert_eq!(with_header, vec![ok(2, "hello")]);
    }

    #[test]
    fn csv_records_span_lines_and_keep_their_first_line() {
        let input = b"id,text\n1,\"multi\nline, quoted\"\n2\n3,plain\n";
        let records = read_all(input, Format::Csv, Some("text"), true);
        assert_eq!(records[0], ok(2, "multi\nline, quoted"));
        assert_eq!(records[1].line, 4);
        assert_eq!(
            records[1].text,
            Err("no column 1 (the record has 1 fields)".into())
        );
        assert_eq!(records[2], ok(5, "plain"));
        assert!(Column::parse(Some("text"), Format::Csv, false).is_err());
    }

    #[test]
    fn jsonl_records_and_malformed_lines() {
        let input = b"{\"text\":\"a\"}\n\"just a string\"\n\n{bad json\n{\"body\":\"x\"}\n{\"text\":3}\n[1]\n";
        let records = read_all(input, Format::Jsonl, None, false);
        assert_eq!(records[0], ok(1, "a"));
        assert_eq!(records[1], ok(2, "just a string"));
        assert_eq!(records[2].text, Err("empty line".into()));
        assert!(records[3]
            .text
            .as_ref()
            .unwrap_err()
            .starts_with("invalid JSON"));
        assert_eq!(records[4].text, Err("no field \"text\"".into()));
        assert_eq!(
            records[5].text,
            Err("field \"text\" is not a string".into())
        );
        assert_eq!(
            records[6].text,
            Err("neither a JSON object nor a string".into())
        );
        assert_eq!(records.len(), 7);
    }
}
