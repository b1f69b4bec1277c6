//! In-process backend: a moka cache, weighed by entry size, with per-entry TTLs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache as Moka;

use crate::answer::CachedAnswer;
use crate::key::CacheKey;

#[derive(Debug, Clone)]
struct Entry {
    answer: Arc<CachedAnswer>,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<CacheKey, Entry> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &CacheKey,
        value: &Entry,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &CacheKey,
        value: &Entry,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

#[derive(Clone)]
pub(crate) struct MemoryBackend {
    cache: Moka<CacheKey, Entry>,
    capacity: u64,
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("capacity", &self.capacity)
            .field("weighted_size", &self.cache.weighted_size())
            .finish()
    }
}

impl MemoryBackend {
    /// `capacity`: total bytes of entries (as encoded) kept at most.
    pub(crate) fn new(capacity: u64) -> MemoryBackend {
        let cache = Moka::builder()
            .max_capacity(capacity)
            .weigher(|k: &CacheKey, v: &Entry| {
                u32::try_from(v.answer.encoded_len() + k.as_str().len()).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        MemoryBackend { cache, capacity }
    }

    pub(crate) async fn get(&self, key: &CacheKey) -> Option<CachedAnswer> {
        self.cache.get(key).await.map(|e| (*e.answer).clone())
    }

    pub(crate) async fn put(&self, key: &CacheKey, answer: &CachedAnswer, ttl: Duration) {
        let entry = Entry {
            answer: Arc::new(answer.clone()),
            ttl,
        };
        self.cache.insert(key.clone(), entry).await;
    }

    /// Applies pending evictions now (moka does it lazily).
    pub(crate) async fn run_pending_tasks(&self) {
        self.cache.run_pending_tasks().await;
    }

    pub(crate) fn weighted_size(&self) -> u64 {
        self.cache.weighted_size()
    }

    pub(crate) fn entry_count(&self) -> u64 {
        self.cache.entry_count()
    }
}
