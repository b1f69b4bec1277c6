//! `/admin/v1/providers`: upstream accounts. Credentials go in, never come out.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::Serialize;
use tollgate_core::spec::{ProviderKind, ProviderSpec};
use tollgate_store::{Source, Stored};
use utoipa::ToSchema;

use super::{parse_body, same_name};
use crate::error::AdminError;
use crate::error::responses::{BadRequest, Conflict, NotFound};
use crate::state::{AdminState, doc};

/// A provider as the admin API shows it: everything but the credentials.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: Option<String>,
    pub api_version: Option<String>,
    /// How many API keys are stored (encrypted); the keys themselves are never shown.
    pub api_keys_count: usize,
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Stored<ProviderSpec>> for ProviderView {
    fn from(s: Stored<ProviderSpec>) -> Self {
        ProviderView {
            api_keys_count: s.spec.api_keys.len(),
            name: s.spec.name,
            kind: s.spec.kind,
            base_url: s.spec.base_url,
            api_version: s.spec.api_version,
            source: s.source.to_string(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

async fn found(st: &AdminState, name: &str) -> Result<Stored<ProviderSpec>, AdminError> {
    st.store
        .get_provider(name)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("No provider named `{name}`")))
}

#[utoipa::path(get, path = "/admin/v1/providers", tag = "providers",
    responses((status = 200, body = Vec<ProviderView>, description = "All of them; the links follow the first", links(
            ("get" = (operation_id = "get_provider", parameters(("name" = "$response.body#/0/name")))),
            ("put" = (operation_id = "put_provider", parameters(("name" = "$response.body#/0/name")))),
            ("delete" = (operation_id = "delete_provider", parameters(("name" = "$response.body#/0/name"))))
        ))), security(("bearer" = [])))]
pub(crate) async fn list_providers(
    State(st): State<AdminState>,
) -> Result<Json<Vec<ProviderView>>, AdminError> {
    let all = st.store.list_providers().await?;
    Ok(Json(all.into_iter().map(ProviderView::from).collect()))
}

#[utoipa::path(post, path = "/admin/v1/providers", tag = "providers", request_body = ProviderSpec,
    responses((status = 201, body = ProviderView, links(
            ("get" = (operation_id = "get_provider", parameters(("name" = "$response.body#/name")))),
            ("put" = (operation_id = "put_provider", parameters(("name" = "$response.body#/name")))),
            ("delete" = (operation_id = "delete_provider", parameters(("name" = "$response.body#/name"))))
        )),
        (status = 400, response = BadRequest), (status = 409, response = Conflict)), security(("bearer" = [])))]
pub(crate) async fn create_provider(
    State(st): State<AdminState>,
    body: Bytes,
) -> Result<(StatusCode, Json<ProviderView>), AdminError> {
    let spec: ProviderSpec = parse_body(&body)?;
    check(&spec)?;
    if st.store.get_provider(&spec.name).await?.is_some() {
        return Err(AdminError::Conflict(format!(
            "A provider named `{}` already exists",
            spec.name
        )));
    }
    st.audited("create", "provider", &spec.name, None, doc(&spec))
        .upsert_provider(&spec, Source::Api)
        .await?;
    st.reload().await;
    Ok((
        StatusCode::CREATED,
        Json(found(&st, &spec.name).await?.into()),
    ))
}

#[utoipa::path(get, path = "/admin/v1/providers/{name}", tag = "providers",
    params(("name" = String, Path)), responses((status = 200, body = ProviderView), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn get_provider(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<ProviderView>, AdminError> {
    Ok(Json(found(&st, &name).await?.into()))
}

/// Replaces a provider. A body without `api_keys` keeps the stored keys (they are
/// never shown, so a client editing other fields could not send them back).
#[utoipa::path(put, path = "/admin/v1/providers/{name}", tag = "providers", request_body = ProviderSpec,
    params(("name" = String, Path)), responses((status = 200, body = ProviderView), (status = 400, response = BadRequest), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn put_provider(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<ProviderView>, AdminError> {
    let mut spec: ProviderSpec = parse_body(&body)?;
    same_name(&name, &spec.name)?;
    let existing = found(&st, &name).await?;
    let existing_doc = existing.spec.clone();
    let sends_keys = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .is_some_and(|v| v.get("api_keys").is_some());
    if !sends_keys {
        spec.api_keys = existing.spec.api_keys;
    }
    check(&spec)?;
    st.audited("update", "provider", &name, doc(&existing_doc), doc(&spec))
        .upsert_provider(&spec, Source::Api)
        .await?;
    st.reload().await;
    Ok(Json(found(&st, &name).await?.into()))
}

#[utoipa::path(delete, path = "/admin/v1/providers/{name}", tag = "providers",
    params(("name" = String, Path)), responses((status = 204, description = "Deleted"), (status = 404, response = NotFound), (status = 409, response = Conflict)), security(("bearer" = [])))]
pub(crate) async fn delete_provider(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<StatusCode, AdminError> {
    let users: Vec<String> = st
        .store
        .list_models()
        .await?
        .into_iter()
        .filter(|m| m.spec.targets.iter().any(|t| t.provider == name))
        .map(|m| m.spec.name)
        .collect();
    if !users.is_empty() {
        return Err(AdminError::Conflict(format!(
            "Provider `{name}` is a target of model(s) {}; change them first",
            users.join(", ")
        )));
    }
    let before = st.store.get_provider(&name).await?;
    let audited = st.audited(
        "delete",
        "provider",
        &name,
        before.as_ref().and_then(|b| doc(&b.spec)),
        None,
    );
    if !audited.delete_provider(&name).await? {
        return Err(AdminError::NotFound(format!("No provider named `{name}`")));
    }
    st.reload().await;
    Ok(StatusCode::NO_CONTENT)
}

fn check(spec: &ProviderSpec) -> Result<(), AdminError> {
    let issues = tollgate_config::check_provider(spec);
    if issues.is_empty() {
        Ok(())
    } else {
        Err(issues.into())
    }
}
