//! A [`HubModel`]'s options merged with the environment variables Python's `huggingface_hub`
//! reads.

use std::path::PathBuf;
use std::time::Duration;

use super::HubError;
use super::HubModel;
use crate::error::{Error, Result};

/// The hub's address when neither [`HubModel::endpoint`] nor `HF_ENDPOINT` says otherwise.
pub(crate) const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// How long the hub may stay silent when neither [`HubModel::timeout`] nor
/// `HF_HUB_DOWNLOAD_TIMEOUT` says: Python's default.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to reach the hub for one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HubSettings {
    pub(crate) endpoint: String,
    pub(crate) cache_dir: PathBuf,
    pub(crate) offline: bool,
    pub(crate) token: Option<String>,
    /// The longest the hub may stay silent.
    pub(crate) timeout: Duration,
}

impl HubSettings {
    /// The model's own options first, then the environment.
    pub(crate) fn for_model(model: &HubModel) -> Result<Self> {
        Self::resolve(model, |name| {
            std::env::var_os(name).filter(|value| !value.is_empty())
        })
    }

    /// As [`for_model`](Self::for_model), reading variables through `var` (for tests).
    pub(crate) fn resolve(
        model: &HubModel,
        var: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Self> {
        let string_var = |name: &str| var(name).and_then(|v| v.into_string().ok());
        let endpoint = model
            .endpoint_override()
            .map(str::to_owned)
            .or_else(|| string_var("HF_ENDPOINT"))
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned())
            .trim_end_matches('/')
            .to_owned();
        let hf_home = var("HF_HOME").map(PathBuf::from).or_else(|| {
            var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".cache")))
                .map(|cache| cache.join("huggingface"))
        });
        let cache_dir = match model.cache_dir_override() {
            Some(dir) => dir.to_path_buf(),
            None => var("HF_HUB_CACHE")
                .map(PathBuf::from)
                .or_else(|| hf_home.as_ref().map(|home| home.join("hub")))
                .ok_or(Error::Hub(HubError::NoCacheDir))?,
        };
        let offline = model
            .offline_override()
            .unwrap_or_else(|| string_var("HF_HUB_OFFLINE").is_some_and(|v| is_true(&v)));
        let token = string_var("HF_TOKEN").or_else(|| {
            let file = hf_home?.join("token");
            let token = std::fs::read_to_string(file).ok()?;
            Some(token.trim().to_owned()).filter(|t| !t.is_empty())
        });
        let timeout = model
            .timeout_override()
            .or_else(|| {
                let seconds: f64 = string_var("HF_HUB_DOWNLOAD_TIMEOUT")?.trim().parse().ok()?;
                Duration::try_from_secs_f64(seconds)
                    .ok()
                    .filter(|t| !t.is_zero())
            })
            .unwrap_or(DEFAULT_TIMEOUT);
        Ok(Self {
            endpoint,
            cache_dir,
            offline,
            token,
            timeout,
        })
    }
}

impl HubSettings {
    /// The token, if it may be sent to the endpoint: only over https, or to a loopback address
    /// (a test server, or a local mirror). A token is never sent in clear text over a network.
    pub(crate) fn token_for_endpoint(&self) -> Option<&str> {
        let token = self.token.as_deref()?;
        endpoint_may_see_tokens(&self.endpoint).then_some(token)
    }
}

/// Whether a token may travel to `endpoint`: https, or plain http to a loopback host.
fn endpoint_may_see_tokens(endpoint: &str) -> bool {
    let lower = endpoint.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return true;
    }
    let Some(rest) = lower.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // No user-info tricks: `http://127.0.0.1@evil.example` goes to evil.example.
    if authority.contains('@') {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// How `huggingface_hub` reads a boolean variable.
fn is_true(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_uppercase().as_str(),
        "1" | "ON" | "YES" | "TRUE"
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::ffi::OsString;

    use super::*;

    fn with_env(model: &HubModel, vars: &[(&str, &str)]) -> Result<HubSettings> {
        let vars: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        HubSettings::resolve(model, |name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_follow_python() {
        let settings = with_env(&HubModel::new("a/b"), &[("HOME", "/home/u")]).unwrap();
        assert_eq!(settings.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(
            settings.cache_dir,
            PathBuf::from("/home/u/.cache/huggingface/hub")
        );
        assert!(!settings.offline);
        let xdg = with_env(
            &HubModel::new("a/b"),
            &[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/xdg")],
        )
        .unwrap();
        assert_eq!(xdg.cache_dir, PathBuf::from("/xdg/huggingface/hub"));
    }

    #[test]
    fn variables_then_options_win() {
        let env = [
            ("HOME", "/home/u"),
            ("HF_HOME", "/hf"),
            ("HF_ENDPOINT", "http://127.0.0.1:9/"),
            ("HF_HUB_OFFLINE", "yes"),
        ];
        let settings = with_env(&HubModel::new("a/b"), &env).unwrap();
        assert_eq!(settings.endpoint, "http://127.0.0.1:9");
        assert_eq!(settings.cache_dir, PathBuf::from("/hf/hub"));
        assert!(settings.offline);
        let cache = with_env(
            &HubModel::new("a/b"),
            &[("HF_HOME", "/hf"), ("HF_HUB_CACHE", "/c")],
        );
        assert_eq!(cache.unwrap().cache_dir, PathBuf::from("/c"));
        let model = HubModel::new("a/b")
            .endpoint("http://mirror")
            .cache_dir("/mine")
            .offline(false);
        let settings = with_env(&model, &env).unwrap();
        assert_eq!(settings.endpoint, "http://mirror");
        assert_eq!(settings.cache_dir, PathBuf::from("/mine"));
        assert!(!settings.offline);
    }

    #[test]
    fn offline_values_and_missing_home() {
        for (value, offline) in [
            ("1", true),
            ("TRUE", true),
            ("on", true),
            ("0", false),
            ("no", false),
        ] {
            let settings = with_env(
                &HubModel::new("a/b"),
                &[("HOME", "/h"), ("HF_HUB_OFFLINE", value)],
            );
            assert_eq!(settings.unwrap().offline, offline, "{value}");
        }
        assert!(matches!(
            with_env(&HubModel::new("a/b"), &[]),
            Err(Error::Hub(HubError::NoCacheDir))
        ));
    }

    #[test]
    fn a_token_travels_only_over_https_or_to_loopback() {
        for (endpoint, sent) in [
            ("https://huggingface.co", true),
            ("HTTPS://mirror.example:8443/hub", true),
            ("http://127.0.0.1:8080", true),
            ("http://127.45.0.9", true),
            ("http://localhost:9000/", true),
            ("http://[::1]:8080", true),
            ("http://huggingface.co", false),
            ("http://10.0.0.5:8080", false),
            ("http://127.0.0.1@evil.example", false),
            ("http://127.0.0.1.evil.example", false),
            ("ftp://127.0.0.1", false),
        ] {
            let settings = HubSettings {
                endpoint: endpoint.to_owned(),
                cache_dir: PathBuf::from("cache"),
                offline: false,
                token: Some("hf_secret".to_owned()),
                timeout: DEFAULT_TIMEOUT,
            };
            assert_eq!(settings.token_for_endpoint().is_some(), sent, "{endpoint}");
        }
    }

    #[test]
    fn token_from_variable_or_file() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("token"), "hf_file\n").unwrap();
        let home_str = home.path().to_str().unwrap();
        let from_file = with_env(&HubModel::new("a/b"), &[("HF_HOME", home_str)]).unwrap();
        assert_eq!(from_file.token.as_deref(), Some("hf_file"));
        let from_var = with_env(
            &HubModel::new("a/b"),
            &[("HF_HOME", home_str), ("HF_TOKEN", "hf_var")],
        )
        .unwrap();
        assert_eq!(from_var.token.as_deref(), Some("hf_var"));
    }
}
