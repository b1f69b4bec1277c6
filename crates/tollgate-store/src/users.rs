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
use sqlx::any::AnyRow;

use crate::error::StoreError;
use crate::store::Store;
use crate::{from_ms, now_ms};

/// The role that may manage users: the store refuses to remove or demote the last one,
/// so the console can never lock everybody out of user management.
pub const ADMIN_ROLE: &str = "admin";

/// A console user (never carries the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    /// `admin`, `operator`, `viewer` or `developer` (the admin API validates it; the
    /// store keeps the text).
    pub role: String,
    /// The consumer a `developer` is bound to; `None` for the other roles.
    pub consumer: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What [`Store::update_user`] changes; `None` leaves a field as it is
/// (`consumer: Some(None)` unbinds the user).
#[derive(Clone, Default)]
pub struct UserUpdate {
    pub role: Option<String>,
    pub consumer: Option<Option<String>>,
    /// A new password: the user's sessions end with the change.
    pub password: Option<String>,
}

/// Never prints the password.
impl std::fmt::Debug for UserUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserUpdate")
            .field("role", &self.role)
            .field("consumer", &self.consumer)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The outcome of a change to an existing user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserWrite {
    Done,
    NotFound,
    /// Refused: the change would leave no user with the [`ADMIN_ROLE`].
    LastAdmin,
}

fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        username: row.try_get("username")?,
        role: row.try_get("role")?,
        consumer: row.try_get::<Option<String>, _>("consumer")?,
        created_at: from_ms(row.try_get::<i64, _>("created_at")?)?,
        updated_at: from_ms(row.try_get::<i64, _>("updated_at")?)?,
    })
}

/// argon2id, version 0x13, with the OWASP-recommended minimum cost (19 MiB, t=2, p=1).
/// Verification reads the parameters from each stored hash, so they can be raised later.
fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

pub(crate) fn hash_password(password: &str) -> Result<String, StoreError> {
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
pub(crate) fn verify_password(password: &str, stored: &str) -> Result<bool, StoreError> {
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

    /// Creates a console user bound to no consumer; an existing username is a
    /// [`StoreError::Conflict`].
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        role: &str,
    ) -> Result<(), StoreError> {
        self.create_user_for(username, password, role, None).await
    }

    /// Creates a console user, a `developer` with the consumer it is bound to; an
    /// existing username is a [`StoreError::Conflict`].
    pub async fn create_user_for(
        &self,
        username: &str,
        password: &str,
        role: &str,
        consumer: Option<&str>,
    ) -> Result<(), StoreError> {
        validate_credentials(username, password)?;
        let pw = password.to_string();
        let hash = tokio::task::spawn_blocking(move || hash_password(&pw)).await??;
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "INSERT INTO users (username, password_hash, role, consumer, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(username)
        .bind(hash)
        .bind(role)
        .bind(consumer)
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
            "SELECT username, password_hash, role, consumer, created_at, updated_at \
             FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        let (user, stored) = match row {
            Some(row) => (
                Some(user_from_row(&row)?),
                row.try_get::<String, _>("password_hash")?,
            ),
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

    /// The user a session token belongs to, with their current role (read at each
    /// call, so a role change applies to open sessions at once); `None` if unknown or
    /// expired.
    pub async fn session_user(&self, token: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT u.username, u.role, u.consumer, u.created_at, u.updated_at FROM sessions s \
             JOIN users u ON u.username = s.username \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash(token))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| user_from_row(&row)).transpose()
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

/// Whether a user other than `username` has the [`ADMIN_ROLE`]. Run inside a write
/// transaction: [`Store::begin_write`] locks the revision row first, so writers are
/// serialized and two concurrent demotions cannot both see the other admin.
async fn other_admins(conn: &mut sqlx::AnyConnection, username: &str) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) FROM users WHERE role = $1 AND username <> $2")
        .bind(ADMIN_ROLE)
        .bind(username)
        .fetch_one(conn)
        .await?;
    Ok(row.try_get::<i64, _>(0)? > 0)
}

/// User management (`/admin/v1/users`).
impl Store {
    /// Every console user, by username.
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(
            "SELECT username, role, consumer, created_at, updated_at FROM users ORDER BY username",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn get_user(&self, username: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT username, role, consumer, created_at, updated_at FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The users bound to `consumer` (developers), by username.
    pub async fn users_of_consumer(&self, consumer: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT username FROM users WHERE consumer = $1 ORDER BY username")
            .bind(consumer)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("username")?))
            .collect()
    }

    /// Changes a user's role, consumer and/or password in one transaction. A new
    /// password ends the user's sessions; a new role applies to open sessions at once
    /// (sessions read the role at each call). Demoting the last admin is refused.
    pub async fn update_user(
        &self,
        username: &str,
        change: &UserUpdate,
    ) -> Result<UserWrite, StoreError> {
        let hash = match &change.password {
            Some(pw) => {
                validate_credentials(username, pw)?;
                let pw = pw.clone();
                Some(tokio::task::spawn_blocking(move || hash_password(&pw)).await??)
            }
            None => None,
        };
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query("SELECT role, consumer FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.rollback().await?;
            return Ok(UserWrite::NotFound);
        };
        let current_role: String = row.try_get("role")?;
        let current_consumer: Option<String> = row.try_get("consumer")?;
        let role = change.role.clone().unwrap_or(current_role.clone());
        if current_role == ADMIN_ROLE
            && role != ADMIN_ROLE
            && !other_admins(&mut tx, username).await?
        {
            tx.rollback().await?;
            return Ok(UserWrite::LastAdmin);
        }
        let consumer = change.consumer.clone().unwrap_or(current_consumer);
        sqlx::query(
            "UPDATE users SET role = $1, consumer = $2, updated_at = $3 WHERE username = $4",
        )
        .bind(role)
        .bind(consumer)
        .bind(now_ms())
        .bind(username)
        .execute(&mut *tx)
        .await?;
        if let Some(hash) = hash {
            sqlx::query("UPDATE users SET password_hash = $1 WHERE username = $2")
                .bind(hash)
                .bind(username)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM sessions WHERE username = $1")
                .bind(username)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(UserWrite::Done)
    }

    /// Deletes a user and their sessions; deleting the last admin is refused.
    pub async fn delete_user(&self, username: &str) -> Result<UserWrite, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query("SELECT role FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.rollback().await?;
            return Ok(UserWrite::NotFound);
        };
        let role: String = row.try_get("role")?;
        if role == ADMIN_ROLE && !other_admins(&mut tx, username).await? {
            tx.rollback().await?;
            return Ok(UserWrite::LastAdmin);
        }
        sqlx::query("DELETE FROM sessions WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM users WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(UserWrite::Done)
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;
    use crate::testing::TestDb;

    async fn user_management(db: &TestDb) {
        let s = db.connect().await;
        s.create_user("root", "root-password", ADMIN_ROLE)
            .await
            .expect("admin");
        s.create_user_for("dev", "dev-password", "developer", Some("team-a"))
            .await
            .expect("developer");
        let users = s.list_users().await.expect("list");
        let brief: Vec<(&str, &str, Option<&str>)> = users
            .iter()
            .map(|u| (u.username.as_str(), u.role.as_str(), u.consumer.as_deref()))
            .collect();
        assert_eq!(
            brief,
            [
                ("dev", "developer", Some("team-a")),
                ("root", "admin", None)
            ]
        );
        assert_eq!(s.users_of_consumer("team-a").await.expect("bound"), ["dev"]);
        let token = s
            .create_session("dev", Duration::from_secs(60))
            .await
            .expect("session");
        let seen = s.session_user(&token).await.expect("lookup").expect("user");
        assert_eq!(seen.consumer.as_deref(), Some("team-a"));

        // The last admin stays.
        let demote = UserUpdate {
            role: Some("viewer".into()),
            ..UserUpdate::default()
        };
        assert_eq!(
            s.update_user("root", &demote).await.expect("update"),
            UserWrite::LastAdmin
        );
        assert_eq!(
            s.delete_user("root").await.expect("delete"),
            UserWrite::LastAdmin
        );
        assert_eq!(
            s.get_user("root").await.expect("get").map(|u| u.role),
            Some(ADMIN_ROLE.to_string())
        );
        assert_eq!(
            s.update_user("ghost", &demote).await.expect("update"),
            UserWrite::NotFound
        );
        assert_eq!(
            s.delete_user("ghost").await.expect("delete"),
            UserWrite::NotFound
        );

        // A role change keeps the session (it reads the new role); unbinding works.
        let promote = UserUpdate {
            role: Some(ADMIN_ROLE.into()),
            consumer: Some(None),
            password: None,
        };
        assert_eq!(
            s.update_user("dev", &promote).await.expect("update"),
            UserWrite::Done
        );
        let seen = s.session_user(&token).await.expect("lookup").expect("user");
        assert_eq!((seen.role.as_str(), seen.consumer), (ADMIN_ROLE, None));
        assert!(
            s.users_of_consumer("team-a")
                .await
                .expect("bound")
                .is_empty()
        );
        assert!(!format!("{promote:?}").contains("password: Some"));

        // With another admin, the first may go; their sessions go with them.
        assert_eq!(s.delete_user("dev").await.expect("delete"), UserWrite::Done);
        assert!(s.session_user(&token).await.expect("lookup").is_none());
        assert_eq!(s.user_count().await.expect("count"), 1);
        let _ = s
            .create_session("root", Duration::from_secs(60))
            .await
            .expect("root session");
    }

    async fn password_change_through_update_ends_sessions(db: &TestDb) {
        let s = db.connect().await;
        s.create_user("u", "first-password", "viewer")
            .await
            .expect("create");
        let token = s
            .create_session("u", Duration::from_secs(60))
            .await
            .expect("session");
        let change = UserUpdate {
            password: Some("second-password".into()),
            ..UserUpdate::default()
        };
        assert!(!format!("{change:?}").contains("second-password"));
        assert_eq!(
            s.update_user("u", &change).await.expect("update"),
            UserWrite::Done
        );
        assert!(s.session_user(&token).await.expect("lookup").is_none());
        assert!(
            s.verify_user("u", "first-password")
                .await
                .expect("verify")
                .is_none()
        );
        let u = s
            .verify_user("u", "second-password")
            .await
            .expect("verify")
            .expect("new password");
        assert_eq!(u.role, "viewer");
    }

    crate::backend_suite!(
        user_management,
        password_change_through_update_ends_sessions
    );
}
