//! Time for the in-process backend.
//!
//! The in-process backend reads time through [`Clock`] so that tests can pin it to
//! fixed instants (a leap day, the last second of a month) and move it forward without
//! sleeping. The Redis backend never uses this: its windows come from Redis' `TIME`, so
//! that nodes with skewed clocks still share one view.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// A source of time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Wall-clock time, for calendar budget windows.
    fn now(&self) -> DateTime<Utc>;
    /// Monotonic time since an arbitrary origin, for rate limits: a wall clock stepped
    /// back by NTP must not lock every client out for the size of the step.
    fn ticks(&self) -> Duration;
}

/// The real clock: `Utc::now()` for windows and `Instant` for rate limits.
#[derive(Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    pub fn new() -> SystemClock {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn ticks(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that only moves when told to; both readings move together.
#[derive(Debug)]
pub struct ManualClock {
    origin: DateTime<Utc>,
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock {
            origin: start,
            now: Mutex::new(start),
        }
    }

    /// Jumps to `t`. Moving backwards before the start pins the monotonic reading at 0.
    pub fn set(&self, t: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = t;
    }

    pub fn advance(&self, d: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        if let Ok(d) = chrono::Duration::from_std(d) {
            *now = now.checked_add_signed(d).unwrap_or(*now);
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
    fn ticks(&self) -> Duration {
        (self.now() - self.origin)
            .to_std()
            .unwrap_or(Duration::ZERO)
    }
}
