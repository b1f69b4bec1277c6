//! `/admin/v1/prompt-apis`: a model and a message template published as a REST
//! endpoint of the gateway listener. A write is live at once (the snapshot reload) and
//! on every node sharing the database (its revision poll). Lifecycle moves follow the
//! services' rules ([`super::services::may_move`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use http::StatusCode;
use tollgate_core::spec::PromptApiSpec;
use tollgate_store::{Store, StoreError, Stored};

use super::View;
use super::resource::{self, AdminResource, api, issues};
use super::services::{LifecycleChange, may_move};
use crate::error::AdminError;
use crate::error::responses::{BadRequest, Conflict, NotFound};
use crate::state::AdminState;

/// A prompt-API with its bookkeeping.
pub type PromptApiView = View<PromptApiSpec>;

impl AdminResource for PromptApiSpec {
    const WHAT: &'static str = "prompt-API";
    fn name(&self) -> &str {
        &self.name
    }
    async fn fetch(store: &Store, name: &str) -> Result<Option<Stored<Self>>, StoreError> {
        store.get_prompt_api(name).await
    }
    async fn fetch_all(store: &Store) -> Result<Vec<Stored<Self>>, StoreError> {
        store.list_prompt_apis().await
    }
    async fn save(&self, store: &Store) -> Result<(), StoreError> {
        store.upsert_prompt_api(self, api()).await
    }
    async fn remove(store: &Store, name: &str) -> Result<bool, StoreError> {
        store.delete_prompt_api(name).await
    }
    async fn check(&self, store: &Store) -> Result<(), AdminError> {
        let models: Vec<String> = store
            .list_models()
            .await?
            .into_iter()
            .map(|m| m.spec.name)
            .collect();
        issues(tollgate_config::check_prompt_api(self, &|m| {
            models.iter().any(|n| n == m)
        }))?;
        // One namespace with services; a path of its own, under no service's prefix.
        for s in store.list_services().await? {
            if s.spec.name == self.name {
                return Err(AdminError::Conflict(format!(
                    "The name is already used by service `{}` (names are unique across services and prompt-APIs)",
                    s.spec.name
                )));
            }
            if tollgate_config::under_prefix(&self.path, &s.spec.path_prefix) {
                return Err(AdminError::Conflict(format!(
                    "The path is under the path prefix of service `{}`",
                    s.spec.name
                )));
            }
        }
        let taken = store
            .list_prompt_apis()
            .await?
            .into_iter()
            .find(|p| p.spec.name != self.name && p.spec.path == self.path);
        match taken {
            Some(other) => Err(AdminError::Conflict(format!(
                "The path is already used by prompt-API `{}`",
                other.spec.name
            ))),
            None => Ok(()),
        }
    }
    async fn before_delete(_store: &Store, _name: &str) -> Result<(), AdminError> {
        Ok(())
    }
}

#[utoipa::path(get, path = "/admin/v1/prompt-apis", tag = "prompt-apis",
    responses((status = 200, body = Vec<PromptApiView>, description = "All of them; the links follow the first", links(
            ("get" = (operation_id = "get_prompt_api", parameters(("name" = "$response.body#/0/name")))),
            ("put" = (operation_id = "put_prompt_api", parameters(("name" = "$response.body#/0/name")))),
            ("lifecycle" = (operation_id = "put_prompt_api_lifecycle", parameters(("name" = "$response.body#/0/name")))),
            ("delete" = (operation_id = "delete_prompt_api", parameters(("name" = "$response.body#/0/name"))))
        ))),
    security(("bearer" = [])))]
pub(crate) async fn list_prompt_apis(
    State(st): State<AdminState>,
) -> Result<Json<Vec<PromptApiView>>, AdminError> {
    resource::list(&st).await
}

#[utoipa::path(post, path = "/admin/v1/prompt-apis", tag = "prompt-apis", request_body = PromptApiSpec,
    responses((status = 201, body = PromptApiView, links(
            ("get" = (operation_id = "get_prompt_api", parameters(("name" = "$response.body#/name")))),
            ("put" = (operation_id = "put_prompt_api", parameters(("name" = "$response.body#/name")))),
            ("lifecycle" = (operation_id = "put_prompt_api_lifecycle", parameters(("name" = "$response.body#/name")))),
            ("delete" = (operation_id = "delete_prompt_api", parameters(("name" = "$response.body#/name"))))
        )), (status = 400, response = BadRequest),
        (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn create_prompt_api(
    State(st): State<AdminState>,
    body: Bytes,
) -> Result<(StatusCode, Json<PromptApiView>), AdminError> {
    resource::create(&st, &body).await
}

#[utoipa::path(get, path = "/admin/v1/prompt-apis/{name}", tag = "prompt-apis", params(("name" = String, Path)),
    responses((status = 200, body = PromptApiView), (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub(crate) async fn get_prompt_api(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<PromptApiView>, AdminError> {
    resource::get(&st, &name).await
}

#[utoipa::path(put, path = "/admin/v1/prompt-apis/{name}", tag = "prompt-apis", params(("name" = String, Path)), request_body = PromptApiSpec,
    responses((status = 200, body = PromptApiView), (status = 400, response = BadRequest),
        (status = 404, response = NotFound), (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn put_prompt_api(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<PromptApiView>, AdminError> {
    resource::put(&st, &name, &body).await
}

#[utoipa::path(delete, path = "/admin/v1/prompt-apis/{name}", tag = "prompt-apis", params(("name" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub(crate) async fn delete_prompt_api(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<StatusCode, AdminError> {
    resource::delete::<PromptApiSpec>(&st, &name).await
}

#[utoipa::path(put, path = "/admin/v1/prompt-apis/{name}/lifecycle", tag = "prompt-apis", params(("name" = String, Path)), request_body = LifecycleChange,
    responses((status = 200, body = PromptApiView), (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn put_prompt_api_lifecycle(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<axum::response::Response, AdminError> {
    use axum::response::IntoResponse;
    let change: LifecycleChange = super::parse_body(&body)?;
    let Some(current) = st.store.get_prompt_api(&name).await? else {
        return Err(AdminError::NotFound(format!(
            "No prompt-API named `{name}`"
        )));
    };
    let from = current.spec.lifecycle;
    if !may_move(from, change.state) {
        return Ok(super::services::invalid_transition(
            "Prompt-API",
            &name,
            from,
            change.state,
        ));
    }
    let mut spec = current.spec;
    spec.lifecycle = change.state;
    spec.save(&st.store).await?;
    st.reload().await;
    Ok(resource::get::<PromptApiSpec>(&st, &name)
        .await?
        .into_response())
}
