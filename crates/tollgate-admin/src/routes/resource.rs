//! The CRUD every named resource shares (models, teams, consumers): one
//! implementation, with each resource saying how it is stored, checked and what
//! must not be deleted from under others.

use axum::Json;
use http::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tollgate_store::{Source, Store, StoreError, Stored};

use super::{View, parse_body, same_name};
use crate::error::AdminError;
use crate::state::{AdminState, doc};

pub(crate) trait AdminResource:
    Sized + Serialize + DeserializeOwned + utoipa::ToSchema + Send + Sync
{
    /// "model", "team", ... for messages.
    const WHAT: &'static str;
    fn name(&self) -> &str;
    async fn fetch(store: &Store, name: &str) -> Result<Option<Stored<Self>>, StoreError>;
    async fn fetch_all(store: &Store) -> Result<Vec<Stored<Self>>, StoreError>;
    async fn save(&self, store: &Store) -> Result<(), StoreError>;
    async fn remove(store: &Store, name: &str) -> Result<bool, StoreError>;
    /// Validation, including references to other resources.
    async fn check(&self, store: &Store) -> Result<(), AdminError>;
    /// Refuses (409) to delete what others still refer to; cleans up what it owns.
    async fn before_delete(store: &Store, name: &str) -> Result<(), AdminError>;
}

async fn found<R: AdminResource>(st: &AdminState, name: &str) -> Result<Stored<R>, AdminError> {
    R::fetch(&st.store, name)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("No {} named `{name}`", R::WHAT)))
}

pub(crate) async fn list<R: AdminResource>(
    st: &AdminState,
) -> Result<Json<Vec<View<R>>>, AdminError> {
    let all = R::fetch_all(&st.store).await?;
    Ok(Json(all.into_iter().map(View::from).collect()))
}

pub(crate) async fn get<R: AdminResource>(
    st: &AdminState,
    name: &str,
) -> Result<Json<View<R>>, AdminError> {
    Ok(Json(found::<R>(st, name).await?.into()))
}

pub(crate) async fn create<R: AdminResource>(
    st: &AdminState,
    body: &[u8],
) -> Result<(StatusCode, Json<View<R>>), AdminError> {
    let spec: R = parse_body(body)?;
    insert(st, spec).await
}

/// Creates a resource already read from a request: checked, 409 if the name is
/// taken, saved, live at once.
pub(crate) async fn insert<R: AdminResource>(
    st: &AdminState,
    spec: R,
) -> Result<(StatusCode, Json<View<R>>), AdminError> {
    spec.check(&st.store).await?;
    if R::fetch(&st.store, spec.name()).await?.is_some() {
        return Err(AdminError::Conflict(format!(
            "A {} named `{}` already exists",
            R::WHAT,
            spec.name()
        )));
    }
    spec.save(&st.audited("create", R::WHAT, spec.name(), None, doc(&spec)))
        .await?;
    st.reload().await;
    Ok((
        StatusCode::CREATED,
        Json(found::<R>(st, spec.name()).await?.into()),
    ))
}

pub(crate) async fn put<R: AdminResource>(
    st: &AdminState,
    name: &str,
    body: &[u8],
) -> Result<Json<View<R>>, AdminError> {
    let spec: R = parse_body(body)?;
    same_name(name, spec.name())?;
    let before = found::<R>(st, name).await?;
    spec.check(&st.store).await?;
    spec.save(&st.audited("update", R::WHAT, name, doc(&before.spec), doc(&spec)))
        .await?;
    st.reload().await;
    Ok(Json(found::<R>(st, name).await?.into()))
}

pub(crate) async fn delete<R: AdminResource>(
    st: &AdminState,
    name: &str,
) -> Result<StatusCode, AdminError> {
    let before = found::<R>(st, name).await?;
    R::before_delete(&st.store, name).await?;
    R::remove(
        &st.audited("delete", R::WHAT, name, doc(&before.spec), None),
        name,
    )
    .await?;
    st.reload().await;
    Ok(StatusCode::NO_CONTENT)
}

/// Saves with the API as source (a config-declared resource edited through the API
/// becomes the API's; the config file re-applies it at the next start).
pub(crate) fn api() -> Source {
    Source::Api
}

pub(crate) fn issues(list: Vec<tollgate_config::Issue>) -> Result<(), AdminError> {
    if list.is_empty() {
        Ok(())
    } else {
        Err(list.into())
    }
}

/// A 409 naming who still refers to `name`.
pub(crate) fn in_use(what: &str, name: &str, users: &[String], by: &str) -> Result<(), AdminError> {
    if users.is_empty() {
        Ok(())
    } else {
        Err(AdminError::Conflict(format!(
            "{what} `{name}` is still used by {by} {}; change them first",
            users.join(", ")
        )))
    }
}
