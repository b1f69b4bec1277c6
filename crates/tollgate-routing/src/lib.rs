//! Routing decisions for the gateway's forward path, as pure logic over a [`Clock`].
//!
//! - [`Balancer`]: the order in which a model's targets are tried (weighted random or
//!   latency-aware power of two choices), with targets whose breaker is open last.
//! - [`CircuitBreaker`]: per target, opens on consecutive failures or a failure ratio,
//!   sheds load for a cooldown, then lets a few probes through (half-open).
//! - [`KeyPool`]: per provider, its API keys in turn, each key's health on its own
//!   (dead keys cooled for a long time, throttled keys for the provider's Retry-After).
//! - [`RetryPolicy`]: full-jitter exponential backoff within a per-request deadline.
//!
//! No HTTP and no I/O here. All state is shared across requests behind short-lived
//! locks (never held across an `.await`: nothing here is async), so one instance of
//! each is built at start and kept in the gateway's state for the life of the
//! process (across config reloads: state is keyed by target id and provider name).
//!
//! Target ids are free-form strings; the gateway uses [`target_id`] (`provider/model`)
//! so that the breaker, the balancer's latency estimates and the metrics agree.

mod balancer;
mod breaker;
mod clock;
mod keys;
mod retry;

pub use balancer::{Balancer, LatencyEstimate, TargetInfo};
pub use breaker::{
    BreakerConfig, BreakerCounters, BreakerSnapshot, BreakerState, CircuitBreaker, Outcome, Permit,
    Rejected,
};
pub use clock::{Clock, FakeClock, SystemClock};
pub use keys::{
    DEFAULT_DEAD_COOLDOWN, DEFAULT_THROTTLE, DeadKeyReport, KeyOutcome, KeyPool, KeyState,
    KeyStatus, MAX_THROTTLE,
};
pub use retry::RetryPolicy;

use std::sync::Arc;

/// The routing state of a gateway process: one breaker set, one balancer that
/// consults it, one key pool. Build it once at start and keep it across reloads.
#[derive(Debug)]
pub struct Routing {
    pub breakers: Arc<CircuitBreaker>,
    pub balancer: Balancer,
    pub keys: KeyPool,
}

impl Routing {
    pub fn new(breaker: BreakerConfig, clock: Arc<dyn Clock>) -> Routing {
        let breakers = Arc::new(CircuitBreaker::new(breaker, clock.clone()));
        Routing {
            balancer: Balancer::new(clock.clone(), Some(breakers.clone())),
            breakers,
            keys: KeyPool::new(clock),
        }
    }

    /// Default breaker settings on the real clock.
    pub fn system() -> Routing {
        Routing::new(BreakerConfig::default(), SystemClock::shared())
    }
}

/// The id under which a target's breaker, latency and metrics are kept.
pub fn target_id(provider: &str, model: &str) -> String {
    format!("{provider}/{model}")
}
