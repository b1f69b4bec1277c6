//! `/admin/v1/subscriptions` (PRODUCT.md, "Subscriptions and the developer portal",
//! the admin half): list with filters and a cursor, create for a consumer, approve,
//! reject and revoke. A subscription names a service (or a prompt-API: names are
//! unique across both) by plain name. Every change bumps the store revision, so the
//! gateway's snapshot (the approved pairs) follows at once here and, through the
//! revision poll, on every node sharing the database.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use tollgate_core::spec::Approval;
use tollgate_store::{Subscription, SubscriptionChange, SubscriptionFilter, SubscriptionStatus};
use utoipa::{IntoParams, ToSchema};

use super::{bad_query, paging, parse_body};
use crate::error::AdminError;
use crate::error::responses::{BadRequest, Conflict, NotFound};
use crate::state::{AdminState, doc};

/// A subscription as the admin API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    pub id: String,
    pub consumer: String,
    /// A service's or a prompt-API's name.
    pub service: String,
    /// `pending`, `approved`, `rejected` or `revoked`; only `approved` lets calls
    /// through.
    #[schema(pattern = "^(pending|approved|rejected|revoked)$")]
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Subscription> for SubscriptionView {
    fn from(s: Subscription) -> Self {
        SubscriptionView {
            id: s.id,
            consumer: s.consumer,
            service: s.service,
            status: s.status.to_string(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A page of subscriptions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    /// Newest first.
    pub data: Vec<SubscriptionView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// `POST /admin/v1/subscriptions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    /// An existing consumer.
    #[schema(min_length = 1, example = "team-a")]
    pub consumer: String,
    /// An existing service (or prompt-API).
    #[schema(min_length = 1, example = "weather")]
    pub service: String,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionStatusParam {
    Pending,
    Approved,
    Rejected,
    Revoked,
}

/// The list's filters and paging (documentation of the query string).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only
pub struct SubscriptionParams {
    #[param(inline)]
    status: Option<SubscriptionStatusParam>,
    consumer: Option<String>,
    /// A service's or prompt-API's name.
    service: Option<String>,
    /// Rows per page (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,15}\..*$")]
    cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawSubscriptionQuery {
    pub(crate) status: Option<String>,
    pub(crate) consumer: Option<String>,
    pub(crate) service: Option<String>,
    pub(crate) limit: Option<String>,
    pub(crate) cursor: Option<String>,
}

/// How `name` takes subscriptions: `None` if no service (or prompt-API) has that
/// name; a service without `subscription` takes them as `auto` (they are not needed
/// to call it, but may be recorded).
pub(crate) async fn approval_of(
    st: &AdminState,
    name: &str,
) -> Result<Option<Approval>, AdminError> {
    // Names are unique across services and prompt-APIs.
    let subscription = match st.store.get_service(name).await? {
        Some(s) => s.spec.subscription,
        None => match st.store.get_prompt_api(name).await? {
            Some(p) => p.spec.subscription,
            None => return Ok(None),
        },
    };
    Ok(Some(
        subscription.map(|sub| sub.approval).unwrap_or_default(),
    ))
}

#[utoipa::path(get, path = "/admin/v1/subscriptions", tag = "subscriptions", params(SubscriptionParams),
    responses((status = 200, body = SubscriptionList, description = "Newest first; the links follow the first", links(
            ("get" = (operation_id = "get_subscription", parameters(("id" = "$response.body#/data/0/id")))),
            ("approve" = (operation_id = "approve_subscription", parameters(("id" = "$response.body#/data/0/id")))),
            ("reject" = (operation_id = "reject_subscription", parameters(("id" = "$response.body#/data/0/id")))),
            ("revoke" = (operation_id = "revoke_subscription", parameters(("id" = "$response.body#/data/0/id"))))
        )),
        (status = 400, response = BadRequest)),
    security(("bearer" = [])))]
pub(crate) async fn list_subscriptions(
    State(st): State<AdminState>,
    query: Result<Query<RawSubscriptionQuery>, QueryRejection>,
) -> Result<Json<SubscriptionList>, AdminError> {
    let Query(q) = query.map_err(bad_query)?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            SubscriptionStatus::parse(s).ok_or_else(|| AdminError::Invalid {
                message: "status: expected pending, approved, rejected or revoked".into(),
                param: Some("status".into()),
            })
        })
        .transpose()?;
    let limit = paging::limit(q.limit.as_deref())?;
    let filter = SubscriptionFilter {
        status,
        consumer: q.consumer,
        service: q.service,
        cursor: paging::cursor(q.cursor.as_deref())?,
        limit,
    };
    let rows = st.store.list_subscriptions(&filter).await?;
    let (rows, next_cursor) = paging::page(rows, limit, |s| {
        (s.created_at.timestamp_millis(), s.id.as_str())
    });
    Ok(Json(SubscriptionList {
        data: rows.into_iter().map(SubscriptionView::from).collect(),
        next_cursor,
    }))
}

/// Subscribes a consumer to a service: approved at once when the service's approval
/// is `auto`, pending when it is `manual`.
#[utoipa::path(post, path = "/admin/v1/subscriptions", tag = "subscriptions", request_body = CreateSubscription,
    responses((status = 201, body = SubscriptionView, links(
            ("get" = (operation_id = "get_subscription", parameters(("id" = "$response.body#/id")))),
            ("approve" = (operation_id = "approve_subscription", parameters(("id" = "$response.body#/id")))),
            ("reject" = (operation_id = "reject_subscription", parameters(("id" = "$response.body#/id")))),
            ("revoke" = (operation_id = "revoke_subscription", parameters(("id" = "$response.body#/id"))))
        )),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn create_subscription(
    State(st): State<AdminState>,
    body: Bytes,
) -> Result<(StatusCode, Json<SubscriptionView>), AdminError> {
    let req: CreateSubscription = parse_body(&body)?;
    if st.store.get_consumer(&req.consumer).await?.is_none() {
        return Err(AdminError::Invalid {
            message: format!("No consumer named `{}`", req.consumer),
            param: Some("consumer".into()),
        });
    }
    let Some(approval) = approval_of(&st, &req.service).await? else {
        return Err(AdminError::Invalid {
            message: format!("No service or prompt-API named `{}`", req.service),
            param: Some("service".into()),
        });
    };
    let status = match approval {
        Approval::Auto => SubscriptionStatus::Approved,
        Approval::Manual => SubscriptionStatus::Pending,
    };
    let after = serde_json::json!({
        "consumer": req.consumer, "service": req.service, "status": status.as_str(),
    });
    let sub = st
        .audited(
            "create",
            "subscription",
            &format!("{}/{}", req.consumer, req.service),
            None,
            Some(after),
        )
        .create_subscription(&req.consumer, &req.service, status)
        .await?;
    st.reload().await;
    Ok((StatusCode::CREATED, Json(sub.into())))
}

#[utoipa::path(get, path = "/admin/v1/subscriptions/{id}", tag = "subscriptions", params(("id" = String, Path)),
    responses((status = 200, body = SubscriptionView), (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub(crate) async fn get_subscription(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, AdminError> {
    st.store
        .get_subscription(&id)
        .await?
        .map(|s| Json(s.into()))
        .ok_or_else(|| not_found(&id))
}

fn not_found(id: &str) -> AdminError {
    AdminError::NotFound(format!("No subscription with id `{id}`"))
}

/// Moves a subscription (`action` for the audit log); 409 from a state the move
/// cannot start from.
async fn change(
    st: &AdminState,
    id: &str,
    action: &str,
    from: &[SubscriptionStatus],
    to: SubscriptionStatus,
) -> Result<Json<SubscriptionView>, AdminError> {
    let before = st
        .store
        .get_subscription(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let after = Subscription {
        status: to,
        ..before.clone()
    };
    let audited = st.audited(
        action,
        "subscription",
        &format!("{}/{}", before.consumer, before.service),
        doc(&SubscriptionView::from(before)),
        doc(&SubscriptionView::from(after)),
    );
    match audited.set_subscription_status(id, from, to).await? {
        SubscriptionChange::Done(s) => {
            st.reload().await;
            Ok(Json(s.into()))
        }
        SubscriptionChange::NotFound => Err(not_found(id)),
        SubscriptionChange::Refused(s) => Err(AdminError::Conflict(format!(
            "Subscription `{id}` is {}: it cannot be {}",
            s.status,
            match to {
                SubscriptionStatus::Approved => "approved",
                SubscriptionStatus::Rejected => "rejected",
                _ => "revoked",
            }
        ))),
    }
}

/// Approves a pending subscription: the consumer may call the service from now on.
#[utoipa::path(post, path = "/admin/v1/subscriptions/{id}/approve", tag = "subscriptions", params(("id" = String, Path)),
    responses((status = 200, body = SubscriptionView, description = "Approved (approving an approved one changes nothing)"),
        (status = 404, response = NotFound), (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn approve_subscription(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, AdminError> {
    use SubscriptionStatus::*;
    change(&st, &id, "approve", &[Pending], Approved).await
}

/// Rejects a pending subscription.
#[utoipa::path(post, path = "/admin/v1/subscriptions/{id}/reject", tag = "subscriptions", params(("id" = String, Path)),
    responses((status = 200, body = SubscriptionView, description = "Rejected (rejecting a rejected one changes nothing)"),
        (status = 404, response = NotFound), (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn reject_subscription(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, AdminError> {
    use SubscriptionStatus::*;
    change(&st, &id, "reject", &[Pending], Rejected).await
}

/// Revokes a subscription: the gateway refuses the consumer from the next request on,
/// on every node. The subscription stays on record as `revoked`.
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{id}", tag = "subscriptions", params(("id" = String, Path)),
    responses((status = 200, body = SubscriptionView, description = "Revoked (revoking a revoked one changes nothing)"),
        (status = 404, response = NotFound), (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn revoke_subscription(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, AdminError> {
    use SubscriptionStatus::*;
    change(&st, &id, "revoke", &[Pending, Approved], Revoked).await
}
