//! Phase 3, admission: the plan of models a request may end up on, rate limits (429)
//! and the budget and credit reservation (402), in PRODUCT.md's order.
//!
//! The reservation covers the worst case over the whole fallback chain: for each model
//! the request may be answered by, its prompt at that model's dearest prompt price
//! plus its output cap at that model's output price; the largest of those is held. The
//! output cap reserved for a model is also the cap sent to its upstream
//! ([`Planned::max_output`]), so no answer can cost more than was held (beyond the
//! error of the prompt estimate).

use std::collections::HashSet;
use std::sync::Arc;

use http::{HeaderName, HeaderValue};
use serde_json::json;
use tollgate_core::GatewayError;
use tollgate_core::money::{Micros, TokenPrice, format_usd, micros_to_usd, usd_to_micros};
use tollgate_core::snapshot::{Caller, Snapshot};
use tollgate_core::spec::ModelSpec;
use tollgate_limits::{
    Admission, AdmitError, Amount, RateDenied, RateHeaders, RateKind, RateRule, Reserve,
    ReserveError,
};

use crate::lifecycle::Call;
use crate::metering::{
    self, Metering, caller_budget_rules, model_scope, quota_error, rate_header_pairs, rate_rules,
};
use crate::steps;
use crate::tokens::PromptEstimate;

/// Tokens reserved for the answer when neither the request nor the model says.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u32 = 4096;

/// Share of a consumer's configured `credits_usd` below which its balance is "low".
const CREDITS_LOW_PERCENT: i64 = 10;

/// One model the request may be answered by, with the output cap reserved for it.
#[derive(Debug, Clone)]
pub struct Planned {
    pub model: Arc<ModelSpec>,
    /// The client's `max_tokens`, else the model's `max_output_tokens`, else 4096: what
    /// is reserved for the answer and sent upstream as its cap.
    pub max_output: u32,
}

impl Planned {
    pub fn price(&self) -> Option<TokenPrice> {
        self.model.price.map(TokenPrice::from)
    }
}

/// The models a request may be answered by, in order: the requested one, then its
/// fallbacks that exist and that the caller may use (each once).
#[derive(Debug, Clone)]
pub struct Plan {
    pub models: Vec<Planned>,
    /// The prompt tokens reserved: the estimate's upper bound ([`PromptEstimate::bound`]).
    pub prompt_tokens: u64,
    /// The prompt estimate, counted when an answer without usage is booked from it.
    pub prompt: PromptEstimate,
}

impl Plan {
    pub fn new(
        snapshot: &Snapshot,
        caller: Option<&Caller>,
        model: Arc<ModelSpec>,
        client_max: Option<u32>,
        prompt: impl Into<PromptEstimate>,
    ) -> Plan {
        let prompt = prompt.into();
        let mut seen = HashSet::new();
        let chain = std::iter::once(model.clone()).chain(
            model
                .fallbacks
                .iter()
                .filter_map(|f| snapshot.models.get(f).cloned()),
        );
        let models = chain
            .filter(|m| seen.insert(m.name.clone()))
            .enumerate()
            .filter(|(i, m)| *i == 0 || caller.is_none_or(|c| c.may_use(&m.name)))
            .map(|(_, m)| Planned {
                max_output: client_max
                    .or(m.max_output_tokens)
                    .unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS),
                model: m,
            })
            .collect();
        Plan {
            models,
            prompt_tokens: prompt.bound(),
            prompt,
        }
    }

    /// The dearest outcome over the chain, in micro-USD.
    pub fn worst_cost(&self) -> Micros {
        self.models
            .iter()
            .map(|p| {
                p.price().map_or(0, |price| {
                    price.worst_case(self.prompt_tokens, u64::from(p.max_output))
                })
            })
            .max()
            .unwrap_or(0)
    }

    /// The most tokens any outcome can use.
    pub fn worst_tokens(&self) -> u64 {
        let out = self.models.iter().map(|p| p.max_output).max().unwrap_or(0);
        self.prompt_tokens.saturating_add(u64::from(out))
    }

    pub fn requested(&self) -> &Arc<ModelSpec> {
        &self.models[0].model
    }
}

fn refused_step(d: &RateDenied) -> serde_json::Value {
    let kind = match d.kind {
        RateKind::Requests => "requests_per_minute",
        RateKind::Tokens => "tokens_per_minute",
        RateKind::Concurrency => "concurrent",
    };
    json!({
        "step": "limit", "scope": d.scope, "outcome": "refused", "kind": kind,
        "configured": d.limit,
        "value": d.headers.map(|h| json!({
            "remaining_requests": h.requests.map(|w| w.remaining),
            "remaining_tokens": h.tokens.map(|w| w.remaining),
        })),
        "retry_after_secs": d.retry_after_secs(),
    })
}

/// OpenAI's `x-ratelimit-*` headers on whichever answer the call ends with.
fn rate_headers(call: &Call, headers: Option<&RateHeaders>) {
    for (n, v) in headers.map(rate_header_pairs).unwrap_or_default() {
        call.header(n, v);
    }
}

fn backend_error(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::Unavailable(format!(
        "The shared limits backend is unavailable ({e}); retry later"
    ))
}

/// Admits a request: rate limits of its key, consumer, team and requested model, then
/// the worst case of `plan` on its budgets and credits. What is held goes into `call`;
/// a refusal gives back what it had taken (a 402 keeps no tokens/min charge).
pub async fn admit(
    metering: Option<&Arc<Metering>>,
    snapshot: &Snapshot,
    caller: &Caller,
    plan: &Plan,
    call: &Call,
) -> Result<(), GatewayError> {
    let Some(m) = metering else { return Ok(()) };
    let request_id = call.request_id();
    let worst_tokens = plan.worst_tokens();
    let rules = rate_rules(snapshot, caller, plan.requested());
    let mut permit = None;
    if !rules.is_empty() {
        let admitted = m
            .limiter
            .admit(&Admission {
                request_id: &request_id,
                rules: &rules,
                estimated_tokens: worst_tokens,
            })
            .await;
        match admitted {
            Ok(a) => {
                for r in &rules {
                    tollgate_telemetry::limit_decision(&r.scope, "rate_limit", false);
                    call.step(steps::LimitPass::new(r, a.headers.as_ref()));
                }
                rate_headers(call, a.headers.as_ref());
                permit = Some(a.permit);
            }
            Err(AdmitError::Limited(d)) => {
                tollgate_telemetry::limit_decision(&d.scope, "rate_limit", true);
                call.step(refused_step(&d));
                rate_headers(call, d.headers.as_ref());
                return Err(GatewayError::RateLimited {
                    message: d.to_string(),
                    retry_after_secs: d.retry_after_secs(),
                });
            }
            Err(AdmitError::Backend(e)) => return Err(backend_error(e)),
        }
    }

    let budgets = caller_budget_rules(snapshot, caller);
    let credits = caller
        .consumer
        .credits_usd
        .is_some()
        .then_some(caller.consumer.name.as_str());
    if budgets.is_empty() && credits.is_none() {
        call.hold(permit, None);
        return Ok(());
    }
    let cost = plan.worst_cost();
    let reserve = Reserve {
        request_id: &request_id,
        rules: &budgets,
        cost,
        tokens: worst_tokens,
        credits_of: credits,
    };
    let mut result = m.limiter.reserve(&reserve).await;
    if let (Err(ReserveError::Backend(tollgate_limits::LimitError::CreditsNotSeeded(c))), Some(_)) =
        (&result, credits)
    {
        // A consumer whose credits this node has not loaded yet: load, then retry.
        match m.store.credit_balance(c).await {
            Ok(balance) => {
                let _ = m.limiter.seed_credits(c, balance).await;
                result = m.limiter.reserve(&reserve).await;
            }
            Err(e) => {
                give_back(m, permit).await;
                return Err(GatewayError::Internal(e.to_string()));
            }
        }
    }
    let reservation = match result {
        Ok(r) => r,
        Err(e) => {
            // Refused: the tokens/min estimate charged above is given back.
            give_back(m, permit).await;
            return Err(match e {
                ReserveError::Denied(d) => {
                    tollgate_telemetry::limit_decision(&d.scope, quota_kind(d.kind), true);
                    call.step(json!({
                        "step": if d.kind == tollgate_core::QuotaKind::Credits { "credits" } else { "budget" },
                        "scope": d.scope, "outcome": "refused",
                        "configured": amount_typed(d.limit),
                        "value": {"used": spend_typed(d.limit, d.used), "reserved": spend_typed(d.limit, d.reserved),
                                  "requested": spend_typed(d.limit, d.requested), "balance_usd": d.balance.map(micros_to_usd)},
                    }));
                    quota_error(&d)
                }
                ReserveError::Backend(e) => backend_error(e),
            });
        }
    };
    for b in reservation.budgets() {
        let kind = match b.limit {
            Amount::Usd(_) => "budget",
            Amount::Tokens(_) => "token_quota",
        };
        tollgate_telemetry::limit_decision(&b.scope, kind, false);
        call.step(steps::BudgetPass::new(
            &b.scope,
            amount_typed(b.limit),
            steps::BudgetValue {
                used: spend_typed(b.limit, b.used),
                reserved: spend_typed(b.limit, b.reserved),
            },
            micros_to_usd(cost),
        ));
    }
    if let Some(avail) = reservation.credits_available() {
        tollgate_telemetry::limit_decision("consumer:", "credits", false);
        call.step(steps::CreditsPass::new(
            &metering::consumer_scope(&caller.consumer.name),
            micros_to_usd(avail),
            micros_to_usd(cost),
        ));
    }
    let remaining = reservation
        .remaining_usd()
        .into_iter()
        .chain(reservation.credits_available())
        .min();
    if let Some(left) = remaining
        && let Ok(v) = HeaderValue::from_str(&format_usd(left.max(0)))
    {
        call.header(
            HeaderName::from_static("x-tollgate-budget-remaining-usd"),
            v,
        );
    }
    call.set_credits_floor(
        caller
            .consumer
            .credits_usd
            .map(|usd| usd_to_micros(usd) * CREDITS_LOW_PERCENT / 100),
    );
    call.hold(permit, Some(reservation));
    Ok(())
}

/// The `kind` label of a quota refusal.
fn quota_kind(k: tollgate_core::QuotaKind) -> &'static str {
    match k {
        tollgate_core::QuotaKind::Credits => "credits",
        tollgate_core::QuotaKind::TokenQuota => "token_quota",
        tollgate_core::QuotaKind::Budget => "budget",
    }
}

fn amount_typed(a: Amount) -> steps::AmountJson {
    match a {
        Amount::Usd(m) => steps::AmountJson::Usd(micros_to_usd(m)),
        Amount::Tokens(t) => steps::AmountJson::Tokens(t),
    }
}

fn spend_typed(limit: Amount, s: tollgate_limits::Spend) -> steps::SpendJson {
    match limit {
        Amount::Usd(_) => steps::SpendJson::Usd(micros_to_usd(s.cost)),
        Amount::Tokens(_) => steps::SpendJson::Tokens(s.tokens),
    }
}

/// Gives back a permit taken by a request that was then refused: its tokens/min
/// charge is undone and its concurrency slot freed.
async fn give_back(m: &Metering, permit: Option<tollgate_limits::Permit>) {
    if let Some(p) = permit {
        m.limiter.settle_tokens(&p, 0).await;
        m.limiter.release(p).await;
    }
}

/// Before a fallback model is tried: its own rate limit applies. `false` means the
/// model is refused for now and must be skipped (the refusal is in the call's steps).
pub async fn admit_fallback(
    metering: Option<&Arc<Metering>>,
    planned: &Planned,
    prompt_tokens: u64,
    call: &Call,
) -> Result<bool, GatewayError> {
    let (Some(m), Some(rl)) = (metering, planned.model.rate_limit.as_ref()) else {
        return Ok(true);
    };
    let rules = [RateRule::from_spec(model_scope(&planned.model.name), rl)];
    let request_id = call.request_id();
    let admitted = m
        .limiter
        .admit(&Admission {
            request_id: &request_id,
            rules: &rules,
            estimated_tokens: prompt_tokens.saturating_add(u64::from(planned.max_output)),
        })
        .await;
    match admitted {
        Ok(a) => {
            tollgate_telemetry::limit_decision(&rules[0].scope, "rate_limit", false);
            call.step(steps::LimitPass::new(&rules[0], a.headers.as_ref()));
            call.hold(Some(a.permit), None);
            Ok(true)
        }
        Err(AdmitError::Limited(d)) => {
            tollgate_telemetry::limit_decision(&d.scope, "rate_limit", true);
            call.step(refused_step(&d));
            Ok(false)
        }
        Err(AdmitError::Backend(e)) => Err(backend_error(e)),
    }
}
