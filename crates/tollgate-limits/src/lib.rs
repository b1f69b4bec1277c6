//! Traffic control and metering for Tollgate: rate limits, concurrency, budgets and
//! prepaid credits behind one interface, with two backends.
//!
//! - [`Limiter::local`]: in-process counters, the default. Nothing leaves the process,
//!   so several nodes would each enforce their own copy of every limit.
//! - [`Limiter::redis`]: counters in Redis, so several nodes share limits and budgets
//!   exactly. Every decision is one atomic Lua script on Redis server time. Needs
//!   Redis 6.2 or later (`SET ... EXAT`) on a single primary (no Redis Cluster: key
//!   names depend on server time and are built inside the scripts).
//!
//! No call touches the database: the gateway seeds budgets and credit balances from it
//! at start ([`Limiter::seed_budget`], [`Limiter::seed_credits`]) and keeps the durable
//! ledger there; this crate holds the live figures.
//!
//! # The request's path through the limiter
//! 1. [`Limiter::admit`]: requests/min, tokens/min (charged an estimate) and concurrency,
//!    all or nothing across every scope (key, consumer, team, model...). A refusal is a
//!    429 with an exact `retry_after`; a pass carries a [`Permit`] and the figures for
//!    OpenAI's `x-ratelimit-*` headers.
//! 2. [`Limiter::reserve`]: the request's worst-case cost and tokens are held on every
//!    budget and on the consumer's credits, all or nothing. A refusal is a 402.
//! 3. The request runs.
//! 4. [`Limiter::settle`] replaces the hold with the actual spend (also after a failure
//!    or a client disconnect: settle with what was really spent, possibly 0), and
//!    reports budget thresholds crossed; [`Limiter::settle_tokens`] corrects the
//!    tokens/min estimate; [`Limiter::release`] frees the concurrency slots. Dropping a
//!    [`Reservation`] or [`Permit`] instead releases it (best effort on Redis, where a
//!    lease also expires by itself if the node dies).
//!
//! # Overspend tolerance
//! **Zero** when every request's actual spend is at most its reservation: the settled
//! spend of a budget never exceeds its limit and a credit balance never goes below
//! zero, under any concurrency and with any number of nodes on one Redis, because a
//! reservation is admitted only if `used + reserved + requested <= limit` (credits:
//! `balance − held >= cost`) in one atomic step, and settling replaces a hold by an
//! amount no larger (tested with 60 parallel tasks on each backend and on two Redis
//! nodes). The only ways past the limit are, and are bounded by:
//! - requests whose actual spend exceeds their reservation (a prompt-token estimate
//!   that was low): the overrun is at most the sum of those excesses,
//!   `Σ max(0, actual − reserved)`, and once over, every later reservation is refused
//!   until the window resets;
//! - with Redis, a node cut off from Redis for longer than the lease (30 s by default)
//!   while its requests still run: their holds expire and others may take that room,
//!   so at most the holds of that node's in-flight requests;
//! - [`FailurePolicy::Open`] while Redis is unreachable: nothing is enforced for that
//!   time (counted in `tollgate_limits_backend_errors_total{policy="open"}`).

mod clock;
mod local;
mod rate;
mod redis_backend;
mod types;
mod window;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tollgate_core::money::Micros;

pub use clock::{Clock, ManualClock, SystemClock};
pub use redis_backend::RedisOptions;
pub use tollgate_core::QuotaKind;
pub use tollgate_core::spec::Period;
pub use types::{
    Admission, AdmitError, Amount, BudgetRule, BudgetStatus, FailurePolicy, LimitError,
    QuotaDenied, RateDenied, RateHeaders, RateKind, RateRule, RateWindow, Reserve, ReserveError,
    ReservedBudget, Settled, Spend, Threshold,
};
pub use window::{format_reset, retry_after_secs, window};

use local::LocalEngine;
use redis_backend::{Keeper, RedisEngine};
use types::SeriesKey;

/// The limiter: cheap to clone, all clones share the same counters.
#[derive(Clone)]
pub struct Limiter {
    engine: Engine,
    /// Renews this node's Redis leases while any handle exists.
    _keeper: Option<Arc<Keeper>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.engine {
            Engine::Local(_) => f.write_str("Limiter(local)"),
            Engine::Redis(r) => write!(f, "Limiter(redis, policy {})", r.policy.as_str()),
        }
    }
}

/// A backend; permits and reservations keep one to release themselves when dropped.
#[derive(Clone)]
pub(crate) enum Engine {
    Local(Arc<LocalEngine>),
    Redis(Arc<RedisEngine>),
}

/// Admitted through the rate limits. Holds the concurrency slots until released or
/// dropped, and remembers the tokens/min estimate so it can be corrected.
pub struct Permit {
    request_id: String,
    inner: Option<PermitInner>,
}

pub(crate) struct PermitInner {
    pub(crate) engine: Engine,
    /// Lease member (Redis); empty for the local backend.
    pub(crate) id: String,
    /// Scopes whose concurrency slot this permit holds.
    pub(crate) concurrency: Vec<String>,
    /// Scopes with a tokens/min rule and their limits.
    pub(crate) tokens: Vec<(String, u64)>,
    /// Tokens charged so far to those rules.
    pub(crate) charged: AtomicU64,
}

impl Permit {
    pub(crate) fn new(
        engine: Engine,
        id: String,
        req: &Admission<'_>,
        rules: &[RateRule],
    ) -> Permit {
        let concurrency = rules
            .iter()
            .filter(|r| r.concurrent.is_some())
            .map(|r| r.scope.clone())
            .collect();
        let tokens = rules
            .iter()
            .filter_map(|r| r.tokens_per_minute.map(|l| (r.scope.clone(), l)))
            .collect();
        Permit {
            request_id: req.request_id.to_string(),
            inner: Some(PermitInner {
                engine,
                id,
                concurrency,
                tokens,
                charged: AtomicU64::new(req.estimated_tokens),
            }),
        }
    }

    /// A permit that holds nothing: no rule applied, or Redis failed under
    /// [`FailurePolicy::Open`].
    pub(crate) fn unbacked(request_id: &str) -> Permit {
        Permit {
            request_id: request_id.to_string(),
            inner: None,
        }
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// False when nothing is held (no rules, or admitted by a fail-open policy).
    pub fn is_enforced(&self) -> bool {
        self.inner.is_some()
    }
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("request_id", &self.request_id)
            .field("enforced", &self.is_enforced())
            .finish()
    }
}

impl Drop for Permit {
    /// A permit dropped without [`Limiter::release`] (a panic, a cancelled future) must
    /// not hold its slot forever: local slots are freed here; on Redis a release is
    /// spawned, and if that cannot run the slot's lease expires.
    fn drop(&mut self) {
        let Some(p) = self.inner.take() else { return };
        if p.concurrency.is_empty() {
            return;
        }
        match &p.engine {
            Engine::Local(l) => l.release(&p),
            Engine::Redis(r) => {
                let r = Arc::clone(r);
                match tokio::runtime::Handle::try_current() {
                    Ok(h) => {
                        h.spawn(async move {
                            if let Err(e) = r.release(&p).await {
                                r.failed("release", &e);
                            }
                        });
                    }
                    Err(_) => r.drop_leases(&p.id),
                }
            }
        }
    }
}

/// One budget hold of a reservation.
#[derive(Debug, Clone)]
pub(crate) struct Hold {
    pub(crate) series: SeriesKey,
    pub(crate) window_start: DateTime<Utc>,
    pub(crate) resets_at: Option<DateTime<Utc>>,
    pub(crate) rule: BudgetRule,
}

pub(crate) struct ResInner {
    pub(crate) engine: Engine,
    /// Lease member (Redis); empty for the local backend.
    pub(crate) id: String,
    pub(crate) held: Spend,
    pub(crate) holds: Vec<Hold>,
    pub(crate) credits: Option<String>,
}

/// A request's worst case, held on its budgets and credits until settled.
pub struct Reservation {
    request_id: String,
    held: Spend,
    budgets: Vec<ReservedBudget>,
    credits_available: Option<Micros>,
    inner: Option<ResInner>,
}

impl Reservation {
    pub(crate) fn new(
        request_id: &str,
        held: Spend,
        budgets: Vec<ReservedBudget>,
        credits_available: Option<Micros>,
        inner: Option<ResInner>,
    ) -> Reservation {
        Reservation {
            request_id: request_id.to_string(),
            held,
            budgets,
            credits_available,
            inner,
        }
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// What is held: the request's worst case.
    pub fn held(&self) -> Spend {
        self.held
    }

    /// Each budget as it stood right after this hold.
    pub fn budgets(&self) -> &[ReservedBudget] {
        &self.budgets
    }

    /// The least USD remaining across the USD budgets after this hold, for
    /// `x-tollgate-budget-remaining-usd`; `None` when no USD budget applies.
    pub fn remaining_usd(&self) -> Option<Micros> {
        self.budgets
            .iter()
            .filter(|b| matches!(b.limit, Amount::Usd(_)))
            .map(|b| i64::try_from(b.remaining()).unwrap_or(i64::MIN))
            .min()
    }

    /// Credits left for other requests after this hold (balance − all holds).
    pub fn credits_available(&self) -> Option<Micros> {
        self.credits_available
    }

    /// False when nothing is held (no rules, or reserved by a fail-open policy).
    pub fn is_enforced(&self) -> bool {
        self.inner.is_some()
    }
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("request_id", &self.request_id)
            .field("held", &self.held)
            .field("budgets", &self.budgets)
            .field("enforced", &self.is_enforced())
            .finish()
    }
}

impl Drop for Reservation {
    /// An unsettled reservation is released (settled to 0) so that a forgotten or
    /// cancelled request does not keep budget room held. On Redis this is spawned; the
    /// hold's lease covers the case where it cannot run.
    fn drop(&mut self) {
        let Some(r) = self.inner.take() else { return };
        match &r.engine {
            Engine::Local(l) => {
                l.settle(&r, Spend::default());
            }
            Engine::Redis(e) => {
                let e = Arc::clone(e);
                match tokio::runtime::Handle::try_current() {
                    Ok(h) => {
                        h.spawn(async move {
                            if let Err(err) = e.settle(&r, Spend::default()).await {
                                e.failed("settle", &err);
                            }
                        });
                    }
                    Err(_) => e.drop_leases(&r.id),
                }
            }
        }
    }
}

/// Admitted through the rate limits.
#[derive(Debug)]
pub struct Admitted {
    pub permit: Permit,
    /// Figures for `x-ratelimit-*`; `None` when no requests/min or tokens/min rule applies.
    pub headers: Option<RateHeaders>,
}

impl Limiter {
    /// The in-process backend on the system clock.
    pub fn local() -> Limiter {
        Limiter::local_with_clock(Arc::new(SystemClock::new()))
    }

    /// The in-process backend on a given clock (tests pin time with [`ManualClock`]).
    pub fn local_with_clock(clock: Arc<dyn Clock>) -> Limiter {
        Limiter {
            engine: Engine::Local(Arc::new(LocalEngine::new(clock))),
            _keeper: None,
        }
    }

    /// The Redis backend with default timings (250 ms per call, 30 s leases). Keys are
    /// put under `prefix` (e.g. `tollgate:`); nodes sharing limits use the same one.
    ///
    /// Connects lazily: an unreachable Redis is not an error here (the node must start
    /// and apply `policy`); only a malformed URL is.
    pub async fn redis(
        url: &str,
        prefix: &str,
        policy: FailurePolicy,
    ) -> Result<Limiter, LimitError> {
        Limiter::redis_with(url, prefix, RedisOptions::new(policy)).await
    }

    /// The Redis backend with explicit timings.
    pub async fn redis_with(
        url: &str,
        prefix: &str,
        opts: RedisOptions,
    ) -> Result<Limiter, LimitError> {
        let (engine, keeper) = RedisEngine::connect(url, prefix, opts).await?;
        Ok(Limiter {
            engine: Engine::Redis(engine),
            _keeper: Some(Arc::new(keeper)),
        })
    }

    /// Whether the backend answers (always for the local one); for `/readyz`.
    pub async fn health(&self) -> Result<(), LimitError> {
        match &self.engine {
            Engine::Local(_) => Ok(()),
            Engine::Redis(r) => r.ping().await,
        }
    }

    /// How many Redis calls failed (and had the policy applied) since start; the same
    /// count is exported as `tollgate_limits_backend_errors_total{policy, op}`.
    pub fn backend_errors(&self) -> u64 {
        match &self.engine {
            Engine::Local(_) => 0,
            Engine::Redis(r) => r.backend_errors(),
        }
    }

    // ------------------------------------------------------------------ rate limits

    /// Admits a request through every rule, or through none: a refusal takes nothing
    /// from the other rules. Rules naming the same scope are merged (tightest limits).
    pub async fn admit(&self, req: &Admission<'_>) -> Result<Admitted, AdmitError> {
        let rules = rate::normalize(req.rules);
        if rules.is_empty() {
            return Ok(Admitted {
                permit: Permit::unbacked(req.request_id),
                headers: None,
            });
        }
        match &self.engine {
            Engine::Local(l) => l.admit(req, &rules).map_err(AdmitError::Limited),
            Engine::Redis(r) => match r.admit(req, &rules).await {
                Ok(v) => v.map_err(AdmitError::Limited),
                Err(e) => {
                    r.failed("admit", &e);
                    match r.policy {
                        FailurePolicy::Open => Ok(Admitted {
                            permit: Permit::unbacked(req.request_id),
                            headers: None,
                        }),
                        FailurePolicy::Closed => Err(AdmitError::Backend(e)),
                    }
                }
            },
        }
    }

    /// Corrects the tokens/min charge of `permit` from its estimate to `actual_tokens`.
    /// More than estimated goes into debt (later requests wait longer); less gives the
    /// difference back. May be called again with a newer count.
    pub async fn settle_tokens(&self, permit: &Permit, actual_tokens: u64) {
        let Some(p) = &permit.inner else { return };
        if p.tokens.is_empty() {
            return;
        }
        let before = p.charged.swap(actual_tokens, Ordering::AcqRel);
        let delta = i64::try_from(i128::from(actual_tokens) - i128::from(before)).unwrap_or(0);
        if delta == 0 {
            return;
        }
        match &p.engine {
            Engine::Local(l) => l.settle_tokens(&p.tokens, delta),
            Engine::Redis(r) => {
                if let Err(e) = r.settle_tokens(&p.tokens, delta).await {
                    r.failed("settle_tokens", &e);
                }
            }
        }
    }

    /// Frees the permit's concurrency slots.
    pub async fn release(&self, mut permit: Permit) {
        let Some(p) = permit.inner.take() else { return };
        match &p.engine {
            Engine::Local(l) => l.release(&p),
            Engine::Redis(r) => {
                if let Err(e) = r.release(&p).await {
                    r.failed("release", &e);
                }
            }
        }
    }

    // ------------------------------------------------------------------ budgets

    /// Holds the request's worst case (`cost` on USD budgets and credits, `tokens` on
    /// token quotas) on every rule and on credits, or on none. A rule fits when
    /// `used + reserved + requested <= limit` in its current window; credits fit when
    /// `balance − held >= cost`. When several do not fit, the refusal names the first
    /// rule in the order given, then credits.
    pub async fn reserve(&self, req: &Reserve<'_>) -> Result<Reservation, ReserveError> {
        let rules = normalize_budgets(req.rules);
        if rules.is_empty() && req.credits_of.is_none() {
            let held = Spend::new(req.cost, req.tokens).clamped();
            return Ok(Reservation::new(
                req.request_id,
                held,
                Vec::new(),
                None,
                None,
            ));
        }
        let out = match &self.engine {
            Engine::Local(l) => l.reserve(req, &rules),
            Engine::Redis(r) => match r.reserve(req, &rules).await {
                Err(e @ LimitError::Unavailable(_)) => {
                    r.failed("reserve", &e);
                    return match r.policy {
                        FailurePolicy::Open => {
                            let held = Spend::new(req.cost, req.tokens).clamped();
                            Ok(Reservation::new(
                                req.request_id,
                                held,
                                Vec::new(),
                                None,
                                None,
                            ))
                        }
                        FailurePolicy::Closed => Err(ReserveError::Backend(e)),
                    };
                }
                other => other,
            },
        };
        match out {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(d)) => Err(ReserveError::Denied(d)),
            Err(e) => Err(ReserveError::Backend(e)),
        }
    }

    /// Replaces the reservation by what was actually spent (which may exceed it: it is
    /// recorded as is and only affects later requests), charges credits, and reports
    /// the thresholds this settlement crossed.
    ///
    /// Await it where it cannot be cancelled (a spawned task, a body's end hook): on
    /// Redis, a settlement abandoned mid-call leaves the hold to expire with its lease
    /// and the spend unrecorded in Redis (the database ledger still has it).
    pub async fn settle(&self, mut reservation: Reservation, actual: Spend) -> Settled {
        let Some(r) = reservation.inner.take() else {
            return Settled::default();
        };
        match &r.engine {
            Engine::Local(l) => l.settle(&r, actual),
            Engine::Redis(e) => match e.settle(&r, actual).await {
                Ok(s) => s,
                Err(err) => {
                    e.failed("settle", &err);
                    Settled {
                        error: Some(err),
                        ..Settled::default()
                    }
                }
            },
        }
    }

    /// A budget's figures in the window containing `now` (pass `Utc::now()` for the
    /// current one). On Redis the window is chosen from `now` but the figures are
    /// Redis', with expired holds of dead nodes left out.
    pub async fn budget_status(
        &self,
        rule: &BudgetRule,
        now: DateTime<Utc>,
    ) -> Result<BudgetStatus, LimitError> {
        match &self.engine {
            Engine::Local(l) => Ok(l.budget_status(rule, now)),
            Engine::Redis(r) => r
                .budget_status(rule, now)
                .await
                .inspect_err(|e| r.failed("status", e)),
        }
    }

    /// Sets the settled usage of the window containing `window_start`, unless that
    /// window is already known (on Redis: only the first node to start seeds it, so a
    /// restart never overwrites live figures with older database totals). Seed before
    /// serving: a reservation creates the window, after which seeding is ignored.
    pub async fn seed_budget(
        &self,
        rule: &BudgetRule,
        window_start: DateTime<Utc>,
        used: Spend,
    ) -> Result<(), LimitError> {
        match &self.engine {
            Engine::Local(l) => {
                l.seed_budget(rule, window_start, used);
                Ok(())
            }
            Engine::Redis(r) => r
                .seed_budget(rule, window_start, used)
                .await
                .inspect_err(|e| r.failed("seed_budget", e)),
        }
    }

    // ------------------------------------------------------------------ credits

    /// Sets a consumer's credit balance unless it is already known (same rule as
    /// [`Limiter::seed_budget`]): the gateway seeds it from the ledger's sum.
    pub async fn seed_credits(&self, consumer: &str, balance: Micros) -> Result<(), LimitError> {
        match &self.engine {
            Engine::Local(l) => {
                l.seed_credits(consumer, balance);
                Ok(())
            }
            Engine::Redis(r) => r
                .seed_credits(consumer, balance)
                .await
                .inspect_err(|e| r.failed("seed_credits", e)),
        }
    }

    /// Adds a top-up, refund or adjustment (negative to take away) to a known balance
    /// and returns the new balance. [`LimitError::CreditsNotSeeded`] when the balance
    /// is not loaded: seed it from the ledger (which already has this entry) instead.
    pub async fn add_credits(&self, consumer: &str, delta: Micros) -> Result<Micros, LimitError> {
        match &self.engine {
            Engine::Local(l) => l.add_credits(consumer, delta),
            Engine::Redis(r) => r.add_credits(consumer, delta).await.inspect_err(|e| {
                if matches!(e, LimitError::Unavailable(_)) {
                    r.failed("add_credits", e);
                }
            }),
        }
    }

    /// The settled balance (holds not subtracted); `None` when not loaded.
    pub async fn credit_balance(&self, consumer: &str) -> Result<Option<Micros>, LimitError> {
        match &self.engine {
            Engine::Local(l) => Ok(l.credit_balance(consumer)),
            Engine::Redis(r) => r
                .credit_balance(consumer)
                .await
                .inspect_err(|e| r.failed("credit_balance", e)),
        }
    }
}

/// Rules deduplicated by usage series (scope, unit, period), keeping the tightest
/// limit: a series named twice must be held once, not twice.
fn normalize_budgets(rules: &[BudgetRule]) -> Vec<BudgetRule> {
    let mut out: Vec<BudgetRule> = Vec::with_capacity(rules.len());
    for r in rules {
        let key = r.series();
        if let Some(m) = out.iter_mut().find(|m| m.series() == key) {
            if r.limit.value() < m.limit.value() {
                m.limit = r.limit;
            }
        } else {
            out.push(r.clone());
        }
    }
    out
}
