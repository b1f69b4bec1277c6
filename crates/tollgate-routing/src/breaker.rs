//! A circuit breaker per target.
//!
//! ```text
//!            N consecutive failures, or
//!            ratio of failures over the last W outcomes (at least M of them)
//!   Closed ─────────────────────────────────────────────────────────────▶ Open{until}
//!     ▲                                                                     │
//!     │ `close_after` probe successes                          cooldown over│
//!     │                                                                     ▼
//!     └──────────────────────────────── HalfOpen ◀──────────────────────────┘
//!                                          │  a probe fails: Open again, cooldown doubled
//!                                          └──────────────────────────▶ (up to max_cooldown)
//! ```
//!
//! Every attempt asks [`CircuitBreaker::allow`] first and hands its [`Permit`] back
//! with the outcome ([`CircuitBreaker::record`]). The permit remembers in which "era"
//! of the breaker it was given, so an answer that arrives after the breaker changed
//! state (a slow request let through while closed, answering after it opened) is
//! counted but does not move the state; and a half-open probe whose permit is dropped
//! without an outcome (the client went away) frees its probe slot.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use crate::clock::{Clock, later};

/// The breaker's thresholds. [`Default`] gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// Opens after this many failures in a row (default 5; 0 disables the rule).
    pub consecutive_failures: u32,
    /// Opens when the share of failures in the window reaches this (default 0.5;
    /// above 1.0 disables the rule).
    pub failure_ratio: f64,
    /// How many of the latest outcomes the ratio looks at (default 20).
    pub window: usize,
    /// The ratio rule applies only once the window holds this many outcomes (default 10).
    pub min_outcomes: usize,
    /// How long an opened breaker sheds load before probing (default 30 s).
    pub cooldown: Duration,
    /// The cooldown doubles on each failed probe, up to this (default 5 min).
    pub max_cooldown: Duration,
    /// Probes let through at a time while half-open (default 1).
    pub half_open_probes: u32,
    /// Probe successes that close the breaker (default 2).
    pub close_after: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            consecutive_failures: 5,
            failure_ratio: 0.5,
            window: 20,
            min_outcomes: 10,
            cooldown: Duration::from_secs(30),
            max_cooldown: Duration::from_secs(300),
            half_open_probes: 1,
            close_after: 2,
        }
    }
}

/// What an attempt came to, as far as the target's health goes.
///
/// The gateway maps its failure classes: transient failures (5xx, resets, connect
/// errors) and timeouts are `Failure`; a 2xx is `Success`; the request's own fault
/// (400/404/422), a dead or throttled *key* and a client that went away are `Neutral`
/// (they say nothing about the target; they only free a half-open probe slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Neutral,
}

/// A breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    /// Shedding load until `until`.
    Open {
        until: Instant,
    },
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(&self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    /// 0 closed, 1 half-open, 2 open: for a Prometheus gauge.
    pub fn as_gauge(&self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open { .. } => 2.0,
        }
    }
}

/// Leave to try the target once. Give it back with [`CircuitBreaker::record`] (or
/// [`Permit::record`]); dropping it unrecorded counts as [`Outcome::Neutral`].
#[derive(Debug)]
#[must_use = "a permit must be given back with the attempt's outcome"]
pub struct Permit {
    entry: Arc<Mutex<Entry>>,
    clock: Arc<dyn Clock>,
    target: Arc<str>,
    era: u64,
    probe: bool,
    done: bool,
}

impl Permit {
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Whether this attempt is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// Records the attempt's outcome (the same as [`CircuitBreaker::record`]).
    pub fn record(mut self, outcome: Outcome) {
        self.finish(outcome);
    }

    fn finish(&mut self, outcome: Outcome) {
        if self.done {
            return;
        }
        self.done = true;
        let now = self.clock.now();
        self.entry.lock().record(self.era, self.probe, outcome, now);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.finish(Outcome::Neutral);
    }
}

/// The target's breaker is open (or half-open with every probe slot taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// When the breaker will next let a request through, if known (`None` while
    /// half-open probes are in flight).
    pub retry_after: Option<Duration>,
}

/// Counters of one target's breaker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BreakerCounters {
    pub successes: u64,
    pub failures: u64,
    /// Attempts turned away while open or half-open.
    pub rejected: u64,
    /// Times the breaker opened.
    pub opened: u64,
    pub consecutive_failures: u32,
    /// Failures among the outcomes in the ratio window.
    pub window_failures: u32,
    /// Outcomes in the ratio window.
    pub window_len: u32,
}

/// One target's breaker, as shown by /metrics and the admin API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreakerSnapshot {
    pub target: String,
    #[serde(serialize_with = "ser_state")]
    pub state: BreakerState,
    /// Milliseconds until an open breaker probes again (0 unless open).
    pub open_for_ms: u64,
    /// The cooldown the next opening will use (it grows on failed probes).
    pub cooldown_ms: u64,
    pub counters: BreakerCounters,
}

fn ser_state<S: serde::Serializer>(state: &BreakerState, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(state.as_str())
}

#[derive(Debug)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { in_flight: u32, successes: u32 },
}

#[derive(Debug)]
struct Entry {
    cfg: BreakerConfig,
    phase: Phase,
    /// Bumped on every state change; permits from an older era do not move the state.
    era: u64,
    /// The cooldown for the next opening.
    cooldown: Duration,
    window: VecDeque<bool>,
    window_failures: u32,
    counters: BreakerCounters,
}

impl Entry {
    fn new(cfg: BreakerConfig) -> Entry {
        Entry {
            cfg,
            phase: Phase::Closed,
            era: 0,
            cooldown: cfg.cooldown,
            window: VecDeque::with_capacity(cfg.window),
            window_failures: 0,
            counters: BreakerCounters::default(),
        }
    }

    /// Moves an open breaker whose cooldown is over to half-open.
    fn tick(&mut self, now: Instant) {
        if let Phase::Open { until } = self.phase
            && now >= until
        {
            self.phase = Phase::HalfOpen {
                in_flight: 0,
                successes: 0,
            };
            self.era += 1;
        }
    }

    fn state(&mut self, now: Instant) -> BreakerState {
        self.tick(now);
        match self.phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { until } => BreakerState::Open { until },
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Whether `allow` would let a request through now (without taking a slot).
    fn available(&mut self, now: Instant) -> bool {
        self.tick(now);
        match self.phase {
            Phase::Closed => true,
            Phase::Open { .. } => false,
            Phase::HalfOpen { in_flight, .. } => in_flight < self.cfg.half_open_probes.max(1),
        }
    }

    /// Some((era, probe)) when allowed.
    fn allow(&mut self, now: Instant) -> Result<(u64, bool), Rejected> {
        self.tick(now);
        let probes = self.cfg.half_open_probes.max(1);
        match &mut self.phase {
            Phase::Closed => Ok((self.era, false)),
            Phase::Open { until } => {
                let retry_after = Some(until.saturating_duration_since(now));
                self.counters.rejected += 1;
                Err(Rejected { retry_after })
            }
            Phase::HalfOpen { in_flight, .. } => {
                if *in_flight < probes {
                    *in_flight += 1;
                    Ok((self.era, true))
                } else {
                    self.counters.rejected += 1;
                    Err(Rejected { retry_after: None })
                }
            }
        }
    }

    fn record(&mut self, era: u64, probe: bool, outcome: Outcome, now: Instant) {
        match outcome {
            Outcome::Success => self.counters.successes += 1,
            Outcome::Failure => self.counters.failures += 1,
            Outcome::Neutral => {}
        }
        if era != self.era {
            // Given before the last state change: counted above, moves nothing.
            return;
        }
        match &mut self.phase {
            Phase::Closed => match outcome {
                Outcome::Neutral => {}
                Outcome::Success => {
                    self.counters.consecutive_failures = 0;
                    self.push_window(false);
                }
                Outcome::Failure => {
                    self.counters.consecutive_failures =
                        self.counters.consecutive_failures.saturating_add(1);
                    self.push_window(true);
                    if self.should_open() {
                        self.open(now, false);
                    }
                }
            },
            Phase::Open { .. } => {}
            Phase::HalfOpen {
                in_flight,
                successes,
            } => {
                if probe {
                    *in_flight = in_flight.saturating_sub(1);
                }
                match outcome {
                    Outcome::Neutral => {}
                    Outcome::Success => {
                        *successes += 1;
                        if *successes >= self.cfg.close_after.max(1) {
                            self.close();
                        }
                    }
                    Outcome::Failure => self.open(now, true),
                }
            }
        }
    }

    fn push_window(&mut self, failed: bool) {
        let cap = self.cfg.window.max(1);
        while self.window.len() >= cap {
            if self.window.pop_front() == Some(true) {
                self.window_failures = self.window_failures.saturating_sub(1);
            }
        }
        self.window.push_back(failed);
        if failed {
            self.window_failures += 1;
        }
    }

    fn should_open(&self) -> bool {
        let n = self.cfg.consecutive_failures;
        if n > 0 && self.counters.consecutive_failures >= n {
            return true;
        }
        let len = self.window.len();
        len >= self.cfg.min_outcomes.max(1)
            && f64::from(self.window_failures) >= self.cfg.failure_ratio * len as f64
    }

    fn open(&mut self, now: Instant, reopen: bool) {
        if reopen {
            self.cooldown = self
                .cooldown
                .saturating_mul(2)
                .min(self.cfg.max_cooldown.max(self.cfg.cooldown));
        }
        self.phase = Phase::Open {
            until: later(now, self.cooldown),
        };
        self.era += 1;
        self.counters.opened += 1;
        self.reset_window();
    }

    fn close(&mut self) {
        self.phase = Phase::Closed;
        self.era += 1;
        self.cooldown = self.cfg.cooldown;
        self.reset_window();
    }

    fn reset_window(&mut self) {
        self.window.clear();
        self.window_failures = 0;
        self.counters.consecutive_failures = 0;
    }

    fn snapshot(&mut self, target: &str, now: Instant) -> BreakerSnapshot {
        let state = self.state(now);
        let open_for_ms = match state {
            BreakerState::Open { until } => millis(until.saturating_duration_since(now)),
            _ => 0,
        };
        let mut counters = self.counters;
        counters.window_failures = self.window_failures;
        counters.window_len = u32::try_from(self.window.len()).unwrap_or(u32::MAX);
        BreakerSnapshot {
            target: target.to_string(),
            state,
            open_for_ms,
            cooldown_ms: millis(self.cooldown),
            counters,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The breakers of every target, created on first use. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct CircuitBreaker {
    cfg: BreakerConfig,
    clock: Arc<dyn Clock>,
    entries: RwLock<HashMap<Arc<str>, Arc<Mutex<Entry>>>>,
}

impl CircuitBreaker {
    pub fn new(cfg: BreakerConfig, clock: Arc<dyn Clock>) -> CircuitBreaker {
        CircuitBreaker {
            cfg,
            clock,
            entries: RwLock::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &BreakerConfig {
        &self.cfg
    }

    fn entry(&self, target: &str) -> (Arc<str>, Arc<Mutex<Entry>>) {
        if let Some((k, v)) = self.entries.read().get_key_value(target) {
            return (k.clone(), v.clone());
        }
        let mut map = self.entries.write();
        if let Some((k, v)) = map.get_key_value(target) {
            return (k.clone(), v.clone());
        }
        let k: Arc<str> = Arc::from(target);
        let v = Arc::new(Mutex::new(Entry::new(self.cfg)));
        map.insert(k.clone(), v.clone());
        (k, v)
    }

    /// Asks to try `target` once. `Err` while the breaker sheds load.
    pub fn allow(&self, target: &str) -> Result<Permit, Rejected> {
        let (key, entry) = self.entry(target);
        let now = self.clock.now();
        let (era, probe) = entry.lock().allow(now)?;
        Ok(Permit {
            entry,
            clock: self.clock.clone(),
            target: key,
            era,
            probe,
            done: false,
        })
    }

    /// Gives a permit back with its attempt's outcome.
    pub fn record(&self, permit: Permit, outcome: Outcome) {
        permit.record(outcome);
    }

    /// The target's state now (a target never seen is closed).
    pub fn state(&self, target: &str) -> BreakerState {
        let entry = self.entries.read().get(target).cloned();
        match entry {
            None => BreakerState::Closed,
            Some(e) => e.lock().state(self.clock.now()),
        }
    }

    /// Whether [`allow`](Self::allow) would let a request through now; takes nothing.
    pub fn is_available(&self, target: &str) -> bool {
        let entry = self.entries.read().get(target).cloned();
        match entry {
            None => true,
            Some(e) => e.lock().available(self.clock.now()),
        }
    }

    /// Every known target's breaker, sorted by target id.
    pub fn snapshot(&self) -> Vec<BreakerSnapshot> {
        let entries: Vec<(Arc<str>, Arc<Mutex<Entry>>)> = self
            .entries
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let now = self.clock.now();
        let mut out: Vec<BreakerSnapshot> = entries
            .iter()
            .map(|(k, e)| e.lock().snapshot(k, now))
            .collect();
        out.sort_by(|a, b| a.target.cmp(&b.target));
        out
    }

    /// Forgets targets that are no longer configured (call after a config reload).
    pub fn retain(&self, mut keep: impl FnMut(&str) -> bool) {
        self.entries.write().retain(|k, _| keep(k));
    }
}
