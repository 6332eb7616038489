//! Where each architecture keeps its parameters: the tensor names of `transformers`' state
//! dicts for BERT, RoBERTa and DistilBERT sequence classifiers. The only place the encoder's
//! parameter names are spelled, so the loader's checks (vocabulary, label count) and the
//! encoder ask for the same tensors.

use crate::config::Architecture;

/// One transformer layer's parameter names, under the layer's prefix.
pub(super) struct LayerNames {
    /// Query, key and value projections, fused into one at load.
    pub(super) qkv: [&'static str; 3],
    pub(super) attention_output: &'static str,
    pub(super) attention_norm: &'static str,
    pub(super) intermediate: &'static str,
    pub(super) output: &'static str,
    pub(super) output_norm: &'static str,
}

const BERT_LAYER: LayerNames = LayerNames {
    qkv: [
        "attention.self.query",
        "attention.self.key",
        "attention.self.value",
    ],
    attention_output: "attention.output.dense",
    attention_norm: "attention.output.LayerNorm",
    intermediate: "intermediate.dense",
    output: "output.dense",
    output_norm: "output.LayerNorm",
};

const DISTILBERT_LAYER: LayerNames = LayerNames {
    qkv: ["attention.q_lin", "attention.k_lin", "attention.v_lin"],
    attention_output: "attention.out_lin",
    attention_norm: "sa_layer_norm",
    intermediate: "ffn.lin1",
    output: "ffn.lin2",
    output_norm: "output_layer_norm",
};

/// An architecture's parameter names.
pub(crate) struct Names {
    /// The base model's prefix (`bert`, `roberta`, `distilbert`): the architecture's own
    /// ([`Architecture::checkpoint_prefix`]).
    base: &'static str,
    /// Where the layers are under the base (`encoder.layer`, `transformer.layer`).
    layers_at: &'static str,
    pub(super) layer: &'static LayerNames,
    /// The head's hidden layer (BERT's pooler, RoBERTa's dense, DistilBERT's pre-classifier).
    pub(super) head_dense: &'static str,
    /// The head's output layer: one row per label.
    pub(crate) classifier_output: &'static str,
}

impl Names {
    /// The names `architecture`'s checkpoints use, for the architectures the fused encoder
    /// runs (`None` for the others).
    pub(crate) fn of(architecture: Architecture) -> Option<Self> {
        let base = architecture.checkpoint_prefix();
        Some(match architecture {
            Architecture::Bert => Self {
                base,
                layers_at: "encoder.layer",
                layer: &BERT_LAYER,
                head_dense: "bert.pooler.dense",
                classifier_output: "classifier",
            },
            // XLM-RoBERTa's checkpoints use RoBERTa's names (`XLMRobertaForSequenceClassification`
            // keeps its base model under `roberta`).
            Architecture::Roberta | Architecture::XlmRoberta => Self {
                base,
                layers_at: "encoder.layer",
                layer: &BERT_LAYER,
                head_dense: "classifier.dense",
                classifier_output: "classifier.out_proj",
            },
            Architecture::DistilBert => Self {
                base,
                layers_at: "transformer.layer",
                layer: &DISTILBERT_LAYER,
                head_dense: "pre_classifier",
                classifier_output: "classifier",
            },
            Architecture::Albert
            | Architecture::DebertaV2
            | Architecture::MobileBert
            | Architecture::Longformer => return None,
        })
    }

    /// An embeddings parameter: `word_embeddings.weight`, `LayerNorm`, ...
    pub(super) fn embeddings(&self, part: &str) -> String {
        format!("{}.embeddings.{part}", self.base)
    }

    /// The word embedding matrix, one row per token id.
    pub(crate) fn word_embeddings(&self) -> String {
        self.embeddings("word_embeddings.weight")
    }

    /// Layer `index`'s `part` (one of [`LayerNames`]' names).
    pub(super) fn layer(&self, index: i64, part: &str) -> String {
        format!("{}.{}.{index}.{part}", self.base, self.layers_at)
    }

    /// The classifier output layer's weight matrix.
    pub(crate) fn classifier_output_weight(&self) -> String {
        format!("{}.weight", self.classifier_output)
    }
}

/// The word embedding matrix's name in `architecture`'s checkpoints, for every architecture.
pub(crate) fn word_embeddings(architecture: Architecture) -> String {
    match Names::of(architecture) {
        Some(names) => names.word_embeddings(),
        None => super::library::word_embeddings(architecture),
    }
}

/// The classifier output layer's weight matrix (one row per label) in `architecture`'s
/// checkpoints, for every architecture.
pub(crate) fn classifier_output_weight(architecture: Architecture) -> String {
    match Names::of(architecture) {
        Some(names) => names.classifier_output_weight(),
        None => super::library::classifier_output_weight(architecture),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every weight and bias name of a one-layer model, as the encoder asks for them.
    fn names_of_one_layer(architecture: Architecture) -> Vec<String> {
        let names = Names::of(architecture).unwrap();
        let with_bias = |name: String| vec![format!("{name}.weight"), format!("{name}.bias")];
        let mut all = vec![names.word_embeddings()];
        all.push(names.embeddings("position_embeddings.weight"));
        all.extend(with_bias(names.embeddings("LayerNorm")));
        let layer = names.layer;
        for part in layer.qkv.iter().chain(&[
            layer.attention_output,
            layer.attention_norm,
            layer.intermediate,
            layer.output,
            layer.output_norm,
        ]) {
            all.extend(with_bias(names.layer(0, part)));
        }
        all.extend(with_bias(names.head_dense.to_owned()));
        all.extend(with_bias(names.classifier_output.to_owned()));
        all
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn bert_names_are_transformers_bert_for_sequence_classification() {
        assert_eq!(
            names_of_one_layer(Architecture::Bert),
            strings(&[
                "bert.embeddings.word_embeddings.weight",
                "bert.embeddings.position_embeddings.weight",
                "bert.embeddings.LayerNorm.weight",
                "bert.embeddings.LayerNorm.bias",
                "bert.encoder.layer.0.attention.self.query.weight",
                "bert.encoder.layer.0.attention.self.query.bias",
                "bert.encoder.layer.0.attention.self.key.weight",
                "bert.encoder.layer.0.attention.self.key.bias",
                "bert.encoder.layer.0.attention.self.value.weight",
                "bert.encoder.layer.0.attention.self.value.bias",
                "bert.encoder.layer.0.attention.output.dense.weight",
                "bert.encoder.layer.0.attention.output.dense.bias",
                "bert.encoder.layer.0.attention.output.LayerNorm.weight",
                "bert.encoder.layer.0.attention.output.LayerNorm.bias",
                "bert.encoder.layer.0.intermediate.dense.weight",
                "bert.encoder.layer.0.intermediate.dense.bias",
                "bert.encoder.layer.0.output.dense.weight",
                "bert.encoder.layer.0.output.dense.bias",
                "bert.encoder.layer.0.output.LayerNorm.weight",
                "bert.encoder.layer.0.output.LayerNorm.bias",
                "bert.pooler.dense.weight",
                "bert.pooler.dense.bias",
                "classifier.weight",
                "classifier.bias",
            ])
        );
    }

    #[test]
    fn roberta_names_are_transformers_roberta_for_sequence_classification() {
        let names = names_of_one_layer(Architecture::Roberta);
        assert_eq!(names[0], "roberta.embeddings.word_embeddings.weight");
        assert!(names.contains(&"roberta.encoder.layer.0.attention.self.query.weight".into()));
        assert!(names.contains(&"roberta.encoder.layer.0.output.LayerNorm.bias".into()));
        assert_eq!(
            names[names.len() - 4..],
            strings(&[
                "classifier.dense.weight",
                "classifier.dense.bias",
                "classifier.out_proj.weight",
                "classifier.out_proj.bias",
            ])
        );
        assert_eq!(
            classifier_output_weight(Architecture::Roberta),
            "classifier.out_proj.weight"
        );
    }

    #[test]
    fn xlm_roberta_names_are_roberta_names() {
        // transformers' XLMRobertaForSequenceClassification keeps its base model under
        // `roberta` and RoBERTa's classification head.
        assert_eq!(
            names_of_one_layer(Architecture::XlmRoberta),
            names_of_one_layer(Architecture::Roberta)
        );
        assert_eq!(
            word_embeddings(Architecture::XlmRoberta),
            "roberta.embeddings.word_embeddings.weight"
        );
    }

    #[test]
    fn distilbert_names_are_transformers_distilbert_for_sequence_classification() {
        assert_eq!(
            names_of_one_layer(Architecture::DistilBert),
            strings(&[
                "distilbert.embeddings.word_embeddings.weight",
                "distilbert.embeddings.position_embeddings.weight",
                "distilbert.embeddings.LayerNorm.weight",
                "distilbert.embeddings.LayerNorm.bias",
                "distilbert.transformer.layer.0.attention.q_lin.weight",
                "distilbert.transformer.layer.0.attention.q_lin.bias",
                "distilbert.transformer.layer.0.attention.k_lin.weight",
                "distilbert.transformer.layer.0.attention.k_lin.bias",
                "distilbert.transformer.layer.0.attention.v_lin.weight",
                "distilbert.transformer.layer.0.attention.v_lin.bias",
                "distilbert.transformer.layer.0.attention.out_lin.weight",
                "distilbert.transformer.layer.0.attention.out_lin.bias",
                "distilbert.transformer.layer.0.sa_layer_norm.weight",
                "distilbert.transformer.layer.0.sa_layer_norm.bias",
                "distilbert.transformer.layer.0.ffn.lin1.weight",
                "distilbert.transformer.layer.0.ffn.lin1.bias",
                "distilbert.transformer.layer.0.ffn.lin2.weight",
                "distilbert.transformer.layer.0.ffn.lin2.bias",
                "distilbert.transformer.layer.0.output_layer_norm.weight",
                "distilbert.transformer.layer.0.output_layer_norm.bias",
                "pre_classifier.weight",
                "pre_classifier.bias",
                "classifier.weight",
                "classifier.bias",
            ])
        );
    }

    #[test]
    fn every_architecture_names_its_embeddings_and_classifier() {
        for (architecture, embeddings, classifier) in [
            (Architecture::Albert, "albert", "classifier.weight"),
            (Architecture::DebertaV2, "deberta", "classifier.weight"),
            (Architecture::MobileBert, "mobilebert", "classifier.weight"),
            (
                Architecture::Longformer,
                "longformer",
                "classifier.out_proj.weight",
            ),
            (Architecture::DistilBert, "distilbert", "classifier.weight"),
        ] {
            assert!(Names::of(architecture).is_none() != architecture.runs_on_fused_encoder());
            assert_eq!(
                word_embeddings(architecture),
                format!("{embeddings}.embeddings.word_embeddings.weight")
            );
            assert_eq!(classifier_output_weight(architecture), classifier);
        }
    }
}
