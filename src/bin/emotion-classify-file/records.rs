//! The input's records for this tool: the library's reader ([`emotion_classifier::records`],
//! which fine-tuning reads its data files with too), one text column each, and the command
//! line's `--format` and `--column` turned into its terms.

use std::io::BufRead;
use std::path::Path;

pub(crate) use emotion_classifier::records::{Column, Format};
use emotion_classifier::records::{Field, Records};

use crate::BoxError;

/// One input record: where it starts, and its text or why it has none.
#[derive(Debug, PartialEq)]
pub(crate) struct Record {
    pub(crate) line: u64,
    pub(crate) text: Result<String, String>,
}

/// The format `path`'s extension says.
pub(crate) fn format_of(path: &Path) -> Result<Format, BoxError> {
    Format::from_path(path).ok_or_else(|| {
        format!(
            "cannot tell the format of {}: pass --format",
            path.display()
        )
        .into()
    })
}

/// The text's column from `--column`: an index, or a name (with a header; always for JSONL);
/// by default the first column, or JSONL's field `text`.
pub(crate) fn parse_column(
    column: Option<&str>,
    format: Format,
    header: bool,
) -> Result<Column, BoxError> {
    let column = match (column, format) {
        (Some(column), _) => column,
        (None, Format::Jsonl) => "text",
        (None, _) => "0",
    };
    match (column.parse::<usize>(), format) {
        (_, Format::Jsonl) => Ok(Column::Name(column.to_string())),
        (Ok(index), _) => Ok(Column::Index(index)),
        (Err(_), _) if header => Ok(Column::Name(column.to_string())),
        (Err(_), _) => Err(format!("--column {column:?} is a name: pass --header").into()),
    }
}

/// The records' texts, one at a time, with the bytes read so far.
pub(crate) struct TextRecords<R: BufRead>(Records<R>);

impl<R: BufRead> TextRecords<R> {
    /// Starts reading; with a header, reads it and finds a named column in it.
    pub(crate) fn new(
        input: R,
        format: Format,
        column: Column,
        header: bool,
    ) -> Result<Self, BoxError> {
        Ok(Self(Records::new(input, format, vec![column], header)?))
    }

    /// How far into the input reading has got, in bytes.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.0.bytes_read()
    }

    /// The next record; `None` at the end of the input.
    pub(crate) fn next_record(&mut self) -> Result<Option<Record>, BoxError> {
        let Some(record) = self.0.next_record()? else {
            return Ok(None);
        };
        let text = match record.fields {
            Ok(fields) => match fields.into_iter().next() {
                Some(Field::Text(text)) => Ok(text),
                Some(Field::List(_)) => Err("the text's field is an array, not a string".into()),
                None => Err("no text".into()),
            },
            Err(problem) => Err(problem.to_string()),
        };
        Ok(Some(Record {
            line: record.line,
            text,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], format: Format, column: Option<&str>, header: bool) -> Vec<Record> {
        let column = parse_column(column, format, header).unwrap();
        let mut records = TextRecords::new(input, format, column, header).unwrap();
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
            Err("no column 1 (the record has 1 fields)".into())
        );
        assert_eq!(records[2].text, Err("not UTF-8".into()));
        assert_eq!(records[3], ok(4, "empty text"));
        let with_header = read_all(b"id\ttext\n1\thello\n", Format::Tsv, Some("text"), true);
        assert_eq!(with_header, vec![ok(2, "hello")]);
    }

    #[test]
    fn csv_columns_by_name_need_a_header() {
        let records = read_all(b"id,text\n1,\"a, b\"\n", Format::Csv, Some("text"), true);
        assert_eq!(records, vec![ok(2, "a, b")]);
        assert!(parse_column(Some("text"), Format::Csv, false).is_err());
        assert_eq!(
            parse_column(None, Format::Jsonl, false).unwrap(),
            Column::Name("text".into())
        );
    }

    #[test]
    fn jsonl_records_and_malformed_lines() {
        let input = b"{\"text\":\"a\"}\n\"just a string\"\n\n{\"text\":3}\n{\"text\":[\"x\"]}\n";
        let records = read_all(input, Format::Jsonl, None, false);
        assert_eq!(records[0], ok(1, "a"));
        assert_eq!(records[1], ok(2, "just a string"));
        assert_eq!(records[2].text, Err("empty line".into()));
        assert_eq!(
            records[3].text,
            Err("field \"text\" is not a string".into())
        );
        assert_eq!(
            records[4].text,
            Err("the text's field is an array, not a string".into())
        );
    }
}
