//! What can go wrong while fine-tuning, each naming the file, line, label or step.

use std::path::PathBuf;

/// A fine-tuning input or run the trainer refuses ([`crate::Error::FineTune`]).
///
/// Data errors name the file and the 1-based line; nothing is trained on data with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FineTuneError {
    /// There is nothing to train on.
    #[error("{}: the training set is empty", .path.as_ref().map_or("in-memory data".into(), |p| p.display().to_string()))]
    EmptyTrainingSet {
        /// The training file, if the data came from one.
        path: Option<PathBuf>,
    },

    /// The label list is empty, or names a label twice.
    #[error("{path}: invalid label list: {reason}")]
    InvalidLabelList {
        /// The labels file (`labels.txt`).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A line is not valid UTF-8.
    #[error("{path}:{line}: not valid UTF-8")]
    InvalidUtf8 {
        /// The data file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
    },

    /// A line has no text (an empty text field, or no fields at all).
    #[error("{path}:{line}: the line has no text")]
    MissingText {
        /// The data file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
    },

    /// A line's labels field is missing or is not a comma-separated list of label ids.
    #[error("{path}:{line}: {value:?} is not a comma-separated list of label ids")]
    InvalidLabelIds {
        /// The data file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// The field as read.
        value: String,
    },

    /// A label id at or past the number of labels.
    #[error("{path}:{line}: label id {id} is out of range: there are {count} labels")]
    LabelIdOutOfRange {
        /// The data file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// The id as read.
        id: usize,
        /// How many labels there are.
        count: usize,
    },

    /// A label name that is not in the label list.
    #[error("{}: label {label:?} is not one of the labels ({})", where_(.path, *.line), .labels.join(", "))]
    UnknownLabel {
        /// The data file, if the data came from one.
        path: Option<PathBuf>,
        /// The line (or record), from 1.
        line: usize,
        /// The label as given.
        label: String,
        /// The label list.
        labels: Vec<String>,
    },

    /// The model to keep training has a head whose labels differ from the data's.
    #[error("{model}: the model's labels ({}) differ from the data's ({}); train from a base without a head to change labels", .model_labels.join(", "), .data_labels.join(", "))]
    LabelsDiffer {
        /// The model folder.
        model: PathBuf,
        /// The head's labels, in id order.
        model_labels: Vec<String>,
        /// The data's labels, in id order.
        data_labels: Vec<String>,
    },

    /// The trainer does not train this architecture (refused before any work).
    #[error("fine-tuning {model_type} models is not supported (supported: bert, roberta, xlm-roberta, distilbert)")]
    UnsupportedArchitecture {
        /// The model's `model_type`.
        model_type: &'static str,
    },

    /// A CSV or JSON-lines record the trainer cannot read: bad JSON, a missing column or
    /// field, or a field of the wrong type.
    #[error("{path}:{line}: {reason}")]
    InvalidRecord {
        /// The data file.
        path: PathBuf,
        /// The record's (first) line, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },

    /// A data file's header has no column of that name.
    #[error("{path}: no column named {column:?} in the header")]
    MissingColumn {
        /// The data file.
        path: PathBuf,
        /// The column looked for.
        column: String,
    },

    /// The output folder exists already (refused unless overwriting is asked for).
    #[error("{path} exists already: choose another output folder, or overwrite it")]
    OutputExists {
        /// The output folder.
        path: PathBuf,
    },

    /// An interrupted run's checkpoint is there, and neither resuming nor overwriting was
    /// asked for (starting over would throw it away).
    #[error("{path} holds an interrupted run's checkpoint: resume it, or overwrite to start over")]
    CheckpointExists {
        /// The checkpoint folder.
        path: PathBuf,
    },

    /// Resuming was asked for, and there is no checkpoint to resume from.
    #[error("nothing to resume: {path} holds no checkpoint")]
    NoCheckpoint {
        /// Where the checkpoint was looked for.
        path: PathBuf,
    },

    /// The checkpoint belongs to a different run (other settings, labels or data).
    #[error("{path}: the checkpoint is from a different run: {reason}")]
    CheckpointMismatch {
        /// The checkpoint folder.
        path: PathBuf,
        /// What differs.
        reason: String,
    },

    /// The run was stopped (its stop flag was set); its state is saved to resume from.
    #[error("training stopped at step {step}; resume from the checkpoint in {checkpoint}")]
    Stopped {
        /// Steps made.
        step: usize,
        /// The checkpoint folder.
        checkpoint: PathBuf,
    },

    /// The loss became NaN or infinite; training stopped before that step's update.
    #[error("the loss became {loss} at step {step}; training stopped before that step's update")]
    NonFiniteLoss {
        /// The step (0-based) whose loss it was.
        step: usize,
        /// The loss.
        loss: f64,
    },
}

fn where_(path: &Option<PathBuf>, line: usize) -> String {
    match path {
        Some(path) => format!("{}:{line}", path.display()),
        None => format!("text {line}"),
    }
}
