//! Listing a revision's files and downloading the ones the cache lacks, through `hf-hub`.
//!
//! `hf-hub` 0.4's blocking client (ureq) is used: its 1.0 line is async-only, and a blocking
//! client keeps tokio out of a crate whose callers are mostly synchronous.

use std::io::IsTerminal;
use std::path::PathBuf;

use hf_hub::api::sync::{ApiBuilder, ApiError};
use hf_hub::{Cache, Repo, RepoType};

use super::settings::HubSettings;
use super::snapshot::{is_commit_hash, RepoCache};
use super::watchdog::{Heartbeat, Watched};
use super::{verify, HubError, HubModel};
use crate::error::{BoxedSource, Error, Result};
use crate::layout::{self, ModelFiles};

/// Lists `model`'s revision, downloads the needed files the cache lacks, checks each download,
/// and returns the snapshot folder.
pub(super) fn fetch(
    model: &HubModel,
    settings: &HubSettings,
    cache: &RepoCache,
    heartbeat: &Heartbeat,
) -> Result<PathBuf> {
    let repo_error = |what: &str, error: ApiError| map_error(model, settings, what, error);
    let api = ApiBuilder::from_cache(Cache::new(settings.cache_dir.clone()))
        .with_endpoint(settings.endpoint.clone())
        .with_token(settings.token_for_endpoint().map(str::to_owned))
        .with_progress(false)
        .build()
        .map_err(|e| repo_error("starting the HTTP client", e))?;
    let repo = api.repo(Repo::with_revision(
        model.id().to_owned(),
        RepoType::Model,
        model.revision_name().to_owned(),
    ));
    heartbeat.start("the file list");
    let info = guarded(model, "the file list", || repo.info())?
        .map_err(|e| repo_error("the file list", e))?;
    if !is_commit_hash(&info.sha) {
        return Err(other(
            model,
            "the file list",
            "the hub's commit hash is not 40 hex digits",
        ));
    }
    let listed: Vec<&str> = info.siblings.iter().map(|s| s.rfilename.as_str()).collect();
    let missing = |file| {
        Error::Hub(HubError::MissingFile {
            repo: model.id().to_owned(),
            revision: model.revision_name().to_owned(),
            file,
        })
    };
    let dir = cache.snapshot_dir(&info.sha);
    let download = |file: &str| -> Result<()> {
        if dir.join(file).is_file() {
            return Ok(());
        }
        heartbeat.start(file);
        let progress = Watched {
            heartbeat: heartbeat.clone(),
            show: std::io::stderr().is_terminal(),
        };
        let path = guarded(model, file, || repo.download_with_progress(file, progress))?
            .map_err(|e| repo_error(file, e))?;
        let checked = verify::check_download(&path).map_err(|e| {
            Error::Hub(HubError::Other {
                repo: model.id().to_owned(),
                what: format!("checking {file}"),
                source: Box::new(e),
            })
        })?;
        checked.map_err(|mismatch| {
            Error::Hub(HubError::Integrity {
                repo: model.id().to_owned(),
                file: file.to_owned(),
                expected: mismatch.expected,
                actual: mismatch.actual,
            })
        })
    };
    // The config says the architecture, which decides the tokenizer files (see `layout`); an
    // architecture the crate cannot run fails here, before the weights are downloaded.
    if !listed.contains(&layout::CONFIG) {
        return Err(missing(layout::CONFIG));
    }
    download(layout::CONFIG)?;
    let config_path = dir.join(layout::CONFIG);
    let (_, architecture) =
        crate::model_folder::read_architecture(&config_path, &layout::read(&config_path)?)?;
    let files = ModelFiles::choose(architecture, |file| listed.contains(&file)).map_err(missing)?;
    for file in files.all() {
        download(file)?;
    }
    cache
        .write_ref(model.revision_name(), &info.sha)
        .map_err(|e| {
            Error::Hub(HubError::Other {
                repo: model.id().to_owned(),
                what: "recording the revision in the cache".to_owned(),
                source: Box::new(e),
            })
        })?;
    Ok(dir)
}

/// Whether a complete snapshot in the cache may answer instead: the hub could not be reached or
/// failed on its side (as Python's `huggingface_hub` falls back).
pub(super) fn may_use_cache(error: &Error) -> bool {
    match error {
        Error::Hub(HubError::Unreachable { .. } | HubError::Timeout { .. }) => true,
        Error::Hub(HubError::Status { status, .. }) => *status >= 500,
        _ => false,
    }
}

/// Runs a call into `hf-hub`, turning a panic into [`HubError::Other`]: `hf-hub` 0.4 unwraps some of
/// what the server sends (a redirect without `Location` panics it), and a server's answer is
/// input like any other.
fn guarded<T>(model: &HubModel, what: &str, call: impl FnOnce() -> T) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).map_err(|payload| {
        let message = crate::error::panic_message(payload.as_ref());
        other(model, what, &format!("the hub client panicked: {message}"))
    })
}

fn other(model: &HubModel, what: &str, message: &str) -> Error {
    Error::Hub(HubError::Other {
        repo: model.id().to_owned(),
        what: what.to_owned(),
        source: message.into(),
    })
}

/// `hf-hub`'s error as this crate's: by HTTP status, unreachable hub, or body cut short.
fn map_error(model: &HubModel, settings: &HubSettings, what: &str, error: ApiError) -> Error {
    let repo = model.id().to_owned();
    let what = what.to_owned();
    match error {
        ApiError::TooManyRetries(inner) => map_error(model, settings, &what, *inner),
        ApiError::RequestError(request) => {
            let status = match &*request {
                ureq::Error::Status(status, _) => Some(*status),
                ureq::Error::Transport(_) => None,
            };
            let unreachable = matches!(
                &*request,
                ureq::Error::Transport(t) if matches!(
                    t.kind(),
                    ureq::ErrorKind::Dns
                        | ureq::ErrorKind::ConnectionFailed
                        | ureq::ErrorKind::Io
                        | ureq::ErrorKind::ProxyConnect
                )
            );
            let source: BoxedSource = request;
            match status {
                Some(404) => Error::Hub(HubError::NotFound {
                    repo,
                    revision: model.revision_name().to_owned(),
                    what,
                    source,
                }),
                Some(status) => Error::Hub(HubError::Status {
                    repo,
                    what,
                    status,
                    source,
                }),
                None if unreachable => Error::Hub(HubError::Unreachable {
                    repo,
                    endpoint: settings.endpoint.clone(),
                    source,
                }),
                None => Error::Hub(HubError::Other { repo, what, source }),
            }
        }
        ApiError::IoError(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::TimedOut
            ) =>
        {
            Error::Hub(HubError::Incomplete {
                repo,
                file: what,
                source: Box::new(io),
            })
        }
        other => Error::Hub(HubError::Other {
            repo,
            what,
            source: Box::new(other),
        }),
    }
}
