//! `config.json` in Hugging Face layout, read straight into serde structs.
//!
//! rust-bert's own `Config::from_file` panics on a bad file and requires fields that current
//! `transformers` no longer writes, so the crate parses the file itself, validates it once, and
//! builds rust-bert's config structs from the result.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rust_bert::bert::BertConfig;
use rust_bert::distilbert::DistilBertConfig;
use rust_bert::Activation;
use serde::Deserialize;

use crate::error::{Error, Result};

/// The architectures this crate runs, by their `model_type` in `config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Architecture {
    /// BERT (`model_type: "bert"`), e.g. MiniLM.
    Bert,
    /// DistilBERT (`model_type: "distilbert"`).
    DistilBert,
    /// RoBERTa (`model_type: "roberta"`), e.g. DistilRoBERTa.
    Roberta,
    /// XLM-RoBERTa (`model_type: "xlm-roberta"`): RoBERTa's network with a multilingual
    /// SentencePiece (Unigram) tokenizer, read from `tokenizer.json`.
    XlmRoberta,
}

impl Architecture {
    /// Whether the network is RoBERTa's (positions counted from `pad_token_id + 1`, a dense +
    /// tanh head on `<s>`).
    pub(crate) fn is_roberta_family(self) -> bool {
        matches!(self, Self::Roberta | Self::XlmRoberta)
    }

    fn from_model_type(model_type: &str) -> Option<Self> {
        match model_type {
            "bert" => Some(Self::Bert),
            "distilbert" => Some(Self::DistilBert),
            "roberta" => Some(Self::Roberta),
            "xlm-roberta" => Some(Self::XlmRoberta),
            _ => None,
        }
    }
}

/// How logits become probabilities, from `problem_type` in `config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreFunction {
    /// Independent probabilities per label (`multi_label_classification`).
    Sigmoid,
    /// One distribution over all labels (any other `problem_type`, or none).
    Softmax,
}

/// The fields every supported architecture shares.
#[derive(Debug, Deserialize)]
struct CommonFields {
    model_type: String,
    #[serde(default)]
    id2label: HashMap<usize, String>,
    #[serde(default)]
    problem_type: Option<String>,
    max_position_embeddings: i64,
    #[serde(default)]
    pad_token_id: Option<i64>,
    vocab_size: i64,
}

/// BERT and RoBERTa fields (RoBERTa reuses BERT's config in rust-bert).
#[derive(Debug, Deserialize)]
struct BertFields {
    #[serde(default = "default_activation")]
    hidden_act: Activation,
    hidden_size: i64,
    intermediate_size: i64,
    num_attention_heads: i64,
    num_hidden_layers: i64,
    #[serde(default = "default_type_vocab_size")]
    type_vocab_size: i64,
    #[serde(default = "default_layer_norm_eps")]
    layer_norm_eps: f64,
}

/// DistilBERT fields.
#[derive(Debug, Deserialize)]
struct DistilBertFields {
    #[serde(default = "default_activation")]
    activation: Activation,
    dim: i64,
    hidden_dim: i64,
    n_heads: i64,
    n_layers: i64,
    #[serde(default)]
    sinusoidal_pos_embds: bool,
}

/// The transformer's sizes must make a network: positive widths, a head count that divides
/// the hidden size (each head takes an equal slice), no negative layer count.
fn check_sizes(
    hidden: i64,
    heads: i64,
    intermediate: i64,
    layers: i64,
) -> std::result::Result<(), serde_json::Error> {
    use serde::de::Error as _;
    if hidden <= 0 || heads <= 0 || intermediate <= 0 || layers < 0 || hidden % heads != 0 {
        return Err(serde_json::Error::custom(format!(
            "sizes do not make a transformer: hidden {hidden}, attention heads {heads}, \
             feed-forward {intermediate}, layers {layers} (the heads must divide the hidden size)"
        )));
    }
    Ok(())
}

fn default_activation() -> Activation {
    Activation::gelu
}

fn default_type_vocab_size() -> i64 {
    2
}

fn default_layer_norm_eps() -> f64 {
    1e-12
}

/// The architecture-specific part of a model's configuration, ready for rust-bert.
#[derive(Debug, Clone)]
pub(crate) enum NetworkConfig {
    Bert(BertConfig, f64),
    DistilBert(DistilBertConfig),
    Roberta(BertConfig, f64),
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

    fn from_slice(path: &Path, bytes: &[u8]) -> Result<Self> {
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
        let (network, hidden_size, default_pad) = match architecture {
            Architecture::Bert | Architecture::Roberta | Architecture::XlmRoberta => {
                let fields: BertFields = serde_json::from_value(value).map_err(invalid)?;
                check_sizes(
                    fields.hidden_size,
                    fields.num_attention_heads,
                    fields.intermediate_size,
                    fields.num_hidden_layers,
                )
                .map_err(invalid)?;
                let hidden_size = fields.hidden_size;
                let eps = fields.layer_norm_eps;
                let config = BertConfig {
                    hidden_act: fields.hidden_act,
                    attention_probs_dropout_prob: 0.0,
                    hidden_dropout_prob: 0.0,
                    hidden_size: fields.hidden_size,
                    initializer_range: 0.02,
                    intermediate_size: fields.intermediate_size,
                    max_position_embeddings: common.max_position_embeddings,
                    num_attention_heads: fields.num_attention_heads,
                    num_hidden_layers: fields.num_hidden_layers,
                    type_vocab_size: fields.type_vocab_size,
                    vocab_size: common.vocab_size,
                    output_attentions: Some(false),
                    output_hidden_states: Some(false),
                    is_decoder: Some(false),
                    id2label: Some(id2label),
                    label2id: None,
                };
                if architecture == Architecture::Bert {
                    (NetworkConfig::Bert(config, eps), hidden_size, 0)
                } else {
                    (NetworkConfig::Roberta(config, eps), hidden_size, 1)
                }
            }
            Architecture::DistilBert => {
                let fields: DistilBertFields = serde_json::from_value(value).map_err(invalid)?;
                check_sizes(
                    fields.dim,
                    fields.n_heads,
                    fields.hidden_dim,
                    fields.n_layers,
                )
                .map_err(invalid)?;
                let config = DistilBertConfig {
                    activation: fields.activation,
                    attention_dropout: 0.0,
                    dim: fields.dim,
                    dropout: 0.0,
                    hidden_dim: fields.hidden_dim,
                    id2label: Some(id2label),
                    initializer_range: 0.02,
                    is_decoder: Some(false),
                    label2id: None,
                    max_position_embeddings: common.max_position_embeddings,
                    n_heads: fields.n_heads,
                    n_layers: fields.n_layers,
                    output_attentions: Some(false),
                    output_hidden_states: Some(false),
                    output_past: None,
                    qa_dropout: 0.0,
                    seq_classif_dropout: 0.0,
                    sinusoidal_pos_embds: fields.sinusoidal_pos_embds,
                    // Current `transformers` no longer writes this field; it only matters for
                    // masked-LM heads, which a classifier does not have.
                    tie_weights_: false,
                    vocab_size: common.vocab_size,
                };
                (NetworkConfig::DistilBert(config), fields.dim, 0)
            }
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
    /// RoBERTa (and XLM-RoBERTa) numbers positions from `pad_token_id + 1`, so it loses that
    /// many positions.
    pub fn max_input_tokens(&self) -> usize {
        let limit = match self.architecture {
            Architecture::Bert | Architecture::DistilBert => self.max_position_embeddings,
            Architecture::Roberta | Architecture::XlmRoberta => {
                self.max_position_embeddings - self.pad_token_id - 1
            }
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
