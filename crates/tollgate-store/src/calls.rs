//! Call records: one row per request that reached the gateway listener, errors
//! included, in PRODUCT.md's shape ("Call records, analytics and explain"). The durable
//! record behind usage documents, budgets and analytics; not configuration, so these
//! writes never bump the revision.
//!
//! On SQLite, inserts use two fixed statements, one of [`CALLS_PER_STATEMENT`] rows and one of a
//! single row: a batch is sent as full chunks of the first and a remainder of the
//! second, so the SQL text never depends on the batch size and the connection's
//! prepared-statement cache always hits (SQLite otherwise re-parses a long multi-row
//! INSERT for every batch).
//!
//! Each fixed statement exists in two placeholder styles ([`Fixed`]): `$N` for
//! PostgreSQL and plain `?` for SQLite, whose driver looks every `$N` up by name in a
//! linear list when binding (`sqlite3_bind_parameter_name`), quadratic in a statement's
//! parameters; with `$N` that lookup took 64 % of the ingest time of a 2,368-parameter
//! rollup upsert. PostgreSQL's batches go by COPY instead ([`crate::batch`]).

use std::collections::HashSet;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde_json::Value;
use serde_json::value::RawValue;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row};
use tollgate_core::money::Micros;

use crate::error::StoreError;
use crate::from_ms;
use crate::rollups::add_rollups_on;
use crate::store::{Store, opt_i64};

/// What one request was and what it consumed. Times round-trip at millisecond
/// precision. Serialisable: the journal keeps records in a local log before the
/// database has them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallRecord {
    /// The request's `x-request-id`; inserting the same id again is a no-op.
    pub request_id: String,
    pub at: DateTime<Utc>,
    /// None for a request refused before a consumer was known (a 401).
    pub consumer: Option<String>,
    pub team: Option<String>,
    /// The consumer key's id (never the key).
    pub key_id: Option<String>,
    /// The door the request came in by: `openai`, `anthropic`, `responses`, `service`,
    /// `prompt_api` or `mcp`.
    pub door: String,
    /// The model as asked (or the service / prompt-API name); None when the body could
    /// not be parsed.
    pub model: Option<String>,
    /// The provider that answered (none when no upstream was reached).
    pub provider: Option<String>,
    /// The provider's model name that answered.
    pub target_model: Option<String>,
    /// Every upstream attempt, in order (failover included).
    pub attempts: Vec<CallAttempt>,
    /// The HTTP status the client got.
    pub status: u16,
    /// The error code of a failed request (`budget_exceeded`, `upstream_timeout`...).
    pub error_code: Option<String>,
    pub latency_ms: u64,
    pub upstream_latency_ms: Option<u64>,
    /// Time to the first token of a stream.
    pub ttft_ms: Option<u64>,
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Output tokens, reasoning included.
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// The part of `output_tokens` spent reasoning.
    pub reasoning_tokens: u64,
    pub cost_micros: Micros,
    /// What was reserved against budgets and credits for it (0 if nothing).
    pub reserved_micros: Micros,
    /// The response cache's part: `hit`, `miss`, `bypass`, or None when not cached.
    pub cache: Option<String>,
    pub stream: bool,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The explain trail: a JSON array of steps.
    pub steps: JsonText,
    /// The request body, when bodies are logged for this model or consumer (capped and
    /// redacted by the gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    /// The response body, likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
}

/// JSON kept as its text: written to the journal and the database as it is, never
/// built into a tree on the way (the explain trail is parsed only when someone asks
/// for it). In the journal's JSON lines it is embedded raw, not as an escaped string.
///
/// The text is checked to be JSON once, where a `JsonText` is made; writing it into a
/// journal line or a row neither copies nor checks it again.
#[derive(Debug, Clone)]
pub struct JsonText(Box<RawValue>);

impl JsonText {
    /// The text of `value`.
    pub fn new(value: &Value) -> JsonText {
        serde_json::value::to_raw_value(value)
            .map(JsonText)
            .unwrap_or_else(|_| JsonText::null())
    }

    /// `text`, if it is JSON.
    pub fn from_text(text: String) -> Option<JsonText> {
        RawValue::from_string(text).ok().map(JsonText)
    }

    /// `null`.
    pub fn null() -> JsonText {
        JsonText(RawValue::NULL.to_owned())
    }

    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The JSON as a tree.
    pub fn parse(&self) -> Value {
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }
}

impl PartialEq for JsonText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for JsonText {}

impl Default for JsonText {
    /// An empty trail, `[]`.
    fn default() -> Self {
        JsonText::from_text("[]".to_string()).unwrap_or_else(JsonText::null)
    }
}

impl From<Value> for JsonText {
    fn from(value: Value) -> Self {
        JsonText::new(&value)
    }
}

impl serde::Serialize for JsonText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for JsonText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(d).map(JsonText)
    }
}

/// One upstream attempt of a call.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallAttempt {
    pub provider: String,
    pub target_model: String,
    /// The upstream's HTTP status, if it answered.
    pub status: Option<u16>,
    pub error_code: Option<String>,
    /// Why the attempt failed (`rejected`, `key_dead`, `throttled`, `timeout`,
    /// `transient`, `stream_broken`); None when it succeeded.
    pub reason: Option<String>,
    pub latency_ms: u64,
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
    /// Every input-side token: uncached input, cache reads and cache writes.
    pub input_tokens: u64,
    /// Output tokens, reasoning included.
    pub output_tokens: u64,
    /// The parts of `input_tokens` read from and written to the provider's cache.
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// The part of `output_tokens` spent reasoning.
    pub reasoning_tokens: u64,
    pub cost_micros: Micros,
}

pub(crate) const CALL_COLUMNS: &str = "request_id, at, consumer, team, key_id, door, model, provider, \
     target_model, attempts, status, error_code, latency_ms, upstream_latency_ms, ttft_ms, \
     input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, \
     cost_micros, reserved_micros, cache, stream, client_ip, user_agent, steps, request_body, \
     response_body";
pub(crate) const CALL_COLUMN_COUNT: usize = 29;
/// Rows of the large fixed INSERT: 64 * 29 = 1,856 bind parameters, far below both
/// engines' limits.
pub const CALLS_PER_STATEMENT: usize = 64;

/// `RETURNING` names the rows actually inserted: only those are added to the rollups,
/// so a replayed batch counts nothing twice.
const INSERT_SUFFIX: &str = "ON CONFLICT (request_id) DO NOTHING RETURNING request_id";

static INSERT_MANY: LazyLock<Fixed> = LazyLock::new(|| {
    Fixed::new(multi_row_insert(
        "calls",
        CALL_COLUMNS,
        CALL_COLUMN_COUNT,
        CALLS_PER_STATEMENT,
        INSERT_SUFFIX,
    ))
});
static INSERT_ONE: LazyLock<Fixed> = LazyLock::new(|| {
    Fixed::new(multi_row_insert(
        "calls",
        CALL_COLUMNS,
        CALL_COLUMN_COUNT,
        1,
        INSERT_SUFFIX,
    ))
});

/// A fixed statement written with `$1, $2, ..` (each once, in order, as
/// [`multi_row_insert`] writes them), and the same with plain `?` for SQLite (see the
/// module's doc for why).
pub(crate) struct Fixed {
    numbered: String,
    positional: String,
}

impl Fixed {
    pub(crate) fn new(numbered: String) -> Fixed {
        let mut positional = String::with_capacity(numbered.len());
        let mut chars = numbered.chars().peekable();
        while let Some(ch) = chars.next() {
            if ch == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                    chars.next();
                }
                positional.push('?');
            } else {
                positional.push(ch);
            }
        }
        Fixed {
            numbered,
            positional,
        }
    }

    /// The text for `conn`'s engine.
    pub(crate) fn on(&self, conn: &AnyConnection) -> &str {
        if conn.backend_name().eq_ignore_ascii_case("sqlite") {
            &self.positional
        } else {
            &self.numbered
        }
    }
}
static SELECT_CALL: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {CALL_COLUMNS} FROM calls WHERE request_id = $1"));

/// `u64` counters are stored as BIGINT; values past `i64::MAX` cannot occur in
/// practice and are clamped rather than failing a whole batch.
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Negative values cannot be written through this API; a corrupt row reads as 0.
pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// PostgreSQL refuses NUL in TEXT, and a row it refuses would block the journal
/// behind it; a client can put one in a model name. Replaced on both engines alike.
pub(crate) fn text(s: &str) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{FFFD}")
    } else {
        s.to_string()
    }
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

/// What a call must have to be stored.
pub(crate) fn validate_call(c: &CallRecord) -> Result<(), StoreError> {
    if c.request_id.is_empty() {
        return Err(StoreError::InvalidInput(
            "a call needs a request id".to_string(),
        ));
    }
    Ok(())
}

type AnyQuery<'q> = Query<'q, Any, AnyArguments>;

/// One column value of a row the batch writer stores: bound as a parameter by the
/// statements here, written as COPY text on PostgreSQL ([`crate::batch`]). Typed even
/// when NULL: PostgreSQL refuses a NULL bound as BIGINT for a TEXT column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cell<'a> {
    Int(Option<i64>),
    /// Stored through [`text`] (NUL replaced) on both paths.
    Text(Option<&'a str>),
}

impl<'a> Cell<'a> {
    pub(crate) fn int(v: i64) -> Cell<'a> {
        Cell::Int(Some(v))
    }

    pub(crate) fn text(s: &'a str) -> Cell<'a> {
        Cell::Text(Some(s))
    }

    pub(crate) fn opt_text(s: &'a Option<String>) -> Cell<'a> {
        Cell::Text(s.as_deref())
    }

    /// Binds the value as the next parameter of `q`.
    pub(crate) fn bind<'q>(self, q: AnyQuery<'q>) -> AnyQuery<'q> {
        match self {
            Cell::Int(v) => q.bind(v),
            Cell::Text(v) => q.bind(v.map(text)),
        }
    }
}

/// A call's attempts as the JSON text its `attempts` column holds.
pub(crate) fn attempts_json(c: &CallRecord) -> Result<String, StoreError> {
    serde_json::to_string(&c.attempts)
        .map_err(|e| StoreError::InvalidInput(format!("call attempts: {e}")))
}

/// A call's columns, in [`CALL_COLUMNS`] order; `attempts` is [`attempts_json`].
pub(crate) fn call_cells<'a>(
    c: &'a CallRecord,
    attempts: &'a str,
) -> [Cell<'a>; CALL_COLUMN_COUNT] {
    [
        Cell::text(&c.request_id),
        Cell::int(c.at.timestamp_millis()),
        Cell::opt_text(&c.consumer),
        Cell::opt_text(&c.team),
        Cell::opt_text(&c.key_id),
        Cell::text(&c.door),
        Cell::opt_text(&c.model),
        Cell::opt_text(&c.provider),
        Cell::opt_text(&c.target_model),
        Cell::text(attempts),
        Cell::int(i64::from(c.status)),
        Cell::opt_text(&c.error_code),
        Cell::int(to_i64(c.latency_ms)),
        Cell::Int(c.upstream_latency_ms.map(to_i64)),
        Cell::Int(c.ttft_ms.map(to_i64)),
        Cell::int(to_i64(c.input_tokens)),
        Cell::int(to_i64(c.output_tokens)),
        Cell::int(to_i64(c.cache_read_tokens)),
        Cell::int(to_i64(c.cache_write_tokens)),
        Cell::int(to_i64(c.reasoning_tokens)),
        Cell::int(c.cost_micros),
        Cell::int(c.reserved_micros),
        Cell::opt_text(&c.cache),
        Cell::int(i64::from(c.stream)),
        Cell::opt_text(&c.client_ip),
        Cell::opt_text(&c.user_agent),
        Cell::text(c.steps.as_str()),
        Cell::opt_text(&c.request_body),
        Cell::opt_text(&c.response_body),
    ]
}

fn bind_call<'q>(mut q: AnyQuery<'q>, c: &CallRecord) -> Result<AnyQuery<'q>, StoreError> {
    let attempts = attempts_json(c)?;
    for cell in call_cells(c, &attempts) {
        q = cell.bind(q);
    }
    Ok(q)
}

/// Inserts `calls` on `conn` (inside the caller's transaction): full chunks with the
/// large fixed statement, the rest one by one with the single-row one; then adds the
/// rows actually inserted (ids already stored are skipped, as is a repeat within the
/// batch) to the rollups. Returns how many rows were inserted.
pub(crate) async fn insert_calls_on(
    conn: &mut AnyConnection,
    calls: &[&CallRecord],
) -> Result<u64, StoreError> {
    let mut inserted: HashSet<String> = HashSet::new();
    let (many, one) = (INSERT_MANY.on(conn), INSERT_ONE.on(conn));
    let mut chunks = calls.chunks_exact(CALLS_PER_STATEMENT);
    for chunk in &mut chunks {
        let mut q = sqlx::query(many);
        for c in chunk {
            q = bind_call(q, c)?;
        }
        for row in q.fetch_all(&mut *conn).await? {
            inserted.insert(row.try_get("request_id")?);
        }
    }
    for c in chunks.remainder() {
        let q = bind_call(sqlx::query(one), c)?;
        if let Some(row) = q.fetch_optional(&mut *conn).await? {
            inserted.insert(row.try_get("request_id")?);
        }
    }
    let count = inserted.len() as u64;
    // The first of repeated ids is the one stored (both engines insert in order).
    let new: Vec<&CallRecord> = calls
        .iter()
        .copied()
        .filter(|c| inserted.remove(&text(&c.request_id)))
        .collect();
    add_rollups_on(conn, &new).await?;
    Ok(count)
}

fn decode_json<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> Result<T, StoreError> {
    let raw: String = row.try_get(col)?;
    serde_json::from_str(&raw).map_err(|e| StoreError::InvalidData(format!("call {col}: {e}")))
}

pub(crate) fn decode_call(row: &AnyRow) -> Result<CallRecord, StoreError> {
    let status: i64 = row.try_get("status")?;
    Ok(CallRecord {
        request_id: row.try_get("request_id")?,
        at: from_ms(row.try_get::<i64, _>("at")?)?,
        consumer: row.try_get("consumer")?,
        team: row.try_get("team")?,
        key_id: row.try_get("key_id")?,
        door: row.try_get("door")?,
        model: row.try_get("model")?,
        provider: row.try_get("provider")?,
        target_model: row.try_get("target_model")?,
        attempts: decode_json(row, "attempts")?,
        status: u16::try_from(status)
            .map_err(|_| StoreError::InvalidData(format!("call status {status}")))?,
        error_code: row.try_get("error_code")?,
        latency_ms: to_u64(row.try_get("latency_ms")?),
        upstream_latency_ms: opt_i64(row, "upstream_latency_ms")?.map(to_u64),
        ttft_ms: opt_i64(row, "ttft_ms")?.map(to_u64),
        input_tokens: to_u64(row.try_get("input_tokens")?),
        output_tokens: to_u64(row.try_get("output_tokens")?),
        cache_read_tokens: to_u64(row.try_get("cache_read_tokens")?),
        cache_write_tokens: to_u64(row.try_get("cache_write_tokens")?),
        reasoning_tokens: to_u64(row.try_get("reasoning_tokens")?),
        cost_micros: row.try_get("cost_micros")?,
        reserved_micros: row.try_get("reserved_micros")?,
        cache: row.try_get("cache")?,
        stream: row.try_get::<i64, _>("stream")? != 0,
        client_ip: row.try_get("client_ip")?,
        user_agent: row.try_get("user_agent")?,
        steps: JsonText::from_text(row.try_get("steps")?).unwrap_or_else(JsonText::null),
        request_body: row.try_get("request_body")?,
        response_body: row.try_get("response_body")?,
    })
}

impl Store {
    /// Records a batch of calls in one transaction. Idempotent on `request_id`: a call
    /// already stored (or repeated within the batch) is skipped. Returns how many rows
    /// were inserted. Does not bump the revision. The whole batch is rejected, and
    /// nothing written, if a record has no request id.
    pub async fn insert_calls(&self, calls: &[CallRecord]) -> Result<u64, StoreError> {
        if calls.is_empty() {
            return Ok(0);
        }
        for c in calls {
            validate_call(c)?;
        }
        let calls: Vec<&CallRecord> = calls.iter().collect();
        Ok(crate::batch::write_batch(self, &calls, &[]).await?.calls)
    }

    /// One call by its request id.
    pub async fn get_call(&self, request_id: &str) -> Result<Option<CallRecord>, StoreError> {
        let row = sqlx::query(SELECT_CALL.as_str())
            .bind(request_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_call).transpose()
    }

    /// How many calls are stored (for tests and checks).
    pub async fn count_calls(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM calls")
            .fetch_one(&self.pool)
            .await?;
        Ok(to_u64(row.try_get("n")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_statements_have_both_placeholder_styles() {
        let f = Fixed::new(multi_row_insert(
            "t",
            "a, b",
            2,
            2,
            "ON CONFLICT DO NOTHING",
        ));
        assert_eq!(
            f.numbered,
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            f.positional,
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) ON CONFLICT DO NOTHING"
        );
        // A `$` not followed by a digit is kept.
        assert_eq!(Fixed::new("a$b $12c".into()).positional, "a$b ?c");
    }

    #[test]
    fn json_text_is_checked_once_and_embedded_raw() {
        assert!(JsonText::from_text("[1, {\"a\": 2}]".into()).is_some());
        assert!(JsonText::from_text("[1,".into()).is_none());
        assert!(JsonText::from_text(String::new()).is_none());
        assert_eq!(JsonText::default().as_str(), "[]");
        assert_eq!(JsonText::null().parse(), Value::Null);

        // In a JSON document it is the value itself, not a string holding it, and it
        // reads back equal.
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Line {
            steps: JsonText,
        }
        let text = JsonText::from(serde_json::json!([{"step": "auth", "note": "a\tb"}]));
        let line = serde_json::to_string(&Line {
            steps: text.clone(),
        })
        .unwrap();
        assert_eq!(line, r#"{"steps":[{"step":"auth","note":"a\tb"}]}"#);
        let back: Line = serde_json::from_str(&line).unwrap();
        assert_eq!(back.steps, text);
        assert_eq!(back.steps.parse()[0]["note"], "a\tb");
    }
}
