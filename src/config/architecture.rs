//! The architectures the crate runs, by their `model_type` in `config.json`.

/// The architectures this crate runs, by their `model_type` in `config.json`.
///
/// BERT, DistilBERT, RoBERTa and XLM-RoBERTa run on the crate's own fused encoder, with every
/// speed option; the others run through rust-bert's `...ForSequenceClassification` modules
/// (see [`Architecture::runs_on_fused_encoder`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
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
    /// ALBERT (`model_type: "albert"`), through rust-bert.
    Albert,
    /// DeBERTa-v2 and DeBERTa-v3 (`model_type: "deberta-v2"`), through rust-bert.
    DebertaV2,
    /// MobileBERT (`model_type: "mobilebert"`), through rust-bert.
    MobileBert,
    /// Longformer (`model_type: "longformer"`), through rust-bert, with global attention on
    /// the first token as `transformers`' `LongformerForSequenceClassification` puts it.
    Longformer,
}

impl Architecture {
    /// Every supported architecture.
    pub const ALL: [Architecture; 8] = [
        Self::Bert,
        Self::DistilBert,
        Self::Roberta,
        Self::XlmRoberta,
        Self::Albert,
        Self::DebertaV2,
        Self::MobileBert,
        Self::Longformer,
    ];

    /// The `model_type` that names this architecture in `config.json`.
    pub fn model_type(self) -> &'static str {
        match self {
            Self::Bert => "bert",
            Self::DistilBert => "distilbert",
            Self::Roberta => "roberta",
            Self::XlmRoberta => "xlm-roberta",
            Self::Albert => "albert",
            Self::DebertaV2 => "deberta-v2",
            Self::MobileBert => "mobilebert",
            Self::Longformer => "longformer",
        }
    }

    /// The base model's prefix in a classifier checkpoint's tensor names, as transformers'
    /// `...ForSequenceClassification` keeps it (`bert.embeddings...`). XLM-RoBERTa's is
    /// RoBERTa's (`XLMRobertaForSequenceClassification` keeps its base under `roberta`).
    pub(crate) fn checkpoint_prefix(self) -> &'static str {
        match self {
            Self::Bert => "bert",
            Self::DistilBert => "distilbert",
            Self::Roberta | Self::XlmRoberta => "roberta",
            Self::Albert => "albert",
            Self::DebertaV2 => "deberta",
            Self::MobileBert => "mobilebert",
            Self::Longformer => "longformer",
        }
    }

    /// The class transformers names in `config.json`'s `architectures` for a sequence
    /// classifier of this architecture.
    pub(crate) fn class_name(self) -> &'static str {
        match self {
            Self::Bert => "BertForSequenceClassification",
            Self::DistilBert => "DistilBertForSequenceClassification",
            Self::Roberta => "RobertaForSequenceClassification",
            Self::XlmRoberta => "XLMRobertaForSequenceClassification",
            Self::Albert => "AlbertForSequenceClassification",
            Self::DebertaV2 => "DebertaV2ForSequenceClassification",
            Self::MobileBert => "MobileBertForSequenceClassification",
            Self::Longformer => "LongformerForSequenceClassification",
        }
    }

    /// Whether the crate's own fused encoder runs this architecture (with packed weights,
    /// bf16, unpadded batches); the others run through rust-bert's modules in f32.
    pub fn runs_on_fused_encoder(self) -> bool {
        matches!(
            self,
            Self::Bert | Self::DistilBert | Self::Roberta | Self::XlmRoberta
        )
    }

    /// Whether the network is RoBERTa's (positions counted from `pad_token_id + 1`, a dense +
    /// tanh head on `<s>`).
    pub(crate) fn is_roberta_family(self) -> bool {
        matches!(self, Self::Roberta | Self::XlmRoberta)
    }

    /// Whether positions are counted from `pad_token_id + 1`, which costs the model that many
    /// of its position embeddings (RoBERTa's family and Longformer).
    pub(crate) fn positions_after_padding(self) -> bool {
        matches!(self, Self::Roberta | Self::XlmRoberta | Self::Longformer)
    }

    /// The `model_type`s the crate runs, comma-separated, for error messages.
    pub(crate) fn supported_list() -> String {
        Self::ALL.map(Self::model_type).join(", ")
    }

    pub(crate) fn from_model_type(model_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.model_type() == model_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_type_names_its_architecture() {
        for architecture in Architecture::ALL {
            assert_eq!(
                Architecture::from_model_type(architecture.model_type()),
                Some(architecture)
            );
        }
        assert_eq!(Architecture::from_model_type("gpt2"), None);
        assert_eq!(
            Architecture::supported_list(),
            "bert, distilbert, roberta, xlm-roberta, albert, deberta-v2, mobilebert, longformer"
        );
    }
}
