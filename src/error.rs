//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading a model or classifying text.
///
/// Each variant names the file, tensor or option involved and keeps the underlying error as its
/// [`source`](std::error::Error::source), so nothing is lost to a string.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory the model needs does not exist.
    #[error("missing model file {path}")]
    MissingFile {
        /// The path that was looked for.
        path: PathBuf,
    },

    /// A file exists but could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// `config.json` is not valid JSON or lacks a field the model needs.
    #[error("invalid model config {path}")]
    InvalidConfig {
        /// The config file.
        path: PathBuf,
        /// What serde found wrong.
        #[source]
        source: serde_json::Error,
    },

    /// `config.json` names an architecture this crate cannot run.
    #[error(
        "unsupported model_type {model_type:?} in {path} (supported: bert, distilbert, roberta)"
    )]
    UnsupportedModelType {
        /// The config file.
        path: PathBuf,
        /// The `model_type` it declares.
        model_type: String,
    },

    /// `config.json` has no `id2label`, or an empty one, so the model's labels are unknown.
    #[error("{path} has no id2label: the model's labels are unknown")]
    MissingLabels {
        /// The config file.
        path: PathBuf,
    },

    /// `id2label` in `config.json` does not number its labels `0..n`.
    #[error("{path}: id2label must map every id 0..{count} to a label; id {missing} is missing")]
    InvalidLabels {
        /// The config file.
        path: PathBuf,
        /// How many labels `id2label` holds.
        count: usize,
        /// The first id in `0..count` without a label.
        missing: usize,
    },

    /// The classifier in the weights has a different number of outputs than `id2label` has labels.
    #[error("{path}: id2label has {labels} labels but tensor {tensor} has {outputs} outputs")]
    LabelCountMismatch {
        /// The weights file.
        path: PathBuf,
        /// The classifier's output tensor.
        tensor: String,
        /// Labels in `id2label`.
        labels: usize,
        /// Rows of the classifier's output tensor.
        outputs: i64,
    },

    /// The weights file could not be parsed.
    #[error("invalid weights file {path}")]
    InvalidWeights {
        /// The weights file.
        path: PathBuf,
        /// What the parser found wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A tensor the architecture needs is not in the weights file.
    #[error("tensor {name} is missing from {path}")]
    MissingTensor {
        /// The tensor's name as the architecture expects it.
        name: String,
        /// The weights file.
        path: PathBuf,
    },

    /// A tensor in the weights file does not have the shape the config implies.
    #[error("tensor {name} in {path} has shape {found:?}, expected {expected:?}")]
    TensorShape {
        /// The tensor's name.
        name: String,
        /// The weights file.
        path: PathBuf,
        /// The shape the config implies.
        expected: Vec<i64>,
        /// The shape on disk.
        found: Vec<i64>,
    },

    /// A tensor in the weights file has a data type that is not a floating-point type.
    #[error("tensor {name} in {path} has dtype {dtype}, expected a floating-point type")]
    TensorDtype {
        /// The tensor's name.
        name: String,
        /// The weights file.
        path: PathBuf,
        /// The dtype on disk.
        dtype: String,
    },

    /// The tokenizer can produce token ids the model's embedding matrix has no row for.
    #[error("{path}: the tokenizer has {tokenizer_vocab} tokens but the model's embeddings have only {embedding_rows} rows")]
    VocabularyMismatch {
        /// The tokenizer file.
        path: PathBuf,
        /// Tokens the tokenizer knows, added tokens included.
        tokenizer_vocab: usize,
        /// Rows of the word embedding matrix.
        embedding_rows: i64,
    },

    /// `tokenizer.json` could not be loaded.
    #[error("cannot load tokenizer {path}")]
    TokenizerLoad {
        /// The tokenizer file.
        path: PathBuf,
        /// What the tokenizers crate said.
        #[source]
        source: tokenizers::Error,
    },

    /// The tokenizer failed on an input text.
    #[error("tokenization failed")]
    Tokenize {
        /// What the tokenizers crate said.
        #[source]
        source: tokenizers::Error,
    },

    /// libtorch reported an error.
    #[error("libtorch error")]
    Torch {
        /// What libtorch said.
        #[source]
        source: tch::TchError,
    },

    /// The model's forward pass failed: an input the network cannot take (its shape is
    /// described here), or a model output that does not fit its labels.
    #[error("model forward pass failed: {message}")]
    Forward {
        /// The panic message.
        message: String,
    },

    /// The forward pass for a group of texts failed; every text of that group gets this error,
    /// sharing the one underlying cause.
    #[error("the batch this text was in failed")]
    BatchFailed {
        /// Why the batch failed.
        #[source]
        source: std::sync::Arc<Error>,
    },

    /// One text of a [`classify_batch`](crate::EmotionClassifier::classify_batch) call failed.
    #[error("text {index} of the batch failed")]
    InBatch {
        /// The text's position in the input.
        index: usize,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },

    /// The worker thread that runs the model has stopped (after
    /// [`shutdown`](crate::EmotionClassifier::shutdown), or because it died), so this request
    /// cannot be answered.
    #[error("the classifier's worker has stopped")]
    WorkerStopped,

    /// A builder option has a value that cannot work.
    #[error("invalid option {option}: {reason}")]
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// Why its value was rejected.
        reason: &'static str,
    },

    /// Not a Hugging Face Hub model id (`name` or `owner/name`, letters, digits, `-`, `_`, `.`).
    #[error("invalid hub model id {id:?}: expected `owner/name` (letters, digits, '-', '_', '.')")]
    InvalidHubId {
        /// The id as given.
        id: String,
    },

    /// Not a usable revision: empty, absolute, or with a `..` part (it names a file in the cache).
    #[error("invalid hub revision {revision:?}: expected a branch, tag or commit hash")]
    InvalidRevision {
        /// The revision as given.
        revision: String,
    },

    /// No Hugging Face cache folder could be found: none of `HF_HUB_CACHE`, `HF_HOME`,
    /// `XDG_CACHE_HOME` is set and there is no home directory.
    #[error("no Hugging Face cache folder: set HF_HUB_CACHE or HF_HOME")]
    NoCacheDir,

    /// The hub has no such model, revision or file (HTTP 404).
    #[error("hub model {repo} (revision {revision}): {what} not found (HTTP 404)")]
    HubNotFound {
        /// The model id.
        repo: String,
        /// The revision asked for.
        revision: String,
        /// What was asked for: the model's listing or one file.
        what: String,
        /// The HTTP client's error.
        #[source]
        source: BoxedSource,
    },

    /// The hub answered with an HTTP error other than 404.
    #[error("hub model {repo}: {what}: HTTP {status}")]
    HubStatus {
        /// The model id.
        repo: String,
        /// What was asked for: the model's listing or one file.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The HTTP client's error.
        #[source]
        source: BoxedSource,
    },

    /// The hub could not be reached (connection refused, name resolution, TLS, timeout) and the
    /// model is not in the cache.
    #[error("cannot reach the hub at {endpoint} for {repo}, and it is not in the cache")]
    HubUnreachable {
        /// The model id.
        repo: String,
        /// The hub's address (`HF_ENDPOINT`).
        endpoint: String,
        /// The HTTP client's error.
        #[source]
        source: BoxedSource,
    },

    /// A download ended before the whole file arrived. Nothing was added to the cache: the bytes
    /// received stay in a `.part` file that the next download resumes.
    #[error("download of {file} for {repo} ended before the whole file arrived")]
    HubIncomplete {
        /// The model id.
        repo: String,
        /// The file being downloaded.
        file: String,
        /// The I/O error that ended it.
        #[source]
        source: BoxedSource,
    },

    /// A downloaded file's content does not match the hash the hub announced for it; the file
    /// was removed from the cache.
    #[error("download of {file} for {repo} is corrupt: expected hash {expected}, got {actual}")]
    HubIntegrity {
        /// The model id.
        repo: String,
        /// The file downloaded.
        file: String,
        /// The hash the hub announced (its ETag).
        expected: String,
        /// The hash of what arrived.
        actual: String,
    },

    /// The hub's listing of the model lacks a file it needs.
    #[error("hub model {repo} (revision {revision}) has no {file}")]
    HubMissingFile {
        /// The model id.
        repo: String,
        /// The revision.
        revision: String,
        /// The file (for weights, `model.safetensors`; for a tokenizer, `tokenizer.json`).
        file: &'static str,
    },

    /// Any other failure while fetching from the hub (writing the cache, an unexpected answer).
    #[error("hub model {repo}: {what} failed")]
    Hub {
        /// The model id.
        repo: String,
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: BoxedSource,
    },

    /// Offline (`HF_HUB_OFFLINE=1` or [`HubModel::offline`](crate::HubModel::offline)), and the
    /// cache lacks the model or one of its files.
    #[error("{repo} (revision {revision}) is not in the Hugging Face cache at {cache_dir} (missing {file}), and hub access is offline")]
    NotInCache {
        /// The model id.
        repo: String,
        /// The revision.
        revision: String,
        /// The cache folder looked in.
        cache_dir: PathBuf,
        /// The first file found missing.
        file: &'static str,
    },
}

impl From<tch::TchError> for Error {
    fn from(source: tch::TchError) -> Self {
        Error::Torch { source }
    }
}

/// A source error from another crate, kept whole (for its `Display` and its own sources) without
/// making that crate's types part of this crate's API.
pub type BoxedSource = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The message of a caught panic, from its payload (`panic!` gives a `String` or a `&str`).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
