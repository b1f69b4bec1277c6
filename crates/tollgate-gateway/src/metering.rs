//! The metering services of a node (limiter, store, journal, alerts) and what they
//! share: the scopes and rules that apply to a caller, budget seeding at start, the
//! usage document, the 402's contents and threshold alerts. Admission is in
//! [`crate::admission`]; settlement in [`crate::lifecycle`].

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tollgate_alerts::{AlertEvent, AlertKind, Alerter};
use tollgate_core::money::micros_to_usd;
use tollgate_core::snapshot::{Caller, KeyEntry, Snapshot};
use tollgate_core::spec::{ModelSpec, Period};
use tollgate_core::{GatewayError, QuotaKind};
use tollgate_limits::{
    Amount, BudgetRule, Limiter, QuotaDenied, RateHeaders, RateRule, Spend, Threshold,
};
use tollgate_store::{LedgerEntry, Store, UsageScope};

use tollgate_store::Journal;

/// The metering services of one node.
#[derive(Clone)]
pub struct Metering {
    pub limiter: Limiter,
    pub store: Store,
    pub journal: Journal,
    pub alerter: Alerter,
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
    pub(crate) fn alert_thresholds(&self, thresholds: &[Threshold]) {
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
