//! Limits, budgets and credits around one request: admission before forwarding,
//! settlement after, and the figures a usage document shows.
//!
//! Admission runs in PRODUCT.md's order: rate limits first (429), then the budget and
//! credit reservation (402). The reservation holds the request's worst case (prompt
//! estimate plus `max_tokens`, at the model's price); settlement replaces it with the
//! actual cost when the answer ends, fails, or the client goes away.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tollgate_alerts::{AlertEvent, AlertKind, Alerter};
use tollgate_core::money::{Micros, TokenPrice, micros_to_usd};
use tollgate_core::snapshot::{Caller, KeyEntry, Snapshot};
use tollgate_core::spec::{ModelSpec, Period};
use tollgate_core::{GatewayError, QuotaKind};
use tollgate_limits::{
    Admission, AdmitError, Amount, BudgetRule, Limiter, Permit, QuotaDenied, RateHeaders, RateRule,
    Reservation, Reserve, ReserveError, Spend, Threshold,
};
use tollgate_store::{CallRecord, LedgerEntry, Store, UsageScope};

use crate::journal::{Entry, Journal};

/// Tokens reserved for the answer when neither the request nor the model says.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u32 = 4096;

/// The metering services of one node.
#[derive(Clone)]
pub struct Metering {
    pub limiter: Limiter,
    pub store: Store,
    pub journal: Journal,
    pub alerter: Alerter,
}

/// A request refused at admission (429, 402, 503), with the rate-limit figures that
/// still belong on the answer.
#[derive(Debug)]
pub struct Refusal {
    pub error: GatewayError,
    pub rate_headers: Option<RateHeaders>,
}

impl From<GatewayError> for Refusal {
    fn from(error: GatewayError) -> Self {
        Refusal {
            error,
            rate_headers: None,
        }
    }
}

/// OpenAI's `x-ratelimit-*` headers for these figures.
pub fn rate_header_pairs(h: &RateHeaders) -> Vec<(http::HeaderName, http::HeaderValue)> {
    h.to_pairs()
        .into_iter()
        .filter_map(|(name, value)| {
            http::HeaderValue::from_str(&value)
                .ok()
                .map(|v| (http::HeaderName::from_static(name), v))
        })
        .collect()
}

/// What admission granted a request: released/settled by [`Settlement`].
#[derive(Debug, Default)]
pub struct Ticket {
    pub permit: Option<Permit>,
    pub reservation: Option<Reservation>,
    pub rate_headers: Option<RateHeaders>,
    /// `x-tollgate-budget-remaining-usd`: the tightest USD budget after this hold.
    pub budget_remaining: Option<Micros>,
    /// Prepaid credits falling below this raise a `credits.low` alert.
    pub credits_floor: Option<Micros>,
}

/// Share of a consumer's configured `credits_usd` below which its balance is "low".
const CREDITS_LOW_PERCENT: i64 = 10;

pub fn consumer_scope(name: &str) -> String {
    format!("consumer:{name}")
}

pub fn team_scope(name: &str) -> String {
    format!("team:{name}")
}

pub fn key_scope(id: &str) -> String {
    format!("key:{id}")
}

pub fn model_scope(name: &str) -> String {
    format!("model:{name}")
}

/// Rate rules that apply to a request: its key's, consumer's, team's and model's.
pub fn rate_rules(snapshot: &Snapshot, caller: &Caller, model: &ModelSpec) -> Vec<RateRule> {
    let mut rules = Vec::new();
    if let Some(rl) = &caller.key.limits.rate_limit {
        rules.push(RateRule::from_spec(key_scope(&caller.key.id), rl));
    }
    if let Some(rl) = &model.rate_limit {
        rules.push(RateRule::from_spec(model_scope(&model.name), rl));
    }
    if let Some(rl) = &caller.consumer.rate_limit {
        rules.push(RateRule::from_spec(
            consumer_scope(&caller.consumer.name),
            rl,
        ));
    }
    if let Some(team) = caller
        .consumer
        .team
        .as_ref()
        .and_then(|t| snapshot.teams.get(t))
        && let Some(rl) = &team.rate_limit
    {
        rules.push(RateRule::from_spec(team_scope(&team.name), rl));
    }
    rules
}

/// Budget rules that apply to a caller: its key's, its consumer's and its team's.
pub fn caller_budget_rules(snapshot: &Snapshot, caller: &Caller) -> Vec<BudgetRule> {
    let mut rules = caller
        .key
        .limits
        .budget
        .as_ref()
        .map(|b| BudgetRule::from_spec(key_scope(&caller.key.id), b))
        .unwrap_or_default();
    rules.extend(budget_rules(snapshot, &caller.consumer.name));
    rules
}

/// Budget rules that apply to a consumer (its own and its team's).
pub fn budget_rules(snapshot: &Snapshot, consumer: &str) -> Vec<BudgetRule> {
    let mut rules = Vec::new();
    let Some(c) = snapshot.consumers.get(consumer) else {
        return rules;
    };
    if let Some(b) = &c.budget {
        rules.extend(BudgetRule::from_spec(consumer_scope(&c.name), b));
    }
    if let Some(team) = c.team.as_ref().and_then(|t| snapshot.teams.get(t))
        && let Some(b) = &team.budget
    {
        rules.extend(BudgetRule::from_spec(team_scope(&team.name), b));
    }
    rules
}

impl Metering {
    /// Rate limits, then the budget and credit reservation for a chat request.
    pub async fn admit(
        &self,
        snapshot: &Snapshot,
        caller: &Caller,
        model: &ModelSpec,
        request_id: &str,
        prompt_tokens: u64,
        max_output_tokens: u32,
    ) -> Result<Ticket, Refusal> {
        let mut ticket = Ticket::default();
        let worst_tokens = prompt_tokens + u64::from(max_output_tokens);
        let rules = rate_rules(snapshot, caller, model);
        if !rules.is_empty() {
            let admitted = self
                .limiter
                .admit(&Admission {
                    request_id,
                    rules: &rules,
                    estimated_tokens: worst_tokens,
                })
                .await
                .map_err(|e| match e {
                    AdmitError::Limited(d) => Refusal {
                        rate_headers: d.headers,
                        error: GatewayError::RateLimited {
                            message: d.to_string(),
                            retry_after_secs: d.retry_after_secs(),
                        },
                    },
                    AdmitError::Backend(e) => GatewayError::Unavailable(format!(
                        "The shared limits backend is unavailable ({e}); retry later"
                    ))
                    .into(),
                })?;
            ticket.rate_headers = admitted.headers;
            ticket.permit = Some(admitted.permit);
        }

        let budgets = caller_budget_rules(snapshot, caller);
        let credits = caller
            .consumer
            .credits_usd
            .is_some()
            .then_some(caller.consumer.name.as_str());
        if budgets.is_empty() && credits.is_none() {
            return Ok(ticket);
        }
        let price = model.price.map(TokenPrice::from).unwrap_or_default();
        let cost = price.cost(prompt_tokens, u64::from(max_output_tokens));
        let reserve = Reserve {
            request_id,
            rules: &budgets,
            cost,
            tokens: worst_tokens,
            credits_of: credits,
        };
        let mut result = self.limiter.reserve(&reserve).await;
        if let (
            Err(ReserveError::Backend(tollgate_limits::LimitError::CreditsNotSeeded(c))),
            Some(_),
        ) = (&result, credits)
        {
            // A consumer whose credits this node has not loaded yet: load, then retry.
            let balance = self
                .store
                .credit_balance(c)
                .await
                .map_err(|e| Refusal::from(internal(e)))?;
            let _ = self.limiter.seed_credits(c, balance).await;
            result = self.limiter.reserve(&reserve).await;
        }
        let rate_headers = ticket.rate_headers;
        let reservation = result.map_err(|e| Refusal {
            rate_headers,
            error: match e {
                ReserveError::Denied(d) => quota_error(&d),
                ReserveError::Backend(e) => GatewayError::Unavailable(format!(
                    "The shared limits backend is unavailable ({e}); retry later"
                )),
            },
        })?;
        ticket.budget_remaining = reservation
            .budgets()
            .iter()
            .filter(|b| matches!(b.limit, Amount::Usd(_)))
            .map(|b| i64::try_from(b.remaining()).unwrap_or(i64::MAX))
            .chain(reservation.credits_available())
            .min();
        ticket.reservation = Some(reservation);
        ticket.credits_floor = caller
            .consumer
            .credits_usd
            .map(|usd| tollgate_core::money::usd_to_micros(usd) * CREDITS_LOW_PERCENT / 100);
        Ok(ticket)
    }

    /// Loads budget usage of the current windows and credit balances from the
    /// database into the limiter (each only if the limiter does not know it yet).
    pub async fn seed(&self, snapshot: &Snapshot) {
        let now = Utc::now();
        let mut rules: Vec<(BudgetRule, UsageScope)> = Vec::new();
        for c in snapshot.consumers.values() {
            if let Some(b) = &c.budget {
                for r in BudgetRule::from_spec(consumer_scope(&c.name), b) {
                    rules.push((r, UsageScope::Consumer(c.name.clone())));
                }
            }
        }
        for k in snapshot.keys.values() {
            if let Some(b) = &k.limits.budget {
                for r in BudgetRule::from_spec(key_scope(&k.id), b) {
                    rules.push((r, UsageScope::Key(k.id.clone())));
                }
            }
        }
        for t in snapshot.teams.values() {
            if let Some(b) = &t.budget {
                for r in BudgetRule::from_spec(team_scope(&t.name), b) {
                    rules.push((r, UsageScope::Team(t.name.clone())));
                }
            }
        }
        for (rule, scope) in rules {
            let (start, _) = tollgate_limits::window(rule.period, now);
            match self.store.usage_since(&scope, start).await {
                Ok(u) => {
                    let used = Spend::new(u.cost_micros, u.input_tokens + u.output_tokens);
                    if let Err(e) = self.limiter.seed_budget(&rule, start, used).await {
                        tracing::warn!(error = %e, scope = %rule.scope, "seeding a budget failed");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, scope = %rule.scope, "reading budget usage failed")
                }
            }
        }
        match self.store.credit_balances().await {
            Ok(balances) => {
                for (consumer, balance) in balances {
                    if let Err(e) = self.limiter.seed_credits(&consumer, balance).await {
                        tracing::warn!(error = %e, %consumer, "seeding credits failed");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading credit balances failed"),
        }
    }

    /// The usage document of PRODUCT.md for one consumer: over the current window of
    /// its budget (or the current calendar month without one).
    pub async fn usage_document(
        &self,
        snapshot: &Snapshot,
        consumer: &str,
        key: Option<&KeyEntry>,
    ) -> Result<Value, GatewayError> {
        let Some(c) = snapshot.consumers.get(consumer) else {
            return Err(GatewayError::NotFound {
                method: "GET".into(),
                path: format!("consumer {consumer}"),
            });
        };
        let now = Utc::now();
        let own = c
            .budget
            .as_ref()
            .map(|b| BudgetRule::from_spec(consumer_scope(&c.name), b))
            .unwrap_or_default();
        let period = own.first().map(|r| r.period).unwrap_or(Period::Monthly);
        let (since, until) = tollgate_limits::window(period, now);
        let totals = self
            .store
            .usage_since(&UsageScope::Consumer(c.name.clone()), since)
            .await
            .map_err(internal)?;
        let mut budgets = Vec::new();
        let mut rules = key
            .and_then(|k| {
                k.limits
                    .budget
                    .as_ref()
                    .map(|b| BudgetRule::from_spec(key_scope(&k.id), b))
            })
            .unwrap_or_default();
        rules.extend(budget_rules(snapshot, &c.name));
        for rule in rules {
            match self.limiter.budget_status(&rule, now).await {
                Ok(s) => budgets.push(budget_json(
                    &s.scope,
                    s.limit,
                    s.used,
                    s.reserved,
                    s.period,
                    s.resets_at,
                )),
                Err(e) => tracing::warn!(error = %e, "budget status unavailable"),
            }
        }
        let credits = if c.credits_usd.is_some() {
            match self.limiter.credit_balance(&c.name).await {
                Ok(Some(b)) => Some(b),
                _ => Some(self.store.credit_balance(&c.name).await.map_err(internal)?),
            }
        } else {
            None
        };
        Ok(json!({
            "consumer": c.name,
            "period": period_name(period),
            "since": since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "until": until.map(|u| u.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "requests": totals.requests,
            "tokens": {"input": totals.input_tokens, "output": totals.output_tokens},
            "cost_usd": micros_to_usd(totals.cost_micros),
            "budget": budgets.first().cloned(),
            "budgets": budgets,
            "credits_usd": credits.map(micros_to_usd),
            "rate_limit": c.rate_limit,
        }))
    }

    /// Raises webhook alerts for budget thresholds a settlement crossed.
    fn alert_thresholds(&self, thresholds: &[Threshold]) {
        for t in thresholds {
            let (used_usd, limit_usd) = match t.limit {
                Amount::Usd(l) => (Some(micros_to_usd(t.used.cost)), Some(micros_to_usd(l))),
                Amount::Tokens(_) => (None, None),
            };
            self.alerter.raise(AlertEvent {
                kind: AlertKind::BudgetThreshold,
                scope: t.scope.clone(),
                period_key: t.window_start.format("%Y-%m-%d").to_string(),
                threshold_percent: Some(t.percent),
                used_usd,
                limit_usd,
                detail: json!({
                    "period": period_name(t.period),
                    "resets_at": t.resets_at.map(|r| r.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                    "used_tokens": t.used.tokens,
                    "limit_tokens": match t.limit { Amount::Tokens(n) => Some(n), Amount::Usd(_) => None },
                }),
            });
        }
    }
}

/// A consumer declared with `credits_usd` starts with that balance: granted once, as
/// the first ledger entry, so re-applying the config never grants it again.
pub async fn grant_initial_credits(
    store: &Store,
    consumer: &str,
    usd: f64,
) -> Result<(), tollgate_store::StoreError> {
    let amount = tollgate_core::money::usd_to_micros(usd);
    if amount <= 0 || !store.list_ledger(consumer, 1, None).await?.is_empty() {
        return Ok(());
    }
    store
        .append_ledger(&LedgerEntry::new(
            consumer,
            tollgate_store::LedgerKind::Topup,
            amount,
            "initial credits (credits_usd)",
            "config",
        ))
        .await
        .map(|_| ())
}

fn internal(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::Internal(e.to_string())
}

pub fn period_name(p: Period) -> &'static str {
    match p {
        Period::Daily => "daily",
        Period::Weekly => "weekly",
        Period::Monthly => "monthly",
        Period::Total => "total",
    }
}

/// The `budget` object of a 402 and of usage documents.
fn budget_json(
    scope: &str,
    limit: Amount,
    used: Spend,
    reserved: Spend,
    period: Period,
    resets_at: Option<DateTime<Utc>>,
) -> Value {
    let resets = resets_at.map(|r| r.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    match limit {
        Amount::Usd(l) => json!({
            "scope": scope,
            "limit_usd": micros_to_usd(l),
            "used_usd": micros_to_usd(used.cost),
            "reserved_usd": micros_to_usd(reserved.cost),
            "remaining_usd": micros_to_usd((l - used.cost - reserved.cost).max(0)),
            "period": period_name(period),
            "resets_at": resets,
        }),
        Amount::Tokens(l) => json!({
            "scope": scope,
            "limit_tokens": l,
            "used_tokens": used.tokens,
            "reserved_tokens": reserved.tokens,
            "remaining_tokens": l.saturating_sub(used.tokens + reserved.tokens),
            "period": period_name(period),
            "resets_at": resets,
        }),
    }
}

/// A refused reservation as the 402 of the contract.
pub fn quota_error(d: &QuotaDenied) -> GatewayError {
    let detail = match d.kind {
        QuotaKind::Credits => json!({
            "consumer": d.scope.strip_prefix("consumer:").unwrap_or(&d.scope),
            "balance_usd": micros_to_usd(d.balance.unwrap_or(0)),
            "reserved_usd": micros_to_usd(d.reserved.cost),
            "required_usd": micros_to_usd(d.requested.cost),
        }),
        QuotaKind::Budget | QuotaKind::TokenQuota => {
            let mut b = budget_json(&d.scope, d.limit, d.used, d.reserved, d.period, d.resets_at);
            if let Some(o) = b.as_object_mut() {
                match d.limit {
                    Amount::Usd(_) => {
                        o.insert(
                            "requested_usd".into(),
                            json!(micros_to_usd(d.requested.cost)),
                        );
                    }
                    Amount::Tokens(_) => {
                        o.insert("requested_tokens".into(), json!(d.requested.tokens));
                    }
                }
            }
            b
        }
    };
    GatewayError::QuotaExceeded {
        kind: d.kind,
        message: d.to_string(),
        detail,
    }
}

/// Context of one request, for its call record.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub request_id: String,
    pub consumer: String,
    pub key_id: String,
    pub team: Option<String>,
    pub model: String,
    pub started: std::time::Instant,
    pub at: DateTime<Utc>,
}

impl CallContext {
    pub fn new(request_id: &str, caller: &Caller, model: &ModelSpec) -> CallContext {
        CallContext {
            request_id: request_id.to_string(),
            consumer: caller.consumer.name.clone(),
            key_id: caller.key.id.clone(),
            team: caller.consumer.team.clone(),
            model: model.name.clone(),
            started: std::time::Instant::now(),
            at: Utc::now(),
        }
    }
}

/// Admission for one request through whichever door: on success the settlement that
/// will close its books; on refusal (429, 402, 503) the call is booked right away and
/// the error returned.
pub async fn admission(
    metering: Option<&Arc<Metering>>,
    snapshot: &Snapshot,
    caller: &Caller,
    model: &ModelSpec,
    request_id: &str,
    prompt_tokens: u64,
    max_output_tokens: u32,
) -> Result<Settlement, Refusal> {
    let ctx = CallContext::new(request_id, caller, model);
    let Some(m) = metering else {
        return Ok(Settlement::new(None, Ticket::default(), ctx));
    };
    match m
        .admit(
            snapshot,
            caller,
            model,
            request_id,
            prompt_tokens,
            max_output_tokens,
        )
        .await
    {
        Ok(ticket) => Ok(Settlement::new(Some(m.clone()), ticket, ctx)),
        Err(refusal) => {
            let mut s = Settlement::new(Some(m.clone()), Ticket::default(), ctx);
            s.status = refusal.error.status();
            s.error_code = Some(refusal.error.classify().code.to_string());
            s.finish();
            Err(refusal)
        }
    }
}

/// Closes a request's books exactly once: corrects tokens/min, frees concurrency,
/// settles the reservation to the actual cost (raising threshold alerts), charges
/// credits, and journals the call. Runs from `finish` or, if the answer was dropped
/// half-way (client gone), from `Drop` with what was delivered.
pub struct Settlement {
    metering: Option<Arc<Metering>>,
    ticket: Ticket,
    ctx: CallContext,
    pub provider: Option<String>,
    pub status: u16,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost: Micros,
    pub error_code: Option<String>,
    pub ttfb_ms: Option<u64>,
    pub cached: bool,
    done: bool,
}

impl Settlement {
    pub fn new(metering: Option<Arc<Metering>>, ticket: Ticket, ctx: CallContext) -> Self {
        Settlement {
            metering,
            ticket,
            ctx,
            provider: None,
            status: 0,
            input_tokens: 0,
            output_tokens: 0,
            cost: 0,
            error_code: None,
            ttfb_ms: None,
            cached: false,
            done: false,
        }
    }

    pub fn ticket(&self) -> &Ticket {
        &self.ticket
    }

    /// Closes the books now (in a background task: nothing here delays the client).
    pub fn finish(mut self) {
        self.close();
    }

    fn close(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        let Some(metering) = self.metering.clone() else {
            return;
        };
        let permit = self.ticket.permit.take();
        let reservation = self.ticket.reservation.take();
        let record = CallRecord {
            request_id: self.ctx.request_id.clone(),
            at: self.ctx.at,
            consumer: Some(self.ctx.consumer.clone()),
            key_id: Some(self.ctx.key_id.clone()),
            team: self.ctx.team.clone(),
            door: "openai".to_string(),
            model: Some(self.ctx.model.clone()),
            provider: self.provider.clone(),
            status: self.status,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cost_micros: self.cost,
            cache: self.cached.then(|| "hit".to_string()),
            error_code: self.error_code.clone(),
            latency_ms: self.ctx.started.elapsed().as_millis() as u64,
            ttft_ms: self.ttfb_ms,
            steps: Value::Array(Vec::new()),
            ..CallRecord::default()
        };
        let consumer = self.ctx.consumer.clone();
        if permit.is_none() && reservation.is_none() {
            // Nothing to settle with the limiter: just the record (never waits).
            metering.journal.commit_detached(vec![Entry::Call(record)]);
            return;
        }
        let tokens = self.input_tokens + self.output_tokens;
        let cost = self.cost;
        let credits_floor = self.ticket.credits_floor;
        let task = async move {
            let mut entries = Vec::with_capacity(2);
            if let Some(p) = permit {
                metering.limiter.settle_tokens(&p, tokens).await;
                metering.limiter.release(p).await;
            }
            if let Some(r) = reservation {
                let charged_credits = r.credits_available().is_some();
                let settled = metering.limiter.settle(r, Spend::new(cost, tokens)).await;
                metering.alert_thresholds(&settled.thresholds);
                if let (Some(after), Some(floor)) = (settled.credit_balance, credits_floor)
                    && after < floor
                    && after + cost >= floor
                {
                    metering.alerter.raise(AlertEvent {
                        kind: AlertKind::CreditsLow,
                        scope: consumer_scope(&consumer),
                        period_key: Utc::now().format("%Y-%m-%dT%H").to_string(),
                        threshold_percent: None,
                        used_usd: None,
                        limit_usd: Some(micros_to_usd(floor)),
                        detail: json!({
                            "balance_usd": micros_to_usd(after),
                            "floor_usd": micros_to_usd(floor),
                        }),
                    });
                }
                if charged_credits && cost > 0 {
                    entries.push(Entry::Charge(LedgerEntry::charge(
                        consumer.clone(),
                        record.request_id.clone(),
                        cost,
                    )));
                }
            }
            entries.push(Entry::Call(record));
            metering.journal.commit_detached(entries);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(task);
            }
            Err(_) => tracing::warn!("settlement outside a runtime; skipped"),
        }
    }
}

impl Drop for Settlement {
    fn drop(&mut self) {
        if !self.done && self.status == 0 {
            // The client went away before the answer ended.
            self.status = 499;
            self.error_code
                .get_or_insert_with(|| "client_closed".to_string());
        }
        self.close();
    }
}
