//! Labelled texts, and the GoEmotions layout they are read from: `train.tsv` and `dev.tsv`
//! (text, comma-separated label ids, id; tab-separated, no header) beside `labels.txt` (one
//! label a line, in id order).

use std::path::{Path, PathBuf};

use super::error::FineTuneError;
use crate::error::Result;

/// One training or dev text with its labels, as ids into the label list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledText {
    /// The text.
    pub text: String,
    /// Its labels' ids (for a single-label model, the first is the class).
    pub labels: Vec<usize>,
}

/// Reads a label list such as GoEmotions' `labels.txt`: one label a line, in id order, blank
/// lines skipped, each line trimmed.
///
/// # Errors
/// [`crate::Error::MissingFile`] or [`crate::Error::Io`]; [`FineTuneError::InvalidUtf8`]
/// naming the line; [`FineTuneError::InvalidLabelList`] for no labels or a label listed twice.
pub fn read_labels(path: &Path) -> Result<Vec<String>> {
    let bytes = crate::layout::read(path)?;
    let mut labels: Vec<String> = Vec::new();
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = utf8(path, index + 1, line)?.trim();
        if !line.is_empty() {
            labels.push(line.to_owned());
        }
    }
    match label_list_problem(&labels) {
        Some(reason) => Err(invalid_list(path, reason)),
        None => Ok(labels),
    }
}

/// What makes `labels` unusable as a label list, if anything: no labels, a blank label, or a
/// label listed twice.
pub(crate) fn label_list_problem(labels: &[String]) -> Option<String> {
    if labels.is_empty() {
        return Some("no labels".to_owned());
    }
    labels.iter().enumerate().find_map(|(i, label)| {
        if label.trim().is_empty() {
            Some(format!("label {i} is blank"))
        } else if labels[..i].contains(label) {
            Some(format!("{label:?} is listed twice"))
        } else {
            None
        }
    })
}

fn invalid_list(path: &Path, reason: String) -> crate::Error {
    FineTuneError::InvalidLabelList {
        path: path.to_path_buf(),
        reason,
    }
    .into()
}

fn utf8<'a>(path: &Path, line: usize, bytes: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|_| {
        FineTuneError::InvalidUtf8 {
            path: path.to_path_buf(),
            line,
        }
        .into()
    })
}

/// Reads a GoEmotions split: `text<TAB>ids<TAB>id` a line; ids below `labels`. Reads at most
/// `limit` texts when given.
///
/// # Errors
/// [`crate::Error::MissingFile`] or [`crate::Error::Io`]; [`FineTuneError::InvalidUtf8`],
/// [`FineTuneError::MissingText`], [`FineTuneError::InvalidLabelIds`] or
/// [`FineTuneError::LabelIdOutOfRange`], naming the line.
pub(crate) fn read_goemotions_split(
    path: &Path,
    labels: usize,
    limit: Option<usize>,
) -> Result<Vec<LabelledText>> {
    let bytes = crate::layout::read(path)?;
    let mut texts = Vec::new();
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    for (index, raw) in body.split(|&b| b == b'\n').enumerate() {
        if limit.is_some_and(|limit| texts.len() >= limit) {
            break;
        }
        let line = index + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let row = utf8(path, line, raw)?;
        let mut fields = row.split('\t');
        let text = fields.next().unwrap_or_default();
        if text.trim().is_empty() {
            return Err(FineTuneError::MissingText {
                path: path.to_path_buf(),
                line,
            }
            .into());
        }
        let ids = fields.next().unwrap_or_default();
        let ids = parse_ids(ids).ok_or_else(|| FineTuneError::InvalidLabelIds {
            path: path.to_path_buf(),
            line,
            value: ids.to_owned(),
        })?;
        if let Some(&id) = ids.iter().find(|&&id| id >= labels) {
            return Err(FineTuneError::LabelIdOutOfRange {
                path: path.to_path_buf(),
                line,
                id,
                count: labels,
            }
            .into());
        }
        texts.push(LabelledText {
            text: text.to_owned(),
            labels: ids,
        });
    }
    Ok(texts)
}

fn parse_ids(field: &str) -> Option<Vec<usize>> {
    let ids: Option<Vec<usize>> = field.split(',').map(|id| id.trim().parse().ok()).collect();
    ids.filter(|ids| !ids.is_empty())
}

/// A GoEmotions-layout folder's files.
#[derive(Debug, Clone)]
pub(crate) struct GoEmotionsDir {
    pub(crate) labels: PathBuf,
    pub(crate) train: PathBuf,
    pub(crate) dev: PathBuf,
}

impl GoEmotionsDir {
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            labels: dir.join("labels.txt"),
            train: dir.join("train.tsv"),
            dev: dir.join("dev.tsv"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        (dir, path)
    }

    #[test]
    fn reads_texts_and_label_ids() {
        let (_d, path) = file(
            "train.tsv",
            b"so happy\t3\tid1\nugh, and scared\t0,2\tid2\n",
        );
        let texts = read_goemotions_split(&path, 4, None).expect("read");
        assert_eq!(
            texts,
            vec![
                LabelledText {
                    text: "so happy".into(),
                    labels: vec![3]
                },
                LabelledText {
                    text: "ugh, and scared".into(),
                    labels: vec![0, 2]
                },
            ]
        );
        assert_eq!(
            read_goemotions_split(&path, 4, Some(1))
                .expect("read")
                .len(),
            1
        );
    }

    #[test]
    fn bad_lines_are_errors_naming_the_line() {
        type Case = (&'static [u8], fn(&Error) -> bool);
        let cases: [Case; 4] = [
            (b"ok\t1\tx\n\t1\tx\n", |e| {
                matches!(
                    e,
                    Error::FineTune(FineTuneError::MissingText { line: 2, .. })
                )
            }),
            (
                b"ok\t1\tx\nok\t1,z\tx\n",
                |e| matches!(e, Error::FineTune(FineTuneError::InvalidLabelIds { line: 2, value, .. }) if value == "1,z"),
            ),
            (b"ok\t1\tx\nok\t1,7\tx\n", |e| {
                matches!(
                    e,
                    Error::FineTune(FineTuneError::LabelIdOutOfRange {
                        line: 2,
                        id: 7,
                        count: 4,
                        ..
                    })
                )
            }),
            (b"ok\t1\tx\nok \xff\t1\tx\n", |e| {
                matches!(
                    e,
                    Error::FineTune(FineTuneError::InvalidUtf8 { line: 2, .. })
                )
            }),
        ];
        for (bytes, expected) in cases {
            let (_d, path) = file("train.tsv", bytes);
            let error = read_goemotions_split(&path, 4, None).expect_err("a bad line");
            assert!(expected(&error), "{error:?}");
            assert!(error.to_string().contains("train.tsv:2"), "{error}");
        }
    }

    #[test]
    fn label_list_problems_are_named() {
        let list = |labels: &[&str]| labels.iter().map(|l| l.to_string()).collect::<Vec<_>>();
        assert_eq!(label_list_problem(&list(&["joy", "anger"])), None);
        assert_eq!(label_list_problem(&[]), Some("no labels".to_owned()));
        assert_eq!(
            label_list_problem(&list(&["joy", " "])),
            Some("label 1 is blank".to_owned())
        );
        assert_eq!(
            label_list_problem(&list(&["joy", "anger", "joy"])),
            Some("\"joy\" is listed twice".to_owned())
        );
    }

    #[test]
    fn label_lists_are_read_and_checked() {
        let (_d, path) = file("labels.txt", b"anger\njoy\n\n");
        assert_eq!(read_labels(&path).expect("labels"), ["anger", "joy"]);
        let (_d, path) = file("labels.txt", b"anger\njoy\nanger\n");
        assert!(matches!(
            read_labels(&path),
            Err(Error::FineTune(FineTuneError::InvalidLabelList { .. }))
        ));
        let (_d, path) = file("labels.txt", b"\n");
        assert!(matches!(
            read_labels(&path),
            Err(Error::FineTune(FineTuneError::InvalidLabelList { .. }))
        ));
    }
}
