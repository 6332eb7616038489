//! Where the labelled texts come from ([`TrainingData`]), and reading them into label ids.

use std::path::{Path, PathBuf};

use super::data::{
    label_list_problem, read_goemotions_split, read_labels, GoEmotionsDir, LabelledText,
};
use super::error::FineTuneError;
pub use super::table::Columns;
use super::table::{read_records, NamedRecord};
use crate::error::Result;

/// The labelled texts to train on, and the dev texts each epoch is scored on.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TrainingData {
    /// A folder in GoEmotions layout: `train.tsv` and `dev.tsv` (text, comma-separated label
    /// ids, id; tab-separated, no header) beside `labels.txt` (one label a line, in id order).
    GoEmotions(PathBuf),
    /// A CSV, TSV (both with a header) or JSON-lines file, told apart by extension, whose
    /// text column (default `text`) holds the text and labels column (default `labels`) its
    /// labels: names or ids, separated (default `,`), or a JSON array ([`Columns`]).
    Files {
        /// The training texts.
        train: PathBuf,
        /// The dev texts, in the same format; without them every epoch is kept as the last.
        dev: Option<PathBuf>,
        /// The labels in id order; `None` takes the training file's labels, sorted.
        labels: Option<Vec<String>>,
        /// Where the text and the labels are.
        columns: Columns,
    },
    /// Texts in memory, each with its label names.
    Texts {
        /// The labels in id order.
        labels: Vec<String>,
        /// The training texts.
        train: Vec<(String, Vec<String>)>,
        /// The dev texts (may be empty).
        dev: Vec<(String, Vec<String>)>,
    },
}

impl TrainingData {
    /// A GoEmotions-layout folder.
    pub fn goemotions(dir: impl Into<PathBuf>) -> Self {
        Self::GoEmotions(dir.into())
    }

    /// A training file and, optionally, a dev file (CSV, TSV or JSON lines), with the labels
    /// the training file uses, sorted, in the default [`Columns`].
    pub fn files(train: impl Into<PathBuf>, dev: Option<PathBuf>) -> Self {
        Self::Files {
            train: train.into(),
            dev,
            labels: None,
            columns: Columns::default(),
        }
    }

    /// For files: the columns the text and labels are in (other data is returned as it is).
    #[must_use]
    pub fn with_columns(self, columns: Columns) -> Self {
        match self {
            Self::Files {
                train, dev, labels, ..
            } => Self::Files {
                train,
                dev,
                labels,
                columns,
            },
            other => other,
        }
    }

    /// For files: the labels in id order, instead of the training file's, sorted (other data is
    /// returned as it is). A record's label outside them is an error naming its line.
    #[must_use]
    pub fn with_labels(self, labels: Vec<String>) -> Self {
        match self {
            Self::Files {
                train,
                dev,
                columns,
                ..
            } => Self::Files {
                train,
                dev,
                labels: Some(labels),
                columns,
            },
            other => other,
        }
    }

    /// Texts in memory with their label names, and the label list in id order.
    pub fn texts<L, T, N>(
        labels: impl IntoIterator<Item = L>,
        train: impl IntoIterator<Item = (T, Vec<N>)>,
        dev: impl IntoIterator<Item = (T, Vec<N>)>,
    ) -> Self
    where
        L: Into<String>,
        T: Into<String>,
        N: Into<String>,
    {
        let owned = |pairs: Box<dyn Iterator<Item = (T, Vec<N>)> + '_>| {
            pairs
                .map(|(text, names)| (text.into(), names.into_iter().map(Into::into).collect()))
                .collect()
        };
        Self::Texts {
            labels: labels.into_iter().map(Into::into).collect(),
            train: owned(Box::new(train.into_iter())),
            dev: owned(Box::new(dev.into_iter())),
        }
    }
}

/// Training data read and checked: labels, and texts with label ids.
#[derive(Debug)]
pub(crate) struct Dataset {
    pub(crate) labels: Vec<String>,
    pub(crate) train: Vec<LabelledText>,
    pub(crate) dev: Vec<LabelledText>,
}

impl Dataset {
    /// Whether every training text has exactly one label: then the task is single-label, as
    /// transformers' `run_classification.py` infers it.
    pub(crate) fn one_label_each(&self) -> bool {
        self.train.iter().all(|text| text.labels.len() == 1)
    }
}

/// Label ids for named labels; an unknown name is [`FineTuneError::UnknownLabel`].
fn to_ids(
    path: Option<&Path>,
    labels: &[String],
    records: Vec<NamedRecord>,
) -> Result<Vec<LabelledText>> {
    records
        .into_iter()
        .map(|record| {
            let ids = record
                .labels
                .iter()
                .map(|name| {
                    // A name, else an id into the label list.
                    let by_name = labels.iter().position(|l| l == name);
                    let by_id = || name.parse::<usize>().ok().filter(|&id| id < labels.len());
                    by_name
                        .or_else(by_id)
                        .ok_or_else(|| FineTuneError::UnknownLabel {
                            path: path.map(Path::to_path_buf),
                            line: record.line,
                            label: name.clone(),
                            labels: labels.to_vec(),
                        })
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(LabelledText {
                text: record.text,
                labels: ids,
            })
        })
        .collect()
}

fn check_labels(labels: &[String]) -> Result<()> {
    match label_list_problem(labels) {
        Some(reason) => Err(FineTuneError::InvalidLabelList {
            path: "the label list".into(),
            reason,
        }
        .into()),
        None => Ok(()),
    }
}

/// One labelled file, read: the labels in id order and the texts with their label ids.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledSet {
    /// The labels, in id order.
    pub labels: Vec<String>,
    /// The texts, with ids into `labels`.
    pub texts: Vec<LabelledText>,
}

/// Whether `path` is a GoEmotions split: a `.tsv` whose first line's second field is label ids
/// (`text<TAB>3,7<TAB>id`), with no header.
fn is_goemotions_split(path: &Path) -> bool {
    if path.extension().is_none_or(|e| e != "tsv") {
        return false;
    }
    // The first line only (at most 64 KiB of it): the file is read whole once, by its reader.
    use std::io::{BufRead, Read};
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut first = Vec::new();
    if std::io::BufReader::new(file.take(64 << 10))
        .read_until(b'\n', &mut first)
        .is_err()
    {
        return false;
    }
    let first = String::from_utf8_lossy(&first);
    let first = first.trim_end_matches(['\n', '\r']);
    first.split('\t').nth(1).is_some_and(|ids| {
        !ids.is_empty() && ids.split(',').all(|id| id.trim().parse::<usize>().is_ok())
    })
}

/// Reads one labelled file as fine-tuning reads its data, for evaluation or any other use:
/// a GoEmotions split (`text<TAB>ids<TAB>id`, no header, its labels in `labels.txt` beside it
/// unless `labels` says), or a CSV, TSV or JSON-lines file in `columns`, whose labels are
/// `labels` or else its own, sorted.
///
/// # Errors
/// As fine-tuning's readers: the file, line and column of a bad record; a label outside
/// `labels`; no texts ([`FineTuneError::EmptyTrainingSet`]).
pub fn read_labelled(
    path: &Path,
    columns: &Columns,
    labels: Option<Vec<String>>,
) -> Result<LabelledSet> {
    if is_goemotions_split(path) && *columns == Columns::default() {
        let labels = match labels {
            Some(labels) => labels,
            None => read_labels(&path.with_file_name("labels.txt"))?,
        };
        check_labels(&labels)?;
        let texts = read_goemotions_split(path, labels.len(), None)?;
        if texts.is_empty() {
            return Err(FineTuneError::EmptyTrainingSet {
                path: Some(path.to_path_buf()),
            }
            .into());
        }
        return Ok(LabelledSet { labels, texts });
    }
    let data = TrainingData::Files {
        train: path.to_path_buf(),
        dev: None,
        labels,
        columns: columns.clone(),
    };
    let dataset = data.load()?;
    Ok(LabelledSet {
        labels: dataset.labels,
        texts: dataset.train,
    })
}

impl TrainingData {
    /// Reads and checks the texts and labels.
    ///
    /// # Errors
    /// The readers' errors, naming the file and line; [`FineTuneError::EmptyTrainingSet`].
    pub(crate) fn load(&self) -> Result<Dataset> {
        let (dataset, train_path) = match self {
            Self::GoEmotions(dir) => {
                let files = GoEmotionsDir::new(dir);
                let labels = read_labels(&files.labels)?;
                let train = read_goemotions_split(&files.train, labels.len(), None)?;
                let dev = if files.dev.is_file() {
                    read_goemotions_split(&files.dev, labels.len(), None)?
                } else {
                    Vec::new()
                };
                (Dataset { labels, train, dev }, Some(files.train))
            }
            Self::Files {
                train,
                dev,
                labels,
                columns,
            } => {
                let train_records = read_records(train, columns)?;
                let labels = match labels {
                    Some(labels) => labels.clone(),
                    None => {
                        let mut seen: Vec<String> = train_records
                            .iter()
                            .flat_map(|r| r.labels.iter().cloned())
                            .collect();
                        // Ids sort as numbers, names as text.
                        if seen.iter().all(|l| l.parse::<usize>().is_ok()) {
                            seen.sort_by_key(|l| l.parse::<usize>().unwrap_or(usize::MAX));
                        } else {
                            seen.sort();
                        }
                        seen.dedup();
                        seen
                    }
                };
                if !train_records.is_empty() {
                    check_labels(&labels)?;
                }
                let dev = match dev {
                    Some(dev) => to_ids(Some(dev), &labels, read_records(dev, columns)?)?,
                    None => Vec::new(),
                };
                let train_texts = to_ids(Some(train), &labels, train_records)?;
                (
                    Dataset {
                        labels,
                        train: train_texts,
                        dev,
                    },
                    Some(train.clone()),
                )
            }
            Self::Texts { labels, train, dev } => {
                check_labels(labels)?;
                let records = |pairs: &[(String, Vec<String>)]| {
                    pairs
                        .iter()
                        .enumerate()
                        .map(|(i, (text, names))| NamedRecord {
                            line: i + 1,
                            text: text.clone(),
                            labels: names.clone(),
                        })
                        .collect::<Vec<_>>()
                };
                let train = to_ids(None, labels, records(train))?;
                let dev = to_ids(None, labels, records(dev))?;
                (
                    Dataset {
                        labels: labels.clone(),
                        train,
                        dev,
                    },
                    None,
                )
            }
        };
        if dataset.train.is_empty() {
            return Err(FineTuneError::EmptyTrainingSet { path: train_path }.into());
        }
        Ok(dataset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_labelled_tells_a_goemotions_split_from_a_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("labels.txt"), "joy\nfear\n").expect("labels");
        let split = dir.path().join("test.tsv");
        std::fs::write(&split, "so glad\t0\tid1\nscared and glad\t1,0\tid2\n").expect("split");
        let set = read_labelled(&split, &Columns::default(), None).expect("a split");
        assert_eq!(set.labels, ["joy", "fear"]);
        assert_eq!(set.texts[1].labels, [1, 0]);
        // A TSV with a header is a table, read by its columns.
        let table = dir.path().join("table.tsv");
        std::fs::write(&table, "text\tlabels\nso glad\tjoy\n").expect("table");
        let set = read_labelled(&table, &Columns::default(), None).expect("a table");
        assert_eq!(
            (set.labels.as_slice(), set.texts[0].labels.as_slice()),
            (&["joy".to_owned()][..], &[0][..])
        );
    }

    fn error(data: TrainingData) -> FineTuneError {
        match data.load() {
            Err(crate::Error::FineTune(e)) => e,
            other => panic!("expected a fine-tuning error, got {other:?}"),
        }
    }

    #[test]
    fn texts_become_label_ids_and_unknown_labels_are_named() {
        let data = TrainingData::texts(
            ["joy", "anger"],
            [("yay", vec!["joy"]), ("grr", vec!["anger", "joy"])],
            [("hm", vec!["anger"])],
        );
        let dataset = data.load().expect("dataset");
        assert_eq!(dataset.train[1].labels, vec![1, 0]);
        assert_eq!(dataset.dev[0].labels, vec![1]);
        let bad = TrainingData::texts(
            ["joy"],
            [("yay", vec!["joy"]), ("grr", vec!["rage"])],
            Vec::<(&str, Vec<&str>)>::new(),
        );
        assert!(matches!(
            error(bad),
            FineTuneError::UnknownLabel { path: None, line: 2, ref label, .. } if label == "rage"
        ));
    }

    #[test]
    fn empty_training_sets_and_bad_label_lists_are_refused() {
        let none: Vec<(&str, Vec<&str>)> = Vec::new();
        assert!(matches!(
            error(TrainingData::texts(["joy"], none.clone(), none.clone())),
            FineTuneError::EmptyTrainingSet { path: None }
        ));
        assert!(matches!(
            error(TrainingData::texts(
                ["joy", "joy"],
                [("a", vec!["joy"])],
                none.clone()
            )),
            FineTuneError::InvalidLabelList { .. }
        ));
        let dir = tempfile::tempdir().expect("tempdir");
        let train = dir.path().join("train.csv");
        std::fs::write(&train, "text,labels\n").expect("write");
        assert!(matches!(
            error(TrainingData::files(&train, None)),
            FineTuneError::EmptyTrainingSet { path: Some(ref p) } if *p == train
        ));
    }

    #[test]
    fn files_take_their_labels_sorted_and_check_the_dev_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let train = dir.path().join("train.jsonl");
        let dev = dir.path().join("dev.csv");
        std::fs::write(
            &train,
            "{\"text\":\"a\",\"labels\":\"sad\"}\n{\"text\":\"b\",\"labels\":[\"happy\",\"sad\"]}\n",
        )
        .expect("write");
        std::fs::write(&dev, "text,labels\nc,happy\nd,bored\n").expect("write");
        let dataset = TrainingData::files(&train, None).load().expect("dataset");
        assert_eq!(dataset.labels, vec!["happy", "sad"]);
        assert_eq!(dataset.train[1].labels, vec![0, 1]);
        assert!(matches!(
            error(TrainingData::files(&train, Some(dev.clone()))),
            FineTuneError::UnknownLabel { path: Some(ref p), line: 3, ref label, .. }
                if *p == dev && label == "bored"
        ));
    }
}
