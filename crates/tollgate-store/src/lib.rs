//! tollgate-store: persistence for Tollgate on SQLite (the embedded default) and
//! PostgreSQL, from one code path (sqlx `AnyPool`).
//!
//! Portability rules every query here follows: `$1` placeholders written by hand, ids
//! and names as TEXT, times as BIGINT unix milliseconds (so `DateTime`s round-trip at
//! millisecond precision), money as BIGINT micro-USD, booleans as BIGINT 0/1, JSON as
//! TEXT, and integers always decoded as `i64`.
//!
//! Secrets: provider API keys and alert signing secrets are stripped from the stored
//! spec JSON and kept encrypted ([`SecretCipher`]) in their own column; consumer keys and
//! console session tokens are kept only as SHA-256 hashes; console passwords as argon2id.
//!
//! Every configuration write bumps a single revision counter in the same transaction,
//! so a node can poll [`Store::revision`] to know when to rebuild its configuration
//! snapshot. Records that are not configuration (usage events, the credits ledger,
//! alert deliveries) never bump it.

mod alert_events;
mod audit;
mod batch;
mod call_log;
mod calls;
mod cipher;
mod credentials;
mod error;
pub mod journal;
mod keys;
mod ledger;
mod releases;
mod resources;
mod responses;
mod rollups;
mod store;
mod subscriptions;
#[cfg(feature = "testing")]
pub mod testing;
mod users;

pub use alert_events::{AlertEventRecord, AlertStatus, NewAlertEvent};
pub use audit::{AuditEntry, AuditFilter, AuditRecord, REDACTED, redact};
pub use call_log::{
    CURSOR_PATTERN, CallFilter, CallPage, CallPager, MAX_PAGE, decode_cursor, encode_cursor,
    explain_document,
};
pub use calls::{CALLS_PER_STATEMENT, CallAttempt, CallRecord, JsonText, UsageScope, UsageTotals};
pub use cipher::{MASTER_KEY_ENV, MASTER_KEY_FILE, SecretCipher};
pub use credentials::{CredentialKind, CredentialRecord, NewCredential, verify_password_hash};
pub use error::StoreError;
pub use journal::{Entry, Journal, JournalError, JournalOptions, JournalStatus};
pub use keys::{KeyRecord, config_key_id, new_key_id};
pub use ledger::{LedgerEntry, LedgerKind};
pub use releases::ServiceRelease;
pub use responses::StoredResponse;
pub use rollups::{
    Dimension, EXPIRE_CHUNK, Expired, Granularity, HISTOGRAM_BUCKETS, LATENCY_BOUNDS_MS,
    MAX_SERIES_POINTS, Metric, Retention, Rollup, Series, bucket_value, histogram_bucket,
};
pub use store::{Backend, Store};
pub use subscriptions::{Subscription, SubscriptionChange, SubscriptionFilter, SubscriptionStatus};
pub use users::{ADMIN_ROLE, User, UserUpdate, UserWrite};

use chrono::{DateTime, Utc};

/// Where a resource or key came from: the config file (re-applied on every start and
/// reload) or the admin API / console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Config,
    Api,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Api => "api",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "config" => Ok(Source::Config),
            "api" => Ok(Source::Api),
            other => Err(StoreError::InvalidData(format!("unknown source {other:?}"))),
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resource as stored, with its bookkeeping. Secrets inside `spec` (provider
/// `api_keys`, alert `secret`) are decrypted; a consumer's `api_keys` is always empty
/// (its keys live in the keys table).
#[derive(Debug, Clone, PartialEq)]
pub struct Stored<T> {
    pub spec: T,
    pub source: Source,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub(crate) fn from_ms(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::InvalidData(format!("timestamp out of range: {ms}")))
}
