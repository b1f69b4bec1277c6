//! `GET /admin/v1/audit` (PRODUCT.md, "Users, roles, audit"): the audit log, newest
//! first, with filters and a cursor. Rows are written by the store in the
//! transaction of each admin write ([`crate::state::AdminState::audited`]).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tollgate_store::{AuditFilter, AuditRecord};
use utoipa::{IntoParams, ToSchema};

use super::{bad_query, paging, parse_time};
use crate::error::AdminError;
use crate::error::responses::BadRequest;
use crate::state::AdminState;

/// One audited change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: String,
    pub at: DateTime<Utc>,
    /// The console user, or `admin-token` for the configured admin token.
    pub user: String,
    /// `create`, `update`, `delete`, `approve`, `reject`, `revoke`, `top_up`,
    /// `refund`, `adjustment`, `lifecycle`, `release`, `publish`, `login`, `logout`.
    pub action: String,
    /// `provider`, `model`, `team`, `consumer`, `key`, `credits`, `credential`,
    /// `subscription`, `service`, `user`, `session`.
    pub resource: String,
    pub name: Option<String>,
    /// The document before the change (null on a create); secrets redacted.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The document after the change (null on a delete); secrets redacted.
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        AuditView {
            id: r.id,
            at: r.at,
            user: r.user,
            action: r.action,
            resource: r.resource,
            name: r.name,
            before: r.before,
            after: r.after,
        }
    }
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    /// Newest first.
    pub data: Vec<AuditView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// The audit log's filters and paging (documentation of the query string).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only
pub struct AuditParams {
    /// Rows at or after this instant (RFC 3339).
    #[param(format = DateTime)]
    from: Option<String>,
    /// Rows strictly before this instant (RFC 3339).
    #[param(format = DateTime)]
    to: Option<String>,
    /// The acting user (`admin-token` for the admin token).
    user: Option<String>,
    /// The kind of resource changed.
    resource: Option<String>,
    /// Rows per page (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,15}\..*$")]
    cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawAuditQuery {
    from: Option<String>,
    to: Option<String>,
    user: Option<String>,
    resource: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// The audit log, newest first (admin and operator).
#[utoipa::path(get, path = "/admin/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = AuditList, description = "A page of audit rows, newest first"),
        (status = 400, response = BadRequest)),
    security(("bearer" = [])))]
pub(crate) async fn list_audit(
    State(st): State<AdminState>,
    query: Result<Query<RawAuditQuery>, QueryRejection>,
) -> Result<Json<AuditList>, AdminError> {
    let Query(q) = query.map_err(bad_query)?;
    let limit = paging::limit(q.limit.as_deref())?;
    let filter = AuditFilter {
        from: parse_time("from", q.from.as_deref())?,
        to: parse_time("to", q.to.as_deref())?,
        user: q.user,
        resource: q.resource,
        cursor: paging::cursor(q.cursor.as_deref())?,
        limit,
    };
    let rows = st.store.list_audit(&filter).await?;
    let (rows, next_cursor) =
        paging::page(rows, limit, |r| (r.at.timestamp_millis(), r.id.as_str()));
    Ok(Json(AuditList {
        data: rows.into_iter().map(AuditView::from).collect(),
        next_cursor,
    }))
}
