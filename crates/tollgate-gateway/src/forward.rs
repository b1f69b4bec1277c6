//! Forwarding to upstream targets, with failures classified before the next target
//! is tried.
//!
//! Order: the model's targets (weighted random order), then each fallback model's
//! targets. A provider's own rejection of the request (400/404/422) goes straight
//! back to the client: replaying it on every backend would only multiply cost. Any
//! other failure moves on; when all failed, the client gets 502/503/504 with the
//! most telling cause, never the upstream's raw body.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use rand::Rng;
use tollgate_core::money::{TokenPrice, format_usd};
use tollgate_core::snapshot::{Caller, Snapshot};
use tollgate_core::spec::{ModelSpec, ProviderSpec, TargetSpec, Timeouts};
use tollgate_core::{GatewayError, UpstreamCode};
use tollgate_providers::{Failure, SendError, chat_call, classify, native_format};
use tollgate_telemetry::names;

use crate::meter::Meter;
use crate::pipeline::DoorRequest;
use crate::state::GatewayState;
use crate::transcode;

/// Largest upstream error body read to find its message.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Largest non-stream upstream answer accepted.
const MAX_ANSWER_BODY: usize = 64 * 1024 * 1024;
/// Used for Anthropic's required `max_tokens` when neither request nor model set one.
const DEFAULT_MAX_OUTPUT_TOKENS: u32 = 4096;

/// One place to send the request.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub model: Arc<ModelSpec>,
    pub target: TargetSpec,
    pub provider: Arc<ProviderSpec>,
}

impl Candidate {
    fn timeouts(&self) -> Timeouts {
        self.target
            .timeouts
            .unwrap_or_default()
            .or(self.model.timeouts.unwrap_or_default())
    }
}

/// Targets of `model` in weighted random order, then its fallbacks' (each model once).
pub fn candidates(snapshot: &Snapshot, model: &Arc<ModelSpec>) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut queue = vec![model.clone()];
    queue.extend(
        model
            .fallbacks
            .iter()
            .filter_map(|f| snapshot.models.get(f).cloned()),
    );
    for m in queue {
        if !seen.insert(m.name.clone()) {
            continue;
        }
        for target in weighted_order(&m.targets) {
            if let Some(provider) = snapshot.providers.get(&target.provider) {
                out.push(Candidate {
                    model: m.clone(),
                    target: target.clone(),
                    provider: provider.clone(),
                });
            }
        }
    }
    out
}

/// Weighted sampling without replacement; weight-0 targets come last.
fn weighted_order(targets: &[TargetSpec]) -> Vec<&TargetSpec> {
    let mut pool: Vec<&TargetSpec> = targets.iter().collect();
    let mut out = Vec::with_capacity(pool.len());
    let mut rng = rand::rng();
    while !pool.is_empty() {
        let total: u64 = pool.iter().map(|t| u64::from(t.weight)).sum();
        let idx = if total == 0 {
            0
        } else {
            let mut pick = rng.random_range(0..total);
            pool.iter()
                .position(|t| {
                    let w = u64::from(t.weight);
                    if pick < w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .unwrap_or(0)
        };
        out.push(pool.remove(idx));
    }
    out
}

/// What went wrong with one attempt, kept to choose the final error.
struct Attempted {
    provider: String,
    failure: Failure,
}

pub async fn forward(
    st: &GatewayState,
    snapshot: &Snapshot,
    _caller: &Caller,
    model: &Arc<ModelSpec>,
    request: DoorRequest,
) -> Result<Response, GatewayError> {
    let candidates = candidates(snapshot, model);
    let total = model.timeouts.unwrap_or_default().total();
    let deadline = Instant::now() + total;
    let mut failures: Vec<Attempted> = Vec::new();

    for cand in candidates {
        let Some(native) = native_format(cand.provider.kind) else {
            failures.push(Attempted {
                provider: cand.provider.name.clone(),
                failure: Failure::Transient {
                    status: None,
                    message: format!(
                        "provider kind `{}` is not supported by this build",
                        cand.provider.kind
                    ),
                },
            });
            continue;
        };
        let now = Instant::now();
        if now >= deadline {
            failures.push(Attempted {
                provider: cand.provider.name.clone(),
                failure: Failure::Timeout {
                    message: "request deadline passed".into(),
                },
            });
            break;
        }
        let timeouts = cand.timeouts();
        let default_max = cand
            .model
            .max_output_tokens
            .unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS);
        let body = transcode::native_request(&request, native, &cand.target.model, default_max)?;
        let api_key = pick_key(&cand.provider);
        let call = chat_call(
            &cand.provider,
            api_key,
            &cand.target.model,
            request.is_stream(),
            body,
        );
        let first_byte = timeouts.first_byte().min(deadline - now);

        let started = Instant::now();
        let sent = st.client.send(&call, timeouts.connect(), first_byte).await;
        let elapsed = started.elapsed().as_secs_f64();
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                let failure = match e {
                    SendError::Timeout(_) => Failure::Timeout {
                        message: e.to_string(),
                    },
                    SendError::Connect(_) | SendError::Io(_) => Failure::Transient {
                        status: None,
                        message: e.to_string(),
                    },
                };
                record_upstream(&cand.provider.name, failure.cause(), elapsed);
                tracing::warn!(provider = %cand.provider.name, target = %cand.target.model, cause = failure.cause(), error = %e, "upstream attempt failed");
                failures.push(Attempted {
                    provider: cand.provider.name.clone(),
                    failure,
                });
                continue;
            }
        };
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            let headers = resp.headers().clone();
            let body = read_capped(resp, MAX_ERROR_BODY, deadline)
                .await
                .unwrap_or_default();
            let failure = classify(status, &headers, &body);
            record_upstream(&cand.provider.name, failure.cause(), elapsed);
            tracing::warn!(provider = %cand.provider.name, target = %cand.target.model, status, cause = failure.cause(), "upstream answered an error");
            if let Failure::RequestFault { status, message } = failure {
                return Err(GatewayError::UpstreamRejected { status, message });
            }
            failures.push(Attempted {
                provider: cand.provider.name.clone(),
                failure,
            });
            continue;
        }
        record_upstream(&cand.provider.name, "ok", elapsed);

        let meter = Meter::new(
            Arc::from(model.name.as_str()),
            cand.model.price.map(TokenPrice::from),
        );
        if request.is_stream() {
            let transcoder = transcode::stream_transcoder(&request, native, &model.name);
            let body = transcode::stream_body(
                resp,
                transcoder,
                request.door(),
                timeouts.idle(),
                deadline,
                meter,
            );
            let mut res = Response::new(body);
            let h = res.headers_mut();
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            h.insert(
                http::header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache"),
            );
            h.insert("x-accel-buffering", HeaderValue::from_static("no"));
            return Ok(res);
        }

        let raw = match read_capped(resp, MAX_ANSWER_BODY, deadline).await {
            Ok(b) => b,
            Err(failure) => {
                failures.push(Attempted {
                    provider: cand.provider.name.clone(),
                    failure,
                });
                continue;
            }
        };
        let (body, usage) = match transcode::door_response(&request, native, &raw) {
            Ok(v) => v,
            Err(message) => {
                tracing::warn!(provider = %cand.provider.name, %message, "upstream sent an invalid answer");
                failures.push(Attempted {
                    provider: cand.provider.name.clone(),
                    failure: Failure::Transient {
                        status: Some(status),
                        message,
                    },
                });
                continue;
            }
        };
        let mut meter = meter;
        let cost = match usage {
            Some(u) => {
                meter.observe(u);
                meter.record()
            }
            None => 0,
        };
        let mut res = Response::new(Body::from(body));
        let h = res.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(v) = HeaderValue::from_str(&format_usd(cost)) {
            h.insert("x-tollgate-cost-usd", v);
        }
        *res.status_mut() = StatusCode::OK;
        return Ok(res);
    }
    Err(final_error(&failures))
}

/// A key of the provider's pool (balanced at random); none for keyless servers.
fn pick_key(provider: &ProviderSpec) -> Option<&str> {
    match provider.api_keys.len() {
        0 => None,
        1 => provider.api_keys.first().map(String::as_str),
        n => provider
            .api_keys
            .get(rand::rng().random_range(0..n))
            .map(String::as_str),
    }
}

fn record_upstream(provider: &str, outcome: &'static str, secs: f64) {
    metrics::histogram!(names::UPSTREAM_DURATION_SECONDS, "provider" => provider.to_string(), "outcome" => outcome)
        .record(secs);
    if outcome != "ok" {
        metrics::counter!(names::UPSTREAM_FAILURES_TOTAL, "provider" => provider.to_string(), "cause" => outcome)
            .increment(1);
    }
}

/// Reads a whole upstream body, at most `cap` bytes, before `deadline`.
async fn read_capped(
    resp: reqwest::Response,
    cap: usize,
    deadline: Instant,
) -> Result<Bytes, Failure> {
    use futures::StreamExt;
    let mut stream = resp.bytes_stream();
    let mut buf = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left.max(Duration::from_millis(1)), stream.next()).await {
            Err(_) => {
                return Err(Failure::Timeout {
                    message: "upstream body did not arrive in time".into(),
                });
            }
            Ok(None) => return Ok(Bytes::from(buf)),
            Ok(Some(Err(e))) => {
                return Err(Failure::Transient {
                    status: None,
                    message: format!("upstream body broke: {e}"),
                });
            }
            Ok(Some(Ok(chunk))) => {
                if buf.len() + chunk.len() > cap {
                    return Err(Failure::Transient {
                        status: None,
                        message: "upstream answer too large".into(),
                    });
                }
                buf.extend_from_slice(&chunk);
            }
        }
    }
}

/// The most telling cause of total failure: unpaid when every target was unpaid or
/// dead, otherwise the last attempt's class.
fn final_error(failures: &[Attempted]) -> GatewayError {
    let Some(last) = failures.last() else {
        return GatewayError::Upstream {
            code: UpstreamCode::Unavailable,
            message: "No upstream target is configured for this model".into(),
        };
    };
    let all_dead = failures
        .iter()
        .all(|a| matches!(a.failure, Failure::KeyDead { .. }));
    let code = if all_dead {
        UpstreamCode::PaymentRequired
    } else {
        match failures
            .iter()
            .rev()
            .map(|a| &a.failure)
            .find(|f| !matches!(f, Failure::KeyDead { .. }))
        {
            Some(Failure::Timeout { .. }) => UpstreamCode::Timeout,
            Some(Failure::Throttled { .. }) => UpstreamCode::RateLimited,
            _ => UpstreamCode::Unavailable,
        }
    };
    let message = match code {
        UpstreamCode::PaymentRequired => {
            "Every upstream target refused the gateway's credentials; the operator has been told"
                .to_string()
        }
        UpstreamCode::RateLimited => "Every upstream target is rate limited; retry later".into(),
        UpstreamCode::Timeout => format!(
            "The upstream did not answer in time ({} attempt(s), last: {})",
            failures.len(),
            last.provider
        ),
        UpstreamCode::Unavailable => format!(
            "Every upstream target failed ({} attempt(s), last: {})",
            failures.len(),
            last.provider
        ),
    };
    GatewayError::Upstream { code, message }
}
