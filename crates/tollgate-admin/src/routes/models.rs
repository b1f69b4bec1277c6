//! `/admin/v1/models`: the model names clients send and where they go.

use std::collections::HashSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use http::StatusCode;
use tollgate_core::spec::ModelSpec;
use tollgate_store::{Store, StoreError, Stored};

use super::View;

/// A model with its bookkeeping.
pub type ModelView = View<ModelSpec>;
use super::resource::{self, AdminResource, api, in_use, issues};
use crate::error::AdminError;
use crate::error::responses::{BadRequest, Conflict, NotFound};
use crate::state::AdminState;

impl AdminResource for ModelSpec {
    const WHAT: &'static str = "model";
    fn name(&self) -> &str {
        &self.name
    }
    async fn fetch(store: &Store, name: &str) -> Result<Option<Stored<Self>>, StoreError> {
        store.get_model(name).await
    }
    async fn fetch_all(store: &Store) -> Result<Vec<Stored<Self>>, StoreError> {
        store.list_models().await
    }
    async fn save(&self, store: &Store) -> Result<(), StoreError> {
        store.upsert_model(self, api()).await
    }
    async fn remove(store: &Store, name: &str) -> Result<bool, StoreError> {
        store.delete_model(name).await
    }
    async fn check(&self, store: &Store) -> Result<(), AdminError> {
        let providers: HashSet<String> = store
            .list_providers()
            .await?
            .into_iter()
            .map(|p| p.spec.name)
            .collect();
        let mut models: HashSet<String> = store
            .list_models()
            .await?
            .into_iter()
            .map(|m| m.spec.name)
            .collect();
        models.insert(self.name.clone());
        issues(tollgate_config::check_model(
            self,
            &|p| providers.contains(p),
            &|m| models.contains(m),
        ))
    }
    async fn before_delete(store: &Store, name: &str) -> Result<(), AdminError> {
        let users: Vec<String> = store
            .list_models()
            .await?
            .into_iter()
            .filter(|m| m.spec.name != name && m.spec.fallbacks.iter().any(|f| f == name))
            .map(|m| m.spec.name)
            .collect();
        in_use("Model", name, &users, "the fallbacks of")?;
        let prompts: Vec<String> = store
            .list_prompt_apis()
            .await?
            .into_iter()
            .filter(|p| p.spec.model == name)
            .map(|p| p.spec.name)
            .collect();
        in_use("Model", name, &prompts, "the prompt-APIs")
    }
}

#[utoipa::path(get, path = "/admin/v1/models", tag = "models",
    responses((status = 200, body = Vec<ModelView>, description = "All of them; the links follow the first", links(
            ("get" = (operation_id = "get_model", parameters(("name" = "$response.body#/0/name")))),
            ("put" = (operation_id = "put_model", parameters(("name" = "$response.body#/0/name")))),
            ("delete" = (operation_id = "delete_model", parameters(("name" = "$response.body#/0/name"))))
        ))), security(("bearer" = [])))]
pub(crate) async fn list_models(
    State(st): State<AdminState>,
) -> Result<Json<Vec<ModelView>>, AdminError> {
    resource::list(&st).await
}

#[utoipa::path(post, path = "/admin/v1/models", tag = "models", request_body = ModelSpec,
    responses((status = 201, body = ModelView, links(
            ("get" = (operation_id = "get_model", parameters(("name" = "$response.body#/name")))),
            ("put" = (operation_id = "put_model", parameters(("name" = "$response.body#/name")))),
            ("delete" = (operation_id = "delete_model", parameters(("name" = "$response.body#/name"))))
        )),
        (status = 400, response = BadRequest), (status = 409, response = Conflict)), security(("bearer" = [])))]
pub(crate) async fn create_model(
    State(st): State<AdminState>,
    body: Bytes,
) -> Result<(StatusCode, Json<ModelView>), AdminError> {
    resource::create(&st, &body).await
}

#[utoipa::path(get, path = "/admin/v1/models/{name}", tag = "models", params(("name" = String, Path)),
    responses((status = 200, body = ModelView), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn get_model(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<ModelView>, AdminError> {
    resource::get(&st, &name).await
}

#[utoipa::path(put, path = "/admin/v1/models/{name}", tag = "models", params(("name" = String, Path)), request_body = ModelSpec,
    responses((status = 200, body = ModelView), (status = 400, response = BadRequest), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn put_model(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<ModelView>, AdminError> {
    resource::put(&st, &name, &body).await
}

#[utoipa::path(delete, path = "/admin/v1/models/{name}", tag = "models", params(("name" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, response = NotFound), (status = 409, response = Conflict)), security(("bearer" = [])))]
pub(crate) async fn delete_model(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<StatusCode, AdminError> {
    resource::delete::<ModelSpec>(&st, &name).await
}
