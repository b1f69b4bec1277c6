//! Rate-limit arithmetic shared by both backends.
//!
//! Requests and tokens per minute use GCRA (the generic cell rate algorithm): a scope's
//! whole state is one number, the theoretical arrival time (TAT) at which its allowance
//! would be whole again if nothing else arrived. A limit of `L` per minute has an
//! emission interval `T = 60 s / L`; a request costing `n` moves the TAT forward by
//! `n·T` and passes while the TAT stays within one minute of now, so a fresh limit of
//! 600 admits 600 at once, then one every 100 ms.
//!
//! Debt: tokens are charged an estimate at admission and corrected afterwards; a
//! correction may push the TAT more than a minute ahead, which simply delays later
//! requests. A request larger than a whole minute's allowance is admitted only when the
//! allowance is whole, and its debt then delays the ones after it: refusing it forever
//! would be worse.
//!
//! The Redis backend runs the same formulas in Lua (`lua/admit.lua`) on microseconds.

use std::time::Duration;

use crate::types::{RateDenied, RateHeaders, RateKind, RateRule, RateWindow};

/// One minute in nanoseconds.
pub(crate) const WINDOW_NS: i128 = 60_000_000_000;

/// A rule's verdict and figures.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Check {
    pub(crate) allowed: bool,
    /// Wait until this rule would pass.
    pub(crate) retry: Duration,
    /// Figures without this request (for a 429).
    pub(crate) before: Figures,
    /// Figures with this request charged (for a 2xx).
    pub(crate) after: Figures,
    /// The TAT to store when admitted (nanoseconds on the backend's clock).
    pub(crate) new_tat: i64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Figures {
    pub(crate) remaining: u64,
    pub(crate) reset: Duration,
}

fn remaining(d: i128, limit: u64) -> u64 {
    let r = (WINDOW_NS - d).max(0) * i128::from(limit) / WINDOW_NS;
    u64::try_from(r).unwrap_or(0)
}

fn dur(ns: i128) -> Duration {
    Duration::from_nanos(u64::try_from(ns.max(0)).unwrap_or(u64::MAX))
}

/// GCRA for `cost` units against `limit` per minute, with `tat` the stored TAT (`None`:
/// never used) and `now` on the same clock.
pub(crate) fn check(tat: Option<i64>, now: i64, cost: u64, limit: u64) -> Check {
    let now128 = i128::from(now);
    let base = i128::from(tat.unwrap_or(now)).max(now128);
    let d = base - now128;
    let before = Figures {
        remaining: remaining(d, limit),
        reset: dur(d),
    };
    if limit == 0 {
        return Check {
            allowed: false,
            retry: dur(WINDOW_NS),
            before,
            after: before,
            new_tat: i64::try_from(base).unwrap_or(i64::MAX),
        };
    }
    let ct = i128::from(cost) * WINDOW_NS / i128::from(limit);
    let slack = (WINDOW_NS - ct).max(0);
    if d <= slack {
        let new_tat = base + ct;
        let d2 = new_tat - now128;
        Check {
            allowed: true,
            retry: Duration::ZERO,
            before,
            after: Figures {
                remaining: remaining(d2, limit),
                reset: dur(d2),
            },
            new_tat: i64::try_from(new_tat).unwrap_or(i64::MAX),
        }
    } else {
        Check {
            allowed: false,
            retry: dur(d - slack),
            before,
            after: before,
            new_tat: i64::try_from(base).unwrap_or(i64::MAX),
        }
    }
}

/// The TAT after correcting a tokens charge by `delta` tokens (negative gives back).
pub(crate) fn adjust(tat: Option<i64>, now: i64, delta: i64, limit: u64) -> Option<i64> {
    if limit == 0 {
        return tat;
    }
    let now128 = i128::from(now);
    let base = i128::from(tat.unwrap_or(now)).max(now128);
    let moved = base + i128::from(delta) * WINDOW_NS / i128::from(limit);
    let t = moved.max(now128);
    Some(i64::try_from(t).unwrap_or(i64::MAX))
}

/// Concurrency: `in_flight` permits held against `limit`.
pub(crate) fn check_concurrency(in_flight: u64, limit: u64) -> Check {
    let allowed = in_flight < limit;
    let free = limit.saturating_sub(in_flight);
    Check {
        allowed,
        retry: if allowed {
            Duration::ZERO
        } else {
            CONCURRENCY_RETRY
        },
        before: Figures {
            remaining: free,
            reset: Duration::ZERO,
        },
        after: Figures {
            remaining: if allowed { free - 1 } else { free },
            reset: Duration::ZERO,
        },
        new_tat: 0,
    }
}

/// How long a request refused for concurrency is told to wait: no one knows when an
/// in-flight request ends, so this is the one constant `retry_after`.
pub(crate) const CONCURRENCY_RETRY: Duration = Duration::from_secs(1);

/// One rule's verdict for one kind of limit.
#[derive(Debug, Clone)]
pub(crate) struct Outcome<'a> {
    pub(crate) scope: &'a str,
    pub(crate) kind: RateKind,
    pub(crate) limit: u64,
    pub(crate) check: Check,
}

/// The header figures: each side from its rule with least remaining (ties: the
/// smaller limit, then the longer reset).
pub(crate) fn headers(outcomes: &[Outcome<'_>], admitted: bool) -> Option<RateHeaders> {
    let pick = |kind: RateKind| {
        outcomes
            .iter()
            .filter(|o| o.kind == kind)
            .map(|o| {
                let f = if admitted {
                    o.check.after
                } else {
                    o.check.before
                };
                RateWindow {
                    limit: o.limit,
                    remaining: f.remaining,
                    reset: f.reset,
                }
            })
            .min_by(|a, b| {
                a.remaining
                    .cmp(&b.remaining)
                    .then(a.limit.cmp(&b.limit))
                    .then(b.reset.cmp(&a.reset))
            })
    };
    RateHeaders {
        requests: pick(RateKind::Requests),
        tokens: pick(RateKind::Tokens),
    }
    .or_none()
}

/// The refusal to report when any rule refuses: the longest wait, since the request
/// passes only once every rule does.
pub(crate) fn denial(outcomes: &[Outcome<'_>]) -> Option<RateDenied> {
    let worst = outcomes
        .iter()
        .filter(|o| !o.check.allowed)
        .max_by_key(|o| o.check.retry)?;
    Some(RateDenied {
        scope: worst.scope.to_string(),
        kind: worst.kind,
        retry_after: worst.check.retry,
        limit: worst.limit,
        headers: headers(outcomes, false),
    })
}

/// Rules merged by scope (the tightest of each limit), so a scope named twice is not
/// charged twice; rules without limits dropped.
pub(crate) fn normalize(rules: &[RateRule]) -> Vec<RateRule> {
    let mut out: Vec<RateRule> = Vec::with_capacity(rules.len());
    for r in rules.iter().filter(|r| !r.is_empty()) {
        if let Some(m) = out.iter_mut().find(|m| m.scope == r.scope) {
            m.requests_per_minute = min_opt(m.requests_per_minute, r.requests_per_minute);
            m.tokens_per_minute = min_opt(m.tokens_per_minute, r.tokens_per_minute);
            m.concurrent = min_opt(m.concurrent, r.concurrent);
        } else {
            out.push(r.clone());
        }
    }
    out
}

fn min_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn full_minute_burst_then_steady_rate() {
        let mut tat = None;
        for i in 0..600 {
            let c = check(tat, 0, 1, 600);
            assert!(c.allowed, "request {i}");
            assert_eq!(c.after.remaining, 599 - i);
            tat = Some(c.new_tat);
        }
        let c = check(tat, 0, 1, 600);
        assert!(!c.allowed);
        assert_eq!(c.retry, Duration::from_millis(100));
        assert_eq!(c.before.reset, Duration::from_secs(60));
        let c = check(tat, S / 10, 1, 600);
        assert!(c.allowed);
    }

    #[test]
    fn oversized_request_needs_a_whole_allowance_then_owes() {
        let c = check(None, 0, 2000, 1000);
        assert!(c.allowed);
        assert_eq!(c.after.remaining, 0);
        assert_eq!(c.after.reset, Duration::from_secs(120));
        let c2 = check(Some(c.new_tat), 0, 1, 1000);
        assert!(!c2.allowed);
        assert_eq!(c2.retry, Duration::from_millis(60_060));
    }

    #[test]
    fn adjust_gives_back_but_not_below_now() {
        let c = check(None, 0, 600, 1000);
        let t = adjust(Some(c.new_tat), 0, -500, 1000);
        assert_eq!(t, Some(6 * S));
        assert_eq!(adjust(Some(6 * S), 10 * S, -500, 1000), Some(10 * S));
        assert_eq!(adjust(Some(6 * S), 0, 1000, 1000), Some(66 * S));
    }

    #[test]
    fn zero_limit_always_refuses() {
        let c = check(None, 0, 1, 0);
        assert!(!c.allowed);
        assert_eq!(c.retry, Duration::from_secs(60));
    }
}
