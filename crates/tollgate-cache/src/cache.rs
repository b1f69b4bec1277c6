//! The cache: a backend, single-flight fills, and error handling that never fails a
//! request.
//!
//! # Single flight
//! Concurrent identical misses on this node reach the upstream once, whatever the
//! backend: the first becomes the *leader* and fills; the others wait on it and get
//! its answer directly (not through the backend), reported as [`CacheOutcome::Hit`]
//! (they did not call the upstream). Waiting is per node: two nodes may each fill
//! once.
//!
//! - A fill that **fails** ([`Cache::get_or_fill`]'s `fill` returns `Err`) is not
//!   cached, and every waiter gets a clone of the same error (the requests were
//!   identical; retrying each would multiply load on an upstream that is failing).
//! - A leader that is **cancelled** (its client went away, its future dropped) or whose
//!   [`FillGuard`] is dropped unfinished wakes its waiters, which elect a new leader
//!   among themselves (one of them fills; the rest keep waiting).
//! - An answer that is not a success (status outside 2xx) is handed to the waiters
//!   but not stored.
//!
//! # Errors
//! A backend error (unreachable, timeout, unreadable entry) is logged, counted in
//! `tollgate_cache_errors_total{backend}` and taken as a miss (or, for a store, as not
//! stored). No request ever fails because of the cache. After a remote backend cannot
//! be reached (connection refused or reset, timeout), it is left alone for
//! [`Cache::BACKOFF`]: lookups and stores meanwhile are immediate misses, so an outage
//! costs one request per second the operation timeout, not every request.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::answer::CachedAnswer;
use crate::backend::Backend;
use crate::backend::memcached::{MAX_VALUE_BYTES, MemcachedBackend};
use crate::backend::memory::MemoryBackend;
use crate::backend::redis::RedisBackend;
use crate::error::CacheError;
use crate::key::CacheKey;

/// Counter of backend errors, labelled `backend` (`memory` | `redis` | `memcached`).
pub const CACHE_ERRORS_TOTAL: &str = "tollgate_cache_errors_total";

/// Tuning; [`Default`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheOptions {
    /// Memory backend: total size of the entries kept (default 256 MiB).
    pub memory_capacity_bytes: u64,
    /// The largest entry stored, as encoded (default 8 MiB; Memcached takes at most
    /// [`crate::MEMCACHED_MAX_VALUE_BYTES`] whatever this says).
    pub max_entry_bytes: usize,
    /// A remote backend's answer is awaited this long, then taken as a miss (default
    /// 1 s; also the Redis connect timeout).
    pub op_timeout: Duration,
    /// Redis backend: the namespace of its keys (`storage.redis_prefix`, default
    /// `tollgate:`), so that deployments or test runs sharing one Redis stay apart.
    /// An entry is stored under the prefix followed by the [`CacheKey`] without its
    /// own leading `tollgate:` (with the default prefix: the key unchanged).
    pub redis_prefix: String,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            memory_capacity_bytes: 256 * 1024 * 1024,
            max_entry_bytes: 8 * 1024 * 1024,
            op_timeout: Duration::from_secs(1),
            redis_prefix: "tollgate:".to_string(),
        }
    }
}

/// Whether an answer came from the cache (or a concurrent identical request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheOutcome {
    Hit,
    Miss,
}

impl CacheOutcome {
    /// The `x-tollgate-cache` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheOutcome::Hit => "hit",
            CacheOutcome::Miss => "miss",
        }
    }

    pub fn is_hit(self) -> bool {
        self == CacheOutcome::Hit
    }
}

/// What [`Cache::begin`] found.
#[derive(Debug)]
pub enum Begin {
    /// In the cache, or produced by a concurrent identical request while waiting.
    Hit(CachedAnswer),
    /// This request fills: forward it, record the answer, then
    /// [`FillGuard::finish`] (or drop the guard if it did not end cleanly).
    Fill(FillGuard),
    /// Another request has been filling for longer than `wait`: forward without
    /// coordination (the answer may still be [`Cache::put`]).
    Miss,
}

#[derive(Clone)]
enum FlightState {
    Pending,
    Done(Arc<CachedAnswer>),
    Failed(Arc<dyn Any + Send + Sync>),
    Abandoned,
}

struct Flight {
    tx: watch::Sender<FlightState>,
}

struct Inner {
    backend: Backend,
    opts: CacheOptions,
    max_entry_bytes: usize,
    flights: Mutex<HashMap<CacheKey, Arc<Flight>>>,
    errors: AtomicU64,
    /// A remote backend that just failed is not asked again before this.
    down_until: Mutex<Option<Instant>>,
}

/// The response cache. Cheap to clone (one `Arc`); build one at start.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("backend", &self.inner.backend)
            .field("max_entry_bytes", &self.inner.max_entry_bytes)
            .finish()
    }
}

impl Cache {
    /// Longer TTLs are cut to this (a year).
    pub const MAX_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

    /// How long a remote backend that failed to answer is left alone.
    pub const BACKOFF: Duration = Duration::from_secs(1);

    /// The cache `storage.cache` names: `memory`, `redis` (at `redis_url`, i.e.
    /// `storage.redis`), or `memcached://host:port`. A `redis://` or `rediss://` URL is
    /// also taken as `redis` at that URL. No I/O happens here: an unreachable server
    /// shows as errors (misses) later, and in [`ping`](Self::ping).
    pub fn from_config(backend: &str, redis_url: Option<&str>) -> Result<Cache, CacheError> {
        Cache::from_config_with(backend, redis_url, CacheOptions::default())
    }

    /// [`from_config`](Self::from_config) with options.
    pub fn from_config_with(
        backend: &str,
        redis_url: Option<&str>,
        opts: CacheOptions,
    ) -> Result<Cache, CacheError> {
        let spec = backend.trim();
        let b = if spec.is_empty() || spec == "memory" {
            Backend::Memory(MemoryBackend::new(opts.memory_capacity_bytes))
        } else if spec == "redis" {
            let url = redis_url.filter(|u| !u.trim().is_empty()).ok_or_else(|| {
                CacheError::Config(
                    "storage.cache is `redis` but storage.redis (the Redis URL) is not set".into(),
                )
            })?;
            Backend::Redis(Box::new(RedisBackend::new(
                url.trim(),
                opts.op_timeout,
                &opts.redis_prefix,
            )?))
        } else if spec.starts_with("redis://") || spec.starts_with("rediss://") {
            Backend::Redis(Box::new(RedisBackend::new(
                spec,
                opts.op_timeout,
                &opts.redis_prefix,
            )?))
        } else if let Some(rest) = spec.strip_prefix("memcached://") {
            Backend::Memcached(MemcachedBackend::new(&memcached_addr(rest)?))
        } else {
            return Err(CacheError::Config(format!(
                "storage.cache `{spec}` is not one of `memory`, `redis`, `memcached://HOST:PORT`"
            )));
        };
        Ok(Cache::with_backend(b, opts))
    }

    /// An in-memory cache of at most `capacity_bytes`.
    pub fn memory(capacity_bytes: u64) -> Cache {
        let opts = CacheOptions {
            memory_capacity_bytes: capacity_bytes,
            ..CacheOptions::default()
        };
        Cache::with_backend(Backend::Memory(MemoryBackend::new(capacity_bytes)), opts)
    }

    fn with_backend(backend: Backend, opts: CacheOptions) -> Cache {
        let max_entry_bytes = match backend {
            Backend::Memcached(_) => opts.max_entry_bytes.min(MAX_VALUE_BYTES),
            Backend::Memory(_) => opts
                .max_entry_bytes
                .min(usize::try_from(opts.memory_capacity_bytes).unwrap_or(usize::MAX)),
            Backend::Redis(_) => opts.max_entry_bytes,
        };
        Cache {
            inner: Arc::new(Inner {
                backend,
                opts,
                max_entry_bytes,
                flights: Mutex::new(HashMap::new()),
                errors: AtomicU64::new(0),
                down_until: Mutex::new(None),
            }),
        }
    }

    /// `memory`, `redis` or `memcached`.
    pub fn backend_name(&self) -> &'static str {
        self.inner.backend.name()
    }

    /// The largest entry this cache stores (as encoded): the bound for a
    /// [`StreamRecorder`](crate::StreamRecorder).
    pub fn max_entry_bytes(&self) -> usize {
        self.inner.max_entry_bytes
    }

    /// Backend errors since start (also in `tollgate_cache_errors_total`).
    pub fn error_count(&self) -> u64 {
        self.inner.errors.load(Ordering::Relaxed)
    }

    /// Fills in progress on this node.
    pub fn fills_in_flight(&self) -> usize {
        self.inner.flights.lock().len()
    }

    /// Whether the backend answers (for readiness checks; always `Ok` for memory).
    pub async fn ping(&self) -> Result<(), CacheError> {
        let timeout = self.inner.opts.op_timeout;
        match tokio::time::timeout(timeout, self.inner.backend.ping()).await {
            Ok(r) => r,
            Err(_) => Err(CacheError::Timeout(timeout)),
        }
    }

    /// The entry under `key`, if any (a backend error is a miss).
    pub async fn get(&self, key: &CacheKey) -> Option<CachedAnswer> {
        let r = match &self.inner.backend {
            Backend::Memory(_) => self.inner.backend.get(key).await,
            _ => {
                if self.backing_off() {
                    return None;
                }
                let timeout = self.inner.opts.op_timeout;
                tokio::time::timeout(timeout, self.inner.backend.get(key))
                    .await
                    .unwrap_or(Err(CacheError::Timeout(timeout)))
            }
        };
        match r {
            Ok(v) => v,
            Err(e) => {
                self.error("get", &e);
                None
            }
        }
    }

    /// Stores `answer` under `key` for `ttl`. Returns whether it was stored: not when
    /// it is not a success, `ttl` is zero, it is over [`max_entry_bytes`], or the
    /// backend failed (logged and counted).
    ///
    /// [`max_entry_bytes`]: Self::max_entry_bytes
    pub async fn put(&self, key: &CacheKey, answer: &CachedAnswer, ttl: Duration) -> bool {
        if !answer.is_cacheable() || ttl.is_zero() {
            return false;
        }
        let ttl = ttl.min(Self::MAX_TTL);
        let size = answer.encoded_len();
        if size > self.inner.max_entry_bytes {
            tracing::debug!(key = %key, size, max = self.inner.max_entry_bytes, "answer too large to cache");
            return false;
        }
        let r = match &self.inner.backend {
            Backend::Memory(_) => self.inner.backend.put(key, answer, ttl).await,
            _ => {
                if self.backing_off() {
                    return false;
                }
                let timeout = self.inner.opts.op_timeout;
                tokio::time::timeout(timeout, self.inner.backend.put(key, answer, ttl))
                    .await
                    .unwrap_or(Err(CacheError::Timeout(timeout)))
            }
        };
        match r {
            Ok(()) => true,
            Err(CacheError::TooLarge { size, max }) => {
                tracing::debug!(key = %key, size, max, "answer too large to cache");
                false
            }
            Err(e) => {
                self.error("put", &e);
                false
            }
        }
    }

    /// The cached answer for `key`, or `fill`'s, run at most once on this node for
    /// concurrent identical calls (see the module docs). The answer is stored for
    /// `ttl` when it is a success. `Hit` when this call did not run `fill`.
    pub async fn get_or_fill<F, E>(
        &self,
        key: &CacheKey,
        ttl: Duration,
        fill: F,
    ) -> Result<(CachedAnswer, CacheOutcome), E>
    where
        F: Future<Output = Result<CachedAnswer, E>>,
        E: Clone + Send + Sync + 'static,
    {
        if let Some(a) = self.get(key).await {
            return Ok((a, CacheOutcome::Hit));
        }
        let lead = loop {
            match self.join(key) {
                Role::Lead(lead) => break lead,
                Role::Wait(rx) => match wait(rx).await {
                    FlightState::Done(a) => return Ok(((*a).clone(), CacheOutcome::Hit)),
                    FlightState::Failed(e) => {
                        if let Some(e) = e.downcast_ref::<E>() {
                            return Err(e.clone());
                        }
                        // A leader of another kind failed: try again ourselves.
                    }
                    FlightState::Pending | FlightState::Abandoned => {}
                },
            }
        };
        // A fill may have finished between our lookup and our election.
        if let Some(a) = self.get(key).await {
            lead.settle(FlightState::Done(Arc::new(a.clone())));
            return Ok((a, CacheOutcome::Hit));
        }
        match fill.await {
            Ok(answer) => {
                self.put(key, &answer, ttl).await;
                lead.settle(FlightState::Done(Arc::new(answer.clone())));
                Ok((answer, CacheOutcome::Miss))
            }
            Err(e) => {
                lead.settle(FlightState::Failed(Arc::new(e.clone())));
                Err(e)
            }
        }
    }

    /// Single flight for answers that are produced piece by piece (streams): a hit,
    /// or leave to fill (the first of concurrent identical requests), or, for the
    /// others, the filler's answer once it finishes, waiting at most `wait` (then
    /// [`Begin::Miss`]). A waiter whose filler gives up (drops its guard) is elected
    /// filler in its place, or waits for the one that is.
    pub async fn begin(&self, key: &CacheKey, wait_for: Duration) -> Begin {
        if let Some(a) = self.get(key).await {
            return Begin::Hit(a);
        }
        let deadline = tokio::time::Instant::now() + wait_for.min(Self::MAX_TTL);
        loop {
            match self.join(key) {
                Role::Lead(lead) => {
                    if let Some(a) = self.get(key).await {
                        lead.settle(FlightState::Done(Arc::new(a.clone())));
                        return Begin::Hit(a);
                    }
                    return Begin::Fill(FillGuard {
                        cache: self.clone(),
                        lead,
                    });
                }
                Role::Wait(rx) => match tokio::time::timeout_at(deadline, wait(rx)).await {
                    Err(_) => return Begin::Miss,
                    Ok(FlightState::Done(a)) => return Begin::Hit((*a).clone()),
                    Ok(_) => {}
                },
            }
        }
    }

    /// Memory backend: applies pending evictions now (they are otherwise applied in
    /// the background); a no-op for remote backends.
    pub async fn run_pending_tasks(&self) {
        if let Backend::Memory(m) = &self.inner.backend {
            m.run_pending_tasks().await;
        }
    }

    /// Memory backend: (entries, bytes held); `None` for remote backends.
    pub fn memory_usage(&self) -> Option<(u64, u64)> {
        match &self.inner.backend {
            Backend::Memory(m) => Some((m.entry_count(), m.weighted_size())),
            _ => None,
        }
    }

    fn backing_off(&self) -> bool {
        let mut down = self.inner.down_until.lock();
        match *down {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                *down = None;
                false
            }
            None => false,
        }
    }

    fn error(&self, op: &'static str, e: &CacheError) {
        let backend = self.inner.backend.name();
        if matches!(e, CacheError::Unavailable(_) | CacheError::Timeout(_)) {
            *self.inner.down_until.lock() = Some(Instant::now() + Self::BACKOFF);
        }
        self.inner.errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(CACHE_ERRORS_TOTAL, "backend" => backend).increment(1);
        tracing::warn!(backend, op, error = %e, "cache backend error; treated as a miss");
    }

    fn join(&self, key: &CacheKey) -> Role {
        let mut flights = self.inner.flights.lock();
        if let Some(f) = flights.get(key) {
            return Role::Wait(f.tx.subscribe());
        }
        let (tx, _) = watch::channel(FlightState::Pending);
        let flight = Arc::new(Flight { tx });
        flights.insert(key.clone(), flight.clone());
        Role::Lead(Lead {
            inner: self.inner.clone(),
            key: key.clone(),
            flight,
            settled: false,
        })
    }
}

enum Role {
    Lead(Lead),
    Wait(watch::Receiver<FlightState>),
}

async fn wait(mut rx: watch::Receiver<FlightState>) -> FlightState {
    match rx.wait_for(|s| !matches!(s, FlightState::Pending)).await {
        Ok(state) => state.clone(),
        Err(_) => FlightState::Abandoned,
    }
}

/// The leader's hold on a flight; wakes the waiters when settled or dropped.
struct Lead {
    inner: Arc<Inner>,
    key: CacheKey,
    flight: Arc<Flight>,
    settled: bool,
}

impl Lead {
    fn settle(mut self, state: FlightState) {
        self.release(state);
    }

    fn release(&mut self, state: FlightState) {
        if self.settled {
            return;
        }
        self.settled = true;
        {
            let mut flights = self.inner.flights.lock();
            if flights
                .get(&self.key)
                .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
            {
                flights.remove(&self.key);
            }
        }
        self.flight.tx.send_replace(state);
    }
}

impl Drop for Lead {
    fn drop(&mut self) {
        self.release(FlightState::Abandoned);
    }
}

/// Leave to fill an entry that concurrent identical requests are waiting for.
///
/// Finish it with the answer once it is complete ([`finish`](Self::finish)); dropping
/// it unfinished (the stream broke, the client went away, the answer is not to be
/// cached) lets a waiting request fill instead.
#[must_use = "dropping the guard gives up the fill"]
pub struct FillGuard {
    cache: Cache,
    lead: Lead,
}

impl std::fmt::Debug for FillGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FillGuard")
            .field("key", &self.lead.key)
            .finish()
    }
}

impl FillGuard {
    pub fn key(&self) -> &CacheKey {
        &self.lead.key
    }

    /// Stores `answer` for `ttl` (if it is a success; see [`Cache::put`]) and hands
    /// it to the waiting requests. Returns whether it was stored.
    pub async fn finish(self, answer: CachedAnswer, ttl: Duration) -> bool {
        let stored = self.cache.put(&self.lead.key, &answer, ttl).await;
        self.lead.settle(FlightState::Done(Arc::new(answer)));
        stored
    }

    /// [`finish`](Self::finish) on a spawned task, for code that cannot await (a
    /// body's `poll`). Outside a tokio runtime the fill is given up instead.
    pub fn finish_in_background(self, answer: CachedAnswer, ttl: Duration) {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(self.finish(answer, ttl));
        }
    }

    /// Gives up the fill (the same as dropping the guard).
    pub fn abandon(self) {}
}

/// `host:port` from what follows `memcached://` (port 11211 when absent).
fn memcached_addr(rest: &str) -> Result<String, CacheError> {
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') || rest.contains('@') {
        return Err(CacheError::Config(format!(
            "storage.cache `memcached://{rest}`: expected memcached://HOST:PORT"
        )));
    }
    let has_port = match rest.rsplit_once(':') {
        // `[::1]:11211` or `host:11211`; a bare IPv6 address has colons but no `]:`.
        Some((host, port)) => {
            (!host.contains(':') || host.ends_with(']')) && port.parse::<u16>().is_ok()
        }
        None => false,
    };
    if has_port {
        Ok(rest.to_string())
    } else if rest.contains(':') && !rest.starts_with('[') {
        Ok(format!("[{rest}]:11211"))
    } else {
        Ok(format!("{rest}:11211"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memcached_addresses() {
        assert_eq!(
            memcached_addr("127.0.0.1:11211").unwrap(),
            "127.0.0.1:11211"
        );
        assert_eq!(memcached_addr("cache.local").unwrap(), "cache.local:11211");
        assert_eq!(
            memcached_addr("cache.local:1234/").unwrap(),
            "cache.local:1234"
        );
        assert_eq!(memcached_addr("[::1]:11211").unwrap(), "[::1]:11211");
        assert!(memcached_addr("").is_err());
        assert!(memcached_addr("a/b").is_err());
    }

    #[test]
    fn config_errors() {
        assert!(Cache::from_config("redis", None).is_err());
        assert!(Cache::from_config("nope", None).is_err());
        assert_eq!(
            Cache::from_config("memory", None).unwrap().backend_name(),
            "memory"
        );
        assert_eq!(
            Cache::from_config("memcached://127.0.0.1:11211", None)
                .unwrap()
                .backend_name(),
            "memcached"
        );
        assert_eq!(
            Cache::from_config("redis", Some("redis://127.0.0.1:6379"))
                .unwrap()
                .backend_name(),
            "redis"
        );
    }
}
