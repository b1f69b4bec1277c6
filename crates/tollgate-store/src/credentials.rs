//! Consumer credentials other than API keys (PRODUCT.md, "Consumer credentials"):
//! HTTP Basic (the password kept as an argon2id hash), JWT issuers (an HS secret kept
//! encrypted, or an RS256 / ES256 public key) and HMAC access keys (the secret key
//! kept encrypted). Writes bump the revision: the gateway checks credentials from its
//! snapshot, which holds them decrypted.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::StoreError;
use crate::store::Store;
use crate::users::{hash_password, verify_password};
use crate::{from_ms, now_ms};

/// The kinds of credential this table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialKind {
    Basic,
    Jwt,
    Hmac,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Basic => "basic",
            CredentialKind::Jwt => "jwt",
            CredentialKind::Hmac => "hmac",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "basic" => Ok(CredentialKind::Basic),
            "jwt" => Ok(CredentialKind::Jwt),
            "hmac" => Ok(CredentialKind::Hmac),
            other => Err(StoreError::InvalidData(format!(
                "unknown credential kind {other:?}"
            ))),
        }
    }
}

/// A credential to store. `secret` is the clear basic password, JWT HS secret or HMAC
/// secret key: the store hashes or encrypts it.
pub struct NewCredential {
    pub consumer: String,
    pub kind: CredentialKind,
    /// Basic username, JWT issuer or HMAC access key: unique per kind.
    pub lookup: String,
    pub algorithm: Option<String>,
    pub public_key: Option<String>,
    pub secret: Option<String>,
}

/// Never prints the secret.
impl std::fmt::Debug for NewCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredential")
            .field("consumer", &self.consumer)
            .field("kind", &self.kind)
            .field("lookup", &self.lookup)
            .field("algorithm", &self.algorithm)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// A stored credential. `secret` is the argon2id hash (basic) or the decrypted secret
/// (JWT HS, HMAC): for the gateway's snapshot only, never for an answer.
#[derive(Clone, PartialEq)]
pub struct CredentialRecord {
    pub id: String,
    pub consumer: String,
    pub kind: CredentialKind,
    pub lookup: String,
    pub algorithm: Option<String>,
    pub public_key: Option<String>,
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Never prints the secret.
impl std::fmt::Debug for CredentialRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialRecord")
            .field("id", &self.id)
            .field("consumer", &self.consumer)
            .field("kind", &self.kind)
            .field("lookup", &self.lookup)
            .field("algorithm", &self.algorithm)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Whether `password` matches an argon2id hash made by the store (CPU-heavy: call it
/// off the async threads).
pub fn verify_password_hash(password: &str, hash: &str) -> Result<bool, StoreError> {
    verify_password(password, hash)
}

const COLUMNS: &str = "id, consumer, kind, lookup, algorithm, public_key, secret, created_at";

impl Store {
    fn decode_credential(&self, row: &AnyRow) -> Result<CredentialRecord, StoreError> {
        let kind = CredentialKind::parse(&row.try_get::<String, _>("kind")?)?;
        let id: String = row.try_get("id")?;
        let stored: Option<String> = row.try_get("secret")?;
        let secret = match (kind, stored) {
            (_, None) => None,
            (CredentialKind::Basic, Some(hash)) => Some(hash),
            (_, Some(enc)) => {
                let plain = self
                    .cipher
                    .decrypt_what(&enc, &format!("the secret of credential {id}"))?;
                Some(String::from_utf8(plain).map_err(|_| {
                    StoreError::InvalidData(format!("credential {id}: secret is not UTF-8"))
                })?)
            }
        };
        Ok(CredentialRecord {
            id,
            consumer: row.try_get("consumer")?,
            kind,
            lookup: row.try_get("lookup")?,
            algorithm: row.try_get("algorithm")?,
            public_key: row.try_get("public_key")?,
            secret,
            created_at: from_ms(row.try_get::<i64, _>("created_at")?)?,
        })
    }

    /// Stores a credential; a [`StoreError::Conflict`] if its kind and lookup (basic
    /// username, JWT issuer, HMAC access key) are taken.
    pub async fn insert_credential(
        &self,
        c: &NewCredential,
    ) -> Result<CredentialRecord, StoreError> {
        if c.consumer.is_empty() || c.lookup.is_empty() {
            return Err(StoreError::InvalidInput(
                "a credential needs a consumer and a name".to_string(),
            ));
        }
        let stored = match (&c.kind, &c.secret) {
            (_, None) => None,
            (CredentialKind::Basic, Some(pw)) => {
                let pw = pw.clone();
                Some(tokio::task::spawn_blocking(move || hash_password(&pw)).await??)
            }
            (_, Some(s)) => Some(self.cipher.encrypt(s.as_bytes())),
        };
        let id = format!("cred_{}", uuid::Uuid::now_v7().simple());
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "INSERT INTO consumer_credentials \
             (id, consumer, kind, lookup, algorithm, public_key, secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.as_str())
        .bind(c.consumer.as_str())
        .bind(c.kind.as_str())
        .bind(c.lookup.as_str())
        .bind(c.algorithm.clone())
        .bind(c.public_key.clone())
        .bind(stored.clone())
        .bind(now)
        .execute(&mut *tx)
        .await;
        match res {
            Ok(_) => {}
            Err(e) if StoreError::is_unique_violation(&e) => {
                let what = match c.kind {
                    CredentialKind::Basic => "username",
                    CredentialKind::Jwt => "issuer",
                    CredentialKind::Hmac => "access key",
                };
                return Err(StoreError::Conflict(format!(
                    "a {} credential with this {what}",
                    c.kind.as_str()
                )));
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(CredentialRecord {
            id,
            consumer: c.consumer.clone(),
            kind: c.kind,
            lookup: c.lookup.clone(),
            algorithm: c.algorithm.clone(),
            public_key: c.public_key.clone(),
            secret: match c.kind {
                CredentialKind::Basic => stored,
                _ => c.secret.clone(),
            },
            created_at: from_ms(now)?,
        })
    }

    /// Credentials of one consumer, or of all, oldest first.
    pub async fn list_credentials(
        &self,
        consumer: Option<&str>,
    ) -> Result<Vec<CredentialRecord>, StoreError> {
        let rows = match consumer {
            Some(c) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM consumer_credentials WHERE consumer = $1 \
                     ORDER BY created_at, id"
                )))
                .bind(c)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM consumer_credentials ORDER BY created_at, id"
                )))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(|r| self.decode_credential(r)).collect()
    }

    pub async fn get_credential(
        &self,
        consumer: &str,
        id: &str,
    ) -> Result<Option<CredentialRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM consumer_credentials WHERE consumer = $1 AND id = $2"
        )))
        .bind(consumer)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| self.decode_credential(&r)).transpose()
    }

    /// Deletes a consumer's credential; `false` if it has none with this id.
    pub async fn delete_credential(&self, consumer: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM consumer_credentials WHERE consumer = $1 AND id = $2")
            .bind(consumer)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }
}
