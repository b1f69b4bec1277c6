//! Consumers' subscriptions to services and prompt-APIs (PRODUCT.md, "Subscriptions
//! and the developer portal"). A subscription names its service by plain name, so
//! services and prompt-APIs share this table. Writes are configuration: they bump the
//! revision, so every node's snapshot (which holds the approved pairs) follows.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::StoreError;
use crate::store::Store;
use crate::{from_ms, now_ms};

/// Where a subscription stands. Only `approved` lets calls through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionStatus {
    Pending,
    Approved,
    Rejected,
    Revoked,
}

impl SubscriptionStatus {
    pub const ALL: [SubscriptionStatus; 4] = [
        SubscriptionStatus::Pending,
        SubscriptionStatus::Approved,
        SubscriptionStatus::Rejected,
        SubscriptionStatus::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Pending => "pending",
            SubscriptionStatus::Approved => "approved",
            SubscriptionStatus::Rejected => "rejected",
            SubscriptionStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Pending or approved: a consumer has at most one such subscription per service.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Pending | SubscriptionStatus::Approved
        )
    }
}

impl std::fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: String,
    pub consumer: String,
    /// A service's or a prompt-API's name.
    pub service: String,
    pub status: SubscriptionStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What [`Store::list_subscriptions`] reads: newest first, strictly after `cursor`.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionFilter {
    pub status: Option<SubscriptionStatus>,
    pub consumer: Option<String>,
    pub service: Option<String>,
    /// `(created_at_ms, id)` of the last row of the previous page.
    pub cursor: Option<(i64, String)>,
    pub limit: u32,
}

/// The outcome of a status change.
#[derive(Debug, Clone, PartialEq)]
pub enum SubscriptionChange {
    /// Changed (or already in the target state): the subscription as it now is.
    Done(Subscription),
    NotFound,
    /// The subscription is in a state the change cannot start from.
    Refused(Subscription),
}

const COLUMNS: &str = "id, consumer, service, status, created_at, updated_at";

fn decode(row: &AnyRow) -> Result<Subscription, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(Subscription {
        id: row.try_get("id")?,
        consumer: row.try_get("consumer")?,
        service: row.try_get("service")?,
        status: SubscriptionStatus::parse(&status).ok_or_else(|| {
            StoreError::InvalidData(format!("unknown subscription status {status:?}"))
        })?,
        created_at: from_ms(row.try_get::<i64, _>("created_at")?)?,
        updated_at: from_ms(row.try_get::<i64, _>("updated_at")?)?,
    })
}

impl Store {
    /// A new subscription of `consumer` to `service` in `status` (pending or approved).
    /// A [`StoreError::Conflict`] if the consumer already has a pending or approved
    /// one to that service.
    pub async fn create_subscription(
        &self,
        consumer: &str,
        service: &str,
        status: SubscriptionStatus,
    ) -> Result<Subscription, StoreError> {
        if consumer.is_empty() || service.is_empty() {
            return Err(StoreError::InvalidInput(
                "a subscription needs a consumer and a service".to_string(),
            ));
        }
        // The revision bump first serializes writers, so two concurrent requests
        // cannot both find no live subscription.
        let mut tx = self.begin_write().await?;
        let live = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE consumer = $1 AND service = $2 \
             AND status IN ('pending', 'approved')"
        )))
        .bind(consumer)
        .bind(service)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = live {
            let s = decode(&row)?;
            tx.rollback().await?;
            return Err(StoreError::Conflict(format!(
                "consumer '{consumer}' already has a {} subscription to '{service}' ({})",
                s.status, s.id
            )));
        }
        let now = now_ms();
        let sub = Subscription {
            id: format!("sub_{}", uuid::Uuid::now_v7().simple()),
            consumer: consumer.to_string(),
            service: service.to_string(),
            status,
            created_at: from_ms(now)?,
            updated_at: from_ms(now)?,
        };
        sqlx::query(
            "INSERT INTO subscriptions (id, consumer, service, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(sub.id.as_str())
        .bind(consumer)
        .bind(service)
        .bind(status.as_str())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(sub)
    }

    pub async fn get_subscription(&self, id: &str) -> Result<Option<Subscription>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Moves a subscription to `to` if it is in one of `from` (already in `to`: done,
    /// nothing written).
    pub async fn set_subscription_status(
        &self,
        id: &str,
        from: &[SubscriptionStatus],
        to: SubscriptionStatus,
    ) -> Result<SubscriptionChange, StoreError> {
        let Some(current) = self.get_subscription(id).await? else {
            return Ok(SubscriptionChange::NotFound);
        };
        if current.status == to {
            return Ok(SubscriptionChange::Done(current));
        }
        if !from.contains(&current.status) {
            return Ok(SubscriptionChange::Refused(current));
        }
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE subscriptions SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
        )
        .bind(to.as_str())
        .bind(now)
        .bind(id)
        .bind(current.status.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            // Changed under us: report what it is now.
            tx.rollback().await?;
            return Ok(match self.get_subscription(id).await? {
                Some(s) if s.status == to => SubscriptionChange::Done(s),
                Some(s) => SubscriptionChange::Refused(s),
                None => SubscriptionChange::NotFound,
            });
        }
        tx.commit().await?;
        Ok(SubscriptionChange::Done(Subscription {
            status: to,
            updated_at: from_ms(now)?,
            ..current
        }))
    }

    /// Subscriptions, newest first; at most `limit + 1` so the caller can tell whether
    /// there is a next page.
    pub async fn list_subscriptions(
        &self,
        f: &SubscriptionFilter,
    ) -> Result<Vec<Subscription>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM subscriptions WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if f.status.is_some() {
            sql += &format!(" AND status = {}", next());
        }
        if f.consumer.is_some() {
            sql += &format!(" AND consumer = {}", next());
        }
        if f.service.is_some() {
            sql += &format!(" AND service = {}", next());
        }
        if f.cursor.is_some() {
            let (a, b, c) = (next(), next(), next());
            sql += &format!(" AND (created_at < {a} OR (created_at = {b} AND id < {c}))");
        }
        sql += &format!(" ORDER BY created_at DESC, id DESC LIMIT {}", next());
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(s) = f.status {
            q = q.bind(s.as_str());
        }
        if let Some(c) = &f.consumer {
            q = q.bind(c.clone());
        }
        if let Some(s) = &f.service {
            q = q.bind(s.clone());
        }
        if let Some((at, id)) = &f.cursor {
            q = q.bind(*at).bind(*at).bind(id.clone());
        }
        q = q.bind(i64::from(f.limit) + 1);
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(decode).collect()
    }

    /// Every approved `(consumer, service)` pair (what the snapshot holds).
    pub async fn approved_subscriptions(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows =
            sqlx::query("SELECT consumer, service FROM subscriptions WHERE status = 'approved'")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("consumer")?, r.try_get("service")?)))
            .collect()
    }
}
