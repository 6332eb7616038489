//! [`serve`]: the router on a listener, with what only the connection loop can do: a bound on
//! open connections, a timeout on reading a request's headers (a slow client holds nothing
//! for long), graceful shutdown (stop accepting, let the requests in flight finish within the
//! shutdown timeout), and a watch on the model's workers (when one dies, `/health` answers
//! 503 and `serve` returns an error, so the process exits non-zero and is restarted).
//!
//! Built on hyper-util's connection builder and its `GracefulShutdown`, because `axum::serve`
//! has neither a header timeout nor a connection bound.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::config::ServerConfig;
use super::state::Served;
use crate::error::{Error, Result};
use crate::EmotionClassifier;

/// How often the workers' liveness is checked.
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// Completes once one of `classifier`'s workers has stopped, checked every [`WATCH_EVERY`].
async fn workers_gone(classifier: &EmotionClassifier) {
    while super::state::workers_all_alive(classifier) {
        tokio::time::sleep(WATCH_EVERY).await;
    }
}

/// Completes on SIGTERM (what Docker and Kubernetes send) or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Serves `classifier` under `config` on `listener` until `shutdown` completes; then stops
/// accepting, answers the requests in flight (waiting at most the config's shutdown timeout)
/// and returns `Ok(())`.
///
/// # Errors
/// [`Error::WorkerStopped`] when one of the classifier's workers stops or dies while serving (after
/// the requests in flight are answered, with 503 from then on);
/// [`Error::WorkerSpawn`] if a tokenizer thread cannot start.
pub async fn serve(
    listener: TcpListener,
    classifier: EmotionClassifier,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let served = Arc::new(Served::new(classifier, config)?);
    let app = super::app(Arc::clone(&served));
    if let Some(address) = served.config.prometheus_address {
        let metrics = TcpListener::bind(address)
            .await
            .map_err(|source| Error::Serve {
                address: address.to_string(),
                source,
            })?;
        let only_metrics = axum::Router::new()
            .fallback(super::info::metrics)
            .with_state(Arc::clone(&served));
        tokio::spawn(async move { axum::serve(metrics, only_metrics).await });
    }
    let config = &served.config;
    let connections = Arc::new(Semaphore::new(config.max_connections));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(config.header_timeout));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    let dead = workers_gone(&served.classifier);
    tokio::pin!(dead);
    let outcome = loop {
        let permit = tokio::select! {
            () = &mut shutdown => break Ok(()),
            () = &mut dead => break Err(Error::WorkerStopped),
            permit = Arc::clone(&connections).acquire_owned() => permit,
        };
        let Ok(permit) = permit else { break Ok(()) };
        let accepted = tokio::select! {
            () = &mut shutdown => break Ok(()),
            () = &mut dead => break Err(Error::WorkerStopped),
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait, do not spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(app.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    };
    if outcome.is_err() {
        tracing::error!("the model's workers stopped: shutting down");
    }
    served.stop();
    drop(listener);
    tracing::info!("shutting down: answering the requests in flight");
    if tokio::time::timeout(config.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still in flight after {:?}; closing anyway",
            config.shutdown_timeout
        );
    }
    outcome
}
