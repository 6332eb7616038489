//! [`HubError`]: why a hub model could not be had.

use std::path::PathBuf;

use crate::error::BoxedSource;

/// Why a model on the Hugging Face Hub could not be loaded: the id or revision, the hub's
/// answer, the download or the cache. Reached as [`Error::Hub`](crate::Error::Hub).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// Not a Hugging Face Hub model id (`name` or `owner/name`, letters, digits, `-`, `_`, `.`).
    #[error("invalid hub model id {id:?}: expected `owner/name` (letters, digits, '-', '_', '.')")]
    InvalidId {
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
    NotFound {
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
    Status {
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
    Unreachable {
        /// The model id.
        repo: String,
        /// The hub's address (`HF_ENDPOINT`).
        endpoint: String,
        /// The HTTP client's error.
        #[source]
        source: BoxedSource,
    },

    /// The hub stayed silent longer than the timeout ([`HubModel::timeout`](crate::HubModel::timeout),
    /// `HF_HUB_DOWNLOAD_TIMEOUT`), and the cache has no complete snapshot to use instead.
    #[error("the hub at {endpoint} sent nothing for {after:?} while fetching {what} for {repo}")]
    Timeout {
        /// The model id.
        repo: String,
        /// The hub's address.
        endpoint: String,
        /// What was being fetched: the model's listing or one file.
        what: String,
        /// The timeout.
        after: std::time::Duration,
    },

    /// A download ended before the whole file arrived. Nothing was added to the cache: the bytes
    /// received stay in a `.part` file that the next download resumes.
    #[error("download of {file} for {repo} ended before the whole file arrived")]
    Incomplete {
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
    Integrity {
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
    MissingFile {
        /// The model id.
        repo: String,
        /// The revision.
        revision: String,
        /// The file (for weights, `model.safetensors`; for a tokenizer, `tokenizer.json`).
        file: &'static str,
    },

    /// Any other failure while fetching from the hub (writing the cache, an unexpected answer).
    #[error("hub model {repo}: {what} failed")]
    Other {
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
