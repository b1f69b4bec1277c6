//! `/admin/v1/services/{name}/releases`: named snapshots of a service's routes (with
//! their docs) and upstream; a diff of one against what runs; publishing one, which
//! makes it what runs on every node (the same write as a `PUT`). A rollback is
//! publishing an older release.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use tollgate_core::service_docs::ReleaseSnapshot;
use tollgate_core::spec::{ServiceRoute, ServiceSpec, ServiceUpstream};
use tollgate_store::{ServiceRelease, StoreError};
use utoipa::ToSchema;

use super::parse_body;
use super::resource::{self, AdminResource};
use super::services::ServiceView;
use crate::error::AdminError;
use crate::error::responses::{BadRequest, Conflict, NotFound};
use crate::state::AdminState;

/// The longest release version.
const MAX_VERSION: usize = 64;

/// A release to take of the service as it is now.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseCreate {
    /// Unique per service; used in paths, so letters, digits, `.`, `_` and `-`, not
    /// starting with `.`.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]*$",
        example = "1.2.0"
    )]
    pub version: String,
    #[serde(default)]
    pub notes: Option<String>,
}

/// A release: the service's routes and upstream when it was taken.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReleaseView {
    /// The service's name.
    pub service: String,
    pub version: String,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub upstream: ServiceUpstream,
    pub routes: Vec<ServiceRoute>,
}

impl From<ServiceRelease> for ReleaseView {
    fn from(r: ServiceRelease) -> Self {
        ReleaseView {
            service: r.service,
            version: r.version,
            notes: r.notes,
            created_at: r.created_at,
            upstream: r.snapshot.upstream,
            routes: r.snapshot.routes,
        }
    }
}

/// How what runs now differs from a release: `before` is the release, `after` what
/// runs. Routes are matched by name.
#[derive(Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct ReleaseDiff {
    /// Routes running now that the release does not have.
    pub added: Vec<ServiceRoute>,
    /// Routes of the release that no longer run.
    pub removed: Vec<ServiceRoute>,
    /// Routes of both whose methods, path, rewrite or docs differ.
    pub changed: Vec<RouteChange>,
    /// Whether the upstream (nodes, weights, timeout, host) differs.
    pub upstream_changed: bool,
}

/// One route in both, different.
#[derive(Debug, PartialEq, Serialize, ToSchema)]
pub struct RouteChange {
    /// The route's name.
    pub route: String,
    /// As the release has it.
    pub before: ServiceRoute,
    /// As it runs now.
    pub after: ServiceRoute,
}

/// What runs now (`now`) against a release (`then`).
pub fn diff(then: &ReleaseSnapshot, now: &ServiceSpec) -> ReleaseDiff {
    let find = |routes: &[ServiceRoute], name: &str| -> Option<ServiceRoute> {
        routes.iter().find(|r| r.name == name).cloned()
    };
    let mut out = ReleaseDiff {
        upstream_changed: then.upstream != now.upstream,
        ..ReleaseDiff::default()
    };
    for route in &now.routes {
        match find(&then.routes, &route.name) {
            None => out.added.push(route.clone()),
            Some(before) if before != *route => out.changed.push(RouteChange {
                route: route.name.clone(),
                before,
                after: route.clone(),
            }),
            Some(_) => {}
        }
    }
    out.removed = then
        .routes
        .iter()
        .filter(|r| find(&now.routes, &r.name).is_none())
        .cloned()
        .collect();
    out
}

async fn service(st: &AdminState, name: &str) -> Result<ServiceSpec, AdminError> {
    ServiceSpec::fetch(&st.store, name)
        .await?
        .map(|s| s.spec)
        .ok_or_else(|| AdminError::NotFound(format!("No service named `{name}`")))
}

async fn release(st: &AdminState, name: &str, version: &str) -> Result<ServiceRelease, AdminError> {
    st.store
        .get_service_release(name, version)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("Service `{name}` has no release `{version}`")))
}

fn check_version(version: &str) -> Result<(), AdminError> {
    let fine = version.len() <= MAX_VERSION
        && version
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if fine {
        Ok(())
    } else {
        Err(AdminError::Invalid {
            message: format!(
                "A version is 1 to {MAX_VERSION} letters, digits, `.`, `_` or `-`, not starting with `.`"
            ),
            param: Some("version".into()),
        })
    }
}

#[utoipa::path(post, path = "/admin/v1/services/{name}/releases", tag = "services",
    operation_id = "create_service_release", params(("name" = String, Path)),
    request_body = ReleaseCreate,
    responses((status = 201, description = "The release, a snapshot of the service's routes and upstream as they run now", body = ReleaseView, links(
            ("diff" = (operation_id = "diff_service_release", parameters(("name" = "$response.body#/service"), ("version" = "$response.body#/version")))),
            ("publish" = (operation_id = "publish_service_release", parameters(("name" = "$response.body#/service"), ("version" = "$response.body#/version")))),
            ("releases" = (operation_id = "list_service_releases", parameters(("name" = "$response.body#/service"))))
        )), (status = 400, response = BadRequest),
        (status = 404, response = NotFound), (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn create_service_release(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<ReleaseView>), AdminError> {
    let want: ReleaseCreate = parse_body(&body)?;
    check_version(&want.version)?;
    let spec = service(&st, &name).await?;
    let snapshot = ReleaseSnapshot {
        upstream: spec.upstream,
        routes: spec.routes,
    };
    let after = serde_json::json!({"version": want.version, "notes": want.notes});
    let taken = st
        .audited("release", "service", &name, None, Some(after))
        .insert_service_release(&name, &want.version, want.notes.as_deref(), &snapshot)
        .await;
    match taken {
        Ok(r) => Ok((StatusCode::CREATED, Json(r.into()))),
        Err(StoreError::Conflict(_)) => Err(AdminError::Conflict(format!(
            "Service `{name}` already has a release `{}`",
            want.version
        ))),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/admin/v1/services/{name}/releases", tag = "services",
    operation_id = "list_service_releases", params(("name" = String, Path)),
    responses((status = 200, description = "The service's releases, oldest first", body = Vec<ReleaseView>, links(
            ("diff" = (operation_id = "diff_service_release", parameters(("name" = "$response.body#/0/service"), ("version" = "$response.body#/0/version")))),
            ("publish" = (operation_id = "publish_service_release", parameters(("name" = "$response.body#/0/service"), ("version" = "$response.body#/0/version"))))
        )),
        (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub(crate) async fn list_service_releases(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<ReleaseView>>, AdminError> {
    service(&st, &name).await?;
    let all = st.store.list_service_releases(&name).await?;
    Ok(Json(all.into_iter().map(ReleaseView::from).collect()))
}

#[utoipa::path(get, path = "/admin/v1/services/{name}/releases/{version}/diff", tag = "services",
    operation_id = "diff_service_release",
    params(("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, description = "What runs now against the release (`before` the release, `after` now)", body = ReleaseDiff),
        (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub(crate) async fn diff_service_release(
    State(st): State<AdminState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<ReleaseDiff>, AdminError> {
    let now = service(&st, &name).await?;
    let then = release(&st, &name, &version).await?;
    Ok(Json(diff(&then.snapshot, &now)))
}

#[utoipa::path(post, path = "/admin/v1/services/{name}/releases/{version}/publish", tag = "services",
    operation_id = "publish_service_release",
    params(("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, description = "The service, now running the release's routes and upstream (its lifecycle, prefix, credentials and limits unchanged)", body = ServiceView),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn publish_service_release(
    State(st): State<AdminState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<ServiceView>, AdminError> {
    let mut spec = service(&st, &name).await?;
    let before = crate::state::doc(&spec);
    let then = release(&st, &name, &version).await?;
    spec.upstream = then.snapshot.upstream;
    spec.routes = then.snapshot.routes;
    // The release passed the checks when it was taken; if it no longer does (a rule
    // tightened since), it conflicts with the present.
    spec.check(&st.store).await.map_err(|e| match e {
        AdminError::Invalid { message, .. } => AdminError::Conflict(format!(
            "Release `{version}` no longer passes the service checks: {message}"
        )),
        other => other,
    })?;
    spec.save(&st.audited(
        "publish",
        "service",
        &name,
        before,
        crate::state::doc(&spec),
    ))
    .await?;
    st.reload().await;
    resource::get::<ServiceSpec>(&st, &name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(name: &str, path: &str) -> ServiceRoute {
        ServiceRoute {
            name: name.into(),
            methods: vec!["GET".into()],
            path: path.into(),
            rewrite: None,
            docs: None,
        }
    }

    #[test]
    fn diffs_match_routes_by_name() {
        let upstream: ServiceUpstream =
            serde_json::from_value(serde_json::json!({"nodes": [{"url": "http://a"}]}))
                .expect("upstream");
        let then = ReleaseSnapshot {
            upstream: upstream.clone(),
            routes: vec![
                route("keep", "/k"),
                route("move", "/m"),
                route("gone", "/g"),
            ],
        };
        let mut now: ServiceSpec = serde_json::from_value(serde_json::json!({
            "name": "s", "path_prefix": "/s", "upstream": upstream}))
        .expect("spec");
        now.routes = vec![
            route("new", "/n"),
            route("move", "/m2"),
            route("keep", "/k"),
        ];
        let d = diff(&then, &now);
        assert_eq!(d.added, vec![route("new", "/n")]);
        assert_eq!(d.removed, vec![route("gone", "/g")]);
        assert_eq!(
            d.changed,
            vec![RouteChange {
                route: "move".into(),
                before: route("move", "/m"),
                after: route("move", "/m2"),
            }]
        );
        assert!(!d.upstream_changed);
        now.upstream.timeout_ms = Some(5);
        assert!(diff(&then, &now).upstream_changed);
        assert!(check_version("1.2.0-rc_1").is_ok());
        for bad in ["", ".", "..", ".1", "a/b", "a b", &"x".repeat(65)] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }
}
