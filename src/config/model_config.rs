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

/// How a model's logits become its scores: the `function_to_apply` of transformers'
/// text-classification pipeline.
///
/// A model's own function ([`ModelConfig::score_function`]) follows the pipeline's rules
/// (transformers 4.46): `problem_type: "regression"` gives raw values ([`Raw`](Self::Raw)); a
/// multi-label model, or one with a single label, a [`Sigmoid`](Self::Sigmoid); any other a
/// [`Softmax`](Self::Softmax).
/// [`EmotionClassifierBuilder::score_function`](crate::EmotionClassifierBuilder::score_function)
/// overrides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreFunction {
    /// Independent probabilities per label, each in `[0, 1]` (several can be high).
    Sigmoid,
    /// One distribution over all labels: probabilities that sum to 1.
    Softmax,
    /// The logits as the model computed them, no function: a regression's values (valence,
    /// arousal, ...), or a classifier's raw scores. Not probabilities: any real number.
    /// (transformers calls it `"none"`.)
    #[serde(alias = "none")]
    Raw,
}

impl ScoreFunction {
    /// Whether the scores are probabilities (in `[0, 1]`): `false` for [`Raw`](Self::Raw).
    pub fn is_probability(self) -> bool {
        self != Self::Raw
    }

    /// The function transformers' pipeline applies by default, for a model with `problem_type`
    /// (if any) and `labels` outputs.
    pub fn for_model(problem_type: Option<&str>, labels: usize) -> Self {
        match problem_type {
            Some("regression") => Self::Raw,
            Some("multi_label_classification") => Self::Sigmoid,
            _ if labels == 1 => Self::Sigmoid,
            _ => Self::Softmax,
        }
    }

    /// As transformers spells it in `function_to_apply`: `sigmoid`, `softmax` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sigmoid => "sigmoid",
            Self::Softmax => "softmax",
            Self::Raw => "none",
        }
    }
}

impl std::fmt::Display for ScoreFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ScoreFunction {
    type Err = Error;

    /// Parses `sigmoid`, `softmax`, or `none` (or `raw`), case-insensitively.
    fn from_str(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "sigmoid" => Ok(Self::Sigmoid),
            "softmax" => Ok(Self::Softmax),
            "none" | "raw" => Ok(Self::Raw),
            _ => Err(Error::InvalidOption {
                option: "score_function",
                reason: "must be sigmoid, softmax or none",
            }),
        }
    }
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

    pub(crate) fn from_slice(path: &Path, bytes: &[u8]) -> Result<Self> {
        let invalid = |source| Error::InvalidConfig {
            path: path.to_path_buf(),
            source,
        };
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(invalid)?;
        check_integers(&value).map_err(invalid)?;
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
        let pad_token_id = common.pad_token_id.unwrap_or(default_pad);
        check_table_sizes(architecture, &common, pad_token_id).map_err(invalid)?;
        let score_function = ScoreFunction::for_model(common.problem_type.as_deref(), labels.len());
        Ok(Self {
            path: path.to_path_buf(),
            architecture,
            labels,
            score_function,
            max_position_embeddings: common.max_position_embeddings,
            pad_token_id,
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

    /// The function transformers' pipeline applies to this model's logits by default: raw
    /// values for a regression, a sigmoid for a multi-label or one-label model, else a softmax
    /// ([`ScoreFunction::for_model`]).
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
        // Checked at load (`check_table_sizes`): positive, and past the padding offset.
        let limit = if self.architecture.positions_after_padding() {
            self.max_position_embeddings
                .checked_sub(self.pad_token_id)
                .and_then(|rest| rest.checked_sub(1))
        } else {
            Some(self.max_position_embeddings)
        };
        limit.and_then(|l| usize::try_from(l).ok()).unwrap_or(0)
    }

    pub(crate) fn network(&self) -> &NetworkConfig {
        &self.network
    }
}

/// The most vocabulary rows a config may ask for (the largest real vocabularies have 250,000).
const MAX_VOCAB: i64 = 1 << 22;
/// The most positions (Longformer and BigBird have 4,096; a few long-context encoders 32,768).
const MAX_POSITIONS: i64 = 1 << 20;

/// Every integer at the top of `config.json` (and in its arrays, such as Longformer's
/// `attention_window`) is a size, a count or a token id: none may exceed [`MAX_VOCAB`] or be
/// below -1 (DeBERTa's "none" for its position buckets). Architecture-specific sizes that
/// rust-bert allocates from (ALBERT's `embedding_size`, DeBERTa's `position_buckets`, ...) are
/// so bounded before any parser reads them; the checks after this one refine the shared ones.
pub(crate) fn check_integers(
    value: &serde_json::Value,
) -> std::result::Result<(), serde_json::Error> {
    use serde::de::Error as _;
    let Some(fields) = value.as_object() else {
        return Ok(()); // the parser says what is wrong with a config that is not an object
    };
    let sane = |n: &serde_json::Value| match (n.as_i64(), n.as_u64(), n.is_f64()) {
        (Some(i), _, _) => (-1..=MAX_VOCAB).contains(&i),
        (None, Some(_), _) => false,
        _ => true,
    };
    for (name, field) in fields {
        let absurd = match field {
            serde_json::Value::Array(items) => items.iter().find(|n| !sane(n)),
            n => (!sane(n)).then_some(n),
        };
        if let Some(n) = absurd {
            return Err(serde_json::Error::custom(format!(
                "{name} is {n}: no size, count or token id of a real model is outside -1..={MAX_VOCAB}"
            )));
        }
    }
    Ok(())
}

/// The embedding tables' sizes must be positive and sane, and the padding token a row of the
/// vocabulary; for the architectures that number positions after the padding token
/// (RoBERTa's `padding_idx`), the positions table must reach past it. All in checked
/// arithmetic: nothing a file holds can wrap.
fn check_table_sizes(
    architecture: Architecture,
    common: &CommonFields,
    pad_token_id: i64,
) -> std::result::Result<(), serde_json::Error> {
    use serde::de::Error as _;
    let (vocab, positions) = (common.vocab_size, common.max_position_embeddings);
    if !(1..=MAX_VOCAB).contains(&vocab) {
        return Err(serde_json::Error::custom(format!(
            "vocab_size {vocab} is not in 1..={MAX_VOCAB}"
        )));
    }
    if !(1..=MAX_POSITIONS).contains(&positions) {
        return Err(serde_json::Error::custom(format!(
            "max_position_embeddings {positions} is not in 1..={MAX_POSITIONS}"
        )));
    }
    if !(0..vocab).contains(&pad_token_id) {
        return Err(serde_json::Error::custom(format!(
            "pad_token_id {pad_token_id} is not a row of the {vocab}-row vocabulary"
        )));
    }
    if architecture.positions_after_padding() {
        let first_position = pad_token_id.checked_add(1);
        if first_position.is_none_or(|first| first >= positions) {
            return Err(serde_json::Error::custom(format!(
                "max_position_embeddings {positions} leaves no position after the padding \
                 offset pad_token_id + 1 = {} ({} numbers positions from there)",
                pad_token_id.saturating_add(1),
                architecture.model_type()
            )));
        }
    }
    Ok(())
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
    fn functions_follow_the_pipelines_rules() {
        let regression = BERT.replace("multi_label_classification", "regression");
        assert_eq!(
            parse(&regression).unwrap().score_function(),
            ScoreFunction::Raw
        );
        let one = BERT
            .replace(r#","1":"b""#, "")
            .replace(r#","problem_type":"multi_label_classification""#, "");
        assert_eq!(
            parse(&one).unwrap().score_function(),
            ScoreFunction::Sigmoid
        );
        let untyped = BERT.replace(r#","problem_type":"multi_label_classification""#, "");
        assert_eq!(
            parse(&untyped).unwrap().score_function(),
            ScoreFunction::Softmax
        );
        assert_eq!("NONE".parse::<ScoreFunction>().unwrap(), ScoreFunction::Raw);
        assert_eq!(
            "softmax".parse::<ScoreFunction>().unwrap(),
            ScoreFunction::Softmax
        );
        assert!(matches!(
            "relu".parse::<ScoreFunction>(),
            Err(Error::InvalidOption {
                option: "score_function",
                ..
            })
        ));
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
                    // A negative size is refused with the other integers, before any parser.
                    Err(Error::InvalidConfig { source, .. }) => {
                        let message = source.to_string();
                        assert!(
                            message.contains("heads") || message.contains(&format!("is {hidden}")),
                            "{source}"
                        )
                    }
                    other => panic!("{hidden}/{heads}: expected InvalidConfig, got {other:?}"),
                }
            }
        }
    }

    /// The message of the `InvalidConfig` that `json` gives, within a second.
    fn refusal(json: &str) -> String {
        let begun = std::time::Instant::now();
        let outcome = parse(json);
        assert!(begun.elapsed().as_secs_f64() < 1.0);
        match outcome {
            Err(Error::InvalidConfig { source, path }) => {
                assert_eq!(path, Path::new("config.json"));
                source.to_string()
            }
            other => panic!("expected InvalidConfig for {json}, got {other:?}"),
        }
    }

    #[test]
    fn absurd_sizes_are_refused_before_anything_is_built() {
        for (field, value, says) in [
            ("hidden_size", "1099511627776", "hidden"),
            ("intermediate_size", "1099511627776", "intermediate_size"),
            ("intermediate_size", "300000", "feed-forward"),
            ("num_hidden_layers", "1000000", "layers"),
            ("vocab_size", "9223372036854775807", "vocab_size"),
            ("vocab_size", "0", "vocab_size"),
            ("vocab_size", "-5", "vocab_size"),
            (
                "max_position_embeddings",
                "1099511627776",
                "max_position_embeddings",
            ),
            ("max_position_embeddings", "0", "max_position_embeddings"),
        ] {
            let json = BERT.replacen(
                &format!(r#""{field}":"#),
                &format!(r#""{field}":{value},"x_{field}":"#),
                1,
            );
            let message = refusal(&json);
            assert!(message.contains(says), "{field}={value}: {message}");
        }
        let albert = BERT.replace("\"bert\"", "\"albert\"").replace(
            "\"vocab_size\"",
            "\"embedding_size\":4611686018427387904,\"vocab_size\"",
        );
        assert!(refusal(&albert).contains("embedding_size"));
        let types = BERT.replace(
            "\"vocab_size\"",
            "\"type_vocab_size\":100000,\"vocab_size\"",
        );
        assert!(refusal(&types).contains("type_vocab_size"));
    }

    #[test]
    fn a_pad_id_past_the_table_is_refused() {
        for pad in ["100", "-1", "9223372036854775807"] {
            let json = BERT.replace(
                "\"vocab_size\"",
                &format!("\"pad_token_id\":{pad},\"vocab_size\""),
            );
            assert!(refusal(&json).contains("pad_token_id"), "{pad}");
        }
        // RoBERTa numbers positions from pad + 1: 512 positions need a pad id below 511.
        let roberta = BERT.replace("\"bert\"", "\"roberta\"").replace(
            "\"vocab_size\":100",
            "\"vocab_size\":1000,\"pad_token_id\":600",
        );
        assert!(refusal(&roberta).contains("padding offset"));
        let fits = roberta.replace("600", "510");
        assert_eq!(parse(&fits).expect("fits").max_input_tokens(), 1);
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
