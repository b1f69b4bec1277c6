//! Service releases: named snapshots of a service's routes and upstream, to compare
//! with what runs and to publish again (a rollback is publishing an older one).
//!
//! A release is a record kept beside the service, not configuration: inserting one
//! does not bump the store revision. Deleting the service deletes its releases, in the
//! same transaction.

use sqlx::Row;
use sqlx::any::AnyRow;
use tollgate_core::service_docs::ReleaseSnapshot;

use crate::error::StoreError;
use crate::store::Store;
use crate::{from_ms, now_ms};

/// One release of one service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRelease {
    pub service: String,
    pub version: String,
    pub notes: Option<String>,
    pub snapshot: ReleaseSnapshot,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Store {
    /// Records a release of `service` taken now. A version the service already has is
    /// a [`StoreError::Conflict`]; the service itself is the caller's to check.
    pub async fn insert_service_release(
        &self,
        service: &str,
        version: &str,
        notes: Option<&str>,
        snapshot: &ReleaseSnapshot,
    ) -> Result<ServiceRelease, StoreError> {
        if service.is_empty() || version.is_empty() {
            return Err(StoreError::InvalidInput(
                "a release needs a service and a version".to_string(),
            ));
        }
        let json = serde_json::to_string(snapshot)
            .map_err(|e| StoreError::InvalidInput(format!("release snapshot: {e}")))?;
        let now = now_ms();
        // A transaction of its own for an audited release's audit row (a release is a
        // record, not configuration: no revision bump).
        let mut tx = self.pool.begin().await?;
        self.write_audit(&mut tx).await?;
        let res = sqlx::query(
            "INSERT INTO service_releases (service, version, notes, snapshot, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(service)
        .bind(version)
        .bind(notes.map(str::to_string))
        .bind(json)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match res {
            Ok(_) => tx.commit().await?,
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "release '{version}' of service '{service}'"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(ServiceRelease {
            service: service.to_string(),
            version: version.to_string(),
            notes: notes.map(str::to_string),
            snapshot: snapshot.clone(),
            created_at: from_ms(now)?,
        })
    }

    /// Every release of `service`, oldest first.
    pub async fn list_service_releases(
        &self,
        service: &str,
    ) -> Result<Vec<ServiceRelease>, StoreError> {
        let rows = sqlx::query(
            "SELECT service, version, notes, snapshot, created_at FROM service_releases \
             WHERE service = $1 ORDER BY created_at, version",
        )
        .bind(service)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_release).collect()
    }

    /// One release of `service` by version.
    pub async fn get_service_release(
        &self,
        service: &str,
        version: &str,
    ) -> Result<Option<ServiceRelease>, StoreError> {
        let row = sqlx::query(
            "SELECT service, version, notes, snapshot, created_at FROM service_releases \
             WHERE service = $1 AND version = $2",
        )
        .bind(service)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decode_release).transpose()
    }
}

fn decode_release(row: &AnyRow) -> Result<ServiceRelease, StoreError> {
    let service: String = row.try_get("service")?;
    let version: String = row.try_get("version")?;
    let snapshot: String = row.try_get("snapshot")?;
    let snapshot = serde_json::from_str(&snapshot).map_err(|e| {
        StoreError::InvalidData(format!("release '{version}' of service '{service}': {e}"))
    })?;
    Ok(ServiceRelease {
        notes: row.try_get("notes")?,
        created_at: from_ms(row.try_get("created_at")?)?,
        service,
        version,
        snapshot,
    })
}
