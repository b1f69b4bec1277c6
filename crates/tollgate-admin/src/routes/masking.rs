//! `/admin/v1/masking`: rules that mask or block sensitive values in prompts and
//! answers (PRODUCT.md, "Data masking"). A rule is checked (every regex, keyword and
//! JSON path compiled) before it is stored, so a bad pattern is a 400 here and never
//! reaches a request; a write is live at once on this node and, through the
//! revision poll, on every node sharing the database.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use http::StatusCode;
use tollgate_core::spec::MaskingRuleSpec;
use tollgate_store::{Store, StoreError, Stored};

use super::View;
use super::resource::{self, AdminResource, api, issues};
use crate::error::AdminError;
use crate::error::responses::{BadRequest, Conflict, NotFound};
use crate::state::AdminState;

/// A masking rule with its bookkeeping.
pub type MaskingRuleView = View<MaskingRuleSpec>;

impl AdminResource for MaskingRuleSpec {
    const WHAT: &'static str = "masking rule";
    fn name(&self) -> &str {
        &self.name
    }
    async fn fetch(store: &Store, name: &str) -> Result<Option<Stored<Self>>, StoreError> {
        store.get_masking_rule(name).await
    }
    async fn fetch_all(store: &Store) -> Result<Vec<Stored<Self>>, StoreError> {
        store.list_masking_rules().await
    }
    async fn save(&self, store: &Store) -> Result<(), StoreError> {
        store.upsert_masking_rule(self, api()).await
    }
    async fn remove(store: &Store, name: &str) -> Result<bool, StoreError> {
        store.delete_masking_rule(name).await
    }
    async fn check(&self, _store: &Store) -> Result<(), AdminError> {
        issues(tollgate_config::check_masking(self))
    }
    async fn before_delete(_store: &Store, _name: &str) -> Result<(), AdminError> {
        Ok(())
    }
}

#[utoipa::path(get, path = "/admin/v1/masking", tag = "masking",
    responses((status = 200, body = Vec<MaskingRuleView>, description = "All of them; the links follow the first", links(
            ("get" = (operation_id = "get_masking_rule", parameters(("name" = "$response.body#/0/name")))),
            ("put" = (operation_id = "put_masking_rule", parameters(("name" = "$response.body#/0/name")))),
            ("delete" = (operation_id = "delete_masking_rule", parameters(("name" = "$response.body#/0/name"))))
        ))), security(("bearer" = [])))]
pub(crate) async fn list_masking_rules(
    State(st): State<AdminState>,
) -> Result<Json<Vec<MaskingRuleView>>, AdminError> {
    resource::list(&st).await
}

#[utoipa::path(post, path = "/admin/v1/masking", tag = "masking", request_body = MaskingRuleSpec,
    responses((status = 201, body = MaskingRuleView, links(
            ("get" = (operation_id = "get_masking_rule", parameters(("name" = "$response.body#/name")))),
            ("put" = (operation_id = "put_masking_rule", parameters(("name" = "$response.body#/name")))),
            ("delete" = (operation_id = "delete_masking_rule", parameters(("name" = "$response.body#/name"))))
        )),
        (status = 400, response = BadRequest), (status = 409, response = Conflict)), security(("bearer" = [])))]
pub(crate) async fn create_masking_rule(
    State(st): State<AdminState>,
    body: Bytes,
) -> Result<(StatusCode, Json<MaskingRuleView>), AdminError> {
    resource::create(&st, &body).await
}

#[utoipa::path(get, path = "/admin/v1/masking/{name}", tag = "masking", params(("name" = String, Path)),
    responses((status = 200, body = MaskingRuleView), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn get_masking_rule(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<MaskingRuleView>, AdminError> {
    resource::get(&st, &name).await
}

#[utoipa::path(put, path = "/admin/v1/masking/{name}", tag = "masking", params(("name" = String, Path)), request_body = MaskingRuleSpec,
    responses((status = 200, body = MaskingRuleView), (status = 400, response = BadRequest), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn put_masking_rule(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<MaskingRuleView>, AdminError> {
    resource::put(&st, &name, &body).await
}

#[utoipa::path(delete, path = "/admin/v1/masking/{name}", tag = "masking", params(("name" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn delete_masking_rule(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<StatusCode, AdminError> {
    resource::delete::<MaskingRuleSpec>(&st, &name).await
}
