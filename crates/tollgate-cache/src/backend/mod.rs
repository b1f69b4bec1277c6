//! The storage behind the cache: one enum, three backends.

pub(crate) mod memcached;
pub(crate) mod memory;
pub(crate) mod redis;

use std::time::Duration;

use bytes::Bytes;

use crate::answer::CachedAnswer;
use crate::error::CacheError;
use crate::key::CacheKey;

#[derive(Debug)]
pub(crate) enum Backend {
    Memory(memory::MemoryBackend),
    Redis(Box<redis::RedisBackend>),
    Memcached(memcached::MemcachedBackend),
}

impl Backend {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Backend::Memory(_) => "memory",
            Backend::Redis(_) => "redis",
            Backend::Memcached(_) => "memcached",
        }
    }

    pub(crate) async fn get(&self, key: &CacheKey) -> Result<Option<CachedAnswer>, CacheError> {
        let raw: Option<Bytes> = match self {
            Backend::Memory(m) => return Ok(m.get(key).await),
            Backend::Redis(r) => r.get(key).await?,
            Backend::Memcached(m) => m.get(key).await?,
        };
        match raw {
            None => Ok(None),
            Some(data) => CachedAnswer::decode(data)
                .map(Some)
                .map_err(|e| CacheError::Corrupt(e.to_string())),
        }
    }

    pub(crate) async fn put(
        &self,
        key: &CacheKey,
        answer: &CachedAnswer,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        match self {
            Backend::Memory(m) => {
                m.put(key, answer, ttl).await;
                Ok(())
            }
            Backend::Redis(r) => r.put(key, &answer.encode(), ttl).await,
            Backend::Memcached(m) => m.put(key, &answer.encode(), ttl).await,
        }
    }

    pub(crate) async fn ping(&self) -> Result<(), CacheError> {
        match self {
            Backend::Memory(_) => Ok(()),
            Backend::Redis(r) => r.ping().await,
            Backend::Memcached(m) => m.ping().await,
        }
    }
}
