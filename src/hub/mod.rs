//! Models from the Hugging Face Hub, through the `hf-hub` crate's blocking client.
//!
//! [`HubModel`] names a model and how to reach it; [`resolve`] turns it into a local snapshot
//! folder in the Hugging Face cache (the layout Python's `huggingface_hub` uses, so either side
//! reuses what the other downloaded), fetching only the files the model needs.
//!
//! - [`error`]: [`HubError`], why a hub model could not be had.
//! - [`model`]: the public description (id, revision, endpoint, cache, offline).
//! - [`settings`]: those options merged with `HF_ENDPOINT`, `HF_HUB_CACHE`, `HF_HOME`,
//!   `HF_HUB_OFFLINE` and `HF_TOKEN`.
//! - [`snapshot`]: finding a complete snapshot in the cache, without the network.
//! - [`fetch`]: listing and downloading, with hf-hub's errors mapped to [`crate::Error`].
//! - [`verify`]: checking each download against the hash the hub announced.
//! - [`watchdog`]: the timeout `hf-hub`'s client lacks (a fetch that stays silent is given up).
//!
//! Which files a model needs is [`crate::layout`]'s answer, as for a local folder: the hub
//! client reads `config.json` first, since the architecture decides the tokenizer files.

mod error;
mod fetch;
mod model;
mod settings;
mod snapshot;
mod verify;
mod watchdog;

use std::path::PathBuf;

use crate::error::{Error, Result};

pub use error::HubError;
pub use model::{HubModel, DEFAULT_HUB_MODEL};

/// The local folder holding `model`'s files, downloading what the cache lacks.
///
/// Offline, only the cache is used. Online, the hub is asked for the revision's file list; when
/// it cannot be reached (or answers 5xx) a complete snapshot already in the cache is used, as
/// Python does.
///
/// # Errors
/// [`Error::Hub`] with a [`HubError`]: [`HubError::InvalidId`], [`HubError::InvalidRevision`],
/// [`HubError::NoCacheDir`], [`HubError::NotInCache`] (offline), or what the hub or the
/// download did ([`HubError::NotFound`], [`HubError::Status`], [`HubError::Unreachable`],
/// [`HubError::Incomplete`], [`HubError::Integrity`], [`HubError::MissingFile`],
/// [`HubError::Other`]). The model's config, read to choose its files, can fail as a local
/// one does ([`Error::InvalidConfig`], [`Error::UnsupportedModelType`], ...).
pub(crate) fn resolve(model: &HubModel) -> Result<PathBuf> {
    model::validate_id(model.id())?;
    model::validate_revision(model.revision_name())?;
    let settings = settings::HubSettings::for_model(model)?;
    let cache = snapshot::RepoCache::new(&settings.cache_dir, model.id());
    let cached = || cache.complete_snapshot(model.revision_name());
    if settings.offline {
        return cached().map_err(|file| {
            Error::Hub(HubError::NotInCache {
                repo: model.id().to_owned(),
                revision: model.revision_name().to_owned(),
                cache_dir: settings.cache_dir.clone(),
                file,
            })
        });
    }
    let fetched = {
        let (owned_model, owned_settings) = (model.clone(), settings.clone());
        watchdog::run(
            model.id(),
            &settings.endpoint,
            settings.timeout,
            move |heartbeat| {
                let cache = snapshot::RepoCache::new(&owned_settings.cache_dir, owned_model.id());
                fetch::fetch(&owned_model, &owned_settings, &cache, heartbeat)
            },
        )
    };
    match fetched {
        Ok(dir) => Ok(dir),
        Err(error) if fetch::may_use_cache(&error) => cached().map_err(|_| error),
        Err(error) => Err(error),
    }
}
