//! `/admin/v1/consumers/{name}/usage` and `/credits`: usage documents and the
//! append-only credit ledger.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tollgate_core::money::{micros_to_usd, usd_to_micros};
use tollgate_store::{LedgerEntry, LedgerKind};
use utoipa::{IntoParams, ToSchema};

use super::parse_body;
use crate::error::AdminError;
use crate::error::responses::{BadRequest, NotFound};
use crate::state::AdminState;

/// The usage document's shape, for the OpenAPI document (the gateway builds the
/// document itself; `GET /tollgate/v1/usage` answers the same).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UsageDocument {
    pub consumer: String,
    /// The budget's period (`daily`, `weekly`, `monthly`, `total`); `monthly` without one.
    pub period: String,
    pub since: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub requests: u64,
    pub tokens: UsageTokens,
    pub cost_usd: f64,
    /// The tightest budget, as in a 402 (`scope`, `limit_usd` or `limit_tokens`, `used_*`,
    /// `period`, `resets_at`), or null.
    #[schema(value_type = Option<Object>)]
    pub budget: Option<Value>,
    /// Every budget that applies (key, consumer, team).
    #[schema(value_type = Vec<Object>)]
    pub budgets: Vec<Value>,
    /// The prepaid balance, or null for a consumer without credits.
    pub credits_usd: Option<f64>,
    pub rate_limit: Option<tollgate_core::spec::RateLimitSpec>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UsageTokens {
    pub input: u64,
    pub output: u64,
}

/// The consumer's usage over its budget's current window (PRODUCT.md's usage document).
#[utoipa::path(get, path = "/admin/v1/consumers/{name}/usage", tag = "metering", params(("name" = String, Path)),
    responses((status = 200, body = UsageDocument), (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub(crate) async fn consumer_usage(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, AdminError> {
    let snapshot = st.live.snapshot.load_full();
    if !snapshot.consumers.contains_key(&name) {
        return Err(AdminError::NotFound(format!("No consumer named `{name}`")));
    }
    st.metering
        .usage_document(&snapshot, &name, None)
        .await
        .map(Json)
        .map_err(|e| match e {
            // The snapshot moved between the check above and the read.
            tollgate_core::GatewayError::NotFound { .. } => {
                AdminError::NotFound(format!("No consumer named `{name}`"))
            }
            other => AdminError::Internal(other.to_string()),
        })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditChange {
    /// USD; positive for a top-up or refund, either sign (not 0) for an adjustment.
    #[schema(minimum = -1000000000, maximum = 1000000000)]
    pub amount_usd: f64,
    /// Why; kept in the ledger.
    pub reason: String,
    /// `topup` (default), `refund` or `adjustment`. Charges are the gateway's.
    #[serde(default)]
    #[schema(value_type = Option<CreditKind>)]
    pub kind: Option<String>,
}

/// The kinds of credit change the admin API may append (the schema of `kind`).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum CreditKind {
    Topup,
    Refund,
    Adjustment,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerLine {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub amount_usd: f64,
    pub reason: String,
    pub actor: String,
    pub request_id: Option<String>,
}

impl From<LedgerEntry> for LedgerLine {
    fn from(e: LedgerEntry) -> Self {
        LedgerLine {
            id: e.id,
            at: e.at,
            kind: e.kind.to_string(),
            amount_usd: micros_to_usd(e.amount_micros),
            reason: e.reason,
            actor: e.actor,
            request_id: e.request_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Credits {
    pub consumer: String,
    pub balance_usd: f64,
    /// Newest first.
    pub entries: Vec<LedgerLine>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerPage {
    /// At most this many entries (default 100).
    #[param(minimum = 1, maximum = 1000, nullable = false)]
    pub limit: Option<u32>,
    /// Entries older than this id.
    #[param(nullable = false)]
    pub before: Option<i64>,
}

/// The most entries one page may ask for.
const MAX_PAGE: u32 = 1000;

async fn known(st: &AdminState, name: &str) -> Result<(), AdminError> {
    match st.store.get_consumer(name).await? {
        Some(_) => Ok(()),
        None => Err(AdminError::NotFound(format!("No consumer named `{name}`"))),
    }
}

#[utoipa::path(get, path = "/admin/v1/consumers/{name}/credits", tag = "metering", params(("name" = String, Path), LedgerPage),
    responses((status = 200, body = Credits), (status = 400, response = BadRequest), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn list_credits(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    page: Result<Query<LedgerPage>, QueryRejection>,
) -> Result<Json<Credits>, AdminError> {
    // In the error envelope, as every admin error, not axum's plain-text rejection.
    let Query(page) = page.map_err(|e| AdminError::invalid(e.body_text()))?;
    known(&st, &name).await?;
    let limit = page.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AdminError::Invalid {
            message: format!("limit must be between 1 and {MAX_PAGE}"),
            param: Some("limit".into()),
        });
    }
    let entries = st.store.list_ledger(&name, limit, page.before).await?;
    let balance = st.store.credit_balance(&name).await?;
    Ok(Json(Credits {
        consumer: name,
        balance_usd: micros_to_usd(balance),
        entries: entries.into_iter().map(LedgerLine::from).collect(),
    }))
}

/// Appends a top-up, refund or adjustment; the balance is the ledger's sum.
#[utoipa::path(post, path = "/admin/v1/consumers/{name}/credits", tag = "metering", params(("name" = String, Path)),
    request_body = CreditChange, responses((status = 201, body = Credits, description = "The new balance and the entry appended"),
        (status = 400, response = BadRequest), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn add_credits(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Credits>), AdminError> {
    known(&st, &name).await?;
    let change: CreditChange = parse_body(&body)?;
    if !change.amount_usd.is_finite() || change.amount_usd.abs() > tollgate_config::MAX_USD {
        return Err(AdminError::Invalid {
            message: "amount_usd must be a number between -1000000000 and 1000000000".into(),
            param: Some("amount_usd".into()),
        });
    }
    let kind = match change.kind.as_deref().unwrap_or("topup") {
        "topup" => LedgerKind::Topup,
        "refund" => LedgerKind::Refund,
        "adjustment" => LedgerKind::Adjustment,
        other => {
            return Err(AdminError::Invalid {
                message: format!("kind `{other}`: expected topup, refund or adjustment"),
                param: Some("kind".into()),
            });
        }
    };
    let amount = usd_to_micros(change.amount_usd);
    let positive_only = matches!(kind, LedgerKind::Topup | LedgerKind::Refund);
    if amount == 0 || (positive_only && amount < 0) {
        return Err(AdminError::Invalid {
            message: format!(
                "amount_usd must be {} for a {kind}",
                if positive_only {
                    "positive"
                } else {
                    "non-zero"
                }
            ),
            param: Some("amount_usd".into()),
        });
    }
    let entry = LedgerEntry::new(name.clone(), kind, amount, change.reason, "admin");
    let action = if kind == LedgerKind::Topup {
        "top_up".to_string()
    } else {
        kind.to_string()
    };
    let after = serde_json::json!({
        "kind": kind.to_string(), "amount_usd": change.amount_usd, "reason": entry.reason,
    });
    let entry = st
        .audited(&action, "credits", &name, None, Some(after))
        .append_ledger(&entry)
        .await?;
    // Keep the live balance in step (seeded from the ledger if this node had none).
    let balance = st.store.credit_balance(&name).await?;
    match st.metering.limiter.credit_balance(&name).await {
        Ok(Some(_)) => {
            let _ = st.metering.limiter.add_credits(&name, amount).await;
        }
        _ => {
            let _ = st.metering.limiter.seed_credits(&name, balance).await;
        }
    }
    Ok((
        StatusCode::CREATED,
        Json(Credits {
            consumer: name,
            balance_usd: micros_to_usd(balance),
            entries: vec![entry.into()],
        }),
    ))
}
