//! The config fields of the architectures the crate's fused encoder runs: BERT, RoBERTa and
//! XLM-RoBERTa (one set of fields) and DistilBERT, turned into rust-bert's config structs,
//! which the encoder reads its sizes from.

use std::collections::HashMap;

use rust_bert::bert::BertConfig;
use rust_bert::distilbert::DistilBertConfig;
use rust_bert::Activation;
use serde::Deserialize;

use super::architecture::Architecture;
use super::common_fields::CommonFields;
use super::network_config::NetworkConfig;

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

/// The widest hidden state a config may ask for (the largest encoders have 8192).
pub(super) const MAX_HIDDEN: i64 = 1 << 16;
/// The widest feed-forward layer.
pub(super) const MAX_INTERMEDIATE: i64 = 1 << 18;
/// The most layers.
pub(super) const MAX_LAYERS: i64 = 1 << 9;

/// The transformer's sizes must make a network: positive widths within sane limits, a head
/// count that divides the hidden size (each head takes an equal slice), no negative layer
/// count. Checked before anything is allocated or computed from them.
pub(super) fn check_sizes(
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
    if hidden > MAX_HIDDEN || intermediate > MAX_INTERMEDIATE || layers > MAX_LAYERS {
        return Err(serde_json::Error::custom(format!(
            "sizes past any real model's: hidden {hidden} (at most {MAX_HIDDEN}), feed-forward \
             {intermediate} (at most {MAX_INTERMEDIATE}), layers {layers} (at most {MAX_LAYERS})"
        )));
    }
    Ok(())
}

/// The most token types (segments) a config may ask for.
const MAX_TYPE_VOCAB: i64 = 1 << 10;

fn default_activation() -> Activation {
    Activation::gelu
}

fn default_type_vocab_size() -> i64 {
    2
}

fn default_layer_norm_eps() -> f64 {
    1e-12
}

/// `architecture`'s network config from the whole `config.json` (`value`), with its hidden size
/// and its default `pad_token_id`.
pub(super) fn network(
    architecture: Architecture,
    value: serde_json::Value,
    common: &CommonFields,
    id2label: HashMap<i64, String>,
) -> Result<(NetworkConfig, i64, i64), serde_json::Error> {
    let built = match architecture {
        Architecture::Bert | Architecture::Roberta | Architecture::XlmRoberta => {
            let fields: BertFields = serde_json::from_value(value)?;
            if !(0..=MAX_TYPE_VOCAB).contains(&fields.type_vocab_size) {
                use serde::de::Error as _;
                return Err(serde_json::Error::custom(format!(
                    "type_vocab_size {} is not in 0..={MAX_TYPE_VOCAB}",
                    fields.type_vocab_size
                )));
            }
            check_sizes(
                fields.hidden_size,
                fields.num_attention_heads,
                fields.intermediate_size,
                fields.num_hidden_layers,
            )?;
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
            let fields: DistilBertFields = serde_json::from_value(value)?;
            check_sizes(
                fields.dim,
                fields.n_heads,
                fields.hidden_dim,
                fields.n_layers,
            )?;
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
        other => {
            use serde::de::Error as _;
            return Err(serde_json::Error::custom(format!(
                "{} runs through rust-bert, not on the fused encoder",
                other.model_type()
            )));
        }
    };
    Ok(built)
}
