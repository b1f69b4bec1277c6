//! Tollgate's exact-match response cache.
//!
//! - [`CacheKey`]: SHA-256 over the normalised request, the door, the scope and the
//!   model (the normal form and the list of ignored fields are in [`key`]).
//! - [`CachedAnswer`]: status, content type, body, token usage and, for streams, the
//!   chunks as sent, to replay a stream as a stream; a compact binary encoding for
//!   remote backends.
//! - [`Cache`]: one of three backends chosen by `storage.cache` (`memory` — moka,
//!   size-weighed, per-entry TTL; `redis` — `SET PX`/`GET`; `memcached://host:port` —
//!   a minimal text-protocol client), with single-flight fills
//!   ([`Cache::get_or_fill`] for whole answers, [`Cache::begin`] + [`FillGuard`] for
//!   streams) and backend errors taken as misses, never failing a request.
//! - [`StreamRecorder`]: records a stream's chunks as they go to the client, bounded.
//!
//! # Request path (sketch)
//! ```ignore
//! let key = CacheKey::new("openai", &tollgate_cache::scope(spec.scope, &consumer), &model.name, &json);
//! let ttl = Duration::from_secs(spec.ttl_seconds);
//! if !stream {
//!     let (answer, outcome) = cache.get_or_fill(&key, ttl, async { forward_and_collect().await }).await?;
//!     // respond with answer.status / content_type / body; x-tollgate-cache: outcome.as_str()
//! } else {
//!     match cache.begin(&key, model_total_timeout).await {
//!         Begin::Hit(a) => { /* replay a.stream chunk by chunk; x-tollgate-cache: hit */ }
//!         Begin::Fill(guard) => { /* forward; tee chunks into a StreamRecorder; on a clean
//!                                   end: guard.finish_in_background(rec.finish(..)?, ttl) */ }
//!         Begin::Miss => { /* forward (may record and cache.put at the end) */ }
//!     }
//! }
//! ```

mod answer;
mod backend;
mod cache;
mod error;
pub mod key;

pub use answer::{CachedAnswer, DecodeError, StreamRecorder};
pub use backend::memcached::MAX_VALUE_BYTES as MEMCACHED_MAX_VALUE_BYTES;
pub use cache::{Begin, CACHE_ERRORS_TOTAL, Cache, CacheOptions, CacheOutcome, FillGuard};
pub use error::CacheError;
pub use key::{CacheKey, IGNORED_FIELDS, scope};
