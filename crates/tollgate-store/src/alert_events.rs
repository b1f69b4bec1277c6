//! Alert deliveries: one row per (channel, threshold crossing), so that a crossing is
//! claimed, and so delivered, once across all nodes; with its attempts and outcome.
//! Not configuration: these writes never bump the revision.
//!
//! A pending event is leased to the node that delivers it (`lease_owner` until
//! `lease_until`); the claimer holds the first lease, renews it before each attempt,
//! and another node may take it over ([`Store::lease_alert_event`]) once the lease has
//! run out, e.g. after the claimer died.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::StoreError;
use crate::store::{Store, opt_i64};
use crate::{from_ms, now_ms};

/// Where an alert delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// Not delivered yet; attempts remain.
    Pending,
    Delivered,
    /// Given up after the last attempt (or its channel was removed).
    Failed,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Pending => "pending",
            AlertStatus::Delivered => "delivered",
            AlertStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "pending" => Ok(AlertStatus::Pending),
            "delivered" => Ok(AlertStatus::Delivered),
            "failed" => Ok(AlertStatus::Failed),
            other => Err(StoreError::InvalidData(format!(
                "unknown alert status {other:?}"
            ))),
        }
    }
}

impl std::fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A crossing to claim for one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlertEvent {
    /// Unique; also the `id` in the delivered JSON.
    pub id: String,
    /// The channel (alert resource) name.
    pub alert: String,
    /// `budget.threshold`, `credits.low`, `provider_key.dead`.
    pub kind: String,
    pub scope: String,
    /// Which occurrence: the budget window (`2026-11`), or for a dead key the
    /// provider, key index and cause.
    pub period_key: String,
    /// Stored as 0 when `None`, so 0 reads back as `None`.
    pub threshold_percent: Option<u8>,
    /// The JSON body to POST, delivered byte for byte (and signed as such).
    pub payload: String,
    pub created_at: DateTime<Utc>,
    /// The claiming node, which holds the delivery lease until `lease_until`.
    pub lease_owner: String,
    pub lease_until: DateTime<Utc>,
}

/// A stored alert delivery. Times round-trip at millisecond precision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertEventRecord {
    pub id: String,
    pub alert: String,
    pub kind: String,
    pub scope: String,
    pub period_key: String,
    pub threshold_percent: Option<u8>,
    pub payload: String,
    pub status: AlertStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub lease_owner: Option<String>,
    pub lease_until: DateTime<Utc>,
}

const ALERT_SELECT: &str = "SELECT id, alert, type, scope, period_key, threshold_percent, \
     payload, status, attempts, last_error, created_at, last_attempt_at, delivered_at, \
     lease_owner, lease_until FROM alert_events";

fn decode_event(row: &AnyRow) -> Result<AlertEventRecord, StoreError> {
    let threshold: i64 = row.try_get("threshold_percent")?;
    let status: String = row.try_get("status")?;
    let attempts: i64 = row.try_get("attempts")?;
    Ok(AlertEventRecord {
        id: row.try_get("id")?,
        alert: row.try_get("alert")?,
        kind: row.try_get("type")?,
        scope: row.try_get("scope")?,
        period_key: row.try_get("period_key")?,
        threshold_percent: match threshold {
            0 => None,
            t => Some(
                u8::try_from(t)
                    .map_err(|_| StoreError::InvalidData(format!("alert threshold_percent {t}")))?,
            ),
        },
        payload: row.try_get("payload")?,
        status: AlertStatus::parse(&status)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        last_error: row.try_get("last_error")?,
        created_at: from_ms(row.try_get::<i64, _>("created_at")?)?,
        last_attempt_at: opt_i64(row, "last_attempt_at")?.map(from_ms).transpose()?,
        delivered_at: opt_i64(row, "delivered_at")?.map(from_ms).transpose()?,
        lease_owner: row.try_get("lease_owner")?,
        lease_until: from_ms(row.try_get::<i64, _>("lease_until")?)?,
    })
}

impl Store {
    /// Records a crossing for a channel, unless the same (alert, kind, scope,
    /// period_key, threshold_percent), or the same id, is already recorded. `true`:
    /// this call recorded it and its caller must deliver it; `false`: another call
    /// (maybe on another node) did.
    pub async fn claim_alert_event(&self, ev: &NewAlertEvent) -> Result<bool, StoreError> {
        if ev.id.is_empty() || ev.alert.is_empty() || ev.kind.is_empty() {
            return Err(StoreError::InvalidInput(
                "an alert event needs an id, an alert and a type".to_string(),
            ));
        }
        serde_json::from_str::<serde_json::Value>(&ev.payload)
            .map_err(|e| StoreError::InvalidInput(format!("alert payload is not JSON: {e}")))?;
        let done = sqlx::query(
            "INSERT INTO alert_events (id, alert, type, scope, period_key, threshold_percent, \
             payload, status, attempts, last_error, created_at, last_attempt_at, delivered_at, \
             lease_owner, lease_until) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, NULL, $8, NULL, NULL, $9, $10) \
             ON CONFLICT DO NOTHING",
        )
        .bind(ev.id.as_str())
        .bind(ev.alert.as_str())
        .bind(ev.kind.as_str())
        .bind(ev.scope.as_str())
        .bind(ev.period_key.as_str())
        .bind(i64::from(ev.threshold_percent.unwrap_or(0)))
        .bind(ev.payload.as_str())
        .bind(ev.created_at.timestamp_millis())
        .bind(ev.lease_owner.as_str())
        .bind(ev.lease_until.timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Takes or renews the delivery lease of a pending event for `owner` until `until`:
    /// `true` when `owner` already held it or the previous lease had run out; `false`
    /// when another node holds it or the event is no longer pending.
    pub async fn lease_alert_event(
        &self,
        id: &str,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE alert_events SET lease_owner = $1, lease_until = $2 \
             WHERE id = $3 AND status = 'pending' AND (lease_owner = $4 OR lease_until <= $5)",
        )
        .bind(owner)
        .bind(until.timestamp_millis())
        .bind(id)
        .bind(owner)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records one delivery attempt of a pending event: `ok` marks it delivered;
    /// otherwise it stays pending with `error` as its last error. `false` if no pending
    /// event has this id.
    pub async fn mark_alert_attempt(
        &self,
        id: &str,
        ok: bool,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let done = if ok {
            sqlx::query(
                "UPDATE alert_events SET attempts = attempts + 1, status = 'delivered', \
                 last_error = $1, last_attempt_at = $2, delivered_at = $3, lease_owner = NULL \
                 WHERE id = $4 AND status = 'pending'",
            )
            .bind(error)
            .bind(now)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?
        } else {
            sqlx::query(
                "UPDATE alert_events SET attempts = attempts + 1, last_error = $1, \
                 last_attempt_at = $2 WHERE id = $3 AND status = 'pending'",
            )
            .bind(error)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?
        };
        Ok(done.rows_affected() > 0)
    }

    /// Gives up on a pending event (attempts exhausted, or its channel removed); an
    /// `error` given replaces the last error. `false` if no pending event has this id.
    pub async fn mark_alert_failed(
        &self,
        id: &str,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE alert_events SET status = 'failed', \
             last_error = COALESCE($1, last_error), lease_owner = NULL \
             WHERE id = $2 AND status = 'pending'",
        )
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn get_alert_event(&self, id: &str) -> Result<Option<AlertEventRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{ALERT_SELECT} WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_event).transpose()
    }

    /// The most recent deliveries, newest first.
    pub async fn list_alert_events(&self, limit: u32) -> Result<Vec<AlertEventRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ALERT_SELECT} ORDER BY created_at DESC, id DESC LIMIT $1"
        )))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_event).collect()
    }

    /// Pending deliveries, oldest first (to resume after a restart; take each one's
    /// lease with [`Store::lease_alert_event`] before delivering it).
    pub async fn pending_alert_events(
        &self,
        limit: u32,
    ) -> Result<Vec<AlertEventRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ALERT_SELECT} WHERE status = 'pending' ORDER BY created_at, id LIMIT $1"
        )))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_event).collect()
    }
}
