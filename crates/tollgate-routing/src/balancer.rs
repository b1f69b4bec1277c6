//! The order in which a model's targets are tried.
//!
//! - [`Strategy::Weighted`]: weighted random sampling without replacement. A target of
//!   weight 0 is never picked while one of positive weight remains (it is tried only
//!   after all of them: a standby); when every weight is 0 they are picked uniformly.
//! - [`Strategy::Latency`]: among the targets of positive weight (all of them when every
//!   weight is 0), targets never measured (or whose last measure is older than
//!   [`Balancer::STALE_AFTER`]) come first, in random order; then "power of two
//!   choices": two distinct targets drawn at random, the one with the lower latency
//!   estimate goes first; repeated without replacement. Weight-0 targets follow in
//!   the same way.
//!
//! In both, targets whose breaker would turn the request away right now go last (by
//! the same rule among themselves), so they are tried only when nothing else is left.
//!
//! The latency estimate is an exponentially weighted moving average (EWMA) of observed
//! latencies per target id. A failed attempt is observed as a penalty (at least
//! [`Balancer::FAILURE_PENALTY`], and at least twice the estimate), so a target that
//! fails fast does not look fast.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use rand::Rng;
use serde::Serialize;
use tollgate_core::spec::Strategy;

use crate::breaker::CircuitBreaker;
use crate::clock::Clock;

/// One of a model's targets, as the balancer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetInfo<'a> {
    /// The id its breaker and latency are kept under ([`crate::target_id`]).
    pub id: &'a str,
    pub weight: u32,
}

/// A target's latency estimate, for the admin API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyEstimate {
    pub target: String,
    pub ewma_ms: f64,
    pub samples: u64,
    pub failures: u64,
    /// Milliseconds since the last observation.
    pub age_ms: u64,
}

#[derive(Debug, Clone, Copy)]
struct Ewma {
    value_secs: f64,
    samples: u64,
    failures: u64,
    last: Instant,
}

/// Picks targets; shared by every model (latency is kept per target id).
#[derive(Debug)]
pub struct Balancer {
    clock: Arc<dyn Clock>,
    breakers: Option<Arc<CircuitBreaker>>,
    latency: RwLock<HashMap<String, Ewma>>,
}

impl Balancer {
    /// Weight of the newest sample in the moving average.
    pub const ALPHA: f64 = 0.3;
    /// A failed attempt counts as at least this slow.
    pub const FAILURE_PENALTY: Duration = Duration::from_secs(5);
    /// An estimate not refreshed for this long is treated as unmeasured, so a target
    /// that was slow once gets measured again instead of being starved forever.
    pub const STALE_AFTER: Duration = Duration::from_secs(60);

    /// `breakers`: when given, targets it would reject right now go last.
    pub fn new(clock: Arc<dyn Clock>, breakers: Option<Arc<CircuitBreaker>>) -> Balancer {
        Balancer {
            clock,
            breakers,
            latency: RwLock::new(HashMap::new()),
        }
    }

    /// Records an attempt's latency (time to the first byte of the answer is the
    /// most useful measure; a failure's latency is replaced by a penalty).
    pub fn observe(&self, target_id: &str, latency: Duration, ok: bool) {
        let now = self.clock.now();
        let mut map = self.latency.write();
        let prev = map.get(target_id).copied();
        let fresh = prev.filter(|e| now.saturating_duration_since(e.last) < Self::STALE_AFTER);
        let mut sample = latency.as_secs_f64();
        if !ok {
            let floor = fresh.map_or(0.0, |e| e.value_secs * 2.0);
            sample = sample.max(Self::FAILURE_PENALTY.as_secs_f64()).max(floor);
        }
        let value_secs = match fresh {
            Some(e) => Self::ALPHA * sample + (1.0 - Self::ALPHA) * e.value_secs,
            None => sample,
        };
        let (samples, failures) = prev.map_or((0, 0), |e| (e.samples, e.failures));
        map.insert(
            target_id.to_string(),
            Ewma {
                value_secs,
                samples: samples + 1,
                failures: failures + u64::from(!ok),
                last: now,
            },
        );
    }

    /// The current estimate for a target; `None` if unmeasured or stale.
    pub fn latency(&self, target_id: &str) -> Option<Duration> {
        let now = self.clock.now();
        self.latency
            .read()
            .get(target_id)
            .filter(|e| now.saturating_duration_since(e.last) < Self::STALE_AFTER)
            .map(|e| Duration::from_secs_f64(e.value_secs))
    }

    /// Every target's estimate, sorted by target id.
    pub fn latency_snapshot(&self) -> Vec<LatencyEstimate> {
        let now = self.clock.now();
        let mut out: Vec<LatencyEstimate> = self
            .latency
            .read()
            .iter()
            .map(|(k, e)| LatencyEstimate {
                target: k.clone(),
                ewma_ms: e.value_secs * 1000.0,
                samples: e.samples,
                failures: e.failures,
                age_ms: u64::try_from(now.saturating_duration_since(e.last).as_millis())
                    .unwrap_or(u64::MAX),
            })
            .collect();
        out.sort_by(|a, b| a.target.cmp(&b.target));
        out
    }

    /// The first target to try, if any.
    pub fn pick(&self, strategy: Strategy, targets: &[TargetInfo<'_>]) -> Option<usize> {
        self.order(strategy, targets).first().copied()
    }

    /// The full try order: indexes into `targets`, each once.
    pub fn order(&self, strategy: Strategy, targets: &[TargetInfo<'_>]) -> Vec<usize> {
        let mut rng = rand::rng();
        self.order_with(strategy, targets, &mut rng)
    }

    /// [`order`](Self::order) with a given source of randomness.
    pub fn order_with<R: Rng + ?Sized>(
        &self,
        strategy: Strategy,
        targets: &[TargetInfo<'_>],
        rng: &mut R,
    ) -> Vec<usize> {
        // Tiers, tried in turn: available with weight, available standby (weight 0),
        // then the same two for targets whose breaker is shedding load.
        let mut tiers: [Vec<usize>; 4] = Default::default();
        let any_positive = targets.iter().any(|t| t.weight > 0);
        for (i, t) in targets.iter().enumerate() {
            let available = self.breakers.as_ref().is_none_or(|b| b.is_available(t.id));
            let standby = any_positive && t.weight == 0;
            let tier = usize::from(!available) * 2 + usize::from(standby);
            if let Some(v) = tiers.get_mut(tier) {
                v.push(i);
            }
        }
        let mut out = Vec::with_capacity(targets.len());
        let latencies = match strategy {
            Strategy::Latency => Some(self.latencies(targets)),
            Strategy::Weighted => None,
        };
        for tier in tiers {
            match &latencies {
                None => weighted(targets, tier, rng, &mut out),
                Some(lat) => by_latency(lat, tier, rng, &mut out),
            }
        }
        out
    }

    fn latencies(&self, targets: &[TargetInfo<'_>]) -> Vec<Option<f64>> {
        let now = self.clock.now();
        let map = self.latency.read();
        targets
            .iter()
            .map(|t| {
                map.get(t.id)
                    .filter(|e| now.saturating_duration_since(e.last) < Self::STALE_AFTER)
                    .map(|e| e.value_secs)
            })
            .collect()
    }
}

/// Weighted sampling without replacement of `pool` (uniform when all weights are 0).
fn weighted<R: Rng + ?Sized>(
    targets: &[TargetInfo<'_>],
    mut pool: Vec<usize>,
    rng: &mut R,
    out: &mut Vec<usize>,
) {
    let weight = |i: usize| targets.get(i).map_or(0, |t| u64::from(t.weight));
    while !pool.is_empty() {
        let total: u64 = pool.iter().map(|&i| weight(i)).sum();
        let pos = if total == 0 {
            rng.random_range(0..pool.len())
        } else {
            let mut pick = rng.random_range(0..total);
            pool.iter()
                .position(|&i| {
                    let w = weight(i);
                    if pick < w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .unwrap_or(0)
        };
        out.push(pool.swap_remove(pos));
    }
}

/// Unmeasured first (random order), then power of two choices over the estimates.
fn by_latency<R: Rng + ?Sized>(
    latencies: &[Option<f64>],
    pool: Vec<usize>,
    rng: &mut R,
    out: &mut Vec<usize>,
) {
    let lat = |i: usize| latencies.get(i).copied().flatten();
    let (mut unmeasured, mut measured): (Vec<usize>, Vec<usize>) =
        pool.into_iter().partition(|&i| lat(i).is_none());
    while !unmeasured.is_empty() {
        let pos = rng.random_range(0..unmeasured.len());
        out.push(unmeasured.swap_remove(pos));
    }
    while !measured.is_empty() {
        let pos = if measured.len() == 1 {
            0
        } else {
            let a = rng.random_range(0..measured.len());
            let mut b = rng.random_range(0..measured.len() - 1);
            if b >= a {
                b += 1;
            }
            let la = measured.get(a).and_then(|&i| lat(i)).unwrap_or(f64::MAX);
            let lb = measured.get(b).and_then(|&i| lat(i)).unwrap_or(f64::MAX);
            if lb < la { b } else { a }
        };
        out.push(measured.swap_remove(pos));
    }
}
