//! A validated `config.json`: the fields every architecture shares, the labels in order, and
//! the architecture's own part.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::architecture::Architecture;
use super::common_fields::CommonFields;
use super::fused;
use super::library::LibraryConfig;
use super::network_config::NetworkConfig;
use crate::error::{Error, Result};

/// How logits become probabilities, from `problem_type` in `config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreFunction {
    /// Independent probabilities per label (`multi_label_classification`).
    Sigmoid,
    /// One distribution over all labels (any other `problem_type`, or none).
    Softmax,
}

/// A validated `config.json`.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    path: PathBuf,
    architecture: Architecture,
    labels: Vec<String>,
    score_function: ScoreFunction,
    max_position_embeddings: i64,
    pad_token_id: i64,
    vocab_size: i64,
    hidden_size: i64,
    network: NetworkConfig,
}

impl ModelConfig {
    /// Reads and validates `config.json` at `path`.
    ///
    /// # Errors
    /// [`Error::MissingFile`], [`Error::Io`], [`Error::InvalidConfig`],
    /// [`Error::UnsupportedModelType`], [`Error::MissingLabels`] or [`Error::InvalidLabels`].
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = crate::layout::read(path)?;
        Self::from_slice(path, &bytes)
    }

    pub(super) fn from_slice(path: &Path, bytes: &[u8]) -> Result<Self> {
        let invalid = |source| Error::InvalidConfig {
            path: path.to_path_buf(),
            source,
        };
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(invalid)?;
        let common: CommonFields = serde_json::from_value(value.clone()).map_err(invalid)?;
        let architecture = Architecture::from_model_type(&common.model_type).ok_or_else(|| {
            Error::UnsupportedModelType {
                path: path.to_path_buf(),
                model_type: common.model_type.clone(),
            }
        })?;
        let labels = labels_in_order(path, &common.id2label)?;
        let id2label: HashMap<i64, String> = labels
            .iter()
            .enumerate()
            .map(|(id, label)| (id as i64, label.clone()))
            .collect();
        let (network, hidden_size, default_pad) = if architecture.runs_on_fused_encoder() {
            fused::network(architecture, value, &common, id2label).map_err(invalid)?
        } else {
            let library = LibraryConfig::from_value(architecture, value, &common, id2label)
                .map_err(invalid)?;
            let (hidden, pad) = (library.hidden_size(), library.default_pad_token_id());
            (NetworkConfig::Library(Arc::new(library)), hidden, pad)
        };
        let score_function = match common.problem_type.as_deref() {
            Some("multi_label_classification") => ScoreFunction::Sigmoid,
            _ => ScoreFunction::Softmax,
        };
        Ok(Self {
            path: path.to_path_buf(),
            architecture,
            labels,
            score_function,
            max_position_embeddings: common.max_position_embeddings,
            pad_token_id: common.pad_token_id.unwrap_or(default_pad),
            vocab_size: common.vocab_size,
            hidden_size,
            network,
        })
    }

    /// The file this config was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The model's architecture.
    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    /// The labels, in the order of the classifier's outputs.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Sigmoid for multi-label models, softmax otherwise.
    pub fn score_function(&self) -> ScoreFunction {
        self.score_function
    }

    /// The id of the padding token.
    pub fn pad_token_id(&self) -> i64 {
        self.pad_token_id
    }

    /// Rows of the word embedding matrix.
    pub fn vocab_size(&self) -> i64 {
        self.vocab_size
    }

    /// Rows of the position embedding matrix.
    pub fn max_position_embeddings(&self) -> i64 {
        self.max_position_embeddings
    }

    /// Width of the hidden states.
    pub fn hidden_size(&self) -> i64 {
        self.hidden_size
    }

    /// The longest input, in tokens with the special tokens included, that the model can take.
    ///
    /// RoBERTa, XLM-RoBERTa and Longformer number positions from `pad_token_id + 1`, so they
    /// lose that many positions.
    pub fn max_input_tokens(&self) -> usize {
        let limit = if self.architecture.positions_after_padding() {
            self.max_position_embeddings - self.pad_token_id - 1
        } else {
            self.max_position_embeddings
        };
        usize::try_from(limit).unwrap_or(0)
    }

    pub(crate) fn network(&self) -> &NetworkConfig {
        &self.network
    }
}

/// Turns `id2label` into a list indexed by id, or says which id is missing.
fn labels_in_order(path: &Path, id2label: &HashMap<usize, String>) -> Result<Vec<String>> {
    if id2label.is_empty() {
        return Err(Error::MissingLabels {
            path: path.to_path_buf(),
        });
    }
    (0..id2label.len())
        .map(|id| {
            id2label.get(&id).cloned().ok_or(Error::InvalidLabels {
                path: path.to_path_buf(),
                count: id2label.len(),
                missing: id,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<ModelConfig> {
        ModelConfig::from_slice(Path::new("config.json"), json.as_bytes())
    }

    const BERT: &str = r#"{"model_type":"bert","id2label":{"0":"a","1":"b"},
        "max_position_embeddings":512,"vocab_size":100,"hidden_size":8,"intermediate_size":16,
        "num_attention_heads":2,"num_hidden_layers":1,"problem_type":"multi_label_classification"}"#;

    #[test]
    fn bert_config_parses() {
        let config = parse(BERT).unwrap();
        assert_eq!(config.architecture(), Architecture::Bert);
        assert_eq!(config.labels(), ["a", "b"]);
        assert_eq!(config.score_function(), ScoreFunction::Sigmoid);
        assert_eq!(config.max_input_tokens(), 512);
        assert_eq!(config.pad_token_id(), 0);
    }

    #[test]
    fn roberta_loses_the_padding_positions() {
        let json = BERT
            .replace("\"bert\"", "\"roberta\"")
            .replace("512", "130");
        let config = parse(&json).unwrap();
        assert_eq!(config.max_input_tokens(), 128);
    }

    #[test]
    fn softmax_without_problem_type() {
        let json = BERT.replace("multi_label_classification", "single_label_classification");
        assert_eq!(
            parse(&json).unwrap().score_function(),
            ScoreFunction::Softmax
        );
    }

    #[test]
    fn labels_must_be_numbered_from_zero() {
        let json = BERT.replace(r#""1":"b""#, r#""2":"b""#);
        assert!(matches!(
            parse(&json),
            Err(Error::InvalidLabels {
                count: 2,
                missing: 1,
                ..
            })
        ));
    }

    #[test]
    fn missing_labels_are_an_error() {
        let json = BERT.replace(r#""id2label":{"0":"a","1":"b"},"#, "");
        assert!(matches!(parse(&json), Err(Error::MissingLabels { .. })));
    }

    #[test]
    fn unknown_model_type_is_named() {
        let json = BERT.replace("\"bert\"", "\"gpt2\"");
        match parse(&json) {
            Err(Error::UnsupportedModelType { model_type, .. }) => assert_eq!(model_type, "gpt2"),
            other => panic!("expected UnsupportedModelType, got {other:?}"),
        }
    }

    #[test]
    fn missing_field_is_invalid_config() {
        let json = BERT.replace(r#""hidden_size":8,"#, "");
        match parse(&json) {
            Err(Error::InvalidConfig { source, .. }) => {
                assert!(source.to_string().contains("hidden_size"), "{source}")
            }
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn sizes_that_make_no_transformer_are_refused_at_load() {
        for (hidden, heads) in [(8, 0), (8, 3), (0, 2), (-8, 2)] {
            let bert = format!(
                r#"{{"model_type":"bert","id2label":{{"0":"x"}},"max_position_embeddings":512,
                "vocab_size":10,"hidden_size":{hidden},"intermediate_size":16,
                "num_attention_heads":{heads},"num_hidden_layers":1}}"#
            );
            let distilbert = format!(
                r#"{{"model_type":"distilbert","id2label":{{"0":"x"}},"max_position_embeddings":512,
                "vocab_size":10,"dim":{hidden},"hidden_dim":16,"n_heads":{heads},"n_layers":1}}"#
            );
            for json in [bert, distilbert] {
                match parse(&json) {
                    Err(Error::InvalidConfig { source, .. }) => {
                        assert!(source.to_string().contains("heads"), "{source}")
                    }
                    other => panic!("{hidden}/{heads}: expected InvalidConfig, got {other:?}"),
                }
            }
        }
    }

    #[test]
    fn distilbert_without_tie_weights_loads() {
        let json = r#"{"model_type":"distilbert","id2label":{"0":"x"},"max_position_embeddings":512,
            "vocab_size":10,"dim":8,"hidden_dim":16,"n_heads":2,"n_layers":1}"#;
        let config = parse(json).unwrap();
        assert_eq!(config.architecture(), Architecture::DistilBert);
        assert_eq!(config.hidden_size(), 8);
    }
}
