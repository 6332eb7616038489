//! The result cache: scores by exact text, bounded in entries and in bytes, shared by every
//! clone of a classifier.
//!
//! Built on `quick_cache` (a small, well-kept concurrent cache: sharded, lock-light reads that
//! do not allocate for `&str` keys, S3-FIFO eviction that keeps hot texts under a flood of
//! one-off ones, and no background threads, unlike moka). Pure Rust, no tensors.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};

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
    /// The configured bound on the bytes the entries hold (their texts and scores).
    pub max_bytes: u64,
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

/// What an entry costs in memory: its text, its scores and logits, and the bookkeeping around
/// them.
pub(crate) fn entry_bytes(text: &str, scores: &EmotionScores) -> u64 {
    const OVERHEAD: usize = 128;
    let values = 2 * scores.scores().len() * std::mem::size_of::<f32>();
    (text.len() + values + OVERHEAD) as u64
}

/// Weighs an entry by its bytes, but never below the cache's byte bound over its entry bound:
/// so a total weight under the byte bound keeps both the bytes and the entries under theirs.
#[derive(Clone)]
struct Bytes {
    floor: u64,
}

impl Weighter<String, Arc<EmotionScores>> for Bytes {
    fn weight(&self, text: &String, scores: &Arc<EmotionScores>) -> u64 {
        entry_bytes(text, scores).max(self.floor)
    }
}

type Inner = Cache<String, Arc<EmotionScores>, Bytes, DefaultHashBuilder, CountEvictions>;

/// A bounded map from text to its scores, safe to use from many threads.
pub(crate) struct ScoreCache {
    cache: Inner,
    capacity: u64,
    max_bytes: u64,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: Arc<AtomicU64>,
}

impl ScoreCache {
    /// A cache of at most `capacity` texts holding at most `max_bytes` ([`entry_bytes`] each);
    /// `None` if either is 0 (caching off).
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Option<Self> {
        if capacity == 0 || max_bytes == 0 {
            return None;
        }
        let (entries, bytes) = (capacity as u64, max_bytes as u64);
        let evictions = CountEvictions::default();
        let counter = Arc::clone(&evictions.0);
        let cache = Cache::with(
            capacity,
            bytes,
            Bytes {
                floor: bytes.div_ceil(entries),
            },
            DefaultHashBuilder::default(),
            evictions,
        );
        Some(Self {
            cache,
            capacity: entries,
            max_bytes: bytes,
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
            max_bytes: self.max_bytes,
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
        let cache = ScoreCache::new(10, 1 << 20).unwrap();
        cache.insert("long", scores(0.5));
        assert!(cache.get_if("long", |s| s.scores()[0] > 0.9).is_none());
        assert!(cache.get_if("long", any).is_some());
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (1, 1));
    }

    #[test]
    fn zero_capacity_disables() {
        assert!(ScoreCache::new(0, 1 << 20).is_none());
        assert!(ScoreCache::new(10, 0).is_none());
    }

    #[test]
    fn counts_hits_and_misses_and_keys_by_exact_text() {
        let cache = ScoreCache::new(10, 1 << 20).unwrap();
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
        let cache = ScoreCache::new(100, 1 << 20).unwrap();
        for i in 0..1000 {
            cache.insert(&format!("text {i}"), scores(0.1));
        }
        let stats = cache.stats();
        assert!(stats.entries <= 100, "{stats:?}");
        assert_eq!(stats.entries + stats.evictions, 1000, "{stats:?}");
    }

    /// The bytes of what the cache holds now, counted by the entries' own sizes.
    fn held_bytes(cache: &ScoreCache, texts: &[String]) -> u64 {
        texts
            .iter()
            .filter_map(|t| cache.cache.peek(t.as_str()).map(|s| entry_bytes(t, &s)))
            .sum()
    }

    #[test]
    fn distinct_long_texts_stay_under_the_byte_bound() {
        // 1 MiB for up to 10,000 entries: 300 texts of 20 KB would be 6 MB.
        let max_bytes = 1 << 20;
        let cache = ScoreCache::new(10_000, max_bytes).unwrap();
        let texts: Vec<String> = (0..300)
            .map(|i| format!("{i:05}{}", "x".repeat(20_000)))
            .collect();
        for text in &texts {
            cache.insert(text, scores(0.1));
        }
        let held = held_bytes(&cache, &texts);
        assert!(held <= max_bytes as u64, "{held} bytes held");
        assert!(held > max_bytes as u64 / 2, "the cache is used: {held}");
        let stats = cache.stats();
        assert_eq!(stats.entries + stats.evictions, 300, "{stats:?}");
    }

    #[test]
    fn short_texts_are_bounded_by_entries_and_long_ones_by_bytes() {
        let cache = ScoreCache::new(50, 1 << 20).unwrap();
        for i in 0..1000 {
            cache.insert(&format!("t{i}"), scores(0.1));
        }
        assert!(cache.stats().entries <= 55, "{:?}", cache.stats());
        // A text larger than the whole cache is not kept.
        let cache = ScoreCache::new(50, 4096).unwrap();
        cache.insert(&"y".repeat(10_000), scores(0.2));
        assert_eq!(cache.stats().entries, 0);
    }
}
