//! The harness the shared suite runs on: one limiter per test, on either backend.
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use tollgate_limits::{Clock, FailurePolicy, Limiter, ManualClock};

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

pub fn redis_url() -> String {
    std::env::var("TOLLGATE_TEST_REDIS_URL").unwrap_or_else(|_| REDIS_URL.to_string())
}

/// A test's limiter and its control over time.
pub struct Harness {
    pub limiter: Limiter,
    clock: Option<Arc<ManualClock>>,
    redis: Option<RedisKeys>,
}

impl Harness {
    /// The in-process backend on a manual clock pinned to the last 30 seconds of a
    /// leap day (Thursday 29 February 2024), so that moving to a window's end crosses a
    /// day and a month at once.
    pub fn local() -> Harness {
        let start = Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 30).unwrap();
        let clock = Arc::new(ManualClock::new(start));
        Harness {
            limiter: Limiter::local_with_clock(clock.clone()),
            clock: Some(clock),
            redis: None,
        }
    }

    /// The Redis backend under a fresh key prefix. Panics (fails the test) when Redis
    /// does not answer: a limiter suite that skips is a limiter suite that lies.
    pub async fn redis() -> Harness {
        let prefix = format!("tgtest:{}:", uuid::Uuid::new_v4().simple());
        let url = redis_url();
        let limiter = Limiter::redis(&url, &prefix, FailurePolicy::Closed)
            .await
            .expect("Redis URL");
        limiter
            .health()
            .await
            .unwrap_or_else(|e| panic!("Redis must be reachable at {url} for this suite: {e}"));
        Harness {
            limiter,
            clock: None,
            redis: Some(RedisKeys { url, prefix }),
        }
    }

    pub fn is_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// Whether tests may jump the clock to arbitrary instants (local backend only;
    /// Redis time is the server's).
    pub fn controls_time(&self) -> bool {
        self.clock.is_some()
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.clock {
            Some(c) => c.now(),
            None => Utc::now(),
        }
    }

    pub fn set_time(&self, t: DateTime<Utc>) {
        self.clock.as_ref().expect("local backend").set(t);
    }

    /// Lets `d` pass: moves the manual clock, or sleeps for Redis.
    pub async fn advance(&self, d: Duration) {
        match &self.clock {
            Some(c) => c.advance(d),
            None => tokio::time::sleep(d).await,
        }
    }

    /// How far a time reading may be off: zero on the manual clock; on Redis, real time
    /// passes between the test's calls.
    pub fn slack(&self) -> Duration {
        if self.is_redis() {
            Duration::from_millis(800)
        } else {
            Duration::ZERO
        }
    }

    /// Another node on the same counters: a second Redis limiter on the same prefix,
    /// or (local) another handle to the same limiter.
    pub async fn second_node(&self) -> Limiter {
        match &self.redis {
            Some(r) => {
                let l = Limiter::redis(&r.url, &r.prefix, FailurePolicy::Closed)
                    .await
                    .unwrap();
                l.health().await.unwrap();
                l
            }
            None => self.limiter.clone(),
        }
    }
}

/// Deletes a test's Redis keys when the test ends, even when it failed.
pub struct RedisKeys {
    pub url: String,
    pub prefix: String,
}

impl RedisKeys {
    /// A fresh `tgtest:{uuid}:` prefix on the test Redis.
    pub fn fresh() -> RedisKeys {
        RedisKeys {
            url: redis_url(),
            prefix: format!("tgtest:{}:", uuid::Uuid::new_v4().simple()),
        }
    }
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        delete_prefix(&self.url, &self.prefix);
    }
}

pub fn delete_prefix(url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(url) else {
        return;
    };
    let Ok(mut conn) = client.get_connection() else {
        return;
    };
    let pattern = format!("{prefix}*");
    let keys: Vec<String> = match redis::cmd("KEYS").arg(&pattern).query(&mut conn) {
        Ok(k) => k,
        Err(_) => return,
    };
    if !keys.is_empty() {
        let _: Result<i64, _> = redis::cmd("DEL").arg(&keys).query(&mut conn);
    }
}

pub fn count_keys(url: &str, prefix: &str) -> usize {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut conn)
        .unwrap();
    keys.len()
}

/// Polls `f` until it yields a value, for effects that happen in a spawned task.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `a` is within `slack` below `b` (and not above it).
#[track_caller]
pub fn assert_close_below(a: Duration, b: Duration, slack: Duration, what: &str) {
    assert!(
        a <= b && a + slack >= b,
        "{what}: {a:?} is not within {slack:?} below {b:?}"
    );
}
