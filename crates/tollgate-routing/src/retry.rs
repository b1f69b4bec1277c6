//! Backoff between retries: exponential with full jitter, within a deadline.
//!
//! Retry `n` (1-based: the first retry is `attempt = 1`) waits a uniformly random time
//! in `[0, min(max_backoff, backoff * 2^(n-1))]` ("full jitter", so that clients that
//! failed together do not retry together). There is no retry past `attempts`, nor when
//! less than [`RetryPolicy::MIN_ATTEMPT_TIME`] of the request's deadline is left; a
//! wait is cut so that at least that much is left for the attempt itself.

use std::time::Duration;

use rand::Rng;
use tollgate_core::spec::Retries;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first try.
    pub attempts: u32,
    /// The first retry's backoff ceiling.
    pub backoff: Duration,
    /// No backoff ceiling grows past this.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// No retries (a model without `retries`).
    fn default() -> Self {
        RetryPolicy {
            attempts: 0,
            backoff: Duration::from_millis(100),
            max_backoff: Self::MAX_BACKOFF,
        }
    }
}

impl From<Retries> for RetryPolicy {
    fn from(r: Retries) -> Self {
        RetryPolicy {
            attempts: r.attempts,
            backoff: Duration::from_millis(r.backoff_ms),
            max_backoff: Self::MAX_BACKOFF,
        }
    }
}

impl RetryPolicy {
    /// Default ceiling of a single backoff.
    pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
    /// A retry is not worth it unless at least this much time is left after its wait.
    pub const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(50);

    /// The policy of a model (`None`: no retries).
    pub fn from_spec(r: Option<Retries>) -> RetryPolicy {
        r.map(RetryPolicy::from).unwrap_or_default()
    }

    /// The ceiling of retry `attempt`'s wait (1-based), before jitter.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(31);
        self.backoff
            .saturating_mul(1u32 << shift)
            .min(self.max_backoff)
    }

    /// How long to wait before retry `attempt` (1-based), or `None`: no more retries,
    /// or not enough of the deadline left (`deadline_left`).
    pub fn next_delay(&self, attempt: u32, deadline_left: Duration) -> Option<Duration> {
        self.next_delay_with(attempt, deadline_left, &mut rand::rng())
    }

    /// [`next_delay`](Self::next_delay) with a given source of randomness.
    pub fn next_delay_with<R: Rng + ?Sized>(
        &self,
        attempt: u32,
        deadline_left: Duration,
        rng: &mut R,
    ) -> Option<Duration> {
        if attempt == 0 || attempt > self.attempts {
            return None;
        }
        let budget = deadline_left.checked_sub(Self::MIN_ATTEMPT_TIME)?;
        let ceiling = u64::try_from(self.ceiling(attempt).as_micros()).unwrap_or(u64::MAX);
        let delay = Duration::from_micros(rng.random_range(0..=ceiling));
        // Never sleep into the deadline: cut the wait to what it leaves.
        Some(delay.min(budget))
    }
}
