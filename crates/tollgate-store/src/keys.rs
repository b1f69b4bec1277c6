//! Consumer API keys. Only the SHA-256 (hex) of a key and a short clear prefix are
//! stored; the secret itself never reaches the database.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::StoreError;
use tollgate_core::spec::KeyLimits;

use crate::store::{Store, opt_i64};
use crate::{Source, from_ms, now_ms};

/// A stored consumer key. Times round-trip at millisecond precision.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub id: String,
    pub consumer: String,
    pub name: Option<String>,
    /// Hex SHA-256 of the key (`tollgate_core::keys::hash`).
    pub hash: String,
    /// The first characters of the key, to recognise it in lists.
    pub prefix: String,
    /// Allowed models for this key; `None` means whatever the consumer may use.
    pub models: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub source: Source,
    /// The key's own rate limit and budget.
    pub limits: KeyLimits,
}

impl KeyRecord {
    /// Not revoked and not expired at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|exp| exp > now)
    }
}

/// A fresh id for a key created through the API (`key_` + a time-ordered UUID).
pub fn new_key_id() -> String {
    format!("key_{}", uuid::Uuid::now_v7().simple())
}

/// The id of a config-declared key: derived from its hash, so re-applying the config
/// finds the same row. (Derived through a second, domain-separated hash so that the id
/// does not repeat the stored hash.)
pub fn config_key_id(hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"tollgate/config-key-id\0");
    h.update(hash.as_bytes());
    let digest = hex::encode(h.finalize());
    format!("key_cfg_{}", &digest[..24])
}

fn decode_key(row: &AnyRow) -> Result<KeyRecord, StoreError> {
    let models: Option<String> = row.try_get("models")?;
    let models = models
        .map(|m| {
            serde_json::from_str::<Vec<String>>(&m)
                .map_err(|e| StoreError::InvalidData(format!("key models: {e}")))
        })
        .transpose()?;
    let source: String = row.try_get("source")?;
    let limits: Option<String> = row.try_get("limits")?;
    let limits = limits
        .map(|l| {
            serde_json::from_str::<KeyLimits>(&l)
                .map_err(|e| StoreError::InvalidData(format!("key limits: {e}")))
        })
        .transpose()?
        .unwrap_or_default();
    Ok(KeyRecord {
        id: row.try_get("id")?,
        consumer: row.try_get("consumer")?,
        name: row.try_get("name")?,
        hash: row.try_get("hash")?,
        prefix: row.try_get("prefix")?,
        models,
        expires_at: opt_i64(row, "expires_at")?.map(from_ms).transpose()?,
        revoked_at: opt_i64(row, "revoked_at")?.map(from_ms).transpose()?,
        created_at: from_ms(row.try_get::<i64, _>("created_at")?)?,
        source: Source::parse(&source)?,
        limits,
    })
}

fn limits_json(limits: &KeyLimits) -> Result<Option<String>, StoreError> {
    if limits.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(limits)
        .map(Some)
        .map_err(|e| StoreError::InvalidInput(e.to_string()))
}

fn models_json(models: &Option<Vec<String>>) -> Result<Option<String>, StoreError> {
    models
        .as_ref()
        .map(|m| serde_json::to_string(m).map_err(|e| StoreError::InvalidInput(e.to_string())))
        .transpose()
}

impl Store {
    /// Stores a new key. A key whose id or hash already exists is a
    /// [`StoreError::Conflict`].
    pub async fn insert_key(&self, k: &KeyRecord) -> Result<(), StoreError> {
        if k.id.is_empty() || k.consumer.is_empty() || k.hash.is_empty() {
            return Err(StoreError::InvalidInput(
                "a key needs an id, a consumer and a hash".to_string(),
            ));
        }
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "INSERT INTO consumer_keys \
             (id, consumer, name, hash, prefix, models, expires_at, revoked_at, created_at, source, limits) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(k.id.as_str())
        .bind(k.consumer.as_str())
        .bind(k.name.clone())
        .bind(k.hash.as_str())
        .bind(k.prefix.as_str())
        .bind(models_json(&k.models)?)
        .bind(k.expires_at.map(|t| t.timestamp_millis()))
        .bind(k.revoked_at.map(|t| t.timestamp_millis()))
        .bind(k.created_at.timestamp_millis())
        .bind(k.source.as_str())
        .bind(limits_json(&k.limits)?)
        .execute(&mut *tx)
        .await;
        match res {
            Ok(_) => {}
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "a key with id {} or the same hash",
                    k.id
                )));
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records a key declared in the config file, by its hash only. Idempotent: the id
    /// is derived from the hash ([`config_key_id`]), and re-applying the same key returns
    /// the existing record (moved to `consumer` if the config now says so; a revocation
    /// made through the API is kept).
    pub async fn upsert_config_key(
        &self,
        consumer: &str,
        secret: &str,
    ) -> Result<KeyRecord, StoreError> {
        if consumer.is_empty() || secret.is_empty() {
            return Err(StoreError::InvalidInput(
                "a config key needs a consumer and a secret".to_string(),
            ));
        }
        let hash = tollgate_core::keys::hash(secret);
        let prefix = tollgate_core::keys::prefix(secret);
        let id = config_key_id(&hash);
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO consumer_keys \
             (id, consumer, name, hash, prefix, models, expires_at, revoked_at, created_at, source) \
             VALUES ($1, $2, NULL, $3, $4, NULL, NULL, NULL, $5, 'config') \
             ON CONFLICT (hash) DO UPDATE SET consumer = excluded.consumer \
             RETURNING id, consumer, name, hash, prefix, models, expires_at, revoked_at, created_at, source, limits",
        )
        .bind(id)
        .bind(consumer)
        .bind(hash)
        .bind(prefix)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        let record = decode_key(&row)?;
        tx.commit().await?;
        Ok(record)
    }

    /// Keys of one consumer, or of all, oldest first.
    pub async fn list_keys(&self, consumer: Option<&str>) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = match consumer {
            Some(c) => {
                sqlx::query(
                    "SELECT id, consumer, name, hash, prefix, models, expires_at, revoked_at, \
                     created_at, source, limits FROM consumer_keys WHERE consumer = $1 \
                     ORDER BY created_at, id",
                )
                .bind(c)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT id, consumer, name, hash, prefix, models, expires_at, revoked_at, \
                     created_at, source, limits FROM consumer_keys ORDER BY created_at, id",
                )
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(decode_key).collect()
    }

    pub async fn get_key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, consumer, name, hash, prefix, models, expires_at, revoked_at, \
             created_at, source, limits FROM consumer_keys WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decode_key).transpose()
    }

    /// The key whose SHA-256 is `hash` (what the gateway computes from a presented key).
    pub async fn get_key_by_hash(&self, hash: &str) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, consumer, name, hash, prefix, models, expires_at, revoked_at, \
             created_at, source, limits FROM consumer_keys WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decode_key).transpose()
    }

    /// Revokes a key as of `at`. `false` if no key has this id; revoking an already
    /// revoked key succeeds and keeps the first revocation time.
    pub async fn revoke_key(&self, id: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE consumer_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(at.timestamp_millis())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() > 0 {
            tx.commit().await?;
            return Ok(true);
        }
        tx.rollback().await?;
        Ok(self.get_key(id).await?.is_some())
    }

    /// Deletes every key of a consumer (when the consumer is deleted); how many.
    pub async fn delete_keys_of_consumer(&self, consumer: &str) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM consumer_keys WHERE consumer = $1")
            .bind(consumer)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(n)
    }

    /// Deletes the config-declared keys of `consumer` whose ids are not in `keep` (the
    /// keys the config file no longer declares); keys made through the API are left
    /// alone. Returns how many were deleted.
    pub async fn delete_config_keys_except(
        &self,
        consumer: &str,
        keep: &[String],
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let rows =
            sqlx::query("SELECT id FROM consumer_keys WHERE consumer = $1 AND source = 'config'")
                .bind(consumer)
                .fetch_all(&mut *tx)
                .await?;
        let mut deleted = 0u64;
        for row in rows {
            let id: String = row.try_get("id")?;
            if keep.contains(&id) {
                continue;
            }
            deleted += sqlx::query("DELETE FROM consumer_keys WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        if deleted == 0 {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(deleted)
    }
}
