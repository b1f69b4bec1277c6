//! `/admin/v1/calls`: the call log (PRODUCT.md, "Call records, analytics and
//! explain"): search with filters and a keyset cursor, one record, and exports
//! (NDJSON, CSV) streamed a page at a time, so memory stays flat however many calls
//! match.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::header;
use serde::{Deserialize, Serialize};
use tollgate_core::money::micros_to_usd;
use tollgate_store::{CallAttempt, CallFilter, CallPager, CallRecord, StoreError};
use utoipa::{IntoParams, ToSchema};

use crate::error::AdminError;
use crate::error::responses::{BadRequest, NotFound};
use crate::state::AdminState;

/// Token counts of a call.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallTokens {
    /// Uncached input tokens.
    pub input: u64,
    /// Output tokens, reasoning included.
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    /// The part of `output` spent reasoning.
    pub reasoning: u64,
}

/// One upstream attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallAttemptView {
    pub provider: String,
    pub target_model: String,
    /// The upstream's HTTP status, if it answered.
    pub status: Option<u16>,
    pub error_code: Option<String>,
    /// Why it failed: `rejected`, `key_dead`, `throttled`, `timeout`, `transient`,
    /// `stream_broken`; null when it succeeded.
    pub reason: Option<String>,
    pub latency_ms: u64,
}

/// A call record, in PRODUCT.md's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallView {
    pub request_id: String,
    pub at: DateTime<Utc>,
    /// Null for a request refused before a consumer was known (a 401).
    pub consumer: Option<String>,
    pub team: Option<String>,
    /// The key's id, never the key.
    pub key_id: Option<String>,
    /// `openai`, `anthropic`, `responses`, `service`, `prompt_api` or `mcp`.
    pub door: String,
    /// The model as asked, or the service / prompt-API name; null when the body could
    /// not be parsed.
    pub model: Option<String>,
    pub provider: Option<String>,
    pub target_model: Option<String>,
    pub attempts: Vec<CallAttemptView>,
    /// The HTTP status the client got.
    pub status: u16,
    /// Null on success.
    pub error_code: Option<String>,
    pub latency_ms: u64,
    pub upstream_latency_ms: Option<u64>,
    /// Time to the first token (streams).
    pub ttft_ms: Option<u64>,
    pub tokens: CallTokens,
    pub cost_usd: f64,
    /// `hit`, `miss`, `bypass`, or null.
    pub cache: Option<String>,
    pub stream: bool,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The request body, when bodies are logged (`log_bodies`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    /// The response body, likewise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
}

impl From<CallAttempt> for CallAttemptView {
    fn from(a: CallAttempt) -> Self {
        CallAttemptView {
            provider: a.provider,
            target_model: a.target_model,
            status: a.status,
            error_code: a.error_code,
            reason: a.reason,
            latency_ms: a.latency_ms,
        }
    }
}

impl From<CallRecord> for CallView {
    fn from(c: CallRecord) -> Self {
        CallView {
            request_id: c.request_id,
            at: c.at,
            consumer: c.consumer,
            team: c.team,
            key_id: c.key_id,
            door: c.door,
            model: c.model,
            provider: c.provider,
            target_model: c.target_model,
            attempts: c.attempts.into_iter().map(Into::into).collect(),
            status: c.status,
            error_code: c.error_code,
            latency_ms: c.latency_ms,
            upstream_latency_ms: c.upstream_latency_ms,
            ttft_ms: c.ttft_ms,
            tokens: CallTokens {
                input: c.input_tokens,
                output: c.output_tokens,
                cache_read: c.cache_read_tokens,
                cache_write: c.cache_write_tokens,
                reasoning: c.reasoning_tokens,
            },
            cost_usd: micros_to_usd(c.cost_micros),
            cache: c.cache,
            stream: c.stream,
            client_ip: c.client_ip,
            user_agent: c.user_agent,
            request_body: c.request_body,
            response_body: c.response_body,
        }
    }
}

/// A page of the call log.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallList {
    /// Newest first.
    pub data: Vec<CallView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// The call log's filters (documentation of the query string; parsed from
/// [`RawCallQuery`] so that a bad value is a 400 in the error envelope).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only
pub struct CallFilterParams {
    /// Calls at or after this instant (RFC 3339).
    #[param(format = DateTime)]
    from: Option<String>,
    /// Calls strictly before this instant (RFC 3339).
    #[param(format = DateTime)]
    to: Option<String>,
    consumer: Option<String>,
    team: Option<String>,
    /// The model as asked (or service / prompt-API name).
    model: Option<String>,
    provider: Option<String>,
    /// The HTTP status the client got.
    #[param(minimum = 100, maximum = 599)]
    status: Option<u16>,
    error_code: Option<String>,
}

/// Paging of the call log.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only
pub struct CallPageParams {
    /// Calls per page (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page (`AT_MS.REQUEST_ID`: the page starts
    /// after that position).
    #[param(pattern = r"^[0-9]{1,15}\..*$")]
    cursor: Option<String>,
}

/// The export's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Ndjson,
    Csv,
}

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only
pub struct ExportParams {
    /// `ndjson` (one record per line, default) or `csv` (a header line, then one row
    /// per record; attempts as JSON text).
    #[param(inline)]
    format: Option<ExportFormat>,
}

/// The query string as text: every value is checked here, so that a bad one is a 400
/// naming it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawCallQuery {
    from: Option<String>,
    to: Option<String>,
    consumer: Option<String>,
    team: Option<String>,
    model: Option<String>,
    provider: Option<String>,
    status: Option<String>,
    error_code: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
    format: Option<String>,
}

fn invalid(param: &str, message: impl Into<String>) -> AdminError {
    AdminError::Invalid {
        message: message.into(),
        param: Some(param.to_string()),
    }
}

/// A query string that does not parse at all (a repeated parameter, bad encoding).
pub(crate) fn bad_query(e: QueryRejection) -> AdminError {
    AdminError::invalid(format!("Invalid query string: {}", e.body_text()))
}

/// `from` / `to`: RFC 3339.
pub(crate) fn parse_time(
    param: &str,
    v: Option<&str>,
) -> Result<Option<DateTime<Utc>>, AdminError> {
    v.map(|s| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| invalid(param, format!("{param}: expected an RFC 3339 date-time")))
    })
    .transpose()
}

/// A store error about the request's own values is the caller's (400).
pub(crate) fn store_error(e: StoreError, param: &str) -> AdminError {
    match e {
        StoreError::InvalidInput(m) => invalid(param, m),
        other => AdminError::Store(other),
    }
}

fn filter_of(q: &RawCallQuery) -> Result<CallFilter, AdminError> {
    let status = q
        .status
        .as_deref()
        .map(|s| {
            s.parse::<u16>()
                .ok()
                .filter(|v| (100..=599).contains(v))
                .ok_or_else(|| invalid("status", "status: expected an HTTP status from 100 to 599"))
        })
        .transpose()?;
    Ok(CallFilter {
        from: parse_time("from", q.from.as_deref())?,
        to: parse_time("to", q.to.as_deref())?,
        consumer: q.consumer.clone(),
        team: q.team.clone(),
        model: q.model.clone(),
        provider: q.provider.clone(),
        status,
        error_code: q.error_code.clone(),
    })
}

/// Searches the call log, newest first.
#[utoipa::path(get, path = "/admin/v1/calls", tag = "calls",
    params(CallFilterParams, CallPageParams),
    responses(
        (status = 200, description = "A page of call records, newest first", body = CallList, links(
            ("get" = (operation_id = "get_call", parameters(("request_id" = "$response.body#/data/0/request_id")))),
            ("explain" = (operation_id = "explain_call", parameters(("request_id" = "$response.body#/data/0/request_id"))))
        )),
        (status = 400, response = BadRequest),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_calls(
    State(st): State<AdminState>,
    query: Result<Query<RawCallQuery>, QueryRejection>,
) -> Result<Json<CallList>, AdminError> {
    let Query(q) = query.map_err(bad_query)?;
    let filter = filter_of(&q)?;
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|v| (1..=1000).contains(v))
            .ok_or_else(|| invalid("limit", "limit: expected 1 to 1000"))?,
    };
    let page = st
        .store
        .list_calls(&filter, limit, q.cursor.as_deref())
        .await
        .map_err(|e| store_error(e, "cursor"))?;
    Ok(Json(CallList {
        data: page.calls.into_iter().map(CallView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One call record.
#[utoipa::path(get, path = "/admin/v1/calls/{request_id}", tag = "calls",
    params(("request_id" = String, Path, description = "The request's `x-request-id`")),
    responses(
        (status = 200, description = "The call record", body = CallView, links(
            ("explain" = (operation_id = "explain_call", parameters(("request_id" = "$response.body#/request_id"))))
        )),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_call(
    State(st): State<AdminState>,
    Path(request_id): Path<String>,
) -> Result<Json<CallView>, AdminError> {
    match st.store.get_call(&request_id).await? {
        Some(c) => Ok(Json(c.into())),
        None => Err(AdminError::NotFound(format!(
            "No call with request id `{request_id}`"
        ))),
    }
}

/// Why a request got its answer: its status and the decisions recorded on the way
/// (the document of `tollgate explain --json`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Explanation {
    pub request_id: String,
    pub status: u16,
    /// Null on success.
    pub error_code: Option<String>,
    /// The steps in order. Each has `step` (`auth`, `limit`, `budget`, `credits`,
    /// `cache`, `attempt`, `settle`) and `outcome`; `limit`, `budget` and `credits`
    /// steps name their `scope`, the `configured` value and the `value` at decision
    /// time; `attempt` steps the provider, target model, status and why they failed;
    /// `settle` the reserved and charged USD.
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<serde_json::Value>,
}

/// Why a request got its answer, from its call record's steps alone.
#[utoipa::path(get, path = "/admin/v1/calls/{request_id}/explain", tag = "calls",
    params(("request_id" = String, Path, description = "The request's `x-request-id`")),
    responses(
        (status = 200, description = "The explain trail", body = Explanation),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = [])))]
pub(crate) async fn explain_call(
    State(st): State<AdminState>,
    Path(request_id): Path<String>,
) -> Result<Json<serde_json::Value>, AdminError> {
    // The document comes from the one place that builds it (the CLI prints the same);
    // a unit test holds it to the `Explanation` schema.
    match st.store.get_call(&request_id).await? {
        Some(c) => Ok(Json(tollgate_store::explain_document(&c))),
        None => Err(AdminError::NotFound(format!(
            "No call with request id `{request_id}`"
        ))),
    }
}

/// Calls per page of an export: bounded memory, whatever the total.
const EXPORT_PAGE: u32 = 500;

/// The CSV columns, in order.
pub const CSV_HEADER: &str = "request_id,at,consumer,team,key_id,door,model,provider,\
target_model,status,error_code,latency_ms,upstream_latency_ms,ttft_ms,tokens_input,\
tokens_output,tokens_cache_read,tokens_cache_write,tokens_reasoning,cost_usd,cache,stream,\
client_ip,user_agent,attempts\n";

/// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
fn csv_field(out: &mut String, v: &str) {
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

fn csv_row(c: &CallView) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let num = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
    let attempts = serde_json::to_string(&c.attempts).unwrap_or_else(|_| "[]".into());
    let fields: [String; 25] = [
        c.request_id.clone(),
        c.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        opt(&c.consumer),
        opt(&c.team),
        opt(&c.key_id),
        c.door.clone(),
        opt(&c.model),
        opt(&c.provider),
        opt(&c.target_model),
        c.status.to_string(),
        opt(&c.error_code),
        c.latency_ms.to_string(),
        num(c.upstream_latency_ms),
        num(c.ttft_ms),
        c.tokens.input.to_string(),
        c.tokens.output.to_string(),
        c.tokens.cache_read.to_string(),
        c.tokens.cache_write.to_string(),
        c.tokens.reasoning.to_string(),
        c.cost_usd.to_string(),
        opt(&c.cache),
        c.stream.to_string(),
        opt(&c.client_ip),
        opt(&c.user_agent),
        attempts,
    ];
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(&mut out, f);
    }
    out.push('\n');
    out
}

fn render(format: ExportFormat, calls: Vec<CallRecord>) -> Bytes {
    let mut out = String::new();
    for c in calls {
        let view = CallView::from(c);
        match format {
            ExportFormat::Ndjson => {
                if let Ok(line) = serde_json::to_string(&view) {
                    out.push_str(&line);
                    out.push('\n');
                }
            }
            ExportFormat::Csv => out.push_str(&csv_row(&view)),
        }
    }
    Bytes::from(out)
}

/// Exports every matching call, newest first, streamed a page at a time.
#[utoipa::path(get, path = "/admin/v1/calls/export", tag = "calls",
    params(ExportParams, CallFilterParams),
    responses(
        (status = 200, description = "NDJSON (`application/x-ndjson`, one record per line) or CSV (`text/csv`, header first)",
            content((String = "application/x-ndjson"), (String = "text/csv"))),
        (status = 400, response = BadRequest),
    ),
    security(("bearer" = [])))]
pub(crate) async fn export_calls(
    State(st): State<AdminState>,
    query: Result<Query<RawCallQuery>, QueryRejection>,
) -> Result<Response, AdminError> {
    let Query(q) = query.map_err(bad_query)?;
    let format = match q.format.as_deref() {
        None | Some("ndjson") => ExportFormat::Ndjson,
        Some("csv") => ExportFormat::Csv,
        Some(_) => return Err(invalid("format", "format: expected ndjson or csv")),
    };
    let filter = filter_of(&q)?;
    let pager = st.store.call_pager(filter, EXPORT_PAGE);
    let header = (format == ExportFormat::Csv).then(|| Bytes::from_static(CSV_HEADER.as_bytes()));
    let stream = futures::stream::unfold(
        (pager, header),
        move |(mut pager, header): (CallPager, Option<Bytes>)| async move {
            if let Some(h) = header {
                return Some((Ok(h), (pager, None)));
            }
            match pager.next_page().await {
                Ok(Some(calls)) => Some((Ok(render(format, calls)), (pager, None))),
                Ok(None) => None,
                Err(e) => {
                    // The status is sent already: cut the body, so the client sees an
                    // incomplete export rather than a complete-looking one.
                    tracing::error!(error = %e, "call export failed mid-stream");
                    Some((Err(std::io::Error::other(e.to_string())), (pager, None)))
                }
            }
        },
    );
    let (content_type, file) = match format {
        ExportFormat::Ndjson => ("application/x-ndjson", "calls.ndjson"),
        ExportFormat::Csv => ("text/csv; charset=utf-8", "calls.csv"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_cursor_pattern_is_the_stores() {
        use utoipa::OpenApi;
        let doc = serde_json::to_value(crate::openapi::AdminApi::openapi()).expect("json");
        let params = doc["paths"]["/admin/v1/calls"]["get"]["parameters"]
            .as_array()
            .expect("parameters");
        let cursor = params
            .iter()
            .find(|p| p["name"] == "cursor")
            .expect("cursor");
        assert_eq!(cursor["schema"]["pattern"], tollgate_store::CURSOR_PATTERN);
    }

    #[test]
    fn the_explain_document_has_the_documented_shape() {
        let record = CallRecord {
            request_id: "r".into(),
            status: 402,
            error_code: Some("budget_exceeded".into()),
            steps: serde_json::json!([{"step": "budget", "outcome": "refused"}]).into(),
            ..CallRecord::default()
        };
        let doc = tollgate_store::explain_document(&record);
        let typed: Explanation = serde_json::from_value(doc).expect("matches Explanation");
        assert_eq!((typed.status, typed.steps.len()), (402, 1));
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        let mut s = String::new();
        csv_field(&mut s, "plain");
        s.push(',');
        csv_field(&mut s, "a,\"b\"\nc");
        assert_eq!(s, "plain,\"a,\"\"b\"\"\nc\"");
        let row = csv_row(&CallView::from(CallRecord {
            request_id: "r1".into(),
            door: "openai".into(),
            status: 200,
            user_agent: Some("x, y".into()),
            ..CallRecord::default()
        }));
        assert_eq!(
            row.matches(',').count(),
            CSV_HEADER.matches(',').count() + 1
        );
        assert!(row.contains("\"x, y\""));
    }
}
