//! `/admin/v1/users`: console users and their roles (admin only; the role check is in
//! [`crate::auth::require_admin`]). Password hashes never leave the store.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use tollgate_store::{User, UserUpdate, UserWrite};
use utoipa::ToSchema;

use super::{parse_body, same_name};
use crate::error::AdminError;
use crate::error::responses::{BadRequest, Conflict, NotFound};
use crate::roles::Role;
use crate::state::AdminState;

/// Shorter passwords are refused (PRODUCT.md: console passwords, argon2id).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longer ones too: nobody types them, and they only cost hashing time.
const MAX_PASSWORD_CHARS: usize = 1024;
const MAX_USERNAME_CHARS: usize = 128;

/// A console user as the API shows it: never the password or its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub username: String,
    /// `admin`, `operator`, `viewer` or `developer`.
    pub role: String,
    /// The consumer a developer is bound to; null for the other roles.
    pub consumer: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            username: u.username,
            role: u.role,
            consumer: u.consumer,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// `POST /admin/v1/users`. No `Debug`: it holds a password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Printable, without spaces, control characters or `/` (it goes in URLs).
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000/]+$"
    )]
    pub username: String,
    #[schema(min_length = 8, max_length = 1024, write_only)]
    pub password: String,
    pub role: Role,
    /// Required for (and only for) a developer: the consumer whose keys and usage the
    /// developer portal shows them.
    #[serde(default)]
    pub consumer: Option<String>,
}

/// `PUT /admin/v1/users/{username}`: the fields to change; omitted ones stay. A user
/// who stops being a developer loses their consumer; one who becomes a developer needs
/// one. A new password ends the user's sessions. No `Debug`: it may hold a password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// If present, must equal the path's.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    #[schema(min_length = 8, max_length = 1024, write_only)]
    pub password: Option<String>,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub consumer: Option<String>,
}

fn invalid(param: &str, message: impl Into<String>) -> AdminError {
    AdminError::Invalid {
        message: message.into(),
        param: Some(param.to_string()),
    }
}

/// Usernames go in URLs (`/admin/v1/users/{username}`) and audit records: printable,
/// no spaces or slashes.
fn check_username(username: &str) -> Result<(), AdminError> {
    if username.is_empty() {
        return Err(invalid("username", "The username must not be empty"));
    }
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(invalid(
            "username",
            format!("The username is longer than {MAX_USERNAME_CHARS} characters"),
        ));
    }
    if username
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        return Err(invalid(
            "username",
            "The username may not contain spaces, control characters or `/`",
        ));
    }
    Ok(())
}

fn check_password(password: &str) -> Result<(), AdminError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(invalid(
            "password",
            format!("The password must be at least {MIN_PASSWORD_CHARS} characters long"),
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(invalid(
            "password",
            format!("The password must be at most {MAX_PASSWORD_CHARS} characters long"),
        ));
    }
    Ok(())
}

/// The consumer a user of `role` is bound to: required and existing for a developer,
/// absent for every other role.
async fn binding(
    st: &AdminState,
    role: Role,
    consumer: Option<String>,
) -> Result<Option<String>, AdminError> {
    match (role, consumer) {
        (Role::Developer, None) => Err(invalid(
            "consumer",
            "A developer is bound to one consumer: give `consumer`",
        )),
        (Role::Developer, Some(c)) => {
            if st.store.get_consumer(&c).await?.is_none() {
                return Err(invalid("consumer", format!("No consumer named `{c}`")));
            }
            Ok(Some(c))
        }
        (_, Some(_)) => Err(invalid(
            "consumer",
            format!("Only a developer is bound to a consumer, not a user with the {role} role"),
        )),
        (_, None) => Ok(None),
    }
}

async fn found(st: &AdminState, username: &str) -> Result<User, AdminError> {
    st.store
        .get_user(username)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("No user named `{username}`")))
}

fn written(outcome: UserWrite, username: &str) -> Result<(), AdminError> {
    match outcome {
        UserWrite::Done => Ok(()),
        UserWrite::NotFound => Err(AdminError::NotFound(format!("No user named `{username}`"))),
        UserWrite::LastAdmin => Err(AdminError::Conflict(format!(
            "`{username}` is the last user with the admin role; make another user admin first"
        ))),
    }
}

#[utoipa::path(get, path = "/admin/v1/users", tag = "users",
    responses((status = 200, body = Vec<UserView>, description = "All of them; the links follow the first", links(
            ("get" = (operation_id = "get_user", parameters(("username" = "$response.body#/0/username")))),
            ("put" = (operation_id = "put_user", parameters(("username" = "$response.body#/0/username")))),
            ("delete" = (operation_id = "delete_user", parameters(("username" = "$response.body#/0/username"))))
        ))),
    security(("bearer" = [])))]
pub(crate) async fn list_users(
    State(st): State<AdminState>,
) -> Result<Json<Vec<UserView>>, AdminError> {
    let users = st.store.list_users().await?;
    Ok(Json(users.into_iter().map(UserView::from).collect()))
}

#[utoipa::path(post, path = "/admin/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = UserView, links(
            ("get" = (operation_id = "get_user", parameters(("username" = "$response.body#/username")))),
            ("put" = (operation_id = "put_user", parameters(("username" = "$response.body#/username")))),
            ("delete" = (operation_id = "delete_user", parameters(("username" = "$response.body#/username"))))
        )),
        (status = 400, response = BadRequest), (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn create_user(
    State(st): State<AdminState>,
    body: Bytes,
) -> Result<(StatusCode, Json<UserView>), AdminError> {
    let req: CreateUser = parse_body(&body)?;
    check_username(&req.username)?;
    check_password(&req.password)?;
    let consumer = binding(&st, req.role, req.consumer).await?;
    let after = serde_json::json!({
        "username": req.username, "role": req.role.as_str(), "consumer": consumer,
        "password": "set",
    });
    st.audited("create", "user", &req.username, None, Some(after))
        .create_user_for(
            &req.username,
            &req.password,
            req.role.as_str(),
            consumer.as_deref(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(found(&st, &req.username).await?.into()),
    ))
}

#[utoipa::path(get, path = "/admin/v1/users/{username}", tag = "users", params(("username" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub(crate) async fn get_user(
    State(st): State<AdminState>,
    Path(username): Path<String>,
) -> Result<Json<UserView>, AdminError> {
    Ok(Json(found(&st, &username).await?.into()))
}

#[utoipa::path(put, path = "/admin/v1/users/{username}", tag = "users", params(("username" = String, Path)),
    request_body = UpdateUser,
    responses((status = 200, body = UserView), (status = 400, response = BadRequest), (status = 404, response = NotFound),
        (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn put_user(
    State(st): State<AdminState>,
    Path(username): Path<String>,
    body: Bytes,
) -> Result<Json<UserView>, AdminError> {
    let req: UpdateUser = parse_body(&body)?;
    if let Some(name) = &req.username {
        same_name(&username, name)?;
    }
    if let Some(pw) = &req.password {
        check_password(pw)?;
    }
    let current = found(&st, &username).await?;
    let current_view = current.clone();
    let role = match req.role {
        Some(r) => r,
        // A stored role this build does not know must be replaced, not kept.
        None => current
            .role
            .parse::<Role>()
            .map_err(|e| invalid("role", format!("The user has an {e}; give a `role`")))?,
    };
    let consumer = match (role, req.consumer) {
        (Role::Developer, None) => current.consumer,
        (_, given) => given,
    };
    let consumer = binding(&st, role, consumer).await?;
    let change = UserUpdate {
        role: Some(role.as_str().to_string()),
        consumer: Some(consumer),
        password: req.password,
    };
    let after = serde_json::json!({
        "username": username, "role": role.as_str(), "consumer": change.consumer,
        "password": if change.password.is_some() { Some("changed") } else { None },
    });
    let audited = st.audited(
        "update",
        "user",
        &username,
        crate::state::doc(&UserView::from(current_view)),
        Some(after),
    );
    written(audited.update_user(&username, &change).await?, &username)?;
    Ok(Json(found(&st, &username).await?.into()))
}

#[utoipa::path(delete, path = "/admin/v1/users/{username}", tag = "users", params(("username" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, response = NotFound),
        (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn delete_user(
    State(st): State<AdminState>,
    Path(username): Path<String>,
) -> Result<StatusCode, AdminError> {
    let before = st
        .store
        .get_user(&username)
        .await?
        .map(UserView::from)
        .and_then(|u| crate::state::doc(&u));
    let audited = st.audited("delete", "user", &username, before, None);
    written(audited.delete_user(&username).await?, &username)?;
    Ok(StatusCode::NO_CONTENT)
}
