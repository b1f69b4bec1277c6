//! `/admin/v1/consumers/{name}/credentials` (PRODUCT.md, "Consumer credentials"): a
//! consumer's HTTP Basic, JWT and HMAC credentials, which services accept as their
//! `auth` list says. Secrets go in and never come out: a basic password is kept as
//! an argon2id hash, a JWT HS secret and an HMAC secret key encrypted; lists show
//! none of them, and the audit log has them redacted. A write is live at once (the
//! snapshot reload) and on every node (the revision poll).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use tollgate_store::{CredentialKind, CredentialRecord, NewCredential};
use utoipa::ToSchema;

use super::parse_body;
use crate::error::AdminError;
use crate::error::responses::{BadRequest, Conflict, NotFound};
use crate::state::{AdminState, doc};

/// The algorithms a JWT issuer may sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum JwtAlgorithm {
    HS256,
    RS256,
    ES256,
}

impl JwtAlgorithm {
    fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::HS256 => "HS256",
            JwtAlgorithm::RS256 => "RS256",
            JwtAlgorithm::ES256 => "ES256",
        }
    }
}

/// A new credential, by `type`.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum CreateCredential {
    /// HTTP Basic: `Authorization: Basic base64(username:password)`.
    Basic {
        /// Unique across all consumers' basic credentials; no `:`.
        #[schema(min_length = 1, max_length = 128, pattern = "^[^:]+$")]
        username: String,
        #[schema(min_length = 8, max_length = 1024)]
        password: String,
    },
    /// A JWT issuer: a Bearer token whose `iss` is `issuer` and whose signature, `exp`
    /// and `nbf` verify authenticates the consumer. HS256 takes `secret`; RS256 and
    /// ES256 take `public_key` (PEM).
    Jwt {
        /// Unique across all consumers' JWT credentials.
        #[schema(min_length = 1, max_length = 512)]
        issuer: String,
        algorithm: JwtAlgorithm,
        #[serde(default)]
        #[schema(min_length = 1, max_length = 4096)]
        secret: Option<String>,
        #[serde(default)]
        #[schema(min_length = 1, max_length = 16384)]
        public_key: Option<String>,
    },
    /// HMAC in Kong's hmac-auth scheme: `Authorization: hmac username="ACCESS_KEY",
    /// algorithm="hmac-sha256", headers="date request-line", signature="BASE64"`.
    Hmac {
        /// Unique across all consumers' HMAC credentials.
        #[schema(min_length = 1, max_length = 256, pattern = "^[^\"]+$")]
        access_key: String,
        #[schema(min_length = 1, max_length = 1024)]
        secret_key: String,
    },
}

/// A credential as listed: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialView {
    pub id: String,
    pub consumer: String,
    /// `basic`, `jwt` or `hmac`.
    #[serde(rename = "type")]
    #[schema(pattern = "^(basic|jwt|hmac)$")]
    pub kind: String,
    /// Basic credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// JWT credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// JWT credentials: `HS256`, `RS256` or `ES256`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// RS256 / ES256 JWT credentials (a public key is not a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// HMAC credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<CredentialRecord> for CredentialView {
    fn from(c: CredentialRecord) -> Self {
        let pick = |k: CredentialKind| (c.kind == k).then(|| c.lookup.clone());
        CredentialView {
            username: pick(CredentialKind::Basic),
            issuer: pick(CredentialKind::Jwt),
            access_key: pick(CredentialKind::Hmac),
            id: c.id,
            consumer: c.consumer,
            kind: c.kind.as_str().to_string(),
            algorithm: c.algorithm,
            public_key: c.public_key,
            created_at: c.created_at,
        }
    }
}

fn invalid(param: &str, message: impl Into<String>) -> AdminError {
    AdminError::Invalid {
        message: message.into(),
        param: Some(param.to_string()),
    }
}

fn length(param: &str, v: &str, min: usize, max: usize) -> Result<(), AdminError> {
    let n = v.chars().count();
    if n < min || n > max {
        return Err(invalid(
            param,
            format!("{param}: expected {min} to {max} characters"),
        ));
    }
    Ok(())
}

/// Checks a request and turns it into what the store keeps.
fn new_credential(consumer: &str, req: CreateCredential) -> Result<NewCredential, AdminError> {
    let consumer = consumer.to_string();
    Ok(match req {
        CreateCredential::Basic { username, password } => {
            length("username", &username, 1, 128)?;
            if username.contains(':') {
                return Err(invalid("username", "username: must not contain `:`"));
            }
            length("password", &password, 8, 1024)?;
            NewCredential {
                consumer,
                kind: CredentialKind::Basic,
                lookup: username,
                algorithm: None,
                public_key: None,
                secret: Some(password),
            }
        }
        CreateCredential::Jwt {
            issuer,
            algorithm,
            secret,
            public_key,
        } => {
            length("issuer", &issuer, 1, 512)?;
            let (secret, public_key) = match (algorithm, secret, public_key) {
                (JwtAlgorithm::HS256, Some(s), None) => {
                    length("secret", &s, 1, 4096)?;
                    (Some(s), None)
                }
                (JwtAlgorithm::HS256, _, _) => {
                    return Err(invalid(
                        "secret",
                        "HS256 takes a `secret` (and no `public_key`)",
                    ));
                }
                (alg, None, Some(pem)) => {
                    length("public_key", &pem, 1, 16384)?;
                    let parsed = match alg {
                        JwtAlgorithm::RS256 => {
                            jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()).map(|_| ())
                        }
                        _ => jsonwebtoken::DecodingKey::from_ec_pem(pem.as_bytes()).map(|_| ()),
                    };
                    if parsed.is_err() {
                        return Err(invalid(
                            "public_key",
                            format!("public_key: not a PEM {} public key", alg.as_str()),
                        ));
                    }
                    (None, Some(pem))
                }
                (alg, _, _) => {
                    return Err(invalid(
                        "public_key",
                        format!(
                            "{} takes a `public_key` (PEM, and no `secret`)",
                            alg.as_str()
                        ),
                    ));
                }
            };
            NewCredential {
                consumer,
                kind: CredentialKind::Jwt,
                lookup: issuer,
                algorithm: Some(algorithm.as_str().to_string()),
                public_key,
                secret,
            }
        }
        CreateCredential::Hmac {
            access_key,
            secret_key,
        } => {
            length("access_key", &access_key, 1, 256)?;
            if access_key.contains('"') {
                return Err(invalid("access_key", "access_key: must not contain `\"`"));
            }
            length("secret_key", &secret_key, 1, 1024)?;
            NewCredential {
                consumer,
                kind: CredentialKind::Hmac,
                lookup: access_key,
                algorithm: None,
                public_key: None,
                secret: Some(secret_key),
            }
        }
    })
}

async fn consumer_exists(st: &AdminState, name: &str) -> Result<(), AdminError> {
    match st.store.get_consumer(name).await? {
        Some(_) => Ok(()),
        None => Err(AdminError::NotFound(format!("No consumer named `{name}`"))),
    }
}

#[utoipa::path(get, path = "/admin/v1/consumers/{name}/credentials", tag = "credentials", params(("name" = String, Path)),
    responses((status = 200, body = Vec<CredentialView>, description = "The consumer's credentials, without secrets; the links follow the first", links(
            ("delete" = (operation_id = "delete_credential", parameters(("name" = "$request.path.name"), ("id" = "$response.body#/0/id"))))
        )),
        (status = 404, response = NotFound)), security(("bearer" = [])))]
pub(crate) async fn list_credentials(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<CredentialView>>, AdminError> {
    consumer_exists(&st, &name).await?;
    let all = st.store.list_credentials(Some(&name)).await?;
    Ok(Json(all.into_iter().map(CredentialView::from).collect()))
}

/// Adds a credential; the secret is never shown again.
#[utoipa::path(post, path = "/admin/v1/consumers/{name}/credentials", tag = "credentials", params(("name" = String, Path)),
    request_body = CreateCredential,
    responses((status = 201, body = CredentialView, links(
            ("delete" = (operation_id = "delete_credential", parameters(("name" = "$request.path.name"), ("id" = "$response.body#/id"))))
        )),
        (status = 400, response = BadRequest), (status = 404, response = NotFound),
        (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn create_credential(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<CredentialView>), AdminError> {
    consumer_exists(&st, &name).await?;
    let req: CreateCredential = parse_body(&body)?;
    // The request as the audit log keeps it: its secret fields redacted by the store.
    let mut after = doc(&req).unwrap_or_default();
    let new = new_credential(&name, req)?;
    if let Some(o) = after.as_object_mut() {
        o.insert("consumer".into(), name.clone().into());
    }
    let what = format!("{name}/{}", new.lookup);
    let record = st
        .audited("create", "credential", &what, None, Some(after))
        .insert_credential(&new)
        .await?;
    st.reload().await;
    Ok((StatusCode::CREATED, Json(record.into())))
}

#[utoipa::path(delete, path = "/admin/v1/consumers/{name}/credentials/{id}", tag = "credentials",
    params(("name" = String, Path), ("id" = String, Path)),
    responses((status = 204, description = "Deleted: it no longer authenticates"), (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub(crate) async fn delete_credential(
    State(st): State<AdminState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<StatusCode, AdminError> {
    let not_found = || AdminError::NotFound(format!("Consumer `{name}` has no credential `{id}`"));
    let before = st
        .store
        .get_credential(&name, &id)
        .await?
        .ok_or_else(not_found)?;
    let what = format!("{name}/{}", before.lookup);
    let audited = st.audited(
        "delete",
        "credential",
        &what,
        doc(&CredentialView::from(before)),
        None,
    );
    if !audited.delete_credential(&name, &id).await? {
        return Err(not_found());
    }
    st.reload().await;
    Ok(StatusCode::NO_CONTENT)
}
