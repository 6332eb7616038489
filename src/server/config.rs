//! [`ServerConfig`]: the server's limits and identity, with TEI 1.9's defaults, checked in
//! [`ServerConfigBuilder::build`].

use std::time::Duration;

use crate::error::{Error, Result};

/// TEI's `--max-concurrent-requests` default.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 512;
/// TEI's `--max-client-batch-size` default.
pub const DEFAULT_MAX_CLIENT_BATCH_SIZE: usize = 32;
/// TEI's `--payload-limit` default, in bytes.
pub const DEFAULT_PAYLOAD_LIMIT: usize = 2_000_000;

/// How a server behaves: what `/info` says of it, and every limit it enforces.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub(crate) model_id: String,
    pub(crate) model_dtype: String,
    pub(crate) max_concurrent_requests: usize,
    pub(crate) max_client_batch_size: usize,
    pub(crate) auto_truncate: bool,
    pub(crate) payload_limit: usize,
    pub(crate) api_key: Option<String>,
    pub(crate) cors_allow_origin: Option<Vec<String>>,
    pub(crate) tokenization_workers: usize,
    pub(crate) header_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_explain_words: usize,
    pub(crate) prometheus_address: Option<std::net::SocketAddr>,
}

impl ServerConfig {
    /// A builder with TEI 1.9's defaults.
    pub fn builder() -> ServerConfigBuilder {
        ServerConfigBuilder::default()
    }

    /// The most texts one request may hold.
    pub fn max_client_batch_size(&self) -> usize {
        self.max_client_batch_size
    }

    /// The largest request body, in bytes.
    pub fn payload_limit(&self) -> usize {
        self.payload_limit
    }

    /// How long a shutdown waits for requests in flight.
    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }
}

/// Builds a [`ServerConfig`]; every setter's value is checked in [`build`](Self::build).
///
/// ```
/// use emotion_classifier::server::ServerConfig;
/// let config = ServerConfig::builder()
///     .model_id("my-emotions")
///     .max_client_batch_size(64)
///     .api_key("s3cret")
///     .build()?;
/// assert_eq!(config.max_client_batch_size(), 64);
/// # Ok::<(), emotion_classifier::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ServerConfigBuilder {
    model_id: Option<String>,
    model_dtype: Option<String>,
    max_concurrent_requests: Option<usize>,
    max_client_batch_size: Option<usize>,
    auto_truncate: Option<bool>,
    payload_limit: Option<usize>,
    api_key: Option<String>,
    cors_allow_origin: Option<Vec<String>>,
    tokenization_workers: Option<usize>,
    header_timeout: Option<Duration>,
    body_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    shutdown_timeout: Option<Duration>,
    max_connections: Option<usize>,
    max_explain_words: Option<usize>,
    prometheus_address: Option<std::net::SocketAddr>,
}

impl ServerConfigBuilder {
    /// The model's name in `/info` (default `"emotion-classifier"`).
    pub fn model_id(mut self, id: impl Into<String>) -> Self {
        self.model_id = Some(id.into());
        self
    }

    /// `/info`'s `model_dtype` (default `"float32"`).
    pub fn model_dtype(mut self, dtype: impl Into<String>) -> Self {
        self.model_dtype = Some(dtype.into());
        self
    }

    /// Requests handled at once; the next gets 429 before any of it is tokenized (default
    /// 512, TEI's).
    pub fn max_concurrent_requests(mut self, n: usize) -> Self {
        self.max_concurrent_requests = Some(n);
        self
    }

    /// The most texts (or id lists) one request may hold; more is 422 (default 32, TEI's).
    pub fn max_client_batch_size(mut self, n: usize) -> Self {
        self.max_client_batch_size = Some(n);
        self
    }

    /// Whether a text longer than the model takes is cut when the request does not say
    /// `truncate` (default true, as TEI 1.9); off, it is refused with 422.
    pub fn auto_truncate(mut self, on: bool) -> Self {
        self.auto_truncate = Some(on);
        self
    }

    /// The largest request body in bytes (default 2,000,000, TEI's); a larger one is 413,
    /// refused from its `Content-Length` or while it is read, never parsed.
    pub fn payload_limit(mut self, bytes: usize) -> Self {
        self.payload_limit = Some(bytes);
        self
    }

    /// Requires `Authorization: Bearer <key>` on every route but `/health`, `/ping`, `GET /`
    /// and `/metrics` (default: none).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The origins CORS allows (`*` for any; default any, as TEI).
    pub fn cors_allow_origin(mut self, origins: Vec<String>) -> Self {
        self.cors_allow_origin = Some(origins);
        self
    }

    /// Threads that tokenize requests, off the async executor (default: the CPU's cores).
    pub fn tokenization_workers(mut self, n: usize) -> Self {
        self.tokenization_workers = Some(n);
        self
    }

    /// How long a client may take to send a request's headers (default 10 s); used by
    /// [`serve`](super::serve).
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = Some(timeout);
        self
    }

    /// How long a client may take to send a request's body (default 10 s): then 408.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = Some(timeout);
        self
    }

    /// How long a request may take in all, body and inference included (default 60 s): then
    /// 408.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// How long a shutdown (SIGTERM, Ctrl-C) waits for requests in flight (default 30 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }

    /// Open connections at most; more wait in the listener's backlog (default 1,024); used by
    /// [`serve`](super::serve).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = Some(n);
        self
    }

    /// The most words `/explain` takes: each word costs a text's pass (default 256).
    pub fn max_explain_words(mut self, n: usize) -> Self {
        self.max_explain_words = Some(n);
        self
    }

    /// Also serve the metrics on this address, at any path (TEI's `--prometheus-port`); used
    /// by [`serve`](super::serve). Default: only at the API's `/metrics`.
    pub fn prometheus_address(mut self, address: std::net::SocketAddr) -> Self {
        self.prometheus_address = Some(address);
        self
    }

    /// The configuration.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] naming a limit of 0, an empty API key, or a CORS origin that
    /// is not a valid header value.
    pub fn build(self) -> Result<ServerConfig> {
        let positive = |value: Option<usize>, default: usize, option: &'static str| {
            let value = value.unwrap_or(default);
            if value == 0 {
                return Err(Error::InvalidOption {
                    option,
                    reason: "must be at least 1",
                });
            }
            Ok(value)
        };
        let time = |value: Option<Duration>, default: u64, option: &'static str| {
            let value = value.unwrap_or(Duration::from_secs(default));
            if value.is_zero() {
                return Err(Error::InvalidOption {
                    option,
                    reason: "must be longer than zero",
                });
            }
            Ok(value)
        };
        if self.api_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
            return Err(Error::InvalidOption {
                option: "api_key",
                reason: "must not be empty",
            });
        }
        if let Some(origins) = &self.cors_allow_origin {
            if origins
                .iter()
                .any(|o| axum::http::HeaderValue::from_str(o).is_err())
            {
                return Err(Error::InvalidOption {
                    option: "cors_allow_origin",
                    reason: "an origin is not a valid header value",
                });
            }
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(ServerConfig {
            model_id: self
                .model_id
                .unwrap_or_else(|| "emotion-classifier".to_owned()),
            model_dtype: self.model_dtype.unwrap_or_else(|| "float32".to_owned()),
            max_concurrent_requests: positive(
                self.max_concurrent_requests,
                DEFAULT_MAX_CONCURRENT_REQUESTS,
                "max_concurrent_requests",
            )?,
            max_client_batch_size: positive(
                self.max_client_batch_size,
                DEFAULT_MAX_CLIENT_BATCH_SIZE,
                "max_client_batch_size",
            )?,
            auto_truncate: self.auto_truncate.unwrap_or(true),
            payload_limit: positive(self.payload_limit, DEFAULT_PAYLOAD_LIMIT, "payload_limit")?,
            api_key: self.api_key,
            cors_allow_origin: self.cors_allow_origin,
            tokenization_workers: positive(
                self.tokenization_workers,
                cores,
                "tokenization_workers",
            )?,
            header_timeout: time(self.header_timeout, 10, "header_timeout")?,
            body_timeout: time(self.body_timeout, 10, "body_timeout")?,
            request_timeout: time(self.request_timeout, 60, "request_timeout")?,
            shutdown_timeout: time(self.shutdown_timeout, 30, "shutdown_timeout")?,
            max_connections: positive(self.max_connections, 1024, "max_connections")?,
            max_explain_words: positive(self.max_explain_words, 256, "max_explain_words")?,
            prometheus_address: self.prometheus_address,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_teis_and_bad_values_are_named() {
        let config = ServerConfig::builder().build().unwrap();
        assert_eq!(config.max_concurrent_requests, 512);
        assert_eq!(config.max_client_batch_size, 32);
        assert_eq!(config.payload_limit, 2_000_000);
        assert!(config.auto_truncate);
        assert!(config.api_key.is_none());
        for (builder, option) in [
            (
                ServerConfig::builder().max_client_batch_size(0),
                "max_client_batch_size",
            ),
            (ServerConfig::builder().payload_limit(0), "payload_limit"),
            (ServerConfig::builder().api_key(" "), "api_key"),
            (
                ServerConfig::builder().cors_allow_origin(vec!["a\nb".into()]),
                "cors_allow_origin",
            ),
            (
                ServerConfig::builder().request_timeout(Duration::ZERO),
                "request_timeout",
            ),
        ] {
            match builder.build() {
                Err(Error::InvalidOption { option: got, .. }) => assert_eq!(got, option),
                other => panic!("{option}: {other:?}"),
            }
        }
    }
}
