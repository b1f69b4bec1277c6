//! `GET /admin/v1/alerts`: the alert channels this node sends to (declared under
//! `alerts:` in the config file) and the most recent deliveries with their outcome,
//! for the console's alerts page and for scripts.
//!
//! A channel's webhook URL often carries a secret in its path (chat webhooks do), and
//! its signing secret is one: only the URL's origin and whether deliveries are signed
//! are shown.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tollgate_store::AlertEventRecord;
use utoipa::{IntoParams, ToSchema};

use super::{bad_query, paging};
use crate::error::AdminError;
use crate::error::responses::BadRequest;
use crate::state::AdminState;

/// The alert channels and recent deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertsView {
    /// The configured channels (`alerts:` in the config file).
    pub channels: Vec<AlertChannel>,
    /// The most recent deliveries, newest first.
    pub deliveries: Vec<AlertDelivery>,
}

/// A webhook channel, without its secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertChannel {
    pub name: String,
    /// The webhook URL's scheme, host and port (its path may hold a secret).
    pub webhook_origin: String,
    /// Whether deliveries carry `x-tollgate-signature` (a secret is configured).
    pub signed: bool,
}

/// One alert delivered (or being delivered) to one channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertDelivery {
    pub id: String,
    /// The channel's name.
    pub channel: String,
    /// `budget.threshold`, `credits.low` or `provider_key.dead`.
    #[serde(rename = "type")]
    pub kind: String,
    pub scope: String,
    pub threshold_percent: Option<u8>,
    /// `pending`, `delivered` or `failed`.
    #[schema(pattern = "^(pending|delivered|failed)$")]
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The alert's JSON body as sent.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl From<AlertEventRecord> for AlertDelivery {
    fn from(r: AlertEventRecord) -> Self {
        AlertDelivery {
            payload: serde_json::from_str(&r.payload).unwrap_or(serde_json::Value::Null),
            id: r.id,
            channel: r.alert,
            kind: r.kind,
            scope: r.scope,
            threshold_percent: r.threshold_percent,
            status: r.status.as_str().to_string(),
            attempts: r.attempts,
            last_error: r.last_error,
            created_at: r.created_at,
            last_attempt_at: r.last_attempt_at,
            delivered_at: r.delivered_at,
        }
    }
}

/// How many deliveries to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// Deliveries to list (default 100).
    #[param(minimum = 1, maximum = 1000, value_type = Option<u32>)]
    limit: Option<String>,
}

/// `scheme://host[:port]` of a URL, or a placeholder when it does not parse.
fn origin(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".to_string();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Credentials in the authority (`user:pass@host`) are secrets too.
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}")
}

#[utoipa::path(get, path = "/admin/v1/alerts", tag = "alerts", params(AlertsQuery),
    responses((status = 200, body = AlertsView), (status = 400, response = BadRequest)),
    security(("bearer" = [])))]
pub(crate) async fn list_alerts(
    State(st): State<AdminState>,
    query: Result<Query<AlertsQuery>, QueryRejection>,
) -> Result<Json<AlertsView>, AdminError> {
    let Query(q) = query.map_err(bad_query)?;
    let limit = paging::limit(q.limit.as_deref())?;
    let channels = st
        .metering
        .alerter
        .channels()
        .iter()
        .map(|c| AlertChannel {
            name: c.name.clone(),
            webhook_origin: origin(&c.webhook),
            signed: c.secret.as_deref().is_some_and(|s| !s.is_empty()),
        })
        .collect();
    let deliveries = st
        .store
        .list_alert_events(limit)
        .await?
        .into_iter()
        .map(AlertDelivery::from)
        .collect();
    Ok(Json(AlertsView {
        channels,
        deliveries,
    }))
}

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn only_the_origin_of_a_webhook_is_shown() {
        assert_eq!(
            origin("https://hooks.example.com/services/T0/B0/SECRET?x=1"),
            "https://hooks.example.com"
        );
        assert_eq!(
            origin("http://user:pass@10.0.0.1:9000/hook"),
            "http://10.0.0.1:9000"
        );
        assert_eq!(origin("nonsense"), "(not a URL)");
        assert_eq!(origin("https://h"), "https://h");
    }
}
