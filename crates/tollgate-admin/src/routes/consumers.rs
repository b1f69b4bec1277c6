//! `/admin/v1/consumers`: application teams calling the gateway.

use std::collections::HashSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use http::StatusCode;
use tollgate_core::spec::ConsumerSpec;
use tollgate_store::{Store, StoreError, Stored};

use super::View;

/// A consumer with its bookkeeping.
pub type ConsumerView = View<ConsumerSpec>;
use super::resource::{self, AdminResource, api, issues};
use crate::error::AdminError;
use crate::error::responses::{BadRequest, Conflict, NotFound};
use crate::state::AdminState;

impl AdminResource for ConsumerSpec {
    const WHAT: &'static str = "consumer";
    fn name(&self) -> &str {
        &self.name
    }
    async fn fetch(store: &Store, name: &str) -> Result<Option<Stored<Self>>, StoreError> {
        store.get_consumer(name).await
    }
    async fn fetch_all(store: &Store) -> Result<Vec<Stored<Self>>, StoreError> {
        store.list_consumers().await
    }
    /// A consumer created with `credits_usd` starts with that balance (granted once).
    async fn save(&self, store: &Store) -> Result<(), StoreError> {
        store.upsert_consumer(self, api()).await?;
        if let Some(usd) = self.credits_usd {
            tollgate_gateway::metering::grant_initial_credits(store, &self.name, usd).await?;
        }
        Ok(())
    }
    async fn remove(store: &Store, name: &str) -> Result<bool, StoreError> {
        store.delete_consumer(name).await
    }
    async fn check(&self, store: &Store) -> Result<(), AdminError> {
        if !self.api_keys.is_empty() {
            return Err(AdminError::Invalid {
                message: "Keys are not set here: create them with POST /admin/v1/consumers/{name}/keys (they are shown once)".into(),
                param: Some("api_keys".into()),
            });
        }
        let teams: HashSet<String> = store
            .list_teams()
            .await?
            .into_iter()
            .map(|t| t.spec.name)
            .collect();
        let models: HashSet<String> = store
            .list_models()
            .await?
            .into_iter()
            .map(|m| m.spec.name)
            .collect();
        issues(tollgate_config::check_consumer(
            self,
            &|t| teams.contains(t),
            &|m| models.contains(m),
        ))
    }
    /// Refused while developers are bound to it; a consumer's keys go with it.
    async fn before_delete(store: &Store, name: &str) -> Result<(), AdminError> {
        let developers = store.users_of_consumer(name).await?;
        resource::in_use("Consumer", name, &developers, "the developer users")?;
        store.delete_keys_of_consumer(name).await?;
        Ok(())
    }
}

#[utoipa::path(get, path = "/admin/v1/consumers", tag = "consumers",
    responses((status = 200, body = Vec<ConsumerView>, description = "All of them; the links follow the first", links(
            ("get" = (operation_id = "get_consumer", parameters(("name" = "$response.body#/0/name")))),
            ("put" = (operation_id = "put_consumer", parameters(("name" = "$response.body#/0/name")))),
            ("delete" = (operation_id = "delete_consumer", parameters(("name" = "$response.body#/0/name")))),
            ("keys" = (operation_id = "list_keys", parameters(("name" = "$response.body#/0/name")))),
            ("create_key" = (operation_id = "create_key", parameters(("name" = "$response.body#/0/name")))),
            ("credentials" = (operation_id = "list_credentials", parameters(("name" = "$response.body#/0/name")))),
            ("create_credential" = (operation_id = "create_credential", parameters(("name" = "$response.body#/0/name")))),
            ("usage" = (operation_id = "consumer_usage", parameters(("name" = "$response.body#/0/name")))),
            ("credits" = (operation_id = "list_credits", parameters(("name" = "$response.body#/0/name")))),
            ("add_credits" = (operation_id = "add_credits", parameters(("name" = "$response.body#/0/name"))))
        ))), security(("bearer" = [])))]
pub(crate) async fn list_consumers(
    State(st): State<AdminState>,
) -> Result<Json<Vec<ConsumerView>>, AdminError> {
    resource::list(&st).await
}

#[utoipa::path(post, path = "/admin/v1/consumers", tag = "consumers", request_body = ConsumerSpec,
    responses((status = 201, body = ConsumerView, links(
            ("get" = (operation_id = "get_consumer", parameters(("name" = "$response.body#/name")))),
            ("put" = (operation_id = "put_consumer", parameters(("name" = "$response.body#/name")))),
            ("delete" = (operation_id = "delete_consumer", parameters(("name" = "$response.body#/name")))),
            ("keys" = (operation_id = "list_keys", parameters(("name" = "$response.body#/name")))),
            ("create_key" = (operation_id = "create_key", parameters(("name" = "$response.body#/name")))),
            ("credentials" = (operation_id = "list_credentials", parameters(("name" = "$response.body#/name")))),
            ("create_credential" = (operation_id = "create_credential", parameters(("name" = "$response.body#/name")))),
            ("usage" = (operation_id = "consumer_usage", parameters(("name" = "$response.body#/name")))),
            ("credits" = (operation_id = "list_credits", parameters(("name" = "$response.body#/name")))),
            ("add_credits" = (operation_id = "add_credits", parameters(("name" = "$response.body#/name"))))
        )),
        (status = 400, response = BadRequest), (status = 409, response = Conflict)), security(("bearer" = [])))]
pub(crate) async fn create_consumer(
    State(st): State<AdminState>,
    body: Bytes,
) -> Result<(StatusCode, Json<ConsumerView>), AdminError> {
    resource::create(&st, &body).await
}

#[utoipa::path(get, path = "/admin/v1/consumers/{name}", tag = "consumers", params(("name" = String, Path)),
    responses((status = 200, body = ConsumerView), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn get_consumer(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<ConsumerView>, AdminError> {
    resource::get(&st, &name).await
}

#[utoipa::path(put, path = "/admin/v1/consumers/{name}", tag = "consumers", params(("name" = String, Path)), request_body = ConsumerSpec,
    responses((status = 200, body = ConsumerView), (status = 400, response = BadRequest), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn put_consumer(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<ConsumerView>, AdminError> {
    resource::put(&st, &name, &body).await
}

#[utoipa::path(delete, path = "/admin/v1/consumers/{name}", tag = "consumers", params(("name" = String, Path)),
    responses((status = 204, description = "Deleted, with its keys"), (status = 404, response = NotFound),
        (status = 409, response = Conflict)), security(("bearer" = [])))]
pub(crate) async fn delete_consumer(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<StatusCode, AdminError> {
    resource::delete::<ConsumerSpec>(&st, &name).await
}
