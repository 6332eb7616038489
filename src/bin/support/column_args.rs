//! The options that say where a labelled file's text and labels are, for `emotion-finetune`
//! and `emotion-evaluate` alike (included by each with `#[path]`: a binary cannot use
//! another's modules).

use emotion_classifier::finetune::Columns;

/// `--text-column`, `--label-column`, `--label-separator`.
#[derive(clap::Args, Debug, Clone)]
pub struct ColumnArgs {
    /// The column (or JSON field) of a data file holding the text.
    #[arg(long, default_value = "text")]
    pub text_column: String,
    /// The column (or JSON field) of a data file holding the labels.
    #[arg(long, default_value = "labels")]
    pub label_column: String,
    /// What separates several labels in one field (a JSON array is read as one anyway).
    #[arg(long, default_value = ",")]
    pub label_separator: String,
}

impl ColumnArgs {
    /// The library's [`Columns`] for these options.
    pub fn columns(&self) -> Columns {
        Columns::new(&self.text_column, &self.label_column, &self.label_separator)
    }
}
