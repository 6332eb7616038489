//! [`HubModel`]: a model on the Hugging Face Hub and how to reach it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::HubError;
use crate::error::{Error, Result};

/// The model used when nothing else is configured: DistilRoBERTa fine-tuned on six emotion
/// datasets, the seven Ekman labels, softmax.
pub const DEFAULT_HUB_MODEL: &str = "j-hartmann/emotion-english-distilroberta-base";

/// A model on the Hugging Face Hub.
///
/// Unset options come from the environment, as in Python: `HF_ENDPOINT` (default
/// `https://huggingface.co`), `HF_HUB_CACHE` or `HF_HOME` (default `~/.cache/huggingface`, whose
/// `hub/` folder is shared with Python), `HF_HUB_OFFLINE=1` and `HF_TOKEN` (or the token file
/// `huggingface-cli login` writes).
///
/// ```no_run
/// use emotion_classifier::{EmotionClassifier, HubModel};
/// let classifier = EmotionClassifier::builder()
///     .model(HubModel::new("j-hartmann/emotion-english-distilroberta-base").revision("main"))
///     .build()?;
/// # Ok::<(), emotion_classifier::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct HubModel {
    id: String,
    revision: String,
    endpoint: Option<String>,
    cache_dir: Option<PathBuf>,
    offline: Option<bool>,
    timeout: Option<Duration>,
}

impl HubModel {
    /// The model `id` (`owner/name`) at its default branch, `main`. The id is checked when the
    /// classifier is built.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            revision: "main".to_owned(),
            endpoint: None,
            cache_dir: None,
            offline: None,
            timeout: None,
        }
    }

    /// A branch, tag or commit hash instead of `main`.
    pub fn revision(mut self, revision: impl Into<String>) -> Self {
        self.revision = revision.into();
        self
    }

    /// The hub's address, instead of `HF_ENDPOINT` or `https://huggingface.co`.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The cache folder (the one holding `models--owner--name` folders), instead of
    /// `HF_HUB_CACHE`, `$HF_HOME/hub` or `~/.cache/huggingface/hub`.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Use only the cache (`true`) or allow the network (`false`), whatever `HF_HUB_OFFLINE` says.
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = Some(offline);
        self
    }

    /// The longest the hub may stay silent: to connect, to answer, or between two pieces of a
    /// download. Past it the build ends with [`HubError::Timeout`] (or, when the cache holds a
    /// complete snapshot of the revision, uses that, as for an unreachable hub), instead of
    /// `HF_HUB_DOWNLOAD_TIMEOUT` (seconds) or 10 s, Python's default. A slow download that
    /// keeps sending is never cut off.
    ///
    /// `hf-hub`'s client has no timeouts of its own, so the download runs on a thread of its
    /// own that the build stops waiting for; that thread ends when the hub closes the
    /// connection.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The model id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The revision: a branch, tag or commit hash.
    pub fn revision_name(&self) -> &str {
        &self.revision
    }

    pub(crate) fn endpoint_override(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    pub(crate) fn cache_dir_override(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }

    pub(crate) fn offline_override(&self) -> Option<bool> {
        self.offline
    }

    pub(crate) fn timeout_override(&self) -> Option<Duration> {
        self.timeout
    }

    /// Reads `owner/name` or `owner/name@revision`; `None` when `text` is not a hub id.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (id, revision) = match text.split_once('@') {
            Some((id, revision)) if !revision.is_empty() => (id, Some(revision)),
            Some(_) => return None,
            None => (text, None),
        };
        validate_id(id).ok()?;
        let model = Self::new(id);
        Some(match revision {
            Some(revision) => model.revision(revision),
            None => model,
        })
    }
}

/// Checks `id` as the hub does: `name` or `owner/name`, each part made of ASCII letters, digits,
/// `-`, `_` and `.`, not starting or ending with `-` or `.`, without `--` or `..`, at most 96
/// characters.
pub(crate) fn validate_id(id: &str) -> Result<()> {
    let part_ok = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !part.starts_with(['-', '.'])
            && !part.ends_with(['-', '.'])
    };
    let parts: Vec<&str> = id.split('/').collect();
    let ok = id.len() <= 96
        && !id.contains("--")
        && !id.contains("..")
        && (1..=2).contains(&parts.len())
        && parts.iter().all(|part| part_ok(part));
    if ok {
        Ok(())
    } else {
        Err(Error::Hub(HubError::InvalidId { id: id.to_owned() }))
    }
}

/// Checks that `revision` can name a file under the cache's `refs/` folder: not empty, not
/// absolute, no empty or `.`/`..` part, and only ASCII letters, digits, `-`, `_`, `.`, `/`, `+`.
/// Branches like `refs/pr/1` pass.
pub(crate) fn validate_revision(revision: &str) -> Result<()> {
    let ok = !revision.is_empty()
        && revision
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '+'))
        && revision
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if ok {
        Ok(())
    } else {
        Err(Error::Hub(HubError::InvalidRevision {
            revision: revision.to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_hubs_rules() {
        for good in [DEFAULT_HUB_MODEL, "gpt2", "a/b", "Org_1/model.v2-final"] {
            assert!(validate_id(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/",
            "a/",
            "/b",
            "a/b/c",
            "../models/x",
            "./x",
            "a--b/c",
            "a/b..c",
            "-a/b",
            "a/b.",
            "has space/x",
            "ünï/code",
            &"x".repeat(97),
        ] {
            assert!(
                matches!(
                    validate_id(bad),
                    Err(Error::Hub(HubError::InvalidId { .. }))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn revisions_stay_inside_the_cache() {
        for good in [
            "main",
            "v1.0",
            "refs/pr/1",
            "0123456789abcdef0123456789abcdef01234567",
        ] {
            assert!(validate_revision(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../../x",
            "a/../b",
            "a//b",
            "main/",
            ".",
            "a b",
            "a\\b",
        ] {
            assert!(
                matches!(
                    validate_revision(bad),
                    Err(Error::Hub(HubError::InvalidRevision { .. }))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parse_reads_an_optional_revision() {
        let model = HubModel::parse("owner/name@v1.0").unwrap();
        assert_eq!((model.id(), model.revision_name()), ("owner/name", "v1.0"));
        assert_eq!(
            HubModel::parse("owner/name").unwrap().revision_name(),
            "main"
        );
        assert_eq!(HubModel::parse("owner/name@"), None);
        assert_eq!(HubModel::parse("/abs/path"), None);
    }
}
