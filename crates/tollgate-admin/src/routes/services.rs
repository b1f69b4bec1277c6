//! `/admin/v1/services`: REST services published through the gateway listener. A
//! write is live at once (the snapshot reload) and on every node sharing the database
//! (its revision poll).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use http::StatusCode;
use tollgate_core::spec::{ServiceLifecycle, ServiceSpec};
use tollgate_store::{Store, StoreError, Stored};
use utoipa::ToSchema;

use super::View;
use super::resource::{self, AdminResource, api, issues};
use crate::error::AdminError;
use crate::error::responses::{BadRequest, Conflict, NotFound};
use crate::state::AdminState;

/// A service with its bookkeeping.
pub type ServiceView = View<ServiceSpec>;

impl AdminResource for ServiceSpec {
    const WHAT: &'static str = "service";
    fn name(&self) -> &str {
        &self.name
    }
    async fn fetch(store: &Store, name: &str) -> Result<Option<Stored<Self>>, StoreError> {
        store.get_service(name).await
    }
    async fn fetch_all(store: &Store) -> Result<Vec<Stored<Self>>, StoreError> {
        store.list_services().await
    }
    async fn save(&self, store: &Store) -> Result<(), StoreError> {
        store.upsert_service(self, api()).await
    }
    /// A service's releases go with it (in the same transaction).
    async fn remove(store: &Store, name: &str) -> Result<bool, StoreError> {
        store.delete_service(name).await
    }
    async fn check(&self, store: &Store) -> Result<(), AdminError> {
        issues(tollgate_config::check_service(self))?;
        // One namespace with prompt-APIs, whose paths a prefix may not cover.
        for p in store.list_prompt_apis().await? {
            if p.spec.name == self.name {
                return Err(AdminError::Conflict(format!(
                    "The name is already used by prompt-API `{}` (names are unique across services and prompt-APIs)",
                    p.spec.name
                )));
            }
            if tollgate_config::under_prefix(&p.spec.path, &self.path_prefix) {
                return Err(AdminError::Conflict(format!(
                    "The path prefix covers the path of prompt-API `{}`",
                    p.spec.name
                )));
            }
        }
        // Two services may not share a prefix.
        let taken = store
            .list_services()
            .await?
            .into_iter()
            .find(|s| s.spec.name != self.name && s.spec.path_prefix == self.path_prefix);
        match taken {
            Some(other) => Err(AdminError::Conflict(format!(
                "The path prefix is already used by service `{}`",
                other.spec.name
            ))),
            None => Ok(()),
        }
    }
    async fn before_delete(_store: &Store, _name: &str) -> Result<(), AdminError> {
        Ok(())
    }
}

#[utoipa::path(get, path = "/admin/v1/services", tag = "services",
    responses((status = 200, body = Vec<ServiceView>, description = "All of them; the links follow the first", links(
            ("get" = (operation_id = "get_service", parameters(("name" = "$response.body#/0/name")))),
            ("put" = (operation_id = "put_service", parameters(("name" = "$response.body#/0/name")))),
            ("lifecycle" = (operation_id = "put_service_lifecycle", parameters(("name" = "$response.body#/0/name")))),
            ("delete" = (operation_id = "delete_service", parameters(("name" = "$response.body#/0/name")))),
            ("openapi" = (operation_id = "export_service_openapi", parameters(("name" = "$response.body#/0/name")))),
            ("releases" = (operation_id = "list_service_releases", parameters(("name" = "$response.body#/0/name")))),
            ("release" = (operation_id = "create_service_release", parameters(("name" = "$response.body#/0/name"))))
        ))),
    security(("bearer" = [])))]
pub(crate) async fn list_services(
    State(st): State<AdminState>,
) -> Result<Json<Vec<ServiceView>>, AdminError> {
    resource::list(&st).await
}

#[utoipa::path(post, path = "/admin/v1/services", tag = "services", request_body = ServiceSpec,
    responses((status = 201, body = ServiceView, links(
            ("get" = (operation_id = "get_service", parameters(("name" = "$response.body#/name")))),
            ("put" = (operation_id = "put_service", parameters(("name" = "$response.body#/name")))),
            ("lifecycle" = (operation_id = "put_service_lifecycle", parameters(("name" = "$response.body#/name")))),
            ("delete" = (operation_id = "delete_service", parameters(("name" = "$response.body#/name")))),
            ("openapi" = (operation_id = "export_service_openapi", parameters(("name" = "$response.body#/name")))),
            ("releases" = (operation_id = "list_service_releases", parameters(("name" = "$response.body#/name")))),
            ("release" = (operation_id = "create_service_release", parameters(("name" = "$response.body#/name"))))
        )), (status = 400, response = BadRequest),
        (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn create_service(
    State(st): State<AdminState>,
    body: Bytes,
) -> Result<(StatusCode, Json<ServiceView>), AdminError> {
    resource::create(&st, &body).await
}

#[utoipa::path(get, path = "/admin/v1/services/{name}", tag = "services", params(("name" = String, Path)),
    responses((status = 200, body = ServiceView), (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub(crate) async fn get_service(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<ServiceView>, AdminError> {
    resource::get(&st, &name).await
}

#[utoipa::path(put, path = "/admin/v1/services/{name}", tag = "services", params(("name" = String, Path)), request_body = ServiceSpec,
    responses((status = 200, body = ServiceView), (status = 400, response = BadRequest),
        (status = 404, response = NotFound), (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn put_service(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<ServiceView>, AdminError> {
    resource::put(&st, &name, &body).await
}

#[utoipa::path(delete, path = "/admin/v1/services/{name}", tag = "services", params(("name" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub(crate) async fn delete_service(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<StatusCode, AdminError> {
    resource::delete::<ServiceSpec>(&st, &name).await
}

/// A lifecycle move.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleChange {
    pub state: ServiceLifecycle,
}

/// PRODUCT.md's moves: draft → published; published → deprecated or retired;
/// deprecated → published or retired. Retired is final; nothing returns to draft.
pub fn may_move(from: ServiceLifecycle, to: ServiceLifecycle) -> bool {
    use ServiceLifecycle::*;
    matches!(
        (from, to),
        (Draft, Published)
            | (Published, Deprecated)
            | (Published, Retired)
            | (Deprecated, Published)
            | (Deprecated, Retired)
    )
}

/// The 409 `invalid_transition` answer to a refused lifecycle move.
pub(crate) fn invalid_transition(
    what: &str,
    name: &str,
    from: ServiceLifecycle,
    to: ServiceLifecycle,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let message = format!(
        "{what} `{name}` cannot move from `{}` to `{}`",
        from.as_str(),
        to.as_str()
    );
    let body = serde_json::json!({"error": {
        "message": message, "type": "invalid_request_error",
        "code": "invalid_transition", "param": "state",
    }});
    (StatusCode::CONFLICT, Json(body)).into_response()
}

#[utoipa::path(put, path = "/admin/v1/services/{name}/lifecycle", tag = "services", params(("name" = String, Path)), request_body = LifecycleChange,
    responses((status = 200, body = ServiceView), (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn put_service_lifecycle(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<axum::response::Response, AdminError> {
    use axum::response::IntoResponse;
    let change: LifecycleChange = super::parse_body(&body)?;
    let Some(current) = st.store.get_service(&name).await? else {
        return Err(AdminError::NotFound(format!("No service named `{name}`")));
    };
    let from = current.spec.lifecycle;
    if !may_move(from, change.state) {
        return Ok(invalid_transition("Service", &name, from, change.state));
    }
    let mut spec = current.spec;
    let before = crate::state::doc(&spec);
    spec.lifecycle = change.state;
    spec.save(&st.audited(
        "lifecycle",
        "service",
        &name,
        before,
        crate::state::doc(&spec),
    ))
    .await?;
    st.reload().await;
    Ok(resource::get::<ServiceSpec>(&st, &name)
        .await?
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ServiceLifecycle::*;

    #[test]
    fn only_the_documented_moves() {
        let all = [Draft, Published, Deprecated, Retired];
        let allowed: Vec<_> = all
            .iter()
            .flat_map(|&f| all.iter().map(move |&t| (f, t)))
            .filter(|&(f, t)| may_move(f, t))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Draft, Published),
                (Published, Deprecated),
                (Published, Retired),
                (Deprecated, Published),
                (Deprecated, Retired)
            ]
        );
    }
}
