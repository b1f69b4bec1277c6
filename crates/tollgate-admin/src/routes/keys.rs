//! Consumer keys: created (shown once), listed, revoked.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use tollgate_core::spec::{BudgetSpec, KeyLimits, RateLimitSpec, TeamSpec};
use tollgate_store::{KeyRecord, Source, new_key_id};
use utoipa::ToSchema;

use super::parse_body;
use crate::error::AdminError;
use crate::error::responses::{BadRequest, NotFound};
use crate::state::{AdminState, doc};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    #[serde(default)]
    pub name: Option<String>,
    /// RFC 3339, or null for a key that does not expire.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Models this key may use (within the consumer's); omitted means all of them.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// This key's own rate limit (on top of its consumer's and team's).
    #[serde(default)]
    pub rate_limit: Option<RateLimitSpec>,
    /// This key's own budget (on top of its consumer's and team's).
    #[serde(default)]
    pub budget: Option<BudgetSpec>,
}

/// The answer to a key creation: the only time the key is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    pub id: String,
    pub key: String,
    pub prefix: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub name: Option<String>,
    pub consumer: String,
    pub models: Option<Vec<String>>,
}

/// A key as listed: never the secret, nor its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    pub consumer: String,
    pub name: Option<String>,
    pub prefix: String,
    pub models: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub source: String,
    pub rate_limit: Option<RateLimitSpec>,
    pub budget: Option<BudgetSpec>,
}

impl From<KeyRecord> for KeyView {
    fn from(k: KeyRecord) -> Self {
        KeyView {
            id: k.id,
            consumer: k.consumer,
            name: k.name,
            prefix: k.prefix,
            models: k.models,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
            created_at: k.created_at,
            source: k.source.to_string(),
            rate_limit: k.limits.rate_limit,
            budget: k.limits.budget,
        }
    }
}

async fn consumer_exists(st: &AdminState, name: &str) -> Result<(), AdminError> {
    match st.store.get_consumer(name).await? {
        Some(_) => Ok(()),
        None => Err(AdminError::NotFound(format!("No consumer named `{name}`"))),
    }
}

#[utoipa::path(get, path = "/admin/v1/consumers/{name}/keys", tag = "keys", params(("name" = String, Path)),
    responses((status = 200, body = Vec<KeyView>, description = "The consumer's keys; the links follow the first", links(
            ("get" = (operation_id = "get_key", parameters(("id" = "$response.body#/0/id")))),
            ("revoke" = (operation_id = "revoke_key", parameters(("id" = "$response.body#/0/id"))))
        )),
        (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn list_keys(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<KeyView>>, AdminError> {
    consumer_exists(&st, &name).await?;
    let keys = st.store.list_keys(Some(&name)).await?;
    Ok(Json(keys.into_iter().map(KeyView::from).collect()))
}

#[utoipa::path(post, path = "/admin/v1/consumers/{name}/keys", tag = "keys", params(("name" = String, Path)),
    request_body(content = Option<CreateKey>, description = "May be empty: a key with no name, expiry or limits of its own"),
    responses((status = 201, body = CreatedKey, description = "The key is in `key`, shown this once", links(
            ("get" = (operation_id = "get_key", parameters(("id" = "$response.body#/id")))),
            ("revoke" = (operation_id = "revoke_key", parameters(("id" = "$response.body#/id"))))
        )),
        (status = 400, response = BadRequest), (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub(crate) async fn create_key(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatedKey>), AdminError> {
    consumer_exists(&st, &name).await?;
    // An empty body or JSON `null` (the document allows both) asks for a plain key.
    let blank = body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null";
    let req: CreateKey = if blank {
        CreateKey {
            name: None,
            expires_at: None,
            models: None,
            rate_limit: None,
            budget: None,
        }
    } else {
        parse_body(&body)?
    };
    if let Some(models) = &req.models {
        let snapshot = st.live.snapshot.load();
        if let Some((i, m)) = models
            .iter()
            .enumerate()
            .find(|(_, m)| !snapshot.models.contains_key(*m))
        {
            return Err(AdminError::Invalid {
                message: format!("Unknown model `{m}`"),
                param: Some(format!("models[{i}]")),
            });
        }
    }
    // The same checks as a team's limits and budget.
    let issues = tollgate_config::check_team(&TeamSpec {
        name: "key".into(),
        budget: req.budget,
        rate_limit: req.rate_limit,
    });
    if !issues.is_empty() {
        return Err(issues.into());
    }
    let new = tollgate_core::keys::generate();
    let record = KeyRecord {
        id: new_key_id(),
        consumer: name.clone(),
        name: req.name.clone(),
        hash: new.hash,
        prefix: new.prefix.clone(),
        models: req.models.clone(),
        expires_at: req.expires_at,
        revoked_at: None,
        created_at: Utc::now(),
        source: Source::Api,
        limits: KeyLimits {
            rate_limit: req.rate_limit,
            budget: req.budget,
        },
    };
    st.audited(
        "create",
        "key",
        &record.id,
        None,
        doc(&KeyView::from(record.clone())),
    )
    .insert_key(&record)
    .await?;
    st.reload().await;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            id: record.id,
            key: new.secret,
            prefix: new.prefix,
            expires_at: req.expires_at,
            name: req.name,
            consumer: name,
            models: req.models,
        }),
    ))
}

#[utoipa::path(get, path = "/admin/v1/keys/{id}", tag = "keys", params(("id" = String, Path)),
    responses((status = 200, body = KeyView), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn get_key(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, AdminError> {
    let key = st
        .store
        .get_key(&id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("No key with id `{id}`")))?;
    Ok(Json(key.into()))
}

/// Revokes a key; the gateway refuses it from the next request on.
#[utoipa::path(delete, path = "/admin/v1/keys/{id}", tag = "keys", params(("id" = String, Path)),
    responses((status = 200, body = KeyView, description = "The key, revoked (revoking a revoked key changes nothing)"), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn revoke_key(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, AdminError> {
    let before = st
        .store
        .get_key(&id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("No key with id `{id}`")))?;
    let now = Utc::now();
    let after = KeyRecord {
        revoked_at: before.revoked_at.or(Some(now)),
        ..before.clone()
    };
    let audited = st.audited(
        "revoke",
        "key",
        &id,
        doc(&KeyView::from(before)),
        doc(&KeyView::from(after)),
    );
    if !audited.revoke_key(&id, now).await? {
        return Err(AdminError::NotFound(format!("No key with id `{id}`")));
    }
    st.reload().await;
    let key = st
        .store
        .get_key(&id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("No key with id `{id}`")))?;
    Ok(Json(key.into()))
}
