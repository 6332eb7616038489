//! The crate's one error type.

use std::path::PathBuf;

use crate::finetune::FineTuneError;
use crate::hub::HubError;

/// Everything that can go wrong while loading a model or classifying text.
///
/// Each variant names the file, tensor or option involved and keeps the underlying error as its
/// [`source`](std::error::Error::source), so nothing is lost to a string.
///
/// Third-party types: the only one in a field is `serde_json::Error` ([`Error::InvalidConfig`]),
/// kept because serde_json is stable at 1.x and a caller may want its line and column. libtorch's
/// and the tokenizers crate's errors are kept whole but boxed ([`BoxedSource`]), so that tch's
/// and tokenizers' versions (both pre-1.0, both bumped with libtorch or the tokenizer format)
/// are not part of this API; `source()` reaches them, and `downcast_ref` gets them back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The model directory does not exist (or is not a directory).
    #[error("model directory {path} does not exist")]
    MissingModelDir {
        /// The directory as given.
        path: PathBuf,
    },

    /// A file the model needs does not exist.
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
        "unsupported model_type {model_type:?} in {path} (supported: {})",
        crate::config::Architecture::supported_list()
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
        /// What the tokenizers crate said (a `tokenizers::Error`, itself a boxed error), kept
        /// whole as a [`BoxedSource`] so the tokenizers crate's version is not part of this API.
        #[source]
        source: BoxedSource,
    },

    /// The tokenizer failed on an input text. Repeats of the text in one call share the
    /// source.
    #[error("tokenization failed")]
    Tokenize {
        /// What the tokenizers crate said.
        #[source]
        source: SharedSource,
    },

    /// libtorch reported an error.
    #[error("libtorch error")]
    Torch {
        /// What libtorch said: a `tch::TchError`, boxed so that tch's version is not part of
        /// this API; `downcast_ref::<tch::TchError>()` gets it back for a caller that links tch.
        #[source]
        source: BoxedSource,
    },

    /// rust-bert refused a model it runs for the crate (ALBERT, DeBERTa-v2, MobileBERT,
    /// Longformer): its config, or an input.
    #[error("rust-bert's {architecture} model failed")]
    RustBert {
        /// The architecture's `model_type`.
        architecture: &'static str,
        /// What rust-bert said.
        #[source]
        source: BoxedSource,
    },

    /// rust-bert's model code (or libtorch under it) panicked during a forward pass; the
    /// panic was caught, and the texts of that pass get this error.
    #[error("rust-bert's {architecture} model panicked: {message}")]
    ModelPanicked {
        /// The architecture's `model_type`.
        architecture: &'static str,
        /// The panic's message.
        message: String,
    },

    /// The network returned a different number of logit rows than the texts it was given (a
    /// broken engine; never expected of the crate's own network).
    #[error("the model returned {rows} rows of logits for {texts} texts")]
    LogitRows {
        /// Rows returned.
        rows: usize,
        /// Texts in the pass.
        texts: usize,
    },

    /// A text's logits do not have one value per label.
    #[error("the model returned {found} values for a text, but it has {labels} labels")]
    LogitWidth {
        /// Labels in `id2label`.
        labels: usize,
        /// Values the model returned for the text.
        found: usize,
    },

    /// A linear layer packed for MKL was given an input it cannot take (not f32 on the CPU,
    /// the wrong width, or too many rows for one GEMM); the crate's network never does this.
    #[error("packed linear layer [{outputs}, {inputs}] cannot take input {input:?}: {reason}")]
    PackedLinearInput {
        /// The layer's outputs.
        outputs: i64,
        /// The layer's inputs.
        inputs: i64,
        /// The input's shape.
        input: Vec<i64>,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A step of a small pass on the crate's own row kernels (attention, LayerNorm, GELU or a
    /// product) could not run: its buffers did not fit, or a helper thread panicked. The
    /// crate's network never gives them buffers that do not fit.
    #[error("the small pass's {step} failed: {reason}")]
    SmallPass {
        /// The step: "attention", "LayerNorm", "GELU" or a product.
        step: &'static str,
        /// What went wrong.
        reason: &'static str,
    },

    /// MKL asked for a packed weight buffer too large to allocate as one tensor.
    #[error("MKL asked for a packed buffer of {floats} floats")]
    PackedBufferSize {
        /// The floats MKL asked for.
        floats: usize,
    },

    /// The operating system refused to start a worker thread.
    #[error("cannot start worker thread {index}")]
    WorkerSpawn {
        /// The worker's index.
        index: usize,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
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

    /// The classifier's queue already holds as many texts as
    /// [`max_queued`](crate::EmotionClassifierBuilder::max_queued) allows, and the call was
    /// one of the `try_` ones, which do not wait for room.
    #[error("the classifier is overloaded: {queued} texts queued, at most {limit} may be")]
    Overloaded {
        /// Texts queued when the call was refused.
        queued: usize,
        /// The bound.
        limit: usize,
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

    /// A threshold names a label the model does not have.
    #[error("a threshold is given for {label:?}{}, which is not one of the model's labels ({})", in_file(.path), .labels.join(", "))]
    UnknownThresholdLabel {
        /// The label as given.
        label: String,
        /// The `thresholds.json` it came from; `None` when it was set on the builder.
        path: Option<PathBuf>,
        /// The model's labels.
        labels: Vec<String>,
    },

    /// A threshold that cannot be one: not a finite number, or outside `0..=1` where the
    /// scores are probabilities.
    #[error("threshold {value} for {label:?}{} {reason}", in_file(.path))]
    InvalidThreshold {
        /// The label.
        label: String,
        /// The value given.
        value: f32,
        /// The `thresholds.json` it came from; `None` when it was set on the builder.
        path: Option<PathBuf>,
        /// Why it cannot be used.
        reason: &'static str,
    },

    /// `thresholds.json` is not a JSON object from label to number.
    #[error("invalid thresholds file {path} (expected a JSON object from label to threshold)")]
    InvalidThresholdsFile {
        /// The file.
        path: PathBuf,
        /// What serde found wrong.
        #[source]
        source: serde_json::Error,
    },

    /// A file could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A text is longer than the model takes, and long texts are refused
    /// ([`LongTexts::Reject`](crate::LongTexts::Reject)) instead of cut.
    #[error("the text has {tokens} tokens, more than the {limit} the model takes (special tokens included)")]
    TooLong {
        /// The text's tokens, with the model's special tokens.
        tokens: usize,
        /// The most the model takes.
        limit: usize,
    },

    /// [`explain`](crate::EmotionClassifier::explain) was given a text with no word in it.
    #[error("nothing to explain: the text has no words (it is empty or only whitespace)")]
    NothingToExplain,

    /// The server could not listen on its address, or lost its listener (feature `server`).
    #[error("cannot serve on {address}")]
    Serve {
        /// The address.
        address: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A hub model could not be had: a bad id or revision, the hub's answer, the download,
    /// or the cache (see [`HubError`]).
    #[error(transparent)]
    Hub(#[from] HubError),

    /// Fine-tuning refused its data, its model or a step (see [`FineTuneError`]).
    #[error(transparent)]
    FineTune(#[from] FineTuneError),
}

/// For the crate's own `?` on libtorch calls. Hidden: tch's types are not part of the API (see
/// [`Error::Torch`]), and this conversion may change with tch's version.
#[doc(hidden)]
impl From<tch::TchError> for Error {
    fn from(source: tch::TchError) -> Self {
        Error::Torch {
            source: Box::new(source),
        }
    }
}

/// A source error shared by several errors (the same text repeated in one call), kept whole.
pub type SharedSource = std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>;

/// A source error from another crate, kept whole (for its `Display` and its own sources) without
/// making that crate's types part of this crate's API.
pub type BoxedSource = Box<dyn std::error::Error + Send + Sync + 'static>;

/// " in FILE" for an error about a file's content, nothing for the builder's.
fn in_file(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| format!(" in {}", p.display()))
        .unwrap_or_default()
}

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
