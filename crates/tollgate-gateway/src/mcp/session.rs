//! MCP sessions (`Mcp-Session-Id`): created by `initialize`, bound to the consumer key
//! that created them, ended by `DELETE /mcp` or by being idle too long.
//!
//! The store lives in memory on the node that answered `initialize` (a client behind
//! a load balancer needs stickiness, as with any streamable HTTP server). It is
//! bounded: a store at its size, or a consumer at its share, makes room by dropping
//! the least recently used session (of that consumer first), whose client gets 404
//! on its next request and starts a new session, as the protocol has it. Idle
//! sessions are swept when new ones are made, and never served once idle too long.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;

use super::protocol::Version;

/// The most sessions one node keeps.
pub const MAX_SESSIONS: usize = 10_000;
/// The most sessions one consumer keeps on one node.
pub const MAX_SESSIONS_PER_CONSUMER: usize = 256;
/// A session unused this long is gone.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// One session.
#[derive(Debug)]
pub struct Session {
    pub id: String,
    pub consumer: String,
    /// The SHA-256 of the key that made the session: only that key may use it, and
    /// the session's stream follows what that key may call.
    pub key_hash: String,
    pub version: Version,
    last_used: Mutex<Instant>,
    closed: AtomicBool,
    /// The digest of the tool list the client last learned (by `tools/list` or a
    /// `list_changed`); 0 before its first list.
    known_tools: AtomicU64,
    /// A `GET` stream is open (one at a time).
    streaming: AtomicBool,
}

impl Session {
    fn touch(&self, now: Instant) {
        *self
            .last_used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = now;
    }

    fn last_used(&self) -> Instant {
        *self
            .last_used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Ended (deleted, expired or evicted): its open streams end too.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// The client now knows the tool list with digest `fingerprint`.
    pub fn set_known_tools(&self, fingerprint: u64) {
        self.known_tools.store(fingerprint, Ordering::Release);
    }

    pub fn known_tools(&self) -> u64 {
        self.known_tools.load(Ordering::Acquire)
    }

    /// Takes the session's one stream; `None` while another is open. The stream is
    /// given back when the guard drops.
    pub fn open_stream(self: &Arc<Self>) -> Option<StreamGuard> {
        self.streaming
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| StreamGuard(self.clone()))
    }
}

/// The session's open stream; dropping it lets another open.
#[derive(Debug)]
pub struct StreamGuard(Arc<Session>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.streaming.store(false, Ordering::Release);
    }
}

/// The node's sessions.
#[derive(Debug)]
pub struct Sessions {
    inner: Mutex<Inner>,
    max: usize,
    max_per_consumer: usize,
    idle: Duration,
}

#[derive(Debug)]
struct Inner {
    by_id: HashMap<String, Arc<Session>>,
    last_sweep: Instant,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::new(MAX_SESSIONS, MAX_SESSIONS_PER_CONSUMER, IDLE_TIMEOUT)
    }
}

impl Sessions {
    pub fn new(max: usize, max_per_consumer: usize, idle: Duration) -> Sessions {
        Sessions {
            inner: Mutex::new(Inner {
                by_id: HashMap::new(),
                last_sweep: Instant::now(),
            }),
            max: max.max(1),
            max_per_consumer: max_per_consumer.max(1),
            idle,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new session for `consumer` through the key hashed `key_hash`, making room if
    /// needed.
    pub fn create(&self, consumer: &str, key_hash: &str, version: Version) -> Arc<Session> {
        let now = Instant::now();
        let session = Arc::new(Session {
            id: new_id(),
            consumer: consumer.to_string(),
            key_hash: key_hash.to_string(),
            version,
            last_used: Mutex::new(now),
            closed: AtomicBool::new(false),
            known_tools: AtomicU64::new(0),
            streaming: AtomicBool::new(false),
        });
        let mut inner = self.lock();
        if now.duration_since(inner.last_sweep) >= Duration::from_secs(60)
            || inner.by_id.len() >= self.max
        {
            inner.last_sweep = now;
            let idle = self.idle;
            inner.by_id.retain(|_, s| {
                let keep = now.duration_since(s.last_used()) < idle;
                if !keep {
                    s.close();
                }
                keep
            });
        }
        let of_consumer = inner
            .by_id
            .values()
            .filter(|s| s.consumer == consumer)
            .count();
        if of_consumer >= self.max_per_consumer {
            evict_lru(&mut inner.by_id, Some(consumer));
        }
        if inner.by_id.len() >= self.max {
            evict_lru(&mut inner.by_id, None);
        }
        inner.by_id.insert(session.id.clone(), session.clone());
        session
    }

    /// The live session `id`, used now; `None` when unknown, ended or idle too long.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let now = Instant::now();
        let mut inner = self.lock();
        let session = inner.by_id.get(id)?.clone();
        if now.duration_since(session.last_used()) >= self.idle {
            inner.by_id.remove(id);
            session.close();
            return None;
        }
        session.touch(now);
        Some(session)
    }

    /// Keeps `session` alive (an open stream is a client still there).
    pub fn keep_alive(&self, session: &Session) {
        session.touch(Instant::now());
    }

    /// Ends session `id`; whether it existed.
    pub fn remove(&self, id: &str) -> bool {
        let removed = self.lock().by_id.remove(id);
        if let Some(s) = &removed {
            s.close();
        }
        removed.is_some()
    }

    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops the least recently used session (of `consumer`, when given).
fn evict_lru(by_id: &mut HashMap<String, Arc<Session>>, consumer: Option<&str>) {
    let oldest = by_id
        .values()
        .filter(|s| consumer.is_none_or(|c| s.consumer == c))
        .min_by_key(|s| s.last_used())
        .map(|s| s.id.clone());
    if let Some(id) = oldest
        && let Some(s) = by_id.remove(&id)
    {
        s.close();
    }
}

/// 128 random bits, hex: visible ASCII as the protocol requires, not guessable.
fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_per_consumer_and_overall_by_least_recent_use() {
        let store = Sessions::new(3, 2, IDLE_TIMEOUT);
        let a1 = store.create("a", "k", Version::V2025_06_18);
        std::thread::sleep(Duration::from_millis(2));
        let a2 = store.create("a", "k", Version::V2025_06_18);
        std::thread::sleep(Duration::from_millis(2));
        assert!(store.get(&a1.id).is_some(), "a1 used: a2 is now the oldest");
        let a3 = store.create("a", "k", Version::V2025_06_18);
        assert!(store.get(&a2.id).is_none() && a2.is_closed());
        assert!(store.get(&a1.id).is_some() && store.get(&a3.id).is_some());
        let b1 = store.create("b", "k2", Version::V2025_06_18);
        assert_eq!(store.len(), 3);
        let b2 = store.create("b", "k2", Version::V2025_06_18);
        assert_eq!(store.len(), 3, "the store stays at its size");
        assert!(store.get(&b1.id).is_some() && store.get(&b2.id).is_some());
    }

    #[test]
    fn idle_sessions_expire_and_removed_ones_close() {
        let store = Sessions::new(10, 10, Duration::from_millis(20));
        let s = store.create("a", "k", Version::V2025_11_25);
        assert!(store.get(&s.id).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(store.get(&s.id).is_none());
        assert!(s.is_closed());
        let t = store.create("a", "k", Version::V2025_11_25);
        assert!(store.remove(&t.id));
        assert!(!store.remove(&t.id));
        assert!(t.is_closed());
        assert_eq!(new_id().len(), 32);
        let u = store.create("a", "k", Version::V2025_11_25);
        let g = u.open_stream().expect("first stream");
        assert!(u.open_stream().is_none(), "one stream at a time");
        drop(g);
        assert!(u.open_stream().is_some());
    }
}
