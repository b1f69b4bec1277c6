//! Console users (argon2id password hashes) and their sessions (SHA-256 of the token).

use std::sync::OnceLock;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;
use crate::{from_ms, now_ms};

/// A console user (never carries the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

/// argon2id, version 0x13, with the OWASP-recommended minimum cost (19 MiB, t=2, p=1).
/// Verification reads the parameters from each stored hash, so they can be raised later.
fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

fn hash_password(password: &str) -> Result<String, StoreError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError::Password(e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Password(e.to_string()))
}

/// `Ok(true)` on a match, `Ok(false)` on a mismatch; comparison is constant-time
/// inside argon2.
fn verify_password(password: &str, stored: &str) -> Result<bool, StoreError> {
    let parsed = PasswordHash::new(stored)
        .map_err(|e| StoreError::InvalidData(format!("password hash: {e}")))?;
    match argon2().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(StoreError::Password(e.to_string())),
    }
}

/// A hash to verify against when the user does not exist, so that an unknown user
/// takes as long to reject as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut pw = [0u8; 16];
        rand::rng().fill_bytes(&mut pw);
        hash_password(&hex::encode(pw)).unwrap_or_default()
    })
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn validate_credentials(username: &str, password: &str) -> Result<(), StoreError> {
    if username.is_empty() {
        return Err(StoreError::InvalidInput("empty username".to_string()));
    }
    if password.is_empty() {
        return Err(StoreError::InvalidInput("empty password".to_string()));
    }
    Ok(())
}

impl Store {
    pub async fn user_count(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    /// Creates a console user; an existing username is a [`StoreError::Conflict`].
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        role: &str,
    ) -> Result<(), StoreError> {
        validate_credentials(username, password)?;
        let pw = password.to_string();
        let hash = tokio::task::spawn_blocking(move || hash_password(&pw)).await??;
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "INSERT INTO users (username, password_hash, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(username)
        .bind(hash)
        .bind(role)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match res {
            Ok(_) => {}
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!("user '{username}'")));
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces a user's password and ends their sessions; `false` if no such user.
    pub async fn set_user_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<bool, StoreError> {
        validate_credentials(username, password)?;
        let pw = password.to_string();
        let hash = tokio::task::spawn_blocking(move || hash_password(&pw)).await??;
        let mut tx = self.begin_write().await?;
        let n =
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE username = $3")
                .bind(hash)
                .bind(now_ms())
                .bind(username)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM sessions WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The user if `password` is theirs; `None` for an unknown user or a wrong password
    /// (both take one argon2 verification).
    pub async fn verify_user(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT username, password_hash, role, created_at FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        let (user, stored) = match row {
            Some(row) => {
                let user = User {
                    username: row.try_get("username")?,
                    role: row.try_get("role")?,
                    created_at: from_ms(row.try_get::<i64, _>("created_at")?)?,
                };
                (Some(user), row.try_get::<String, _>("password_hash")?)
            }
            None => (None, String::new()),
        };
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || {
            if stored.is_empty() {
                // Unknown user: spend the same time, then refuse.
                let _ = verify_password(&pw, dummy_hash());
                Ok(false)
            } else {
                verify_password(&pw, &stored)
            }
        })
        .await??;
        Ok(if ok { user } else { None })
    }

    /// Starts a console session for an existing user; returns the token (shown once;
    /// only its SHA-256 is stored). Expired sessions are purged on the way.
    pub async fn create_session(
        &self,
        username: &str,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let now = now_ms();
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let expires = now.saturating_add(ttl_ms).min(8_210_266_876_799_999); // chrono's max
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT username FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            tx.rollback().await?;
            return Err(StoreError::NotFound(format!("user '{username}'")));
        }
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, username, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash(&token))
        .bind(username)
        .bind(now)
        .bind(expires)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The user a session token belongs to; `None` if unknown or expired.
    pub async fn session_user(&self, token: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT u.username, u.role, u.created_at FROM sessions s \
             JOIN users u ON u.username = s.username \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash(token))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(User {
                username: row.try_get("username")?,
                role: row.try_get("role")?,
                created_at: from_ms(row.try_get::<i64, _>("created_at")?)?,
            })
        })
        .transpose()
    }

    /// Ends a session (logout); `false` if the token was unknown.
    pub async fn delete_session(&self, token: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash(token))
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
