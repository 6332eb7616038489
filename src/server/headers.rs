//! TEI's response headers on a computed answer: `x-compute-type`, `x-compute-time`,
//! `x-compute-characters`, `x-compute-tokens`, `x-total-time`, `x-tokenization-time`,
//! `x-queue-time`, `x-inference-time` (times in whole milliseconds, as TEI).

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::classifier::Timings;

/// The headers of an answer to `characters` characters of text, begun at `started`.
pub(crate) fn compute_headers(characters: usize, started: Instant, timings: &Timings) -> HeaderMap {
    let total = started.elapsed();
    let millis = |d: Duration| d.as_millis().to_string();
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    put("x-compute-type", "cpu".to_owned());
    put("x-compute-time", millis(total));
    put("x-compute-characters", characters.to_string());
    put("x-compute-tokens", timings.tokens.to_string());
    put("x-total-time", millis(total));
    put("x-tokenization-time", millis(timings.tokenization));
    put("x-queue-time", millis(timings.queue));
    put("x-inference-time", millis(timings.inference));
    headers
}

/// The characters (Unicode scalar values) of `texts`, as TEI counts them.
pub(crate) fn characters(texts: &[String]) -> usize {
    texts.iter().map(|t| t.chars().count()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tei_header_is_set_in_milliseconds() {
        let timings = Timings {
            tokenization: Duration::from_micros(2_600),
            queue: Duration::from_millis(7),
            inference: Duration::from_millis(11),
            tokens: 42,
        };
        let started = Instant::now() - Duration::from_millis(25);
        let headers = compute_headers(
            characters(&["héllo".into(), "ab".into()]),
            started,
            &timings,
        );
        let get = |name: &str| headers[name].to_str().unwrap().to_owned();
        assert_eq!(get("x-compute-type"), "cpu");
        assert_eq!(get("x-compute-characters"), "7");
        assert_eq!(get("x-compute-tokens"), "42");
        assert_eq!(get("x-tokenization-time"), "2");
        assert_eq!(get("x-queue-time"), "7");
        assert_eq!(get("x-inference-time"), "11");
        let total: u64 = get("x-total-time").parse().unwrap();
        assert!(total >= 25, "{total}");
        assert_eq!(get("x-compute-time"), get("x-total-time"));
    }
}
