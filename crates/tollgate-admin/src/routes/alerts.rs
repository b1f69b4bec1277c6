//! `/admin/v1/alerts`: the webhook channels alerts are sent to, managed here or
//! declared under `alerts:` in the config file (applied to the store at start), and
//! the most recent deliveries with their outcome, for the console's alerts page and
//! for scripts. A write is live at once: the alerter's channels are set from the
//! store whenever the snapshot is reloaded ([`crate::snapshot::refresh`]).
//!
//! A channel's webhook URL often carries a secret in its path or query (chat webhooks
//! do), and its signing secret is one: they go in and never come out. Only the URL's
//! origin and whether deliveries are signed are shown, in answers and in the audit log.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use tollgate_core::spec::AlertSpec;
use tollgate_store::{AlertEventRecord, Source, Stored};
use utoipa::{IntoParams, ToSchema};

use super::{bad_query, paging, parse_body, same_name};
use crate::error::AdminError;
use crate::error::responses::{BadRequest, Conflict, NotFound};
use crate::state::AdminState;

/// The alert channels and recent deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertsView {
    /// Every channel (from the config file or the API), by name.
    pub channels: Vec<AlertChannel>,
    /// The most recent deliveries, newest first.
    pub deliveries: Vec<AlertDelivery>,
}

/// A webhook channel, without its secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertChannel {
    pub name: String,
    /// The webhook URL's scheme, host and port (its path or query may hold a secret).
    pub webhook_origin: String,
    /// Whether deliveries carry `x-tollgate-signature` (a secret is configured).
    pub signed: bool,
    /// `config` (declared in the config file, re-applied at start) or `api`.
    #[schema(pattern = "^(config|api)$")]
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Stored<AlertSpec>> for AlertChannel {
    fn from(s: Stored<AlertSpec>) -> Self {
        AlertChannel {
            webhook_origin: origin(&s.spec.webhook),
            signed: s.spec.secret.as_deref().is_some_and(|x| !x.is_empty()),
            name: s.spec.name,
            source: s.source.to_string(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
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
    responses((status = 200, body = AlertsView, description = "Every channel and the recent deliveries; the links follow the first channel", links(
            ("get" = (operation_id = "get_alert", parameters(("name" = "$response.body#/channels/0/name")))),
            ("put" = (operation_id = "put_alert", parameters(("name" = "$response.body#/channels/0/name")))),
            ("delete" = (operation_id = "delete_alert", parameters(("name" = "$response.body#/channels/0/name"))))
        )), (status = 400, response = BadRequest)),
    security(("bearer" = [])))]
pub(crate) async fn list_alerts(
    State(st): State<AdminState>,
    query: Result<Query<AlertsQuery>, QueryRejection>,
) -> Result<Json<AlertsView>, AdminError> {
    let Query(q) = query.map_err(bad_query)?;
    let limit = paging::limit(q.limit.as_deref())?;
    let channels = st
        .store
        .list_alerts()
        .await?
        .into_iter()
        .map(AlertChannel::from)
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

/// The channel named `name`, or a 404.
async fn found(st: &AdminState, name: &str) -> Result<Stored<AlertSpec>, AdminError> {
    st.store
        .get_alert(name)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("No alert channel named `{name}`")))
}

/// Validation: a name, an http(s) webhook URL with a host, a non-empty secret if any.
fn check(spec: &AlertSpec) -> Result<(), AdminError> {
    let issues = tollgate_config::check_alert(spec);
    if issues.is_empty() {
        Ok(())
    } else {
        Err(issues.into())
    }
}

/// The audit document of a channel: its webhook's origin only (the path and query
/// may carry a token), and its secret, which the store redacts.
fn audit_doc(spec: &AlertSpec) -> Option<serde_json::Value> {
    let mut doc = serde_json::json!({
        "name": spec.name,
        "webhook_origin": origin(&spec.webhook),
    });
    if let Some(secret) = &spec.secret {
        doc["secret"] = serde_json::Value::String(secret.clone());
    }
    Some(doc)
}

#[utoipa::path(post, path = "/admin/v1/alerts", tag = "alerts", request_body = AlertSpec,
    responses((status = 201, body = AlertChannel, links(
            ("get" = (operation_id = "get_alert", parameters(("name" = "$response.body#/name")))),
            ("put" = (operation_id = "put_alert", parameters(("name" = "$response.body#/name")))),
            ("delete" = (operation_id = "delete_alert", parameters(("name" = "$response.body#/name"))))
        )),
        (status = 400, response = BadRequest), (status = 409, response = Conflict)), security(("bearer" = [])))]
pub(crate) async fn create_alert(
    State(st): State<AdminState>,
    body: Bytes,
) -> Result<(StatusCode, Json<AlertChannel>), AdminError> {
    let spec: AlertSpec = parse_body(&body)?;
    check(&spec)?;
    if st.store.get_alert(&spec.name).await?.is_some() {
        return Err(AdminError::Conflict(format!(
            "An alert channel named `{}` already exists",
            spec.name
        )));
    }
    st.audited("create", "alert", &spec.name, None, audit_doc(&spec))
        .upsert_alert(&spec, Source::Api)
        .await?;
    st.reload().await;
    Ok((
        StatusCode::CREATED,
        Json(found(&st, &spec.name).await?.into()),
    ))
}

#[utoipa::path(get, path = "/admin/v1/alerts/{name}", tag = "alerts", params(("name" = String, Path)),
    responses((status = 200, body = AlertChannel), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn get_alert(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<AlertChannel>, AdminError> {
    Ok(Json(found(&st, &name).await?.into()))
}

/// Replaces a channel. The webhook must be sent again (it is never shown); a body
/// without `secret` keeps the stored one, `"secret": null` removes it (deliveries are
/// then unsigned).
#[utoipa::path(put, path = "/admin/v1/alerts/{name}", tag = "alerts", params(("name" = String, Path)), request_body = AlertSpec,
    responses((status = 200, body = AlertChannel), (status = 400, response = BadRequest), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn put_alert(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<AlertChannel>, AdminError> {
    let mut spec: AlertSpec = parse_body(&body)?;
    same_name(&name, &spec.name)?;
    let existing = found(&st, &name).await?;
    let sends_secret = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .is_some_and(|v| v.get("secret").is_some());
    if !sends_secret {
        spec.secret = existing.spec.secret.clone();
    }
    check(&spec)?;
    st.audited(
        "update",
        "alert",
        &name,
        audit_doc(&existing.spec),
        audit_doc(&spec),
    )
    .upsert_alert(&spec, Source::Api)
    .await?;
    st.reload().await;
    Ok(Json(found(&st, &name).await?.into()))
}

/// Deletes a channel: no alert is sent to it any more, and its pending deliveries
/// are marked failed at their next attempt. Its past deliveries stay listed.
#[utoipa::path(delete, path = "/admin/v1/alerts/{name}", tag = "alerts", params(("name" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn delete_alert(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<StatusCode, AdminError> {
    let before = found(&st, &name).await?;
    let audited = st.audited("delete", "alert", &name, audit_doc(&before.spec), None);
    if !audited.delete_alert(&name).await? {
        return Err(AdminError::NotFound(format!(
            "No alert channel named `{name}`"
        )));
    }
    st.reload().await;
    Ok(StatusCode::NO_CONTENT)
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
