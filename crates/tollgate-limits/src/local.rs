//! The in-process backend: one mutex over plain maps.
//!
//! Every operation is a few map lookups under one lock, never held across an `.await`,
//! so admission and reservation are atomic across all their rules by construction.
//! Counters live only in this process: with several nodes, use the Redis backend, or
//! each node enforces its own copy of every limit (PRODUCT.md's Bifrost lesson).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use tollgate_core::QuotaKind;
use tollgate_core::money::Micros;

use crate::clock::Clock;
use crate::rate::{self, Outcome};
use crate::types::{
    Admission, Amount, BudgetRule, BudgetStatus, LimitError, QuotaDenied, RateDenied, RateKind,
    RateRule, Reserve, ReservedBudget, SeriesKey, Settled, Spend, THRESHOLDS, Threshold, crossed,
};
use crate::window::window;
use crate::{Admitted, Engine, Hold, Permit, PermitInner, ResInner, Reservation};

/// How long a finished budget window is kept for late settlements (as in Redis).
const GRACE_SECS: i64 = 172_800;

pub(crate) struct LocalEngine {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    rates: HashMap<String, RateState>,
    budgets: HashMap<SeriesKey, BTreeMap<i64, Window>>,
    credits: HashMap<String, Credit>,
    admissions: u64,
}

#[derive(Default)]
struct RateState {
    req_tat: Option<i64>,
    tok_tat: Option<i64>,
    in_flight: u64,
}

struct Window {
    used: Spend,
    reserved: Spend,
    end: Option<DateTime<Utc>>,
    /// Thresholds already reported, as a bit mask over [`THRESHOLDS`].
    reported: u8,
}

impl Window {
    fn new(end: Option<DateTime<Utc>>) -> Window {
        Window {
            used: Spend::default(),
            reserved: Spend::default(),
            end,
            reported: 0,
        }
    }
}

#[derive(Default)]
struct Credit {
    balance: Micros,
    reserved: Micros,
}

fn nanos(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl LocalEngine {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> LocalEngine {
        LocalEngine {
            clock,
            state: Mutex::new(State::default()),
        }
    }

    /// A panic elsewhere while holding the lock leaves plain numbers behind, which are
    /// still the best figures there are: keep going rather than fail every request.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ------------------------------------------------------------------ rate limits

    pub(crate) fn admit(
        self: &Arc<Self>,
        req: &Admission<'_>,
        rules: &[RateRule],
    ) -> Result<Admitted, RateDenied> {
        let now = nanos(self.clock.ticks());
        let mut st = self.lock();
        let mut outcomes = Vec::with_capacity(rules.len() * 2);
        for r in rules {
            let s = st.rates.get(&r.scope);
            if let Some(limit) = r.requests_per_minute {
                let tat = s.and_then(|s| s.req_tat);
                outcomes.push(Outcome {
                    scope: &r.scope,
                    kind: RateKind::Requests,
                    limit,
                    check: rate::check(tat, now, 1, limit),
                });
            }
            if let Some(limit) = r.tokens_per_minute {
                let tat = s.and_then(|s| s.tok_tat);
                outcomes.push(Outcome {
                    scope: &r.scope,
                    kind: RateKind::Tokens,
                    limit,
                    check: rate::check(tat, now, req.estimated_tokens, limit),
                });
            }
            if let Some(limit) = r.concurrent {
                let in_flight = s.map_or(0, |s| s.in_flight);
                outcomes.push(Outcome {
                    scope: &r.scope,
                    kind: RateKind::Concurrency,
                    limit: u64::from(limit),
                    check: rate::check_concurrency(in_flight, u64::from(limit)),
                });
            }
        }
        if let Some(denied) = rate::denial(&outcomes) {
            return Err(denied);
        }
        for o in &outcomes {
            let s = st.rates.entry(o.scope.to_string()).or_default();
            match o.kind {
                RateKind::Requests => s.req_tat = Some(o.check.new_tat),
                RateKind::Tokens => s.tok_tat = Some(o.check.new_tat),
                RateKind::Concurrency => s.in_flight += 1,
            }
        }
        st.admissions = st.admissions.wrapping_add(1);
        if st.admissions.is_multiple_of(4096) {
            // Forget scopes whose allowance is whole and that hold no slot: the map
            // would otherwise grow with every key ever seen.
            st.rates.retain(|_, s| {
                s.in_flight > 0
                    || s.req_tat.is_some_and(|t| t > now)
                    || s.tok_tat.is_some_and(|t| t > now)
            });
        }
        let headers = rate::headers(&outcomes, true);
        drop(st);
        let permit = Permit::new(Engine::Local(Arc::clone(self)), String::new(), req, rules);
        Ok(Admitted { permit, headers })
    }

    pub(crate) fn settle_tokens(&self, tokens: &[(String, u64)], delta: i64) {
        let now = nanos(self.clock.ticks());
        let mut st = self.lock();
        for (scope, limit) in tokens {
            let s = st.rates.entry(scope.clone()).or_default();
            s.tok_tat = rate::adjust(s.tok_tat, now, delta, *limit);
        }
    }

    pub(crate) fn release(&self, p: &PermitInner) {
        if p.concurrency.is_empty() {
            return;
        }
        let mut st = self.lock();
        for scope in &p.concurrency {
            if let Some(s) = st.rates.get_mut(scope) {
                s.in_flight = s.in_flight.saturating_sub(1);
            }
        }
    }

    // ------------------------------------------------------------------ budgets

    pub(crate) fn reserve(
        self: &Arc<Self>,
        req: &Reserve<'_>,
        rules: &[BudgetRule],
    ) -> Result<Result<Reservation, QuotaDenied>, LimitError> {
        let now = self.clock.now();
        let requested = Spend::new(req.cost, req.tokens).clamped();
        let mut st = self.lock();

        let mut views = Vec::with_capacity(rules.len());
        let mut denied = None;
        for rule in rules {
            let (ws, we) = window(rule.period, now);
            let key = rule.series();
            let (used, reserved) = st
                .budgets
                .get(&key)
                .and_then(|m| m.get(&ws.timestamp()))
                .map_or((Spend::default(), Spend::default()), |w| {
                    (w.used, w.reserved)
                });
            let l = &rule.limit;
            if denied.is_none()
                && l.counted(used) + l.counted(reserved) + l.counted(requested) > l.value()
            {
                denied = Some(QuotaDenied {
                    kind: match l {
                        Amount::Usd(_) => QuotaKind::Budget,
                        Amount::Tokens(_) => QuotaKind::TokenQuota,
                    },
                    scope: rule.scope.clone(),
                    limit: *l,
                    used,
                    reserved,
                    period: rule.period,
                    resets_at: we,
                    requested,
                    balance: None,
                });
            }
            views.push((key, ws, we, used, reserved));
        }
        let mut credits_available = None;
        if let Some(consumer) = req.credits_of {
            let Some(c) = st.credits.get(consumer) else {
                return Err(LimitError::CreditsNotSeeded(consumer.to_string()));
            };
            if denied.is_none() && c.balance.saturating_sub(c.reserved) < requested.cost {
                denied = Some(credits_denied(consumer, c.balance, c.reserved, requested));
            }
        }
        if let Some(d) = denied {
            return Ok(Err(d));
        }

        let mut holds = Vec::with_capacity(rules.len());
        let mut budgets = Vec::with_capacity(rules.len());
        for (rule, (key, ws, we, used, reserved)) in rules.iter().zip(views) {
            let series = st.budgets.entry(key.clone()).or_default();
            prune(series, now);
            let w = series
                .entry(ws.timestamp())
                .or_insert_with(|| Window::new(we));
            w.reserved = w.reserved.add(requested);
            budgets.push(ReservedBudget {
                scope: rule.scope.clone(),
                limit: rule.limit,
                period: rule.period,
                window_start: ws,
                resets_at: we,
                used,
                reserved: reserved.add(requested),
            });
            holds.push(Hold {
                series: key,
                window_start: ws,
                resets_at: we,
                rule: rule.clone(),
            });
        }
        if let Some(consumer) = req.credits_of
            && let Some(c) = st.credits.get_mut(consumer)
        {
            c.reserved = c.reserved.saturating_add(requested.cost);
            credits_available = Some(c.balance.saturating_sub(c.reserved));
        }
        drop(st);
        Ok(Ok(Reservation::new(
            req.request_id,
            requested,
            budgets,
            credits_available,
            Some(ResInner {
                engine: Engine::Local(Arc::clone(self)),
                id: String::new(),
                held: requested,
                holds,
                credits: req.credits_of.map(str::to_string),
            }),
        )))
    }

    pub(crate) fn settle(&self, r: &ResInner, actual: Spend) -> Settled {
        let actual = actual.clamped();
        let mut out = Settled::default();
        let mut st = self.lock();
        for hold in &r.holds {
            let series = st.budgets.entry(hold.series.clone()).or_default();
            let w = series
                .entry(hold.window_start.timestamp())
                .or_insert_with(|| Window::new(hold.resets_at));
            w.reserved = w.reserved.sub(r.held);
            let l = &hold.rule.limit;
            let before = l.counted(w.used);
            w.used = w.used.add(actual);
            let mask = crossed(before, l.counted(w.used), l.value()) & !w.reported;
            w.reported |= mask;
            push_thresholds(&mut out.thresholds, mask, hold, w.used);
        }
        if let Some(consumer) = &r.credits
            && let Some(c) = st.credits.get_mut(consumer)
        {
            c.reserved = c.reserved.saturating_sub(r.held.cost).max(0);
            c.balance = c.balance.saturating_sub(actual.cost);
            out.credit_balance = Some(c.balance);
        }
        out
    }

    pub(crate) fn budget_status(&self, rule: &BudgetRule, now: DateTime<Utc>) -> BudgetStatus {
        let (ws, we) = window(rule.period, now);
        let st = self.lock();
        let (used, reserved) = st
            .budgets
            .get(&rule.series())
            .and_then(|m| m.get(&ws.timestamp()))
            .map_or((Spend::default(), Spend::default()), |w| {
                (w.used, w.reserved)
            });
        BudgetStatus {
            scope: rule.scope.clone(),
            limit: rule.limit,
            period: rule.period,
            used,
            reserved,
            window_start: ws,
            resets_at: we,
        }
    }

    pub(crate) fn seed_budget(&self, rule: &BudgetRule, at: DateTime<Utc>, used: Spend) {
        let (ws, we) = window(rule.period, at);
        let mut st = self.lock();
        st.budgets
            .entry(rule.series())
            .or_default()
            .entry(ws.timestamp())
            .or_insert_with(|| {
                let mut w = Window::new(we);
                w.used = used.clamped();
                w
            });
    }

    // ------------------------------------------------------------------ credits

    pub(crate) fn seed_credits(&self, consumer: &str, balance: Micros) {
        self.lock()
            .credits
            .entry(consumer.to_string())
            .or_insert(Credit {
                balance,
                reserved: 0,
            });
    }

    pub(crate) fn add_credits(&self, consumer: &str, delta: Micros) -> Result<Micros, LimitError> {
        let mut st = self.lock();
        let c = st
            .credits
            .get_mut(consumer)
            .ok_or_else(|| LimitError::CreditsNotSeeded(consumer.to_string()))?;
        c.balance = c.balance.saturating_add(delta);
        Ok(c.balance)
    }

    pub(crate) fn credit_balance(&self, consumer: &str) -> Option<Micros> {
        self.lock().credits.get(consumer).map(|c| c.balance)
    }
}

/// Drops windows that ended more than the grace period ago.
fn prune(series: &mut BTreeMap<i64, Window>, now: DateTime<Utc>) {
    let horizon = now - chrono::Duration::seconds(GRACE_SECS);
    series.retain(|_, w| w.end.is_none_or(|end| end >= horizon));
}

pub(crate) fn credits_denied(
    consumer: &str,
    balance: Micros,
    held: Micros,
    requested: Spend,
) -> QuotaDenied {
    QuotaDenied {
        kind: QuotaKind::Credits,
        scope: consumer.to_string(),
        limit: Amount::Usd(balance),
        used: Spend::default(),
        reserved: Spend::new(held, 0),
        period: tollgate_core::spec::Period::Total,
        resets_at: None,
        requested,
        balance: Some(balance),
    }
}

pub(crate) fn push_thresholds(out: &mut Vec<Threshold>, mask: u8, hold: &Hold, used: Spend) {
    for (i, p) in THRESHOLDS.iter().enumerate() {
        if mask & (1 << i) != 0 {
            out.push(Threshold {
                scope: hold.rule.scope.clone(),
                percent: *p,
                used,
                limit: hold.rule.limit,
                period: hold.rule.period,
                window_start: hold.window_start,
                resets_at: hold.resets_at,
            });
        }
    }
}
