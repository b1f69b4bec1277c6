//! `/admin/v1/teams`: groups of consumers sharing a budget.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use http::StatusCode;
use tollgate_core::spec::TeamSpec;
use tollgate_store::{Store, StoreError, Stored};

use super::View;

/// A team with its bookkeeping.
pub type TeamView = View<TeamSpec>;
use super::resource::{self, AdminResource, api, in_use, issues};
use crate::error::AdminError;
use crate::error::responses::{BadRequest, Conflict, NotFound};
use crate::state::AdminState;

impl AdminResource for TeamSpec {
    const WHAT: &'static str = "team";
    fn name(&self) -> &str {
        &self.name
    }
    async fn fetch(store: &Store, name: &str) -> Result<Option<Stored<Self>>, StoreError> {
        store.get_team(name).await
    }
    async fn fetch_all(store: &Store) -> Result<Vec<Stored<Self>>, StoreError> {
        store.list_teams().await
    }
    async fn save(&self, store: &Store) -> Result<(), StoreError> {
        store.upsert_team(self, api()).await
    }
    async fn remove(store: &Store, name: &str) -> Result<bool, StoreError> {
        store.delete_team(name).await
    }
    async fn check(&self, _store: &Store) -> Result<(), AdminError> {
        issues(tollgate_config::check_team(self))
    }
    async fn before_delete(store: &Store, name: &str) -> Result<(), AdminError> {
        let users: Vec<String> = store
            .list_consumers()
            .await?
            .into_iter()
            .filter(|c| c.spec.team.as_deref() == Some(name))
            .map(|c| c.spec.name)
            .collect();
        in_use("Team", name, &users, "consumer(s)")
    }
}

#[utoipa::path(get, path = "/admin/v1/teams", tag = "teams",
    responses((status = 200, body = Vec<TeamView>, description = "All of them; the links follow the first", links(
            ("get" = (operation_id = "get_team", parameters(("name" = "$response.body#/0/name")))),
            ("put" = (operation_id = "put_team", parameters(("name" = "$response.body#/0/name")))),
            ("delete" = (operation_id = "delete_team", parameters(("name" = "$response.body#/0/name"))))
        ))), security(("bearer" = [])))]
pub(crate) async fn list_teams(
    State(st): State<AdminState>,
) -> Result<Json<Vec<TeamView>>, AdminError> {
    resource::list(&st).await
}

#[utoipa::path(post, path = "/admin/v1/teams", tag = "teams", request_body = TeamSpec,
    responses((status = 201, body = TeamView, links(
            ("get" = (operation_id = "get_team", parameters(("name" = "$response.body#/name")))),
            ("put" = (operation_id = "put_team", parameters(("name" = "$response.body#/name")))),
            ("delete" = (operation_id = "delete_team", parameters(("name" = "$response.body#/name"))))
        )),
        (status = 400, response = BadRequest), (status = 409, response = Conflict)), security(("bearer" = [])))]
pub(crate) async fn create_team(
    State(st): State<AdminState>,
    body: Bytes,
) -> Result<(StatusCode, Json<TeamView>), AdminError> {
    resource::create(&st, &body).await
}

#[utoipa::path(get, path = "/admin/v1/teams/{name}", tag = "teams", params(("name" = String, Path)),
    responses((status = 200, body = TeamView), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn get_team(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<TeamView>, AdminError> {
    resource::get(&st, &name).await
}

#[utoipa::path(put, path = "/admin/v1/teams/{name}", tag = "teams", params(("name" = String, Path)), request_body = TeamSpec,
    responses((status = 200, body = TeamView), (status = 400, response = BadRequest), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn put_team(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<TeamView>, AdminError> {
    resource::put(&st, &name, &body).await
}

#[utoipa::path(delete, path = "/admin/v1/teams/{name}", tag = "teams", params(("name" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, response = NotFound), (status = 409, response = Conflict)), security(("bearer" = [])))]
pub(crate) async fn delete_team(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<StatusCode, AdminError> {
    resource::delete::<TeamSpec>(&st, &name).await
}
