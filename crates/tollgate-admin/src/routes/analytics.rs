//! `/admin/v1/analytics`: time series and top-N over the rollups (never the raw
//! calls), so a dashboard query costs the same however many calls are stored. Counts,
//! tokens and cost are exact sums of the records; percentiles come from the merged
//! log-spaced histograms (within one bucket's width).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tollgate_core::money::micros_to_usd;
use tollgate_store::{Dimension, Granularity, Metric};
use utoipa::{IntoParams, ToSchema};

use super::calls::{bad_query, parse_time, store_error};
use crate::error::AdminError;
use crate::error::responses::BadRequest;
use crate::state::AdminState;

/// What to measure.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // documentation only
pub enum MetricParam {
    Requests,
    Errors,
    ErrorRate,
    TokensInput,
    TokensOutput,
    CostUsd,
    LatencyP50Ms,
    LatencyP95Ms,
    LatencyP99Ms,
    TtftP50Ms,
    /// The gateway's mean overhead in ms: latency minus the upstream's time to first
    /// byte, over non-streamed calls an upstream answered.
    OverheadMs,
}

/// What to break down by.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // documentation only
pub enum ByParam {
    Consumer,
    Team,
    Model,
    Provider,
    Service,
    Status,
}

/// Bucket width.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // documentation only
pub enum IntervalParam {
    Minute,
    Hour,
    Day,
}

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only
pub struct TimeseriesParams {
    /// The value of each point (default `requests`).
    #[param(inline)]
    metric: Option<MetricParam>,
    /// One series per value of this dimension; omitted: one series, key `all`.
    #[param(inline)]
    by: Option<ByParam>,
    /// Bucket width (default `hour`). At most 10,080 buckets are returned: a longer
    /// range keeps its last buckets.
    #[param(inline)]
    interval: Option<IntervalParam>,
    /// Buckets starting at or after this instant, rounded down to the interval
    /// (RFC 3339; default `to` minus 24 hours).
    #[param(format = DateTime)]
    from: Option<String>,
    /// Buckets starting before this instant (RFC 3339; default now).
    #[param(format = DateTime)]
    to: Option<String>,
}

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only
pub struct TopParams {
    /// One row per value of this dimension; omitted: one row, key `all`.
    #[param(inline)]
    by: Option<ByParam>,
    /// Rows are ordered by this, descending (default `requests`).
    #[param(inline)]
    metric: Option<MetricParam>,
    /// From this instant, rounded down to the minute (RFC 3339; default `to` minus 24
    /// hours).
    #[param(format = DateTime)]
    from: Option<String>,
    /// Until this instant, rounded up to the minute (RFC 3339; default now).
    #[param(format = DateTime)]
    to: Option<String>,
    /// At most this many rows (default 10).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawAnalyticsQuery {
    pub(crate) metric: Option<String>,
    pub(crate) by: Option<String>,
    pub(crate) interval: Option<String>,
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
    pub(crate) limit: Option<String>,
}

/// One point of a series.
#[derive(Debug, Serialize, ToSchema)]
pub struct Point {
    /// The bucket's start.
    pub t: DateTime<Utc>,
    /// Null for a percentile without data (e.g. TTFT in a bucket without streams).
    pub value: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesView {
    /// The dimension's value (`all` without `by`).
    pub key: String,
    /// Oldest first; buckets without calls are absent.
    pub points: Vec<Point>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Timeseries {
    /// `minute`, `hour` or `day`.
    pub interval: String,
    pub series: Vec<SeriesView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopRow {
    /// The dimension's value (`all` without `by`).
    pub key: String,
    pub requests: i64,
    /// Calls answered with status >= 400.
    pub errors: i64,
    /// errors / requests.
    pub error_rate: f64,
    pub tokens_input: i64,
    pub tokens_output: i64,
    pub cost_usd: f64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    /// The gateway's mean overhead in ms (see `overhead_ms`), null without a whole
    /// answer from an upstream.
    pub overhead_ms: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Top {
    pub rows: Vec<TopRow>,
}

fn invalid(param: &str, message: &str) -> AdminError {
    AdminError::Invalid {
        message: message.to_string(),
        param: Some(param.to_string()),
    }
}

fn metric_of(q: &RawAnalyticsQuery) -> Result<Metric, AdminError> {
    match q.metric.as_deref() {
        None => Ok(Metric::Requests),
        Some(m) => Metric::parse(m).ok_or_else(|| {
            invalid(
                "metric",
                "metric: expected requests, errors, error_rate, tokens_input, tokens_output, \
                 cost_usd, latency_p50_ms, latency_p95_ms, latency_p99_ms, ttft_p50_ms or \
                 overhead_ms",
            )
        }),
    }
}

fn by_of(q: &RawAnalyticsQuery) -> Result<Dimension, AdminError> {
    match q.by.as_deref() {
        None => Ok(Dimension::All),
        Some(b) => Dimension::parse(b)
            .filter(|d| !matches!(d, Dimension::All | Dimension::Key))
            .ok_or_else(|| {
                invalid(
                    "by",
                    "by: expected consumer, team, model, provider, service or status",
                )
            }),
    }
}

/// `from` and `to`, defaulting to the last 24 hours.
fn range_of(q: &RawAnalyticsQuery) -> Result<(DateTime<Utc>, DateTime<Utc>), AdminError> {
    let to = parse_time("to", q.to.as_deref())?.unwrap_or_else(Utc::now);
    let from = parse_time("from", q.from.as_deref())?
        .unwrap_or_else(|| to.checked_sub_signed(Duration::hours(24)).unwrap_or(to));
    Ok((from, to))
}

/// Requests (or another metric) per bucket, one series per dimension value.
#[utoipa::path(get, path = "/admin/v1/analytics/timeseries", tag = "analytics",
    params(TimeseriesParams),
    responses(
        (status = 200, description = "One series per dimension value", body = Timeseries),
        (status = 400, response = BadRequest),
    ),
    security(("bearer" = [])))]
pub(crate) async fn analytics_timeseries(
    State(st): State<AdminState>,
    query: Result<Query<RawAnalyticsQuery>, QueryRejection>,
) -> Result<Json<Timeseries>, AdminError> {
    let Query(q) = query.map_err(bad_query)?;
    let metric = metric_of(&q)?;
    let by = by_of(&q)?;
    let interval = match q.interval.as_deref() {
        None => Granularity::Hour,
        Some(i) => Granularity::parse(i)
            .ok_or_else(|| invalid("interval", "interval: expected minute, hour or day"))?,
    };
    let (from, to) = range_of(&q)?;
    let series = st
        .store
        .timeseries(metric, by, interval, from, to)
        .await
        .map_err(|e| store_error(e, "from"))?;
    Ok(Json(Timeseries {
        interval: interval.as_str().to_string(),
        series: series
            .into_iter()
            .map(|s| SeriesView {
                key: s.key,
                points: s
                    .points
                    .into_iter()
                    .map(|(t, value)| Point { t, value })
                    .collect(),
            })
            .collect(),
    }))
}

/// The dimension values with the highest metric over a range.
#[utoipa::path(get, path = "/admin/v1/analytics/top", tag = "analytics",
    params(TopParams),
    responses(
        (status = 200, description = "Rows ordered by the metric, descending", body = Top),
        (status = 400, response = BadRequest),
    ),
    security(("bearer" = [])))]
pub(crate) async fn analytics_top(
    State(st): State<AdminState>,
    query: Result<Query<RawAnalyticsQuery>, QueryRejection>,
) -> Result<Json<Top>, AdminError> {
    let Query(q) = query.map_err(bad_query)?;
    let metric = metric_of(&q)?;
    let by = by_of(&q)?;
    let limit = match q.limit.as_deref() {
        None => 10,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|v| (1..=1000).contains(v))
            .ok_or_else(|| invalid("limit", "limit: expected 1 to 1000"))?,
    };
    let (from, to) = range_of(&q)?;
    let totals = st
        .store
        .totals_by(by, from, to)
        .await
        .map_err(|e| store_error(e, "from"))?;
    let mut rows: Vec<(Option<f64>, TopRow)> = totals
        .into_iter()
        .map(|(key, r)| {
            let p = |percent: u32| r.latency_percentile(percent).map(|v| v as f64);
            (
                metric.value(&r),
                TopRow {
                    key,
                    requests: r.requests,
                    errors: r.errors,
                    error_rate: r.error_rate(),
                    tokens_input: r.input_tokens,
                    tokens_output: r.output_tokens,
                    cost_usd: micros_to_usd(r.cost_micros),
                    latency_p50_ms: p(50),
                    latency_p95_ms: p(95),
                    latency_p99_ms: p(99),
                    overhead_ms: r.overhead_ms(),
                },
            )
        })
        .collect();
    // Descending by the metric (rows without a value last), then by key.
    rows.sort_by(|(a, ra), (b, rb)| {
        b.unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.unwrap_or(f64::NEG_INFINITY))
            .then_with(|| ra.key.cmp(&rb.key))
    });
    rows.truncate(limit);
    Ok(Json(Top {
        rows: rows.into_iter().map(|(_, r)| r).collect(),
    }))
}
