//! Redis backend: `SET key value PX ttl_ms`, `GET key`, over one multiplexed
//! connection that reconnects by itself (redis' `ConnectionManager`, created on first
//! use: no I/O, and no need for a runtime, until the first request; a Redis that is
//! down at start only means misses).

use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use crate::error::CacheError;
use crate::key::CacheKey;

pub(crate) struct RedisBackend {
    client: redis::Client,
    config: ConnectionManagerConfig,
    conn: OnceCell<ConnectionManager>,
    url: String,
    /// `storage.redis_prefix`.
    prefix: String,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: show only where it points.
        let shown = self.url.rsplit('@').next().unwrap_or_default();
        f.debug_struct("RedisBackend")
            .field("server", &shown)
            .finish()
    }
}

impl RedisBackend {
    pub(crate) fn new(
        url: &str,
        op_timeout: Duration,
        prefix: &str,
    ) -> Result<RedisBackend, CacheError> {
        let client = redis::Client::open(url)
            .map_err(|e| CacheError::Config(format!("invalid Redis URL for the cache: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(op_timeout))
            .set_response_timeout(Some(op_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        Ok(RedisBackend {
            client,
            config,
            conn: OnceCell::new(),
            url: url.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The Redis key of a cache key: the deployment's prefix, then the cache key
    /// without its own `tollgate:` (so the default prefix leaves it unchanged).
    fn redis_key(&self, key: &CacheKey) -> String {
        let k = key.as_str();
        format!(
            "{}{}",
            self.prefix,
            k.strip_prefix("tollgate:").unwrap_or(k)
        )
    }

    async fn conn(&self) -> Result<ConnectionManager, CacheError> {
        self.conn
            .get_or_try_init(|| async {
                ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
            })
            .await
            .cloned()
            .map_err(backend_err)
    }

    pub(crate) async fn get(&self, key: &CacheKey) -> Result<Option<Bytes>, CacheError> {
        let mut conn = self.conn().await?;
        let v: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.redis_key(key))
            .query_async(&mut conn)
            .await
            .map_err(backend_err)?;
        Ok(v.map(Bytes::from))
    }

    pub(crate) async fn put(
        &self,
        key: &CacheKey,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), CacheError> {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut conn = self.conn().await?;
        let () = redis::cmd("SET")
            .arg(self.redis_key(key))
            .arg(value)
            .arg("PX")
            .arg(ms)
            .query_async(&mut conn)
            .await
            .map_err(backend_err)?;
        Ok(())
    }

    pub(crate) async fn ping(&self) -> Result<(), CacheError> {
        let mut conn = self.conn().await?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(backend_err)?;
        Ok(())
    }
}

fn backend_err(e: redis::RedisError) -> CacheError {
    if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() || e.is_timeout() {
        CacheError::Unavailable(format!("redis: {e}"))
    } else {
        CacheError::Backend(format!("redis: {e}"))
    }
}
