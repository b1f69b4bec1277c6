use thiserror::Error;

/// What can go wrong in the cache. Only [`Cache::from_config`](crate::Cache::from_config)
/// and [`Cache::ping`](crate::Cache::ping) return it: on the request path a backend
/// error is logged, counted and taken as a miss.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CacheError {
    /// `storage.cache` (or the Redis URL) is not usable.
    #[error("{0}")]
    Config(String),
    /// The backend could not be reached (refused, reset, closed).
    #[error("{0}")]
    Unavailable(String),
    /// The backend answered with an error or something unreadable.
    #[error("{0}")]
    Backend(String),
    /// A stored entry could not be read back (written by another version, or corrupt).
    #[error("{0}")]
    Corrupt(String),
    /// The backend did not answer within the operation timeout.
    #[error("cache backend did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The entry is larger than the backend (or the configured bound) takes.
    #[error("cache entry of {size} bytes is over the {max}-byte limit")]
    TooLarge { size: usize, max: usize },
}
