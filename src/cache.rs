//! The result cache: scores by exact text, bounded, shared by every clone of a classifier.
//!
//! Built on `quick_cache` (a small, well-kept concurrent cache: sharded, lock-light reads that
//! do not allocate for `&str` keys, S3-FIFO eviction that keeps hot texts under a flood of
//! one-off ones, and no background threads, unlike moka). Pure Rust, no tensors.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, UnitWeighter};

use crate::scores::EmotionScores;

/// Counters of a classifier's result cache, read through `&self` at any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CacheStats {
    /// Lookups that found the text.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Entries dropped to make room.
    pub evictions: u64,
    /// Entries held now.
    pub entries: u64,
    /// The configured bound on entries (quick_cache splits it over shards, so the cache can
    /// hold a few entries more or fewer).
    pub capacity: u64,
}

/// Counts evictions.
#[derive(Clone, Default)]
struct CountEvictions(Arc<AtomicU64>);

impl Lifecycle<String, Arc<EmotionScores>> for CountEvictions {
    type RequestState = ();

    fn on_evict(&self, _: &mut (), _: String, _: Arc<EmotionScores>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

type Inner = Cache<String, Arc<EmotionScores>, UnitWeighter, DefaultHashBuilder, CountEvictions>;

/// A bounded map from text to its scores, safe to use from many threads.
pub(crate) struct ScoreCache {
    cache: Inner,
    capacity: u64,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: Arc<AtomicU64>,
}

impl ScoreCache {
    /// A cache of at most `capacity` texts; `None` for 0 (caching off).
    pub(crate) fn new(capacity: usize) -> Option<Self> {
        if capacity == 0 {
            return None;
        }
        let evictions = CountEvictions::default();
        let counter = Arc::clone(&evictions.0);
        let cache = Cache::with(
            capacity,
            capacity as u64,
            UnitWeighter,
            DefaultHashBuilder::default(),
            evictions,
        );
        Some(Self {
            cache,
            capacity: capacity as u64,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: counter,
        })
    }

    /// The cached scores of `text` if `usable` accepts them, counting a hit or a miss: an entry
    /// it refuses (a long text cut another way than this call cuts) counts as a miss. Costs a
    /// hash of the text and an `Arc` clone; no allocation.
    pub(crate) fn get_if(
        &self,
        text: &str,
        usable: impl Fn(&EmotionScores) -> bool,
    ) -> Option<Arc<EmotionScores>> {
        let found = self.cache.get(text).filter(|s| usable(s));
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Remembers the scores of `text`, evicting another entry if full.
    pub(crate) fn insert(&self, text: &str, scores: Arc<EmotionScores>) {
        self.cache.insert(text.to_string(), scores);
    }

    /// The counters now.
    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            entries: self.cache.len() as u64,
            capacity: self.capacity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(x: f32) -> Arc<EmotionScores> {
        Arc::new(EmotionScores::new(vec!["joy".to_string()].into(), vec![x]).unwrap())
    }

    fn any(_: &EmotionScores) -> bool {
        true
    }

    #[test]
    fn an_entry_the_call_refuses_is_a_miss() {
        let cache = ScoreCache::new(10).unwrap();
        cache.insert("long", scores(0.5));
        assert!(cache.get_if("long", |s| s.scores()[0] > 0.9).is_none());
        assert!(cache.get_if("long", any).is_some());
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (1, 1));
    }

    #[test]
    fn zero_capacity_disables() {
        assert!(ScoreCache::new(0).is_none());
    }

    #[test]
    fn counts_hits_and_misses_and_keys_by_exact_text() {
        let cache = ScoreCache::new(10).unwrap();
        assert!(cache.get_if("hello", any).is_none());
        cache.insert("hello", scores(0.5));
        assert_eq!(cache.get_if("hello", any).unwrap().scores(), [0.5]);
        assert!(cache.get_if("Hello", any).is_none());
        assert!(cache.get_if("hello ", any).is_none());
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.entries), (1, 3, 1));
    }

    #[test]
    fn stays_bounded_and_counts_evictions() {
        let cache = ScoreCache::new(100).unwrap();
        for i in 0..1000 {
            cache.insert(&format!("text {i}"), scores(0.1));
        }
        let stats = cache.stats();
        assert!(stats.entries <= 100, "{stats:?}");
        assert_eq!(stats.entries + stats.evictions, 1000, "{stats:?}");
    }
}
