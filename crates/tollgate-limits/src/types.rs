//! The vocabulary of the limiter: rules, requests, outcomes and errors.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tollgate_core::QuotaKind;
use tollgate_core::money::{Micros, format_usd, usd_to_micros};
use tollgate_core::spec::{BudgetSpec, Period, RateLimitSpec};

use crate::window::{format_reset, period_name, retry_after_secs};

/// What the Redis backend does when Redis cannot be reached in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Admit and reserve as if no limit applied (availability first). Spend during the
    /// outage is still metered by the gateway and recorded in the database, but it is
    /// not enforced.
    Open,
    /// Refuse with [`LimitError::Unavailable`] (the gateway answers 503): no request
    /// passes a limit that cannot be checked.
    Closed,
}

impl FailurePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            FailurePolicy::Open => "open",
            FailurePolicy::Closed => "closed",
        }
    }
}

/// Why the limiter could not answer. Never a limit being hit: those are
/// [`RateDenied`] and [`QuotaDenied`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// The backend could not be set up (a malformed Redis URL).
    #[error("invalid limiter configuration: {0}")]
    InvalidConfig(String),
    /// Redis failed or did not answer within the timeout. The gateway maps this to 503.
    #[error("limits backend unavailable: {0}")]
    Unavailable(String),
    /// A credit balance is needed but the limiter does not know it (never seeded, or
    /// Redis lost it). The database ledger is the source of truth: seed the balance
    /// from it with [`crate::Limiter::seed_credits`] and retry.
    #[error("the credit balance of `{0}` is not loaded")]
    CreditsNotSeeded(String),
}

// ---------------------------------------------------------------------------------
// Rate limits

/// Rate limits of one scope. A scope is an opaque id such as `key:abc`,
/// `consumer:team-a`, `team:platform` or `model:gpt-4o-mini`; every request that names
/// the same scope draws from the same allowance, on every node sharing a backend.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateRule {
    pub scope: String,
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
    pub concurrent: Option<u32>,
}

impl RateRule {
    /// The rule a config `rate_limit` block declares for `scope`.
    pub fn from_spec(scope: impl Into<String>, spec: &RateLimitSpec) -> RateRule {
        RateRule {
            scope: scope.into(),
            requests_per_minute: spec.requests_per_minute,
            tokens_per_minute: spec.tokens_per_minute,
            concurrent: spec.concurrent,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.requests_per_minute.is_none()
            && self.tokens_per_minute.is_none()
            && self.concurrent.is_none()
    }
}

/// One request asking to pass its rate limits.
#[derive(Debug, Clone, Copy)]
pub struct Admission<'a> {
    /// The gateway's request id: kept in the permit for logs; permits get their own
    /// unique id, so a retried request id never collides.
    pub request_id: &'a str,
    pub rules: &'a [RateRule],
    /// Tokens charged to tokens-per-minute rules now; corrected later by
    /// [`crate::Limiter::settle_tokens`].
    pub estimated_tokens: u64,
}

/// Figures of one rate-limit side, for OpenAI's `x-ratelimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    pub limit: u64,
    pub remaining: u64,
    /// Until the allowance is whole again.
    pub reset: Duration,
}

/// OpenAI's `x-ratelimit-*` figures. Requests and tokens each come from their own
/// tightest rule (the one with the least remaining); a side with no rule is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeaders {
    pub requests: Option<RateWindow>,
    pub tokens: Option<RateWindow>,
}

impl RateHeaders {
    /// Header names and values, ready to insert.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(6);
        if let Some(r) = self.requests {
            out.push(("x-ratelimit-limit-requests", r.limit.to_string()));
            out.push(("x-ratelimit-remaining-requests", r.remaining.to_string()));
            out.push(("x-ratelimit-reset-requests", format_reset(r.reset)));
        }
        if let Some(t) = self.tokens {
            out.push(("x-ratelimit-limit-tokens", t.limit.to_string()));
            out.push(("x-ratelimit-remaining-tokens", t.remaining.to_string()));
            out.push(("x-ratelimit-reset-tokens", format_reset(t.reset)));
        }
        out
    }

    pub(crate) fn or_none(self) -> Option<RateHeaders> {
        (self.requests.is_some() || self.tokens.is_some()).then_some(self)
    }
}

/// Which kind of rate limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateKind {
    Requests,
    Tokens,
    Concurrency,
}

/// A request refused by a rate limit (HTTP 429, never 402).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateDenied {
    pub scope: String,
    pub kind: RateKind,
    /// When the request would pass if sent again unchanged: the longest wait among the
    /// refusing rules. Requests and tokens per minute are exact (GCRA knows when the
    /// allowance returns); concurrency cannot know when a slot frees, so it says 1 s.
    pub retry_after: Duration,
    pub limit: u64,
    /// The current figures (nothing was charged), for the 429's headers.
    pub headers: Option<RateHeaders>,
}

impl RateDenied {
    /// `Retry-After` in whole seconds, rounded up.
    pub fn retry_after_secs(&self) -> u64 {
        retry_after_secs(self.retry_after)
    }
}

impl std::fmt::Display for RateDenied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            RateKind::Requests => "requests per minute",
            RateKind::Tokens => "tokens per minute",
            RateKind::Concurrency => "concurrent requests",
        };
        write!(
            f,
            "Rate limit reached for {}: {} {what}. Retry after {}.",
            self.scope,
            self.limit,
            format_reset(self.retry_after)
        )
    }
}

/// Why [`crate::Limiter::admit`] did not admit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    /// A rate limit refused: 429.
    #[error("{0}")]
    Limited(RateDenied),
    /// The backend failed under [`FailurePolicy::Closed`]: 503.
    #[error("{0}")]
    Backend(LimitError),
}

// ---------------------------------------------------------------------------------
// Budgets and credits

/// A budget's cap: money or tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Amount {
    Usd(Micros),
    Tokens(u64),
}

impl Amount {
    /// The part of a spend this cap counts.
    pub fn counted(&self, s: Spend) -> i128 {
        match self {
            Amount::Usd(_) => i128::from(s.cost),
            Amount::Tokens(_) => i128::from(s.tokens),
        }
    }

    pub fn value(&self) -> i128 {
        match self {
            Amount::Usd(m) => i128::from(*m),
            Amount::Tokens(t) => i128::from(*t),
        }
    }

    pub(crate) fn unit(&self) -> Unit {
        match self {
            Amount::Usd(_) => Unit::Usd,
            Amount::Tokens(_) => Unit::Tokens,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Unit {
    Usd,
    Tokens,
}

impl Unit {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Unit::Usd => "usd",
            Unit::Tokens => "tok",
        }
    }
}

/// A spending cap of one scope (a key, consumer or team) per calendar period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetRule {
    pub scope: String,
    pub limit: Amount,
    pub period: Period,
}

impl BudgetRule {
    /// The rules a config `budget` block declares for `scope` (one per cap it sets:
    /// `usd`, `tokens` or both).
    pub fn from_spec(scope: impl Into<String>, spec: &BudgetSpec) -> Vec<BudgetRule> {
        let scope = scope.into();
        let mut out = Vec::with_capacity(2);
        if let Some(usd) = spec.usd {
            out.push(BudgetRule {
                scope: scope.clone(),
                limit: Amount::Usd(usd_to_micros(usd)),
                period: spec.period,
            });
        }
        if let Some(tokens) = spec.tokens {
            out.push(BudgetRule {
                scope,
                limit: Amount::Tokens(tokens),
                period: spec.period,
            });
        }
        out
    }

    /// Which usage series this rule reads: two rules that only differ in their limit
    /// share one.
    pub(crate) fn series(&self) -> SeriesKey {
        SeriesKey {
            scope: self.scope.clone(),
            unit: self.limit.unit(),
            period: period_name(self.period),
        }
    }
}

/// Identity of a usage series: what is spent by a scope, in a unit, per period.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SeriesKey {
    pub(crate) scope: String,
    pub(crate) unit: Unit,
    pub(crate) period: &'static str,
}

/// Money and tokens, spent or reserved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spend {
    pub cost: Micros,
    pub tokens: u64,
}

impl Spend {
    pub fn new(cost: Micros, tokens: u64) -> Spend {
        Spend { cost, tokens }
    }

    /// Negative costs are not spend: refunds go through credits, not settlements.
    pub(crate) fn clamped(self) -> Spend {
        Spend {
            cost: self.cost.max(0),
            tokens: self.tokens,
        }
    }

    pub(crate) fn add(self, o: Spend) -> Spend {
        Spend {
            cost: self.cost.saturating_add(o.cost),
            tokens: self.tokens.saturating_add(o.tokens),
        }
    }

    pub(crate) fn sub(self, o: Spend) -> Spend {
        Spend {
            cost: self.cost.saturating_sub(o.cost).max(0),
            tokens: self.tokens.saturating_sub(o.tokens),
        }
    }
}

/// A request asking to hold its worst-case spend before it is forwarded.
#[derive(Debug, Clone, Copy)]
pub struct Reserve<'a> {
    pub request_id: &'a str,
    pub rules: &'a [BudgetRule],
    /// Worst-case cost: USD rules and credits compare this.
    pub cost: Micros,
    /// Worst-case tokens: token rules compare this.
    pub tokens: u64,
    /// The consumer whose prepaid balance must cover `cost`, if it has one.
    pub credits_of: Option<&'a str>,
}

/// A reservation that did not fit (HTTP 402): what ran out and by how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaDenied {
    /// `Budget` for a USD rule, `TokenQuota` for a token rule, `Credits` for credits.
    pub kind: QuotaKind,
    /// Whose allowance: the rule's scope, or the consumer for credits.
    pub scope: String,
    /// The cap; for credits, the balance (`Usd`).
    pub limit: Amount,
    /// Settled spend in the window (zero for credits).
    pub used: Spend,
    /// Held by requests in flight (for credits: credit holds).
    pub reserved: Spend,
    /// `Total` for credits.
    pub period: Period,
    /// End of the window; `None` for `total` and credits.
    pub resets_at: Option<DateTime<Utc>>,
    /// What this request asked to hold.
    pub requested: Spend,
    /// The credit balance, for `Credits`.
    pub balance: Option<Micros>,
}

impl QuotaDenied {
    /// What is left for new requests: limit − used − reserved (may be negative after
    /// an overrun); in micro-USD or tokens as the limit is.
    pub fn remaining(&self) -> i128 {
        self.limit.value() - self.limit.counted(self.used) - self.limit.counted(self.reserved)
    }
}

impl std::fmt::Display for QuotaDenied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let left = self.remaining().max(0);
        match (self.kind, self.limit) {
            (QuotaKind::Credits, _) => write!(
                f,
                "The prepaid credits of {} are exhausted: this request could cost up to {} USD \
                 and {} USD is available. Top up the credits or lower max_tokens.",
                self.scope,
                format_usd(self.requested.cost),
                format_usd(i64::try_from(left).unwrap_or(i64::MAX)),
            ),
            (_, Amount::Tokens(limit)) => write!(
                f,
                "The {} token quota of {} ({limit} tokens) is spent: this request could use up \
                 to {} tokens and {left} remain. Lower max_tokens or wait for the reset.",
                period_name(self.period),
                self.scope,
                self.requested.tokens,
            ),
            (_, Amount::Usd(limit)) => write!(
                f,
                "The {} budget of {} ({} USD) is spent: this request could cost up to {} USD and \
                 {} USD remains. Lower max_tokens or wait for the reset.",
                period_name(self.period),
                self.scope,
                format_usd(limit),
                format_usd(self.requested.cost),
                format_usd(i64::try_from(left).unwrap_or(i64::MAX)),
            ),
        }
    }
}

/// Why [`crate::Limiter::reserve`] did not reserve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReserveError {
    /// A budget, token quota or credit balance does not cover the request: 402.
    #[error("{0}")]
    Denied(QuotaDenied),
    /// The backend failed under [`FailurePolicy::Closed`] (503), or credits are not
    /// loaded ([`LimitError::CreditsNotSeeded`]).
    #[error("{0}")]
    Backend(LimitError),
}

/// One budget a reservation holds, as it stood right after the hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservedBudget {
    pub scope: String,
    pub limit: Amount,
    pub period: Period,
    pub window_start: DateTime<Utc>,
    pub resets_at: Option<DateTime<Utc>>,
    pub used: Spend,
    /// All holds in the window, this one included.
    pub reserved: Spend,
}

impl ReservedBudget {
    /// limit − used − reserved, in the limit's unit (micro-USD or tokens).
    pub fn remaining(&self) -> i128 {
        self.limit.value() - self.limit.counted(self.used) - self.limit.counted(self.reserved)
    }
}

/// A budget crossing 50, 80 or 100 % of its limit, reported once per
/// (scope, window, threshold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Threshold {
    pub scope: String,
    pub percent: u8,
    /// Settled usage right after the crossing settlement.
    pub used: Spend,
    pub limit: Amount,
    pub period: Period,
    pub window_start: DateTime<Utc>,
    pub resets_at: Option<DateTime<Utc>>,
}

/// What a settlement did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settled {
    /// Thresholds this settlement crossed (each reported by exactly one settlement).
    pub thresholds: Vec<Threshold>,
    /// The credit balance after the charge, when credits were held.
    pub credit_balance: Option<Micros>,
    /// The backend failed: the spend was not recorded here (the hold expires with its
    /// lease). The database ledger still has it.
    pub error: Option<LimitError>,
}

/// A budget's state in one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetStatus {
    pub scope: String,
    pub limit: Amount,
    pub period: Period,
    /// Settled spend.
    pub used: Spend,
    /// Held by requests in flight.
    pub reserved: Spend,
    pub window_start: DateTime<Utc>,
    /// `None` for `total`.
    pub resets_at: Option<DateTime<Utc>>,
}

impl BudgetStatus {
    /// limit − used − reserved, in the limit's unit.
    pub fn remaining(&self) -> i128 {
        self.limit.value() - self.limit.counted(self.used) - self.limit.counted(self.reserved)
    }
}

/// The percentages at which crossings are reported.
pub(crate) const THRESHOLDS: [u8; 3] = [50, 80, 100];

/// Thresholds crossed between `before` and `after` (in the limit's unit), as a bit
/// mask over [`THRESHOLDS`]. Integer arithmetic: `x % of L` is `x * 100 >= p * L`.
pub(crate) fn crossed(before: i128, after: i128, limit: i128) -> u8 {
    let mut mask = 0;
    if limit <= 0 {
        return mask;
    }
    for (i, p) in THRESHOLDS.iter().enumerate() {
        let line = i128::from(*p) * limit;
        if before * 100 < line && after * 100 >= line {
            mask |= 1 << i;
        }
    }
    mask
}
