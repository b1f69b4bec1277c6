//! Rollups: per-minute, per-hour and per-day sums of the call records by dimension
//! (migration 0006 describes the tables). Analytics, budgets and usage documents read
//! these instead of the raw calls, so a query stays fast however many calls exist.
//!
//! Exactness: the rollups are written in the transaction that inserts the calls, from
//! the rows that INSERT actually stored (its `RETURNING`), so a replayed batch adds
//! nothing, and every count, token and cost column is a plain sum. Latency and TTFT
//! are fixed log-spaced histograms ([`LATENCY_BOUNDS_MS`]): counts per bucket, which
//! merge by SUM like everything else, and give percentiles within one bucket's width.
//!
//! Every statement is fixed text (one per granularity and shape), as for the calls.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::calls::{
    CallRecord, Cell, Fixed, UsageScope, UsageTotals, multi_row_insert, text, to_i64,
};
use crate::error::StoreError;
use crate::from_ms;
use crate::store::{Backend, Store};

/// Upper bounds (inclusive, milliseconds) of the histogram buckets; one more bucket
/// holds everything above the last bound. Roughly log-spaced (×1.5 to ×2.5).
pub const LATENCY_BOUNDS_MS: [u64; 26] = [
    1, 2, 5, 10, 20, 35, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500,
    10000, 15000, 20000, 30000, 60000, 120000,
];
/// Buckets per histogram.
pub const HISTOGRAM_BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// The histogram bucket of a value.
pub fn histogram_bucket(ms: u64) -> usize {
    LATENCY_BOUNDS_MS
        .iter()
        .position(|&b| ms <= b)
        .unwrap_or(LATENCY_BOUNDS_MS.len())
}

/// The value reported for a percentile that falls in bucket `i`: its upper bound (the
/// last, open bucket reports its lower bound). The true value lies in the bucket, so
/// the answer is within one bucket's width of it.
pub fn bucket_value(i: usize) -> u64 {
    LATENCY_BOUNDS_MS
        .get(i)
        .or(LATENCY_BOUNDS_MS.last())
        .copied()
        .unwrap_or(0)
}

/// What analytics can be broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    /// Everything, as one series (value `""`, shown as key `all`).
    All,
    Consumer,
    Team,
    /// A consumer key, by id (budgets of keys).
    Key,
    /// The model asked for, on the LLM doors (`openai`, `anthropic`, `responses`).
    Model,
    Provider,
    /// The service or prompt-API (doors `service`, `prompt_api`, and `mcp`, whose tools
    /// are services' routes and prompt-APIs).
    Service,
    /// The HTTP status, as text.
    Status,
}

impl Dimension {
    pub const ALL: [Dimension; 8] = [
        Dimension::All,
        Dimension::Consumer,
        Dimension::Team,
        Dimension::Key,
        Dimension::Model,
        Dimension::Provider,
        Dimension::Service,
        Dimension::Status,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::All => "all",
            Dimension::Consumer => "consumer",
            Dimension::Team => "team",
            Dimension::Key => "key",
            Dimension::Model => "model",
            Dimension::Provider => "provider",
            Dimension::Service => "service",
            Dimension::Status => "status",
        }
    }

    pub fn parse(s: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// A rollup table's bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Granularity {
    Minute,
    Hour,
    Day,
}

pub(crate) const MINUTE_MS: i64 = 60_000;
pub(crate) const HOUR_MS: i64 = 3_600_000;
pub(crate) const DAY_MS: i64 = 86_400_000;

impl Granularity {
    pub const ALL: [Granularity; 3] = [Granularity::Minute, Granularity::Hour, Granularity::Day];

    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Minute => "minute",
            Granularity::Hour => "hour",
            Granularity::Day => "day",
        }
    }

    pub fn parse(s: &str) -> Option<Granularity> {
        Granularity::ALL.into_iter().find(|g| g.as_str() == s)
    }

    pub fn width_ms(self) -> i64 {
        match self {
            Granularity::Minute => MINUTE_MS,
            Granularity::Hour => HOUR_MS,
            Granularity::Day => DAY_MS,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn table(self) -> &'static str {
        match self {
            Granularity::Minute => "rollup_minute",
            Granularity::Hour => "rollup_hour",
            Granularity::Day => "rollup_day",
        }
    }

    /// The start of the bucket holding `ms`.
    pub fn floor(self, ms: i64) -> i64 {
        ms.div_euclid(self.width_ms()) * self.width_ms()
    }

    /// The first bucket start at or after `ms`.
    pub fn ceil(self, ms: i64) -> i64 {
        let f = self.floor(ms);
        if f == ms {
            f
        } else {
            f.saturating_add(self.width_ms())
        }
    }
}

/// The sums of one rollup row (or of several merged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollup {
    pub requests: i64,
    /// Status >= 400.
    pub errors: i64,
    /// 4xx.
    pub client_errors: i64,
    /// 5xx.
    pub server_errors: i64,
    /// 401.
    pub unauthorized: i64,
    /// 402: budget or credits refused.
    pub budget_refused: i64,
    /// 429.
    pub rate_limited: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    pub cost_micros: i64,
    /// Calls with a `ttft_ms` (the TTFT histogram's total).
    pub ttft_count: i64,
    /// Sum of the gateway's overhead (latency minus the upstream's time to first
    /// byte) over [`Rollup::overhead_calls`]: non-streamed calls an upstream answered.
    pub overhead_ms_sum: i64,
    pub overhead_calls: i64,
    /// Calls per latency bucket ([`LATENCY_BOUNDS_MS`]).
    pub latency: [i64; HISTOGRAM_BUCKETS],
    pub ttft: [i64; HISTOGRAM_BUCKETS],
}

/// The counter columns, in [`Rollup::counters`] order.
const COUNTER_COLUMNS: [&str; 16] = [
    "requests",
    "errors",
    "client_errors",
    "server_errors",
    "unauthorized",
    "budget_refused",
    "rate_limited",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_micros",
    "ttft_count",
    "overhead_ms_sum",
    "overhead_calls",
];

fn latency_column(i: usize) -> String {
    format!("lat_{i:02}")
}

fn ttft_column(i: usize) -> String {
    format!("ttft_{i:02}")
}

/// Every value column: counters, then the latency histogram, then the TTFT one.
static VALUE_COLUMNS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut cols: Vec<String> = COUNTER_COLUMNS.iter().map(|c| c.to_string()).collect();
    cols.extend((0..HISTOGRAM_BUCKETS).map(latency_column));
    cols.extend((0..HISTOGRAM_BUCKETS).map(ttft_column));
    cols
});

impl Rollup {
    /// One call's contribution.
    pub fn of_call(c: &CallRecord) -> Rollup {
        let s = c.status;
        let mut r = Rollup {
            requests: 1,
            errors: i64::from(s >= 400),
            client_errors: i64::from((400..500).contains(&s)),
            server_errors: i64::from(s >= 500),
            unauthorized: i64::from(s == 401),
            budget_refused: i64::from(s == 402),
            rate_limited: i64::from(s == 429),
            input_tokens: to_i64(c.input_tokens),
            output_tokens: to_i64(c.output_tokens),
            cache_read_tokens: to_i64(c.cache_read_tokens),
            cache_write_tokens: to_i64(c.cache_write_tokens),
            reasoning_tokens: to_i64(c.reasoning_tokens),
            cost_micros: c.cost_micros,
            ttft_count: i64::from(c.ttft_ms.is_some()),
            ..Rollup::default()
        };
        // A stream's latency runs to its last event, long after the upstream's first
        // byte: only whole answers say what the gateway itself added.
        if let (false, Some(upstream)) = (c.stream, c.upstream_latency_ms) {
            r.overhead_ms_sum = to_i64(c.latency_ms.saturating_sub(upstream));
            r.overhead_calls = 1;
        }
        r.latency[histogram_bucket(c.latency_ms)] = 1;
        if let Some(t) = c.ttft_ms {
            r.ttft[histogram_bucket(t)] = 1;
        }
        r
    }

    fn counters(&self) -> [i64; 16] {
        [
            self.requests,
            self.errors,
            self.client_errors,
            self.server_errors,
            self.unauthorized,
            self.budget_refused,
            self.rate_limited,
            self.input_tokens,
            self.output_tokens,
            self.cache_read_tokens,
            self.cache_write_tokens,
            self.reasoning_tokens,
            self.cost_micros,
            self.ttft_count,
            self.overhead_ms_sum,
            self.overhead_calls,
        ]
    }

    fn counters_mut(&mut self) -> [&mut i64; 16] {
        [
            &mut self.requests,
            &mut self.errors,
            &mut self.client_errors,
            &mut self.server_errors,
            &mut self.unauthorized,
            &mut self.budget_refused,
            &mut self.rate_limited,
            &mut self.input_tokens,
            &mut self.output_tokens,
            &mut self.cache_read_tokens,
            &mut self.cache_write_tokens,
            &mut self.reasoning_tokens,
            &mut self.cost_micros,
            &mut self.ttft_count,
            &mut self.overhead_ms_sum,
            &mut self.overhead_calls,
        ]
    }

    /// Adds `other` in (sums never overflow in practice; they saturate if they would).
    pub fn merge(&mut self, other: &Rollup) {
        for (a, b) in self.counters_mut().into_iter().zip(other.counters()) {
            *a = a.saturating_add(b);
        }
        for (a, b) in self.latency.iter_mut().zip(other.latency) {
            *a = a.saturating_add(b);
        }
        for (a, b) in self.ttft.iter_mut().zip(other.ttft) {
            *a = a.saturating_add(b);
        }
    }

    /// The latency at `percent` (1 to 100), or None without calls.
    pub fn latency_percentile(&self, percent: u32) -> Option<u64> {
        percentile(&self.latency, percent)
    }

    /// The TTFT at `percent`, or None without streamed calls.
    pub fn ttft_percentile(&self, percent: u32) -> Option<u64> {
        percentile(&self.ttft, percent)
    }

    /// Errors per request (0 without requests).
    pub fn error_rate(&self) -> f64 {
        error_rate(self.requests, self.errors)
    }

    /// The gateway's mean overhead in milliseconds, None without a whole answer.
    pub fn overhead_ms(&self) -> Option<f64> {
        mean(self.overhead_ms_sum, self.overhead_calls)
    }

    /// Reads `columns` from `row`, where they are selected in [`Columns::names`] order
    /// starting at column `first`. By position, not by name: a 36,000-row series
    /// would otherwise look up (and format) a million column names.
    fn decode(row: &AnyRow, columns: Columns, first: usize) -> Result<Rollup, StoreError> {
        let mut r = Rollup::default();
        let mut at = first;
        let mut next = || {
            at += 1;
            at - 1
        };
        if columns.counters {
            for slot in r.counters_mut() {
                *slot = row.try_get(next())?;
            }
        }
        if columns.latency {
            for slot in r.latency.iter_mut() {
                *slot = row.try_get(next())?;
            }
        }
        if columns.ttft {
            for slot in r.ttft.iter_mut() {
                *slot = row.try_get(next())?;
            }
        }
        Ok(r)
    }
}

/// The nearest-rank percentile of a histogram (`percent` of 100), as [`bucket_value`]
/// of its bucket. Integer arithmetic, as in [`percentile_bucket_sql`], so a percentile
/// computed by the database and one computed here agree exactly.
fn percentile(hist: &[i64; HISTOGRAM_BUCKETS], percent: u32) -> Option<u64> {
    percentile_index(hist, percent).map(bucket_value)
}

/// The histogram bucket holding the nearest-rank percentile, None when empty.
fn percentile_index(hist: &[i64; HISTOGRAM_BUCKETS], percent: u32) -> Option<usize> {
    let n: i64 = hist.iter().sum();
    if n <= 0 {
        return None;
    }
    let rank = nearest_rank(n, percent);
    let mut seen = 0i64;
    for (i, count) in hist.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Some(i);
        }
    }
    Some(HISTOGRAM_BUCKETS - 1)
}

/// `sum / n`, None when `n` is 0.
fn mean(sum: i64, n: i64) -> Option<f64> {
    (n > 0).then(|| sum as f64 / n as f64)
}

/// Errors per request (0 without requests).
fn error_rate(requests: i64, errors: i64) -> f64 {
    if requests == 0 {
        0.0
    } else {
        errors as f64 / requests as f64
    }
}

/// The SQL expression (both engines) for the histogram bucket index of the
/// nearest-rank `percent` of a histogram whose bucket `i` is the expression
/// `bucket(i)` and whose total is `total`, NULL when it is empty: [`percentile_index`]
/// in SQL, with the same integer rank. The arms run in order and stop at the first
/// bucket whose running count reaches the rank.
fn percentile_bucket_sql(bucket: impl Fn(usize) -> String, total: &str, percent: u32) -> String {
    let p = percent.min(100);
    let rank = format!("(({total}) * {p} + 99) / 100");
    let mut sql = format!("CAST(CASE WHEN {total} <= 0 THEN NULL");
    let mut running = String::new();
    for i in 0..HISTOGRAM_BUCKETS - 1 {
        if !running.is_empty() {
            running.push_str(" + ");
        }
        running.push_str(&bucket(i));
        sql.push_str(&format!(" WHEN {running} >= {rank} THEN {i}"));
    }
    sql.push_str(&format!(" ELSE {} END AS BIGINT)", HISTOGRAM_BUCKETS - 1));
    sql
}

/// A percentile kept on every rollup row (migration 0011): the histogram bucket index
/// of that row's percentile, so a percentile series reads one narrow column per point
/// like a counter series does, instead of 27 histogram columns or a 26-arm `CASE`
/// per row. The upsert keeps it right as rows merge.
#[derive(Clone, Copy)]
struct KeptPercentile {
    column: &'static str,
    /// `lat` or `ttft`: the histogram's column prefix.
    histogram: &'static str,
    /// The histogram's total column.
    total: &'static str,
    percent: u32,
    /// The same histogram on a [`Rollup`].
    buckets: fn(&Rollup) -> &[i64; HISTOGRAM_BUCKETS],
}

const KEPT_PERCENTILES: [KeptPercentile; 4] = {
    const fn latency(column: &'static str, percent: u32) -> KeptPercentile {
        KeptPercentile {
            column,
            histogram: "lat",
            total: "requests",
            percent,
            buckets: |r| &r.latency,
        }
    }
    [
        latency("lat_p50", 50),
        latency("lat_p95", 95),
        latency("lat_p99", 99),
        KeptPercentile {
            column: "ttft_p50",
            histogram: "ttft",
            total: "ttft_count",
            percent: 50,
            buckets: |r| &r.ttft,
        },
    ]
};

impl KeptPercentile {
    /// Its value for a rollup about to be written.
    fn of(self, r: &Rollup) -> Option<i64> {
        percentile_index((self.buckets)(r), self.percent).map(|i| i as i64)
    }

    /// The upsert's `SET` expression: the percentile of the stored row merged with
    /// the incoming one.
    fn merged_sql(self, table: &str) -> String {
        let h = self.histogram;
        percentile_bucket_sql(
            |i| format!("({table}.{h}_{i:02} + excluded.{h}_{i:02})"),
            &format!("{table}.{t} + excluded.{t}", t = self.total),
            self.percent,
        )
    }
}

/// `ceil(n * percent / 100)`, at least 1 and at most `n`.
fn nearest_rank(n: i64, percent: u32) -> i64 {
    let p = i64::from(percent.min(100));
    (n.saturating_mul(p).saturating_add(99) / 100).clamp(1, n.max(1))
}

/// Which column groups a query reads.
#[derive(Debug, Clone, Copy)]
struct Columns {
    counters: bool,
    latency: bool,
    ttft: bool,
}

const EVERY_COLUMN: Columns = Columns {
    counters: true,
    latency: true,
    ttft: true,
};

impl Columns {
    fn names(self) -> Vec<String> {
        let mut out = Vec::new();
        if self.counters {
            out.extend(COUNTER_COLUMNS.iter().map(|c| c.to_string()));
        }
        if self.latency {
            out.extend((0..HISTOGRAM_BUCKETS).map(latency_column));
        }
        if self.ttft {
            out.extend((0..HISTOGRAM_BUCKETS).map(ttft_column));
        }
        out
    }
}

// ---------------------------------------------------------------------------------
// Writing

/// The dimensions a call counts in, with its value in each.
fn dimensions(c: &CallRecord) -> impl Iterator<Item = (Dimension, &str)> {
    let llm = matches!(c.door.as_str(), "openai" | "anthropic" | "responses");
    let service = matches!(c.door.as_str(), "service" | "prompt_api" | "mcp");
    [
        (Dimension::All, Some("")),
        (Dimension::Consumer, c.consumer.as_deref()),
        (Dimension::Team, c.team.as_deref()),
        (Dimension::Key, c.key_id.as_deref()),
        (Dimension::Model, c.model.as_deref().filter(|_| llm)),
        (Dimension::Provider, c.provider.as_deref()),
        (Dimension::Service, c.model.as_deref().filter(|_| service)),
        (Dimension::Status, None),
    ]
    .into_iter()
    .filter_map(|(d, v)| v.map(|v| (d, v)))
}

/// One rollup row's key: granularity, bucket start, dimension, value. Sorted, so
/// concurrent writers upsert rows in the same order (no deadlock on PostgreSQL).
pub(crate) type RowKey = (Granularity, i64, Dimension, String);

/// Sums a batch of calls into rollup rows of every granularity.
pub(crate) fn aggregate(calls: &[&CallRecord]) -> BTreeMap<RowKey, Rollup> {
    // Minutes first, keyed by borrowed values (no allocation per call), then hours and
    // days from the minutes.
    let mut minutes: HashMap<(i64, Dimension, &str), Rollup> = HashMap::new();
    let mut statuses: HashMap<(i64, u16), Rollup> = HashMap::new();
    for c in calls {
        let minute = Granularity::Minute.floor(c.at.timestamp_millis());
        let one = Rollup::of_call(c);
        for (d, v) in dimensions(c) {
            minutes.entry((minute, d, v)).or_default().merge(&one);
        }
        statuses.entry((minute, c.status)).or_default().merge(&one);
    }
    let mut out: BTreeMap<RowKey, Rollup> = BTreeMap::new();
    for ((minute, d, v), r) in minutes {
        for g in Granularity::ALL {
            out.entry((g, g.floor(minute), d, text(v)))
                .or_default()
                .merge(&r);
        }
    }
    for ((minute, status), r) in statuses {
        for g in Granularity::ALL {
            out.entry((g, g.floor(minute), Dimension::Status, status.to_string()))
                .or_default()
                .merge(&r);
        }
    }
    out
}

/// Rows of the large fixed upsert.
const ROLLUPS_PER_STATEMENT: usize = 32;

/// A rollup row's columns, in [`rollup_cells`] order.
pub(crate) static ROLLUP_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    let mut columns = vec!["bucket".to_string(), "dim".to_string(), "value".to_string()];
    columns.extend(VALUE_COLUMNS.iter().cloned());
    columns.extend(KEPT_PERCENTILES.iter().map(|k| k.column.to_string()));
    columns.join(", ")
});

/// Columns per rollup row: bucket, dim, value, the value columns, the kept
/// percentiles.
const ROLLUP_COLUMN_COUNT: usize = 3 + COUNTER_COLUMNS.len() + 2 * HISTOGRAM_BUCKETS + 4;

/// The conflict clause that adds an incoming row to the stored one: every sum adds up,
/// every kept percentile is recomputed from the merged histogram.
pub(crate) fn upsert_conflict_clause(g: Granularity) -> String {
    let table = g.table();
    let set = VALUE_COLUMNS
        .iter()
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .chain(
            KEPT_PERCENTILES
                .iter()
                .map(|k| format!("{} = {}", k.column, k.merged_sql(table))),
        )
        .collect::<Vec<_>>()
        .join(", ");
    format!("ON CONFLICT (dim, bucket, value) DO UPDATE SET {set}")
}

fn upsert_sql(g: Granularity, rows: usize) -> String {
    multi_row_insert(
        g.table(),
        &ROLLUP_COLUMNS,
        ROLLUP_COLUMN_COUNT,
        rows,
        &upsert_conflict_clause(g),
    )
}

/// `[granularity] -> (many rows, one row)`.
static UPSERTS: LazyLock<[(Fixed, Fixed); 3]> = LazyLock::new(|| {
    Granularity::ALL.map(|g| {
        (
            Fixed::new(upsert_sql(g, ROLLUPS_PER_STATEMENT)),
            Fixed::new(upsert_sql(g, 1)),
        )
    })
});

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// A rollup row's values, in [`ROLLUP_COLUMNS`] order.
pub(crate) fn rollup_cells<'a>(key: &'a RowKey, r: &Rollup) -> Vec<Cell<'a>> {
    let mut cells = Vec::with_capacity(ROLLUP_COLUMN_COUNT);
    cells.extend([
        Cell::int(key.1),
        Cell::text(key.2.as_str()),
        Cell::text(&key.3),
    ]);
    cells.extend(r.counters().into_iter().map(Cell::int));
    cells.extend(r.latency.into_iter().map(Cell::int));
    cells.extend(r.ttft.into_iter().map(Cell::int));
    cells.extend(KEPT_PERCENTILES.iter().map(|k| Cell::Int(k.of(r))));
    cells
}

fn bind_rollup<'q>(mut q: AnyQuery<'q>, key: &RowKey, r: &Rollup) -> AnyQuery<'q> {
    for cell in rollup_cells(key, r) {
        q = cell.bind(q);
    }
    q
}

/// Adds the rollups of `calls` (the rows just inserted) on `conn`, inside the
/// inserting transaction.
pub(crate) async fn add_rollups_on(
    conn: &mut AnyConnection,
    calls: &[&CallRecord],
) -> Result<(), StoreError> {
    if calls.is_empty() {
        return Ok(());
    }
    let rows = aggregate(calls);
    for g in Granularity::ALL {
        let rows: Vec<(&RowKey, &Rollup)> = rows.iter().filter(|(k, _)| k.0 == g).collect();
        let Some((many, one)) = UPSERTS.get(g.index()) else {
            continue;
        };
        let (many, one) = (many.on(conn), one.on(conn));
        let mut chunks = rows.chunks_exact(ROLLUPS_PER_STATEMENT);
        for chunk in &mut chunks {
            let mut q = sqlx::query(many);
            for (k, r) in chunk {
                q = bind_rollup(q, k, r);
            }
            q.execute(&mut *conn).await?;
        }
        for (k, r) in chunks.remainder() {
            bind_rollup(sqlx::query(one), k, r)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Reading

/// Splits `[from, to)` (minute-aligned) into the fewest rollup ranges: whole days,
/// whole hours at the edges, then minutes.
pub(crate) fn tile(from: i64, to: i64) -> Vec<(Granularity, i64, i64)> {
    let mut out = Vec::new();
    tile_into(&mut out, Granularity::Day, from, to);
    out
}

fn tile_into(out: &mut Vec<(Granularity, i64, i64)>, g: Granularity, from: i64, to: i64) {
    if from >= to {
        return;
    }
    let finer = match g {
        Granularity::Day => Some(Granularity::Hour),
        Granularity::Hour => Some(Granularity::Minute),
        Granularity::Minute => None,
    };
    let Some(finer) = finer else {
        out.push((g, from, to));
        return;
    };
    let (lo, hi) = (g.ceil(from), g.floor(to));
    if lo < hi {
        tile_into(out, finer, from, lo);
        out.push((g, lo, hi));
        tile_into(out, finer, hi, to);
    } else {
        tile_into(out, finer, from, to);
    }
}

/// `SELECT value, SUM(col).. FROM table WHERE dim = $1 AND bucket >= $2 AND bucket < $3
/// [AND value = $4] GROUP BY value`. The casts: SUM over BIGINT is NUMERIC on
/// PostgreSQL, which the Any driver cannot decode.
fn sum_sql(g: Granularity, columns: Columns, one_value: bool) -> String {
    let sums = columns
        .names()
        .iter()
        .map(|c| format!("CAST(SUM({c}) AS BIGINT) AS {c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT value, {sums} FROM {} WHERE dim = $1 AND bucket >= $2 AND bucket < $3{} \
         GROUP BY value",
        g.table(),
        if one_value { " AND value = $4" } else { "" }
    )
}

/// Fixed sum statements by granularity, column set ([`EVERY_COLUMN`] or
/// [`COUNTERS_ONLY`]) and whether one dimension value is asked for.
static SUMS: LazyLock<HashMap<(Granularity, bool, bool), String>> = LazyLock::new(|| {
    let mut m = HashMap::new();
    for g in Granularity::ALL {
        for counters_only in [false, true] {
            let cols = if counters_only {
                COUNTERS_ONLY
            } else {
                EVERY_COLUMN
            };
            for one in [false, true] {
                m.insert((g, counters_only, one), sum_sql(g, cols, one));
            }
        }
    }
    m
});

/// The counters without the histograms (usage documents).
const COUNTERS_ONLY: Columns = Columns {
    counters: true,
    latency: false,
    ttft: false,
};

/// What one analytics value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    Requests,
    Errors,
    ErrorRate,
    TokensInput,
    TokensOutput,
    CostUsd,
    LatencyP50,
    LatencyP95,
    LatencyP99,
    TtftP50,
    /// The gateway's mean overhead ([`Rollup::overhead_ms`]).
    OverheadMs,
}

impl Metric {
    pub const ALL: [Metric; 11] = [
        Metric::Requests,
        Metric::Errors,
        Metric::ErrorRate,
        Metric::TokensInput,
        Metric::TokensOutput,
        Metric::CostUsd,
        Metric::LatencyP50,
        Metric::LatencyP95,
        Metric::LatencyP99,
        Metric::TtftP50,
        Metric::OverheadMs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Requests => "requests",
            Metric::Errors => "errors",
            Metric::ErrorRate => "error_rate",
            Metric::TokensInput => "tokens_input",
            Metric::TokensOutput => "tokens_output",
            Metric::CostUsd => "cost_usd",
            Metric::LatencyP50 => "latency_p50_ms",
            Metric::LatencyP95 => "latency_p95_ms",
            Metric::LatencyP99 => "latency_p99_ms",
            Metric::TtftP50 => "ttft_p50_ms",
            Metric::OverheadMs => "overhead_ms",
        }
    }

    pub fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The columns one series point is made of: one or two counters, or for a
    /// percentile the bucket index kept on the row ([`KeptPercentile`]).
    fn point_columns(self) -> &'static [&'static str] {
        match self {
            Metric::Requests => &["requests"],
            Metric::Errors => &["errors"],
            Metric::ErrorRate => &["requests", "errors"],
            Metric::TokensInput => &["input_tokens"],
            Metric::TokensOutput => &["output_tokens"],
            Metric::CostUsd => &["cost_micros"],
            Metric::LatencyP50 => &["lat_p50"],
            Metric::LatencyP95 => &["lat_p95"],
            Metric::LatencyP99 => &["lat_p99"],
            Metric::TtftP50 => &["ttft_p50"],
            Metric::OverheadMs => &["overhead_ms_sum", "overhead_calls"],
        }
    }

    /// The SQL text of one point: `bucket:value` (`bucket:requests:errors` for the
    /// error rate), integers only; a percentile without data is `-1`.
    fn point_sql(self) -> String {
        let mut sql = "CAST(bucket AS TEXT)".to_string();
        for c in self.point_columns() {
            sql.push_str(&format!(" || ':' || CAST(COALESCE({c}, -1) AS TEXT)"));
        }
        sql
    }

    /// A point's value from its packed integers ([`Metric::point_sql`] after the
    /// bucket): what [`Metric::value`] gives for that row's rollup.
    fn decode_point(self, v: &[i64]) -> Option<f64> {
        let first = v.first().copied().unwrap_or(0);
        match self {
            Metric::ErrorRate => Some(error_rate(first, v.get(1).copied().unwrap_or(0))),
            Metric::OverheadMs => mean(first, v.get(1).copied().unwrap_or(0)),
            Metric::CostUsd => Some(tollgate_core::money::micros_to_usd(first)),
            Metric::LatencyP50 | Metric::LatencyP95 | Metric::LatencyP99 | Metric::TtftP50 => {
                usize::try_from(first)
                    .ok()
                    .map(|i| bucket_value(i.min(HISTOGRAM_BUCKETS - 1)) as f64)
            }
            Metric::Requests | Metric::Errors | Metric::TokensInput | Metric::TokensOutput => {
                Some(first as f64)
            }
        }
    }

    /// Its value over `r`; None for a percentile without data.
    pub fn value(self, r: &Rollup) -> Option<f64> {
        match self {
            Metric::Requests => Some(r.requests as f64),
            Metric::Errors => Some(r.errors as f64),
            Metric::ErrorRate => Some(r.error_rate()),
            Metric::TokensInput => Some(r.input_tokens as f64),
            Metric::TokensOutput => Some(r.output_tokens as f64),
            Metric::CostUsd => Some(tollgate_core::money::micros_to_usd(r.cost_micros)),
            Metric::LatencyP50 => r.latency_percentile(50).map(|v| v as f64),
            Metric::LatencyP95 => r.latency_percentile(95).map(|v| v as f64),
            Metric::LatencyP99 => r.latency_percentile(99).map(|v| v as f64),
            Metric::TtftP50 => r.ttft_percentile(50).map(|v| v as f64),
            Metric::OverheadMs => r.overhead_ms(),
        }
    }
}

/// Most buckets one time series may have (a minute series over about a week).
pub const MAX_SERIES_POINTS: i64 = 10_080;

/// One series of [`Store::timeseries`]: its dimension value (`all` without one) and
/// `(bucket start, metric value)` points, oldest first; buckets without calls are
/// absent, and a percentile of a bucket without data (TTFT without streams) is None.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub key: String,
    pub points: Vec<Point>,
}

/// One row per dimension value with its whole series packed into one text column
/// (`bucket:value,...` in any order): a by-consumer minute series over a day is
/// 72,000 points, and the Any driver's cost is per row (about 4 µs), not per byte,
/// so 50 rows instead of 72,000 is what keeps the query fast.
fn series_sql(g: Granularity, metric: Metric, backend: Backend) -> String {
    let aggregate = match backend {
        Backend::Sqlite => "group_concat",
        Backend::Postgres => "string_agg",
    };
    format!(
        "SELECT value, {aggregate}({}, ',') FROM {} \
         WHERE dim = $1 AND bucket >= $2 AND bucket < $3 GROUP BY value",
        metric.point_sql(),
        g.table()
    )
}

/// A series statement's key: granularity, metric, engine.
type SeriesKey = (Granularity, Metric, Backend);

static SERIES: LazyLock<HashMap<SeriesKey, String>> = LazyLock::new(|| {
    let mut m = HashMap::new();
    for g in Granularity::ALL {
        for metric in Metric::ALL {
            for backend in [Backend::Sqlite, Backend::Postgres] {
                m.insert((g, metric, backend), series_sql(g, metric, backend));
            }
        }
    }
    m
});

/// Every time-series statement of `backend` (a test checks PostgreSQL's are
/// index-only scans: migration 0012).
#[cfg(feature = "testing")]
pub(crate) fn series_statements(backend: Backend) -> Vec<&'static str> {
    SERIES
        .iter()
        .filter(|((_, _, b), _)| *b == backend)
        .map(|(_, sql)| sql.as_str())
        .collect()
}

/// A series point: bucket start and value.
pub type Point = (DateTime<Utc>, Option<f64>);

/// Parses a packed series ([`series_sql`]) into points, oldest first.
fn unpack_series(metric: Metric, packed: &str) -> Result<Vec<Point>, StoreError> {
    let mut points = Vec::new();
    let mut values: Vec<i64> = Vec::with_capacity(2);
    for point in packed.split(',').filter(|p| !p.is_empty()) {
        let mut parts = point.split(':');
        let bucket = parse_packed(parts.next())?;
        values.clear();
        for part in parts {
            values.push(parse_packed(Some(part))?);
        }
        points.push((bucket, metric.decode_point(&values)));
    }
    points.sort_unstable_by_key(|(bucket, _)| *bucket);
    points
        .into_iter()
        .map(|(bucket, v)| Ok((from_ms(bucket)?, v)))
        .collect()
}

fn parse_packed(part: Option<&str>) -> Result<i64, StoreError> {
    part.and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| StoreError::InvalidInput("malformed packed series".to_string()))
}

fn sql_of<K: std::hash::Hash + Eq>(
    map: &'static HashMap<K, String>,
    k: &K,
) -> Result<&'static str, StoreError> {
    map.get(k)
        .map(String::as_str)
        .ok_or_else(|| StoreError::InvalidInput("no such rollup query".to_string()))
}

fn key_of(d: Dimension, value: String) -> String {
    if d == Dimension::All {
        "all".to_string()
    } else {
        value
    }
}

impl Store {
    /// `metric` of `by` (or of everything) per `interval` bucket, for buckets starting
    /// in `[from, to)` (`from` rounded down to the interval; a range of more than
    /// [`MAX_SERIES_POINTS`] buckets keeps its last ones): each point is
    /// [`Metric::value`] of one rollup row, computed from the few columns it needs.
    pub async fn timeseries(
        &self,
        metric: Metric,
        by: Dimension,
        interval: Granularity,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Series>, StoreError> {
        let from = interval.floor(from.timestamp_millis());
        let to = to.timestamp_millis();
        if to <= from {
            return Ok(Vec::new());
        }
        // At most MAX_SERIES_POINTS buckets: a longer range is cut at its start.
        let from = from.max(
            interval.floor(to.saturating_sub(1)) - (MAX_SERIES_POINTS - 1) * interval.width_ms(),
        );
        let rows = sqlx::query(sql_of(&SERIES, &(interval, metric, self.backend))?)
            .bind(by.as_str())
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let value: String = row.try_get(0)?;
            let packed: Option<String> = row.try_get(1)?;
            out.push(Series {
                key: key_of(by, value),
                points: unpack_series(metric, packed.as_deref().unwrap_or(""))?,
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// The rollups of `by` (or everything) over `[from, to)`, `from` rounded down and
    /// `to` up to the minute (so `to` = now includes the current minute), one per
    /// dimension value, read from the coarsest rollups that tile the
    /// range exactly (minute rows at ragged edges, which expire with the raw calls).
    pub async fn totals_by(
        &self,
        by: Dimension,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, Rollup)>, StoreError> {
        let from = Granularity::Minute.floor(from.timestamp_millis());
        let to = Granularity::Minute.ceil(to.timestamp_millis());
        let mut merged: BTreeMap<String, Rollup> = BTreeMap::new();
        for (g, lo, hi) in tile(from, to) {
            let rows = sqlx::query(sql_of(&SUMS, &(g, false, false))?)
                .bind(by.as_str())
                .bind(lo)
                .bind(hi)
                .fetch_all(&self.pool)
                .await?;
            for row in &rows {
                let value: String = row.try_get(0)?;
                let r = Rollup::decode(row, EVERY_COLUMN, 1)?;
                merged.entry(value).or_default().merge(&r);
            }
        }
        Ok(merged
            .into_iter()
            .map(|(v, r)| (key_of(by, v), r))
            .collect())
    }

    /// The calls of `scope` at or after `since`, added up, exactly: day rollups for
    /// whole days, hour rollups for the rest of the first day, minute rollups for the
    /// rest of the first hour, and the raw calls of the first, partial minute.
    pub async fn usage_since(
        &self,
        scope: &UsageScope,
        since: DateTime<Utc>,
    ) -> Result<UsageTotals, StoreError> {
        let (head_sql, dim, name) = match scope {
            UsageScope::Consumer(name) => (HEAD_CONSUMER, Dimension::Consumer, name),
            UsageScope::Team(name) => (HEAD_TEAM, Dimension::Team, name),
            UsageScope::Key(id) => (HEAD_KEY, Dimension::Key, id),
        };
        let since = since.timestamp_millis();
        let head_end = Granularity::Minute.ceil(since);
        let mut total = Rollup::default();
        let mut conn = self.pool.acquire().await?;
        if head_end > since {
            let row = sqlx::query(head_sql)
                .bind(name.as_str())
                .bind(since)
                .bind(head_end)
                .fetch_one(&mut *conn)
                .await?;
            total.merge(&Rollup::decode(&row, COUNTERS_ONLY, 0)?);
        }
        // Far enough ahead for any record, and day-aligned.
        let end = Granularity::Day.floor(i64::MAX / 4);
        for (g, lo, hi) in tile(head_end, end) {
            let rows = sqlx::query(sql_of(&SUMS, &(g, true, true))?)
                .bind(dim.as_str())
                .bind(lo)
                .bind(hi)
                .bind(name.as_str())
                .fetch_all(&mut *conn)
                .await?;
            for row in &rows {
                total.merge(&Rollup::decode(row, COUNTERS_ONLY, 1)?);
            }
        }
        let u = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(UsageTotals {
            requests: u(total.requests),
            input_tokens: u(total.input_tokens)
                + u(total.cache_read_tokens)
                + u(total.cache_write_tokens),
            output_tokens: u(total.output_tokens),
            cache_read_tokens: u(total.cache_read_tokens),
            cache_write_tokens: u(total.cache_write_tokens),
            reasoning_tokens: u(total.reasoning_tokens),
            cost_micros: total.cost_micros,
        })
    }
}

/// The counters of a scope's raw calls in `[$2, $3)`, named like the rollup columns.
macro_rules! head_sql {
    ($column:literal) => {
        concat!(
            "SELECT COUNT(*) AS requests, \
             CAST(COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) AS BIGINT) AS errors, \
             CAST(COALESCE(SUM(CASE WHEN status >= 400 AND status < 500 THEN 1 ELSE 0 END), 0) AS BIGINT) AS client_errors, \
             CAST(COALESCE(SUM(CASE WHEN status >= 500 THEN 1 ELSE 0 END), 0) AS BIGINT) AS server_errors, \
             CAST(COALESCE(SUM(CASE WHEN status = 401 THEN 1 ELSE 0 END), 0) AS BIGINT) AS unauthorized, \
             CAST(COALESCE(SUM(CASE WHEN status = 402 THEN 1 ELSE 0 END), 0) AS BIGINT) AS budget_refused, \
             CAST(COALESCE(SUM(CASE WHEN status = 429 THEN 1 ELSE 0 END), 0) AS BIGINT) AS rate_limited, \
             CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
             CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
             CAST(COALESCE(SUM(cache_read_tokens), 0) AS BIGINT) AS cache_read_tokens, \
             CAST(COALESCE(SUM(cache_write_tokens), 0) AS BIGINT) AS cache_write_tokens, \
             CAST(COALESCE(SUM(reasoning_tokens), 0) AS BIGINT) AS reasoning_tokens, \
             CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost_micros, \
             CAST(COALESCE(SUM(CASE WHEN ttft_ms IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS ttft_count, \
             CAST(COALESCE(SUM(CASE WHEN stream = 0 AND upstream_latency_ms IS NOT NULL \
                 AND latency_ms > upstream_latency_ms THEN latency_ms - upstream_latency_ms \
                 ELSE 0 END), 0) AS BIGINT) AS overhead_ms_sum, \
             CAST(COALESCE(SUM(CASE WHEN stream = 0 AND upstream_latency_ms IS NOT NULL \
                 THEN 1 ELSE 0 END), 0) AS BIGINT) AS overhead_calls \
             FROM calls WHERE ",
            $column,
            " = $1 AND at >= $2 AND at < $3"
        )
    };
}

const HEAD_CONSUMER: &str = head_sql!("consumer");
const HEAD_TEAM: &str = head_sql!("team");
const HEAD_KEY: &str = head_sql!("key_id");

// ---------------------------------------------------------------------------------
// Retention

/// How long calls and rollups are kept (`storage.retention`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Raw calls and minute rollups.
    pub calls_days: u32,
    /// Hour and day rollups.
    pub rollups_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            calls_days: 30,
            rollups_days: 400,
        }
    }
}

/// What one [`Store::expire`] pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expired {
    pub calls: u64,
    pub minute_rows: u64,
    pub hour_rows: u64,
    pub day_rows: u64,
}

/// Rows per DELETE: each is a short transaction, so the journal's writes interleave.
pub const EXPIRE_CHUNK: i64 = 5_000;

const EXPIRE_CALLS: &str = "DELETE FROM calls WHERE request_id IN \
     (SELECT request_id FROM calls WHERE at < $1 ORDER BY at LIMIT $2)";

static EXPIRE_ROLLUPS: LazyLock<[String; 3]> = LazyLock::new(|| {
    Granularity::ALL.map(|g| {
        let t = g.table();
        format!(
            "DELETE FROM {t} WHERE (dim, bucket, value) IN \
             (SELECT dim, bucket, value FROM {t} WHERE dim = $1 AND bucket < $2 LIMIT $3)"
        )
    })
});

fn days_ms(days: u32) -> i64 {
    i64::from(days) * DAY_MS
}

impl Store {
    /// One retention pass: deletes the calls older than `calls_days` and the rollups
    /// that ended before their horizon (minute rows with the calls, hour and day rows
    /// after `rollups_days`), [`EXPIRE_CHUNK`] rows per statement.
    pub async fn expire(
        &self,
        now: DateTime<Utc>,
        retention: Retention,
    ) -> Result<Expired, StoreError> {
        let now = now.timestamp_millis();
        let calls_cutoff = now.saturating_sub(days_ms(retention.calls_days));
        let rollups_cutoff = now.saturating_sub(days_ms(retention.rollups_days));
        let mut out = Expired::default();
        loop {
            let n = sqlx::query(EXPIRE_CALLS)
                .bind(calls_cutoff)
                .bind(EXPIRE_CHUNK)
                .execute(&self.pool)
                .await?
                .rows_affected();
            out.calls += n;
            if n < EXPIRE_CHUNK as u64 {
                break;
            }
            tokio::task::yield_now().await;
        }
        for g in Granularity::ALL {
            let cutoff = match g {
                Granularity::Minute => calls_cutoff,
                _ => rollups_cutoff,
            };
            // A bucket goes once all of it is past the cutoff.
            let before = g.floor(cutoff).saturating_sub(g.width_ms()) + 1;
            let sql = EXPIRE_ROLLUPS
                .get(g.index())
                .ok_or_else(|| StoreError::InvalidInput("no such rollup table".into()))?;
            for d in Dimension::ALL {
                loop {
                    let n = sqlx::query(sql.as_str())
                        .bind(d.as_str())
                        .bind(before)
                        .bind(EXPIRE_CHUNK)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                    match g {
                        Granularity::Minute => out.minute_rows += n,
                        Granularity::Hour => out.hour_rows += n,
                        Granularity::Day => out.day_rows += n,
                    }
                    if n < EXPIRE_CHUNK as u64 {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_the_range_once() {
        let day = DAY_MS;
        let from = 3 * day + 5 * HOUR_MS + 7 * MINUTE_MS;
        let to = 9 * day + 2 * HOUR_MS + 11 * MINUTE_MS;
        let t = tile(from, to);
        let mut at = from;
        for (g, lo, hi) in &t {
            assert_eq!(*lo, at);
            assert_eq!(lo % g.width_ms(), 0);
            assert_eq!(hi % g.width_ms(), 0);
            at = *hi;
        }
        assert_eq!(at, to);
        assert_eq!(t.len(), 5);
        assert!(tile(from, from).is_empty());
        assert_eq!(
            tile(MINUTE_MS, 3 * MINUTE_MS),
            vec![(Granularity::Minute, MINUTE_MS, 3 * MINUTE_MS)]
        );
    }

    #[test]
    fn histogram_buckets_and_percentiles() {
        assert_eq!(histogram_bucket(0), 0);
        assert_eq!(histogram_bucket(1), 0);
        assert_eq!(histogram_bucket(2), 1);
        assert_eq!(histogram_bucket(3), 2);
        assert_eq!(histogram_bucket(120_000), 25);
        assert_eq!(histogram_bucket(u64::MAX), 26);
        let mut h = [0i64; HISTOGRAM_BUCKETS];
        h[histogram_bucket(80)] = 90;
        h[histogram_bucket(900)] = 10;
        assert_eq!(percentile(&h, 50), Some(100));
        assert_eq!(percentile(&h, 90), Some(100));
        assert_eq!(percentile(&h, 95), Some(1000));
        assert_eq!(percentile(&[0; HISTOGRAM_BUCKETS], 50), None);
        // Exact ranks where a float product would round: 95 % of 20 is 19.
        let mut h = [0i64; HISTOGRAM_BUCKETS];
        h[0] = 19;
        h[5] = 1;
        assert_eq!(percentile(&h, 95), Some(bucket_value(0)));
        assert_eq!(nearest_rank(1, 1), 1);
        assert_eq!(nearest_rank(200, 99), 198);
    }
}
