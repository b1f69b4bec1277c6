//! Time, behind a trait so that tests can move it by hand.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// A monotonic clock.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

impl SystemClock {
    /// The real clock, ready to hand to the constructors here.
    pub fn shared() -> Arc<dyn Clock> {
        Arc::new(SystemClock)
    }
}

/// A clock that only moves when told to, for tests (the gateway's included).
#[derive(Debug)]
pub struct FakeClock {
    base: Instant,
    offset: Mutex<Duration>,
}

impl FakeClock {
    pub fn new() -> Arc<FakeClock> {
        Arc::new(FakeClock {
            base: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        })
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.offset.lock() += by;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        later(self.base, *self.offset.lock())
    }
}

/// The longest span added to an instant here: longer cooldowns are cut to it, so
/// that `Instant + Duration` can never overflow.
const MAX_SPAN: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// `now + d`, with `d` cut to ten years.
pub(crate) fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d.min(MAX_SPAN)).unwrap_or(now)
}
