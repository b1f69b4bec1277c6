//! Usage events ("calls"): one row per request with what it consumed. The durable
//! record behind usage documents and budgets; not configuration, so these writes never
//! bump the revision.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;
use tollgate_core::money::Micros;

use crate::error::StoreError;
use crate::from_ms;
use crate::store::{Store, opt_i64};

/// What one request consumed. Times round-trip at millisecond precision.
/// Serialisable so that the gateway can spool records to disk during an outage.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallRecord {
    /// The request's `x-request-id`; inserting the same id again is a no-op.
    pub request_id: String,
    pub at: DateTime<Utc>,
    pub consumer: String,
    pub key_id: String,
    pub team: Option<String>,
    /// The model name the client asked for.
    pub model: String,
    /// The provider that answered (none when no upstream was reached).
    pub provider: Option<String>,
    /// The HTTP status the client got.
    pub status: u16,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micros: Micros,
    /// Answered from the response cache.
    pub cached: bool,
    /// The error code of a failed request (`budget_exceeded`, `upstream_timeout`...).
    pub error_code: Option<String>,
    pub latency_ms: u64,
    /// Time to the first byte of the answer, where there was one.
    pub ttfb_ms: Option<u64>,
}

/// Whose usage to add up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UsageScope {
    Consumer(String),
    Team(String),
    /// A consumer key, by id.
    Key(String),
}

/// Sums over the calls of a scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageTotals {
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micros: Micros,
}

const CALL_COLUMNS: &str = "request_id, at, consumer, key_id, team, model, provider, status, \
     input_tokens, output_tokens, cost_micros, cached, error_code, latency_ms, ttfb_ms";
const CALL_COLUMN_COUNT: usize = 15;
/// Rows per INSERT statement: 64 * 15 = 960 bind parameters, far below both engines'
/// limits.
const CALLS_PER_STATEMENT: usize = 64;

/// `u64` counters are stored as BIGINT; values past `i64::MAX` cannot occur in
/// practice and are clamped rather than failing a whole batch.
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Negative values cannot be written through this API; a corrupt row reads as 0.
fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// `INSERT INTO {table} ({columns}) VALUES ($1, ..), (..) {suffix}` for `rows` rows of
/// `cols` columns.
pub(crate) fn multi_row_insert(
    table: &str,
    columns: &str,
    cols: usize,
    rows: usize,
    suffix: &str,
) -> String {
    let mut sql = format!("INSERT INTO {table} ({columns}) VALUES ");
    let mut n = 0usize;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..cols {
            if c > 0 {
                sql.push_str(", ");
            }
            n += 1;
            sql.push('$');
            sql.push_str(&n.to_string());
        }
        sql.push(')');
    }
    if !suffix.is_empty() {
        sql.push(' ');
        sql.push_str(suffix);
    }
    sql
}

fn decode_call(row: &AnyRow) -> Result<CallRecord, StoreError> {
    let status: i64 = row.try_get("status")?;
    Ok(CallRecord {
        request_id: row.try_get("request_id")?,
        at: from_ms(row.try_get::<i64, _>("at")?)?,
        consumer: row.try_get("consumer")?,
        key_id: row.try_get("key_id")?,
        team: row.try_get("team")?,
        model: row.try_get("model")?,
        provider: row.try_get("provider")?,
        status: u16::try_from(status)
            .map_err(|_| StoreError::InvalidData(format!("call status {status}")))?,
        input_tokens: to_u64(row.try_get("input_tokens")?),
        output_tokens: to_u64(row.try_get("output_tokens")?),
        cost_micros: row.try_get("cost_micros")?,
        cached: row.try_get::<i64, _>("cached")? != 0,
        error_code: row.try_get("error_code")?,
        latency_ms: to_u64(row.try_get("latency_ms")?),
        ttfb_ms: opt_i64(row, "ttfb_ms")?.map(to_u64),
    })
}

impl Store {
    /// Records a batch of calls in one transaction. Idempotent on `request_id`: a call
    /// already stored (or repeated within the batch) is skipped. Returns how many rows
    /// were inserted. Does not bump the revision.
    pub async fn insert_calls(&self, calls: &[CallRecord]) -> Result<u64, StoreError> {
        if calls.is_empty() {
            return Ok(0);
        }
        if let Some(c) = calls
            .iter()
            .find(|c| c.request_id.is_empty() || c.consumer.is_empty())
        {
            return Err(StoreError::InvalidInput(format!(
                "a call needs a request id and a consumer (request {:?})",
                c.request_id
            )));
        }
        let mut tx = self.pool.begin().await?;
        let mut inserted = 0u64;
        for chunk in calls.chunks(CALLS_PER_STATEMENT) {
            let sql = multi_row_insert(
                "calls",
                CALL_COLUMNS,
                CALL_COLUMN_COUNT,
                chunk.len(),
                "ON CONFLICT (request_id) DO NOTHING",
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for c in chunk {
                q = q
                    .bind(c.request_id.clone())
                    .bind(c.at.timestamp_millis())
                    .bind(c.consumer.clone())
                    .bind(c.key_id.clone())
                    .bind(c.team.clone())
                    .bind(c.model.clone())
                    .bind(c.provider.clone())
                    .bind(i64::from(c.status))
                    .bind(to_i64(c.input_tokens))
                    .bind(to_i64(c.output_tokens))
                    .bind(c.cost_micros)
                    .bind(i64::from(c.cached))
                    .bind(c.error_code.clone())
                    .bind(to_i64(c.latency_ms))
                    .bind(c.ttfb_ms.map(to_i64));
            }
            inserted += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// One call by its request id.
    pub async fn get_call(&self, request_id: &str) -> Result<Option<CallRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT request_id, at, consumer, key_id, team, model, provider, status, \
             input_tokens, output_tokens, cost_micros, cached, error_code, latency_ms, ttfb_ms \
             FROM calls WHERE request_id = $1",
        )
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decode_call).transpose()
    }

    /// The calls of `scope` at or after `since`, added up.
    pub async fn usage_since(
        &self,
        scope: &UsageScope,
        since: DateTime<Utc>,
    ) -> Result<UsageTotals, StoreError> {
        // SUM over BIGINT is NUMERIC on PostgreSQL, which the Any driver cannot decode.
        let (sql, name) = match scope {
            UsageScope::Consumer(name) => (
                "SELECT COUNT(*) AS requests, \
                 CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
                 CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
                 CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost_micros \
                 FROM calls WHERE consumer = $1 AND at >= $2",
                name,
            ),
            UsageScope::Team(name) => (
                "SELECT COUNT(*) AS requests, \
                 CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
                 CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
                 CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost_micros \
                 FROM calls WHERE team = $1 AND at >= $2",
                name,
            ),
            UsageScope::Key(id) => (
                "SELECT COUNT(*) AS requests, \
                 CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
                 CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
                 CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost_micros \
                 FROM calls WHERE key_id = $1 AND at >= $2",
                id,
            ),
        };
        let row = sqlx::query(sql)
            .bind(name.as_str())
            .bind(since.timestamp_millis())
            .fetch_one(&self.pool)
            .await?;
        Ok(UsageTotals {
            requests: to_u64(row.try_get("requests")?),
            input_tokens: to_u64(row.try_get("input_tokens")?),
            output_tokens: to_u64(row.try_get("output_tokens")?),
            cost_micros: row.try_get("cost_micros")?,
        })
    }
}
