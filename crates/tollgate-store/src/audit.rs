//! The audit log (PRODUCT.md, "Users, roles, audit"): who changed what, when, with the
//! document before and after, secrets redacted.
//!
//! A row is written in the transaction of the change it describes, so a write that
//! fails or rolls back leaves no row and a row never describes a change that did not
//! happen. The caller says what it is about to do with [`Store::audited`], which
//! returns a handle on the same database whose next write transaction carries the
//! row; the store's write paths ([`Store::begin_write`], the credits ledger) insert it.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::StoreError;
use crate::store::Store;
use crate::{from_ms, now_ms};

/// What replaces a secret in an audit document.
pub const REDACTED: &str = "[redacted]";

/// Field names whose values are secrets wherever they appear in a document: keys and
/// their hashes, passwords, provider API keys, credential secrets, tokens.
const SECRET_FIELDS: &[&str] = &[
    "api_key",
    "api_keys",
    "key",
    "hash",
    "password",
    "password_hash",
    "secret",
    "secret_key",
    "token",
];

/// One audited change, as the caller describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// The console user, or `admin-token` for the configured admin token.
    pub user: String,
    /// `create`, `update`, `delete`, `approve`, `reject`, `revoke`, `top_up`,
    /// `lifecycle`, `publish`, `release`, `login`, `logout`.
    pub action: String,
    /// `provider`, `model`, `consumer`, `key`, `subscription`, ...
    pub resource: String,
    pub name: Option<String>,
    /// Null on a create.
    pub before: Option<Value>,
    /// Null on a delete.
    pub after: Option<Value>,
}

/// A stored audit row.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: String,
    pub at: DateTime<Utc>,
    pub user: String,
    pub action: String,
    pub resource: String,
    pub name: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// What [`Store::list_audit`] reads: newest first, strictly after `cursor`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub user: Option<String>,
    pub resource: Option<String>,
    /// `(at_ms, id)` of the last row of the previous page.
    pub cursor: Option<(i64, String)>,
    pub limit: u32,
}

/// The entry a [`Store`] handle will write with its next write transaction (once).
pub(crate) type PendingAudit = Arc<Mutex<Option<AuditEntry>>>;

/// `value` with every secret field's value replaced by [`REDACTED`], at any depth.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    let secret = SECRET_FIELDS.contains(&k.as_str()) && !v.is_null();
                    let v = if secret {
                        Value::String(REDACTED.to_string())
                    } else {
                        redact(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

fn decode(row: &AnyRow) -> Result<AuditRecord, StoreError> {
    let doc = |col: &str| -> Result<Option<Value>, StoreError> {
        let text: Option<String> = row.try_get(col)?;
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StoreError::InvalidData(format!("audit {col}: {e}")))
        })
        .transpose()
    };
    Ok(AuditRecord {
        id: row.try_get("id")?,
        at: from_ms(row.try_get::<i64, _>("at")?)?,
        user: row.try_get("username")?,
        action: row.try_get("action")?,
        resource: row.try_get("resource")?,
        name: row.try_get("name")?,
        before: doc("before_doc")?,
        after: doc("after_doc")?,
    })
}

impl Store {
    /// A handle on this store whose next write transaction also records `entry` (its
    /// documents redacted). Use it for the one write the entry describes.
    pub fn audited(&self, entry: AuditEntry) -> Store {
        let mut s = self.clone();
        s.audit = Some(Arc::new(Mutex::new(Some(entry))));
        s
    }

    /// Inserts the pending audit row, if any, in `tx` (once per handle).
    pub(crate) async fn write_audit(
        &self,
        conn: &mut sqlx::AnyConnection,
    ) -> Result<(), StoreError> {
        let Some(pending) = &self.audit else {
            return Ok(());
        };
        let entry = match pending.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        let Some(e) = entry else {
            return Ok(());
        };
        let doc = |v: &Option<Value>| v.as_ref().map(|v| redact(v).to_string());
        sqlx::query(
            "INSERT INTO audit_log (id, at, username, action, resource, name, before_doc, after_doc) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(format!("aud_{}", uuid::Uuid::now_v7().simple()))
        .bind(now_ms())
        .bind(e.user)
        .bind(e.action)
        .bind(e.resource)
        .bind(e.name)
        .bind(doc(&e.before))
        .bind(doc(&e.after))
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Audit rows, newest first; at most `limit + 1` so the caller can tell whether
    /// there is a next page.
    pub async fn list_audit(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let mut sql = String::from(
            "SELECT id, at, username, action, resource, name, before_doc, after_doc \
             FROM audit_log WHERE 1 = 1",
        );
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if f.from.is_some() {
            sql += &format!(" AND at >= {}", next());
        }
        if f.to.is_some() {
            sql += &format!(" AND at < {}", next());
        }
        if f.user.is_some() {
            sql += &format!(" AND username = {}", next());
        }
        if f.resource.is_some() {
            sql += &format!(" AND resource = {}", next());
        }
        if f.cursor.is_some() {
            let (a, b, c) = (next(), next(), next());
            sql += &format!(" AND (at < {a} OR (at = {b} AND id < {c}))");
        }
        sql += &format!(" ORDER BY at DESC, id DESC LIMIT {}", next());
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(t) = f.from {
            q = q.bind(t.timestamp_millis());
        }
        if let Some(t) = f.to {
            q = q.bind(t.timestamp_millis());
        }
        if let Some(u) = &f.user {
            q = q.bind(u.clone());
        }
        if let Some(r) = &f.resource {
            q = q.bind(r.clone());
        }
        if let Some((at, id)) = &f.cursor {
            q = q.bind(*at).bind(*at).bind(id.clone());
        }
        q = q.bind(i64::from(f.limit) + 1);
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(decode).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let doc = serde_json::json!({
            "name": "p", "api_keys": ["sk-1"], "nested": [{"secret": "s", "keep": 1}],
            "password": null, "public_key": "PEM",
        });
        let r = redact(&doc);
        assert_eq!(r["api_keys"], REDACTED);
        assert_eq!(r["nested"][0]["secret"], REDACTED);
        assert_eq!(r["nested"][0]["keep"], 1);
        assert_eq!(r["password"], Value::Null);
        assert_eq!(r["public_key"], "PEM");
        assert!(!r.to_string().contains("sk-1"));
    }
}
