//! Provider API keys: used in turn, each key's health on its own.
//!
//! A provider's keys are known by their index in its `api_keys` list. [`KeyPool::pick`]
//! goes round robin over the keys that are not cooling down. A key reported
//! [`KeyOutcome::Dead`] (the provider answered 401/402/403) cools for a long time; one
//! reported [`KeyOutcome::Throttled`] (429) for the provider's Retry-After. When a
//! cooldown ends the key is simply offered again: if it is still dead it is reported
//! again and cools again.
//!
//! Operator alerts: a `Dead` report returns a [`DeadKeyReport`] whose `first_time` is
//! true only the first time this key is seen dead with this status; the memory is
//! cleared when the key next succeeds, so a key that recovers and dies again alerts
//! again, and a key that stays dead alerts once (not once per cooldown).
//!
//! When a provider's list of keys changes (config reload), call [`KeyPool::forget`]:
//! indexes would otherwise point at other keys.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;

use crate::clock::{Clock, later};

/// How long a dead key is left alone by default.
pub const DEFAULT_DEAD_COOLDOWN: Duration = Duration::from_secs(3600);
/// How long a throttled key cools when the provider gave no Retry-After.
pub const DEFAULT_THROTTLE: Duration = Duration::from_secs(5);
/// A longer Retry-After than this is cut to it.
pub const MAX_THROTTLE: Duration = Duration::from_secs(3600);

/// What a call made with a key said about the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    Ok,
    /// 401/402/403: the key is revoked, unpaid or forbidden.
    Dead {
        status: u16,
        cooldown: Duration,
    },
    /// 429: cool for `retry_after` ([`DEFAULT_THROTTLE`] when `None`, at most
    /// [`MAX_THROTTLE`]).
    Throttled {
        retry_after: Option<Duration>,
    },
    /// 5xx, resets, timeouts: the target's trouble, not the key's; only counted.
    Transient,
}

impl KeyOutcome {
    /// `Dead` with [`DEFAULT_DEAD_COOLDOWN`].
    pub fn dead(status: u16) -> KeyOutcome {
        KeyOutcome::Dead {
            status,
            cooldown: DEFAULT_DEAD_COOLDOWN,
        }
    }
}

/// Returned for a `Dead` report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadKeyReport {
    /// Raise the operator alert: first time this key is seen dead with this status.
    pub first_time: bool,
    pub key_index: usize,
    pub status: u16,
    /// How long the key is left alone.
    pub cooldown: Duration,
}

/// A key's state now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum KeyState {
    Healthy,
    Dead { status: u16, retry_in_ms: u64 },
    Throttled { retry_in_ms: u64 },
}

/// One key's health, for the admin API (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyStatus {
    pub index: usize,
    #[serde(flatten)]
    pub state: KeyState,
    pub successes: u64,
    pub failures: u64,
    /// The last error status the provider gave for this key.
    pub last_status: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cool {
    None,
    Dead { status: u16, until: Instant },
    Throttled { until: Instant },
}

#[derive(Debug, Clone)]
struct Key {
    cool: Cool,
    /// Statuses already alerted for since the key last succeeded.
    alerted: BTreeSet<u16>,
    successes: u64,
    failures: u64,
    last_status: Option<u16>,
}

impl Key {
    fn new() -> Key {
        Key {
            cool: Cool::None,
            alerted: BTreeSet::new(),
            successes: 0,
            failures: 0,
            last_status: None,
        }
    }

    fn usable(&self, now: Instant) -> bool {
        match self.cool {
            Cool::None => true,
            Cool::Dead { until, .. } | Cool::Throttled { until } => now >= until,
        }
    }

    fn state(&self, now: Instant) -> KeyState {
        let ms = |until: Instant| {
            u64::try_from(until.saturating_duration_since(now).as_millis()).unwrap_or(u64::MAX)
        };
        match self.cool {
            Cool::Dead { status, until } if now < until => KeyState::Dead {
                status,
                retry_in_ms: ms(until),
            },
            Cool::Throttled { until } if now < until => KeyState::Throttled {
                retry_in_ms: ms(until),
            },
            _ => KeyState::Healthy,
        }
    }
}

#[derive(Debug, Default)]
struct Provider {
    next: usize,
    keys: Vec<Key>,
}

impl Provider {
    fn fit(&mut self, n: usize) {
        if self.keys.len() != n {
            self.keys.resize_with(n, Key::new);
        }
    }
}

/// The key pools of every provider, created on first use.
#[derive(Debug)]
pub struct KeyPool {
    clock: Arc<dyn Clock>,
    providers: Mutex<HashMap<String, Provider>>,
}

impl KeyPool {
    pub fn new(clock: Arc<dyn Clock>) -> KeyPool {
        KeyPool {
            clock,
            providers: Mutex::new(HashMap::new()),
        }
    }

    /// The next usable key of `provider` (which has `n_keys` keys), round robin;
    /// `None` when it has none or all are cooling down.
    pub fn pick(&self, provider: &str, n_keys: usize) -> Option<usize> {
        if n_keys == 0 {
            return None;
        }
        let now = self.clock.now();
        let mut map = self.providers.lock();
        let p = provider_mut(&mut map, provider);
        p.fit(n_keys);
        let start = p.next % n_keys;
        let found = (0..n_keys)
            .map(|k| (start + k) % n_keys)
            .find(|&i| p.keys.get(i).is_some_and(|key| key.usable(now)))?;
        p.next = (found + 1) % n_keys;
        Some(found)
    }

    /// When the first of `provider`'s cooling keys is usable again (`None` when a key
    /// is usable now or nothing is known): a Retry-After for the client.
    pub fn next_usable_in(&self, provider: &str) -> Option<Duration> {
        let now = self.clock.now();
        let map = self.providers.lock();
        let p = map.get(provider)?;
        let mut soonest: Option<Duration> = None;
        for key in &p.keys {
            match key.cool {
                Cool::None => return None,
                Cool::Dead { until, .. } | Cool::Throttled { until } => {
                    if now >= until {
                        return None;
                    }
                    let left = until - now;
                    soonest = Some(soonest.map_or(left, |s| s.min(left)));
                }
            }
        }
        soonest
    }

    /// The status of `provider`'s dead keys when every one of its keys is dead and
    /// cooling down (the latest such status); `None` when a key is usable, throttled
    /// rather than dead, or nothing is known. Tells "unpaid" from "rate limited" when
    /// [`pick`](Self::pick) finds no key.
    pub fn all_dead(&self, provider: &str) -> Option<u16> {
        let now = self.clock.now();
        let map = self.providers.lock();
        let p = map.get(provider)?;
        let mut status = None;
        for key in &p.keys {
            match key.cool {
                Cool::Dead { status: s, until } if now < until => status = Some(s),
                _ => return None,
            }
        }
        status
    }

    /// Records what a call with `provider`'s key `key_index` said about the key.
    /// `Some` only for [`KeyOutcome::Dead`].
    pub fn report(
        &self,
        provider: &str,
        key_index: usize,
        outcome: KeyOutcome,
    ) -> Option<DeadKeyReport> {
        let now = self.clock.now();
        let mut map = self.providers.lock();
        let p = provider_mut(&mut map, provider);
        if key_index >= p.keys.len() {
            p.keys.resize_with(key_index + 1, Key::new);
        }
        let key = p.keys.get_mut(key_index)?;
        match outcome {
            KeyOutcome::Ok => {
                key.successes += 1;
                key.cool = Cool::None;
                key.alerted.clear();
                None
            }
            KeyOutcome::Transient => {
                key.failures += 1;
                None
            }
            KeyOutcome::Throttled { retry_after } => {
                key.failures += 1;
                key.last_status = Some(429);
                let wait = retry_after.unwrap_or(DEFAULT_THROTTLE).min(MAX_THROTTLE);
                let until = later(now, wait);
                // A throttle never shortens a dead key's cooldown.
                key.cool = match key.cool {
                    Cool::Dead { status, until: d } if d > until => Cool::Dead { status, until: d },
                    _ => Cool::Throttled { until },
                };
                None
            }
            KeyOutcome::Dead { status, cooldown } => {
                key.failures += 1;
                key.last_status = Some(status);
                key.cool = Cool::Dead {
                    status,
                    until: later(now, cooldown),
                };
                let first_time = key.alerted.insert(status);
                Some(DeadKeyReport {
                    first_time,
                    key_index,
                    status,
                    cooldown,
                })
            }
        }
    }

    /// The health of `provider`'s keys (empty if it was never used).
    pub fn status(&self, provider: &str) -> Vec<KeyStatus> {
        let now = self.clock.now();
        let map = self.providers.lock();
        map.get(provider)
            .map(|p| {
                p.keys
                    .iter()
                    .enumerate()
                    .map(|(index, k)| KeyStatus {
                        index,
                        state: k.state(now),
                        successes: k.successes,
                        failures: k.failures,
                        last_status: k.last_status,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Providers with any recorded state, sorted.
    pub fn providers(&self) -> Vec<String> {
        let mut v: Vec<String> = self.providers.lock().keys().cloned().collect();
        v.sort();
        v
    }

    /// Drops everything known about `provider`'s keys (its key list changed).
    pub fn forget(&self, provider: &str) {
        self.providers.lock().remove(provider);
    }
}

fn provider_mut<'m>(map: &'m mut HashMap<String, Provider>, name: &str) -> &'m mut Provider {
    map.entry(name.to_string()).or_default()
}
