//! The config of an architecture run through rust-bert's modules, as rust-bert's own config
//! struct.
//!
//! `config.json` is read into rust-bert's structs with serde, after three fixes:
//! - fields current `transformers` leaves out (it has defaults for them) are filled with
//!   `transformers`' defaults, so a config that loads there loads here;
//! - values rust-bert's deserializers would panic on (DeBERTa's `norm_rel_ebd: "none"`, an
//!   unknown `pos_att_type`) are checked first and refused with the option's name;
//! - options rust-bert's modules do not honour, or honour differently from `transformers`, are
//!   refused with the option's name instead of giving other scores than `transformers` would.

use std::collections::HashMap;

use rust_bert::albert::AlbertConfig;
use rust_bert::deberta_v2::DebertaV2Config;
use rust_bert::longformer::LongformerConfig;
use rust_bert::mobilebert::MobileBertConfig;
use serde::de::Error as _;
use serde_json::{json, Map, Value};

use super::architecture::Architecture;
use super::common_fields::CommonFields;
use super::fused::check_sizes;
use crate::model::PositionTerms;

/// rust-bert's config for one of the architectures run outside the fused encoder. DeBERTa-v2
/// runs on the crate's own module (see `model/library/deberta_v2.rs`), from rust-bert's config
/// struct and the attention terms parsed here.
#[derive(Debug)]
pub(crate) enum LibraryConfig {
    Albert(AlbertConfig),
    DebertaV2(DebertaV2Config, PositionTerms),
    MobileBert(MobileBertConfig),
    Longformer(LongformerConfig),
}

type Parsed<T> = Result<T, serde_json::Error>;

fn refuse<T>(option: &str, why: impl std::fmt::Display) -> Parsed<T> {
    Err(serde_json::Error::custom(format!(
        "unsupported option {option}: {why}"
    )))
}

/// Sets each of `defaults` that `config` lacks (or has as `null`).
pub(crate) fn fill(config: &mut Map<String, Value>, defaults: Value) {
    if let Value::Object(defaults) = defaults {
        for (key, value) in defaults {
            match config.get(&key) {
                Some(Value::Null) | None => {
                    config.insert(key, value);
                }
                Some(_) => {}
            }
        }
    }
}

/// Dropouts are zero at inference; rust-bert requires the fields.
fn inference_only(config: &mut Map<String, Value>) {
    for key in ["hidden_dropout_prob", "attention_probs_dropout_prob"] {
        config.insert(key.to_owned(), json!(0.0));
    }
    config.insert("initializer_range".to_owned(), json!(0.02));
    config.insert("output_attentions".to_owned(), json!(false));
    config.insert("output_hidden_states".to_owned(), json!(false));
    config.insert("is_decoder".to_owned(), json!(false));
    config.remove("label2id");
    config.remove("id2label");
}

fn text<'a>(config: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    config.get(key).and_then(Value::as_str)
}

impl LibraryConfig {
    /// rust-bert's config for `architecture` from the whole `config.json` (`value`).
    pub(super) fn from_value(
        architecture: Architecture,
        value: Value,
        common: &CommonFields,
        id2label: HashMap<i64, String>,
    ) -> Parsed<Self> {
        let Value::Object(mut config) = value else {
            return Err(serde_json::Error::custom("config.json is not an object"));
        };
        inference_only(&mut config);
        let mut parsed = match architecture {
            Architecture::Albert => Self::Albert(albert(config)?),
            Architecture::DebertaV2 => {
                let (config, terms) = deberta_v2(config)?;
                Self::DebertaV2(config, terms)
            }
            Architecture::MobileBert => Self::MobileBert(mobilebert(config)?),
            Architecture::Longformer => Self::Longformer(longformer(config)?),
            other => {
                return Err(serde_json::Error::custom(format!(
                    "{} runs on the fused encoder, not through rust-bert",
                    other.model_type()
                )))
            }
        };
        let (hidden, heads, intermediate, layers) = parsed.sizes();
        check_sizes(hidden, heads, intermediate, layers)?;
        if common.vocab_size <= 0 || common.max_position_embeddings <= 0 {
            return Err(serde_json::Error::custom(
                "vocab_size and max_position_embeddings must be positive",
            ));
        }
        parsed.set_labels(id2label);
        Ok(parsed)
    }

    fn set_labels(&mut self, id2label: HashMap<i64, String>) {
        let slot = match self {
            Self::Albert(c) => &mut c.id2label,
            Self::DebertaV2(c, _) => &mut c.id2label,
            Self::MobileBert(c) => &mut c.id2label,
            Self::Longformer(c) => &mut c.id2label,
        };
        *slot = Some(id2label);
    }

    /// Hidden size, attention heads, feed-forward size and layers.
    fn sizes(&self) -> (i64, i64, i64, i64) {
        match self {
            Self::Albert(c) => (
                c.hidden_size,
                c.num_attention_heads,
                c.intermediate_size,
                c.num_hidden_layers,
            ),
            Self::DebertaV2(c, _) => (
                c.hidden_size,
                c.num_attention_heads,
                c.intermediate_size,
                c.num_hidden_layers,
            ),
            // MobileBERT's attention runs at the bottleneck width.
            Self::MobileBert(c) => (
                c.intra_bottleneck_size.unwrap_or(c.hidden_size),
                c.num_attention_heads,
                c.intermediate_size,
                c.num_hidden_layers,
            ),
            Self::Longformer(c) => (
                c.hidden_size,
                c.num_attention_heads,
                c.intermediate_size,
                c.num_hidden_layers,
            ),
        }
    }

    /// Width of the classifier's input.
    pub(super) fn hidden_size(&self) -> i64 {
        match self {
            Self::Albert(c) => c.hidden_size,
            Self::DebertaV2(c, _) => c.pooler_hidden_size.unwrap_or(c.hidden_size),
            Self::MobileBert(c) => c.hidden_size,
            Self::Longformer(c) => c.hidden_size,
        }
    }

    /// `pad_token_id` when `config.json` does not say (`transformers`' defaults).
    pub(super) fn default_pad_token_id(&self) -> i64 {
        match self {
            Self::Longformer(c) => c.pad_token_id.unwrap_or(1),
            Self::Albert(c) => c.pad_token_id,
            Self::DebertaV2(c, _) => c.pad_token_id.unwrap_or(0),
            Self::MobileBert(c) => c.pad_token_idx.unwrap_or(0),
        }
    }

    /// Whether the model takes token type ids (`type_vocab_size > 0`).
    pub(crate) fn has_token_types(&self) -> bool {
        let types = match self {
            Self::Albert(c) => c.type_vocab_size,
            Self::DebertaV2(c, _) => c.type_vocab_size,
            Self::MobileBert(c) => c.type_vocab_size,
            Self::Longformer(c) => c.type_vocab_size,
        };
        types > 0
    }
}

/// `transformers`' `AlbertConfig` defaults.
fn albert(mut config: Map<String, Value>) -> Parsed<AlbertConfig> {
    fill(
        &mut config,
        json!({
            "hidden_act": "gelu_new", "embedding_size": 128, "inner_group_num": 1,
            "num_hidden_groups": 1, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
            "classifier_dropout_prob": 0.1, "pad_token_id": 0, "bos_token_id": 2,
            "eos_token_id": 3, "position_embedding_type": "absolute",
        }),
    );
    if text(&config, "position_embedding_type") != Some("absolute") {
        return refuse(
            "position_embedding_type",
            "rust-bert's ALBERT has absolute position embeddings only",
        );
    }
    serde_json::from_value(Value::Object(config))
}

/// `transformers`' `DebertaV2Config` defaults, and the checks rust-bert's deserializers lack.
fn deberta_v2(mut config: Map<String, Value>) -> Parsed<(DebertaV2Config, PositionTerms)> {
    fill(
        &mut config,
        json!({
            "hidden_act": "gelu", "type_vocab_size": 0, "layer_norm_eps": 1e-7,
            "relative_attention": false, "max_relative_positions": -1, "pad_token_id": 0,
            "position_biased_input": true, "pooler_dropout": 0, "pooler_hidden_act": "gelu",
            "position_buckets": -1, "share_att_key": false, "norm_rel_ebd": "none",
            "conv_kernel_size": 0,
        }),
    );
    // `transformers` takes "p2c|c2p" or a list; rust-bert panics on a name it does not know.
    let attention_types: Vec<String> = match config.get("pos_att_type") {
        Some(Value::String(s)) => s.to_lowercase().split('|').map(str::to_owned).collect(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| v.as_str().map(str::to_lowercase))
            .collect::<Option<_>>()
            .map_or_else(|| refuse("pos_att_type", "not a list of names"), Ok)?,
        _ => Vec::new(),
    };
    if let Some(other) = attention_types
        .iter()
        .find(|t| !matches!(t.as_str(), "c2p" | "p2c"))
    {
        return refuse(
            "pos_att_type",
            format!("{other:?} (DeBERTa-v2 uses \"c2p\" and \"p2c\")"),
        );
    }
    let terms = PositionTerms {
        c2p: attention_types.iter().any(|t| t == "c2p"),
        p2c: attention_types.iter().any(|t| t == "p2c"),
    };
    // Parsed here; rust-bert's deserializer for it would panic on a name it does not know.
    config.remove("pos_att_type");
    // `transformers` normalises the relative embeddings when the value contains "layer_norm";
    // rust-bert panics on anything but "layer_norm" itself.
    let norm = text(&config, "norm_rel_ebd")
        .unwrap_or("none")
        .to_lowercase();
    let parts: Vec<&str> = norm.split('|').map(str::trim).collect();
    if parts.iter().any(|p| !matches!(*p, "layer_norm" | "none")) {
        return refuse(
            "norm_rel_ebd",
            format!("{norm:?} is not \"layer_norm\" or \"none\""),
        );
    }
    if parts.contains(&"layer_norm") {
        config.insert("norm_rel_ebd".to_owned(), json!("layer_norm"));
    } else {
        config.remove("norm_rel_ebd");
    }
    if config.get("conv_kernel_size").and_then(Value::as_i64) > Some(0) {
        return refuse(
            "conv_kernel_size",
            "the convolution layer is not checked against transformers here",
        );
    }
    if let Some(size) = config.get("embedding_size").and_then(Value::as_i64) {
        if Some(size) != config.get("hidden_size").and_then(Value::as_i64) {
            return refuse(
                "embedding_size",
                "an embedding size other than hidden_size is not supported",
            );
        }
    }
    if config.get("talking_head").and_then(Value::as_bool) == Some(true) {
        return refuse("talking_head", "talking heads are not supported");
    }
    if let Some(size) = config.get("pooler_hidden_size").and_then(Value::as_i64) {
        if Some(size) != config.get("hidden_size").and_then(Value::as_i64) {
            // transformers' classifier then takes hidden_size inputs from a pooler of another
            // width, which cannot load either.
            return refuse("pooler_hidden_size", "must equal hidden_size");
        }
    }
    Ok((serde_json::from_value(Value::Object(config))?, terms))
}

/// `transformers`' `MobileBertConfig` defaults.
fn mobilebert(mut config: Map<String, Value>) -> Parsed<MobileBertConfig> {
    fill(
        &mut config,
        json!({
            "hidden_act": "relu", "type_vocab_size": 2, "layer_norm_eps": 1e-12,
            "embedding_size": 128, "trigram_input": true, "use_bottleneck": true,
            "intra_bottleneck_size": 128, "use_bottleneck_attention": false,
            "key_query_shared_bottleneck": true, "num_feedforward_networks": 4,
            "normalization_type": "no_norm", "classifier_activation": true,
        }),
    );
    // rust-bert names the padding id `pad_token_idx`.
    let pad = config.get("pad_token_id").cloned().unwrap_or(json!(0));
    config.insert("pad_token_idx".to_owned(), pad);
    if config.get("use_bottleneck").and_then(Value::as_bool) == Some(false) {
        // Without a bottleneck `transformers` runs attention at `hidden_size`.
        let hidden = config.get("hidden_size").cloned().unwrap_or(Value::Null);
        config.insert("intra_bottleneck_size".to_owned(), hidden);
    }
    serde_json::from_value(Value::Object(config))
}

/// `transformers`' `LongformerConfig` defaults; `attention_window` may be one number for every
/// layer.
fn longformer(mut config: Map<String, Value>) -> Parsed<LongformerConfig> {
    fill(
        &mut config,
        json!({
            "hidden_act": "gelu", "type_vocab_size": 2, "layer_norm_eps": 1e-12,
            "attention_window": 512, "sep_token_id": 2, "pad_token_id": 1,
        }),
    );
    let layers = config
        .get("num_hidden_layers")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let windows: Vec<i64> = match config.get("attention_window") {
        Some(Value::Number(n)) => n
            .as_i64()
            .map(|w| vec![w; layers as usize])
            .unwrap_or_default(),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_i64).collect(),
        _ => Vec::new(),
    };
    if windows.len() as u64 != layers || windows.iter().any(|w| *w <= 0 || w % 2 != 0) {
        return refuse(
            "attention_window",
            "must be one positive even number, or one per layer",
        );
    }
    config.insert("attention_window".to_owned(), json!(windows));
    // Longformer's embeddings are always absolute; the field is RoBERTa's.
    config.remove("position_embedding_type");
    serde_json::from_value(Value::Object(config))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Architecture, ModelConfig, NetworkConfig};
    use crate::error::Error;

    use super::LibraryConfig;

    fn parse(json: &str) -> crate::error::Result<ModelConfig> {
        ModelConfig::from_slice(Path::new("config.json"), json.as_bytes())
    }

    fn config_with(model_type: &str, extra: &str) -> String {
        format!(
            r#"{{"model_type":"{model_type}","id2label":{{"0":"a","1":"b"}},
            "max_position_embeddings":130,"vocab_size":100,"hidden_size":8,
            "intermediate_size":16,"num_attention_heads":2,"num_hidden_layers":2{extra}}}"#
        )
    }

    fn refused_option(json: &str) -> String {
        match parse(json) {
            Err(Error::InvalidConfig { source, .. }) => source.to_string(),
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn transformers_defaults_fill_what_the_config_leaves_out() {
        let albert = parse(&config_with("albert", "")).unwrap();
        assert_eq!(albert.architecture(), Architecture::Albert);
        assert_eq!(albert.max_input_tokens(), 130);
        let NetworkConfig::Library(library) = albert.network() else {
            panic!("ALBERT runs through rust-bert")
        };
        match library.as_ref() {
            LibraryConfig::Albert(c) => {
                assert_eq!(c.embedding_size, 128);
                assert_eq!((c.bos_token_id, c.eos_token_id, c.pad_token_id), (2, 3, 0));
                assert_eq!(c.id2label.as_ref().map(|m| m.len()), Some(2));
            }
            other => panic!("{other:?}"),
        }
        // Longformer counts positions from pad_token_id + 1 (1 by default).
        let longformer = parse(&config_with("longformer", r#","attention_window":4"#)).unwrap();
        assert_eq!(longformer.pad_token_id(), 1);
        assert_eq!(longformer.max_input_tokens(), 128);
        let NetworkConfig::Library(library) = longformer.network() else {
            panic!("Longformer runs through rust-bert")
        };
        match library.as_ref() {
            LibraryConfig::Longformer(c) => assert_eq!(c.attention_window, [4, 4]),
            other => panic!("{other:?}"),
        }
        let mobilebert = parse(&config_with("mobilebert", r#","intra_bottleneck_size":8"#));
        assert!(mobilebert.is_ok(), "{mobilebert:?}");
    }

    #[test]
    fn options_the_library_does_not_honour_are_refused_by_name() {
        let cases = [
            (
                "albert",
                r#","position_embedding_type":"relative_key""#,
                "position_embedding_type",
            ),
            (
                "longformer",
                r#","attention_window":[4]"#,
                "attention_window",
            ),
            ("longformer", r#","attention_window":3"#, "attention_window"),
            (
                "deberta-v2",
                r#","norm_rel_ebd":"batch_norm""#,
                "norm_rel_ebd",
            ),
            (
                "deberta-v2",
                r#","pos_att_type":["c2p","x2y"]"#,
                "pos_att_type",
            ),
            (
                "deberta-v2",
                r#","pooler_hidden_size":4"#,
                "pooler_hidden_size",
            ),
            ("deberta-v2", r#","conv_kernel_size":3"#, "conv_kernel_size"),
            ("deberta-v2", r#","embedding_size":4"#, "embedding_size"),
        ];
        for (model_type, extra, option) in cases {
            let message = refused_option(&config_with(model_type, extra));
            assert!(
                message.contains(&format!("unsupported option {option}")),
                "{model_type} {extra}: {message}"
            );
        }
    }

    #[test]
    fn values_rust_berts_deserializers_would_panic_on_are_checked_first() {
        // rust-bert unwraps these names' parsing; "none" is transformers' default.
        for extra in [r#","norm_rel_ebd":"none""#, r#","pos_att_type":null"#] {
            let config = parse(&config_with("deberta-v2", extra));
            assert!(config.is_ok(), "{extra}: {config:?}");
        }
        let message = refused_option(&config_with("deberta-v2", r#","pos_att_type":"c2p|zzz""#));
        assert!(message.contains("zzz"), "{message}");
        let config = parse(&config_with(
            "deberta-v2",
            r#","relative_attention":true,"pos_att_type":"P2C|c2p","norm_rel_ebd":"layer_norm|none""#,
        ))
        .unwrap();
        let NetworkConfig::Library(library) = config.network() else {
            panic!("DeBERTa-v2 runs outside the fused encoder")
        };
        match library.as_ref() {
            LibraryConfig::DebertaV2(c, terms) => {
                assert!(terms.c2p && terms.p2c);
                assert!(c.norm_rel_ebd.is_some());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sizes_that_make_no_transformer_are_refused() {
        let json = config_with("albert", "")
            .replace(r#""num_attention_heads":2"#, r#""num_attention_heads":3"#);
        assert!(refused_option(&json).contains("heads"));
    }
}
