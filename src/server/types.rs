//! The requests and answers, in TEI 1.9.3's shapes and names (its `router/src/http/types.rs`),
//! plus `/explain`'s and `/decide`'s; their OpenAPI schemas come from these types (utoipa).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::long_texts::TruncationSide;

/// Model input: a string, a pair of strings (refused: an emotion model reads one text), or a
/// batch of one-string lists.
#[derive(ToSchema)]
#[schema(example = "I can't wait to see you!")]
#[allow(dead_code)]
pub(crate) enum PredictInput {
    /// A single string.
    Single(String),
    /// A batch: each item a list of one string.
    Batch(Vec<Vec<String>>),
}

/// Which end of a long text is cut.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) enum TruncationDirection {
    /// Keep the end.
    Left,
    /// Keep the start.
    Right,
}

/// TEI's `PredictRequest`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct PredictRequest {
    #[serde(flatten)]
    pub(crate) texts: DecideRequest,
    /// The logits instead of the scores.
    #[serde(default)]
    #[schema(default = false, example = false)]
    pub(crate) raw_scores: bool,
}

/// The texts of `/predict` and `/decide`, and how to cut long ones.
#[derive(Deserialize, ToSchema)]
pub(crate) struct DecideRequest {
    #[schema(value_type = PredictInput)]
    pub(crate) inputs: Value,
    /// Cut long texts (default: the server's `--auto-truncate`).
    #[serde(default)]
    #[schema(nullable, example = false)]
    pub(crate) truncate: Option<bool>,
    #[serde(default)]
    #[schema(value_type = TruncationDirection, default = "Right")]
    pub(crate) truncation_direction: TruncationSide,
}

/// One label's score.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Prediction {
    #[schema(example = 0.5)]
    pub(crate) score: f32,
    #[schema(example = "joy")]
    pub(crate) label: String,
}

/// One text's predictions, or one list per text of a batch.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum PredictResponse {
    /// For a single text.
    Single(Vec<Prediction>),
    /// For a batch.
    Batch(Vec<Vec<Prediction>>),
}

/// `/explain`'s request.
#[derive(Deserialize, ToSchema)]
pub(crate) struct ExplainRequest {
    /// The text.
    #[schema(example = "I love this so much")]
    pub(crate) inputs: String,
    /// The label to explain (default: the text's top label).
    #[serde(default)]
    #[schema(nullable, example = "joy")]
    pub(crate) label: Option<String>,
}

/// One word's part in the scores.
#[derive(Serialize, ToSchema)]
pub(crate) struct WordAttribution {
    /// The word, as in the text.
    pub(crate) word: String,
    /// Its bytes in the text, `[start, end)`.
    pub(crate) bytes: [usize; 2],
    /// Its characters in the text, `[start, end)`.
    pub(crate) chars: [usize; 2],
    /// The explained label's score minus its score without the word.
    pub(crate) attribution: f32,
    /// The same for every label.
    pub(crate) attributions: BTreeMap<String, f32>,
}

/// `/explain`'s answer: the explained label, every label's score, and each word's attribution
/// (occlusion: the text's score minus the score without the word).
#[derive(Serialize, ToSchema)]
pub(crate) struct ExplainResponse {
    pub(crate) label: String,
    pub(crate) score: f32,
    /// Every label's score, highest first.
    pub(crate) scores: Vec<Prediction>,
    /// The words in text order.
    pub(crate) words: Vec<WordAttribution>,
}

/// TEI's `ClassifierModel`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ClassifierModel {
    pub(crate) id2label: BTreeMap<String, String>,
    pub(crate) label2id: BTreeMap<String, usize>,
}

/// TEI's `ModelType`, for a classifier.
#[derive(Serialize, ToSchema)]
pub(crate) enum ModelType {
    #[serde(rename = "classifier")]
    Classifier(ClassifierModel),
}

/// TEI's `Info`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Info {
    pub(crate) model_id: String,
    #[schema(nullable)]
    pub(crate) model_sha: Option<String>,
    pub(crate) model_dtype: String,
    pub(crate) served_model_name: String,
    pub(crate) model_type: ModelType,
    pub(crate) max_concurrent_requests: usize,
    pub(crate) max_input_length: usize,
    pub(crate) max_batch_tokens: usize,
    #[schema(nullable)]
    pub(crate) max_batch_requests: Option<usize>,
    pub(crate) max_client_batch_size: usize,
    pub(crate) auto_truncate: bool,
    pub(crate) tokenization_workers: usize,
    pub(crate) version: String,
    #[schema(nullable)]
    pub(crate) sha: Option<String>,
    #[schema(nullable)]
    pub(crate) docker_label: Option<String>,
}

/// TEI's `TokenizeInput`.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum TokenizeInput {
    Single(String),
    Batch(Vec<String>),
}

/// TEI's `TokenizeRequest`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct TokenizeRequest {
    pub(crate) inputs: TokenizeInput,
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub(crate) add_special_tokens: bool,
    /// Refused when set: the model has no prompts.
    #[serde(default)]
    #[schema(nullable)]
    pub(crate) prompt_name: Option<String>,
}

fn yes() -> bool {
    true
}

/// TEI's `SimpleToken`.
#[derive(Serialize, ToSchema)]
pub(crate) struct SimpleToken {
    pub(crate) id: u32,
    pub(crate) text: String,
    pub(crate) special: bool,
    #[schema(nullable)]
    pub(crate) start: Option<usize>,
    #[schema(nullable)]
    pub(crate) stop: Option<usize>,
}

/// TEI's `TokenizeResponse`: one list of tokens per input.
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenizeResponse(pub(crate) Vec<Vec<SimpleToken>>);

/// TEI's `InputIds`.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum InputIds {
    Single(Vec<u32>),
    Batch(Vec<Vec<u32>>),
}

/// TEI's `DecodeRequest`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct DecodeRequest {
    pub(crate) ids: InputIds,
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub(crate) skip_special_tokens: bool,
}

/// TEI's `DecodeResponse`: one text per list of ids.
#[derive(Serialize, ToSchema)]
pub(crate) struct DecodeResponse(pub(crate) Vec<String>);

/// TEI's `OpenAICompatErrorResponse`, for `/embeddings` and `/v1/embeddings`.
#[derive(Serialize, ToSchema)]
pub(crate) struct OpenAICompatErrorResponse {
    pub(crate) message: String,
    pub(crate) code: u16,
    pub(crate) error_type: super::errors::ErrorType,
}
