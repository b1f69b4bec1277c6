//! Failover: sending one request to a model's targets until one answers.
//!
//! Order: the model's targets as its strategy ranks them (weighted or latency, open
//! circuit breakers last), each tried once, and retried up to `1 + retries.attempts`
//! tries in all with jittered backoff inside the request's deadline; then each
//! fallback model the same way.
//! Every failure is classified before anything else happens:
//! - 400/404/422: the request's own fault. It goes back to the client and is never
//!   replayed elsewhere (that would only multiply cost).
//! - 401/402/403: that provider key is dead or unpaid. It cools down for a long time,
//!   the operator gets one `provider_key.dead` alert, and the next key is tried at once.
//! - 429: that key cools down for the provider's Retry-After; the next key is tried.
//! - 5xx, resets, timeouts: the target's breaker counts a failure; retried after a
//!   backoff on the next target in the order.
//!
//! When everything failed the client gets 502/503/504 with the most telling cause,
//! never the upstream's body or credentials. This module knows nothing of chat or
//! embeddings: callers say how to build the call for a target ([`send_with_failover`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;
use tollgate_alerts::{AlertEvent, AlertKind};
use tollgate_core::snapshot::Snapshot;
use tollgate_core::spec::{ModelSpec, ProviderKind, ProviderSpec, TargetSpec, Timeouts};
use tollgate_core::{GatewayError, UpstreamCode};
use tollgate_providers::{Failure, SendError, UpstreamCall, classify};
use tollgate_routing::{KeyOutcome, Outcome, RetryPolicy, TargetInfo, target_id};
use tollgate_telemetry::names;
use tracing::Instrument;

use crate::admission::{self, Plan};
use crate::lifecycle::Call;
use crate::state::GatewayState;
use tollgate_store::CallAttempt;

/// Largest upstream error body read to find its message.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// One place to send the request.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The model whose target this is (the requested one or a fallback).
    pub model: Arc<ModelSpec>,
    pub target: TargetSpec,
    pub provider: Arc<ProviderSpec>,
    /// `provider/model`, the breaker's and balancer's name for it.
    pub id: String,
    /// The output cap reserved for this model: sent upstream as the answer's limit.
    pub max_output: u32,
}

impl Candidate {
    /// The target's timeouts, completed by its model's.
    pub fn timeouts(&self) -> Timeouts {
        self.target
            .timeouts
            .unwrap_or_default()
            .or(self.model.timeouts.unwrap_or_default())
    }
}

/// A model's targets in the order its strategy gives now.
fn ranked(
    st: &GatewayState,
    snapshot: &Snapshot,
    model: &Arc<ModelSpec>,
    max_output: u32,
) -> Vec<Candidate> {
    let cands: Vec<Candidate> = model
        .targets
        .iter()
        .filter_map(|t| {
            let provider = snapshot.providers.get(&t.provider)?.clone();
            Some(Candidate {
                model: model.clone(),
                id: target_id(&t.provider, &t.model),
                target: t.clone(),
                provider,
                max_output,
            })
        })
        .collect();
    let infos: Vec<TargetInfo<'_>> = cands
        .iter()
        .map(|c| TargetInfo {
            id: &c.id,
            weight: c.target.weight,
        })
        .collect();
    let order = st.routing.balancer.order(model.strategy, &infos);
    order
        .into_iter()
        .filter_map(|i| cands.get(i).cloned())
        .collect()
}

/// Every candidate of a plan, in try order (used by callers that only need the
/// list, e.g. to check a provider kind).
pub fn candidates(st: &GatewayState, snapshot: &Snapshot, plan: &Plan) -> Vec<Candidate> {
    plan.models
        .iter()
        .flat_map(|p| ranked(st, snapshot, &p.model, p.max_output))
        .collect()
}

/// What a successful attempt produced.
pub enum Answer {
    /// A whole (non-stream) body.
    Body(Bytes),
    /// A streaming response whose body has not been read.
    Stream(reqwest::Response),
}

pub struct Success {
    pub cand: Candidate,
    pub answer: Answer,
    /// From the start of the first attempt to this answer's headers.
    pub ttfb: Duration,
    /// When the answer must be complete: the request's `total` timeout, or the
    /// target's own if it ends sooner (a stream is ended with an error past it).
    pub deadline: Instant,
}

/// Builds the call for a candidate with a key of its provider (`None` for keyless
/// providers); `Ok(None)` means this provider cannot serve the request (skipped).
pub trait CallBuilder:
    Fn(&Candidate, Option<&str>) -> Result<Option<UpstreamCall>, GatewayError>
{
}
impl<F> CallBuilder for F where
    F: Fn(&Candidate, Option<&str>) -> Result<Option<UpstreamCall>, GatewayError>
{
}

/// Why one attempt failed, kept to choose the final error.
struct Attempted {
    provider: String,
    failure: Failure,
}

/// An attempt as the call record and `explain` show it.
fn attempt_of(
    cand: &Candidate,
    status: Option<u16>,
    failure: Option<&Failure>,
    took: Duration,
) -> CallAttempt {
    let reason = failure.map(|f| match f {
        Failure::RequestFault { .. } => "rejected",
        other => other.cause(),
    });
    CallAttempt {
        provider: cand.provider.name.clone(),
        target_model: cand.target.model.clone(),
        status,
        error_code: failure.map(|f| f.cause().to_string()),
        reason: reason.map(str::to_string),
        latency_ms: took.as_millis() as u64,
    }
}

/// Sends the request to the first target of `plan` that answers 2xx, reading the
/// whole body unless `stream`. The deadline is the requested model's `total` timeout.
/// Every attempt is booked on `call`; a fallback model's own rate limit is admitted
/// before it is tried (a refused fallback is skipped).
pub async fn send_with_failover(
    st: &GatewayState,
    snapshot: &Snapshot,
    plan: &Plan,
    stream: bool,
    call: &Call,
    build: impl CallBuilder,
) -> Result<Success, GatewayError> {
    let started = Instant::now();
    let deadline = started + plan.requested().timeouts.unwrap_or_default().total();
    let mut failures: Vec<Attempted> = Vec::new();

    'models: for (index, planned) in plan.models.iter().enumerate() {
        let m = &planned.model;
        let order = ranked(st, snapshot, m, planned.max_output);
        if order.is_empty() {
            continue;
        }
        if index > 0
            && !admission::admit_fallback(st.metering.as_ref(), planned, plan.prompt_tokens, call)
                .await?
        {
            failures.push(Attempted {
                provider: format!("fallback model {}", m.name),
                failure: Failure::Throttled {
                    retry_after: None,
                    message: format!("fallback model {} is rate limited", m.name),
                },
            });
            continue;
        }
        // Every target once ("all targets fail" before the fallbacks), and at least
        // `1 + retries.attempts` tries in all; tries past the first round go around
        // the ranking again after a jittered backoff.
        let retry = RetryPolicy::from_spec(m.retries);
        let tries = order
            .len()
            .max(1 + m.retries.map_or(0, |r| r.attempts) as usize);
        // Targets whose failure a retry cannot mend (every key dead or throttled).
        let mut moot = vec![false; order.len()];
        for attempt in 0..tries {
            let slot = if attempt < order.len() {
                attempt
            } else {
                // Retries go around the targets a retry may mend.
                let live: Vec<usize> = (0..order.len())
                    .filter(|&i| !moot.get(i).copied().unwrap_or(true))
                    .collect();
                if live.is_empty() {
                    break;
                }
                live[(attempt - order.len()) % live.len()]
            };
            let cand = &order[slot];
            if attempt >= order.len() {
                let left = deadline.saturating_duration_since(Instant::now());
                let retry_no = (attempt + 1 - order.len()) as u32;
                match retry.next_delay(retry_no, left) {
                    Some(d) => tokio::time::sleep(d).await,
                    None => break,
                }
            }
            if Instant::now() >= deadline {
                failures.push(Attempted {
                    provider: cand.provider.name.clone(),
                    failure: Failure::Timeout {
                        message: "the request deadline passed".into(),
                    },
                });
                break 'models;
            }
            // A target's own `total` bounds its attempt (and its stream) too.
            let attempt_deadline = deadline.min(Instant::now() + cand.timeouts().total());
            let span = attempt_span(cand);
            match try_target(st, cand, stream, attempt_deadline, call, &build)
                .instrument(span)
                .await
            {
                Ok(answer) => {
                    call.span()
                        .record("gen_ai.provider.name", genai_provider(cand.provider.kind));
                    return Ok(Success {
                        cand: cand.clone(),
                        answer,
                        ttfb: started.elapsed(),
                        deadline: attempt_deadline,
                    });
                }
                Err(TargetError::Rejected(e)) => return Err(e),
                Err(TargetError::Failed(fs)) => {
                    let retryable = fs.iter().any(|f| {
                        matches!(
                            f.failure,
                            Failure::Transient { .. } | Failure::Timeout { .. }
                        )
                    });
                    failures.extend(fs);
                    if !retryable && let Some(flag) = moot.get_mut(slot) {
                        // Keys dead or throttled: retrying this target is moot.
                        *flag = true;
                    }
                }
            }
        }
    }
    Err(final_error(&failures))
}

/// The span of one attempt on a target (OpenTelemetry: a client span with GenAI
/// attributes; its status and error are filled in by [`Call::attempt`]).
fn attempt_span(cand: &Candidate) -> tracing::Span {
    tracing::info_span!(
        "upstream",
        "otel.kind" = "client",
        "gen_ai.provider.name" = genai_provider(cand.provider.kind),
        "gen_ai.request.model" = %cand.target.model,
        "tollgate.provider" = %cand.provider.name,
        "http.response.status_code" = tracing::field::Empty,
        "error.type" = tracing::field::Empty,
    )
}

/// OpenTelemetry's `gen_ai.provider.name` of a provider kind (its well-known values
/// where one exists).
pub fn genai_provider(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Openai | ProviderKind::OpenaiCompatible => "openai",
        ProviderKind::Anthropic => "anthropic",
        ProviderKind::Gemini => "gcp.gemini",
        ProviderKind::Mistral => "mistral_ai",
        ProviderKind::Ollama => "ollama",
        ProviderKind::AzureOpenai => "azure.ai.openai",
    }
}

enum TargetError {
    /// The provider rejected the request itself: answer the client with it.
    Rejected(GatewayError),
    /// This target could not answer (each key tried, each failure classified).
    Failed(Vec<Attempted>),
}

/// One target: its breaker, then its keys in turn while they are dead or throttled.
async fn try_target(
    st: &GatewayState,
    cand: &Candidate,
    stream: bool,
    deadline: Instant,
    record: &Call,
    build: &impl CallBuilder,
) -> Result<Answer, TargetError> {
    let routing = &st.routing;
    let provider = &cand.provider;
    let mut failures = Vec::new();
    let fail = |failure: Failure| Attempted {
        provider: provider.name.clone(),
        failure,
    };
    let breaker = match routing.breakers.allow(&cand.id) {
        Ok(p) => p,
        Err(_) => {
            let f = Failure::Transient {
                status: None,
                message: format!("circuit open for {}", cand.id),
            };
            record.attempt(attempt_of(cand, None, Some(&f), Duration::ZERO));
            return Err(TargetError::Failed(vec![fail(f)]));
        }
    };
    let n_keys = provider.api_keys.len();
    let timeouts = cand.timeouts();
    for _ in 0..n_keys.max(1) {
        let key_index = if n_keys == 0 {
            None
        } else {
            match routing.keys.pick(&provider.name, n_keys) {
                Some(i) => Some(i),
                None => {
                    // Dead keys stay the cause while they cool (a provider whose only
                    // key is unpaid is `upstream_payment_required` every time).
                    let failure = match routing.keys.all_dead(&provider.name) {
                        Some(status) => Failure::KeyDead {
                            status,
                            message: format!("every key of provider {} is dead", provider.name),
                        },
                        None => Failure::Throttled {
                            retry_after: routing.keys.next_usable_in(&provider.name),
                            message: format!(
                                "every key of provider {} is cooling down",
                                provider.name
                            ),
                        },
                    };
                    failures.push(fail(failure));
                    break;
                }
            }
        };
        let key = key_index
            .and_then(|i| provider.api_keys.get(i))
            .map(String::as_str);
        let call = match build(cand, key) {
            Ok(Some(c)) => c,
            Ok(None) => {
                breaker.record(Outcome::Neutral);
                failures.push(fail(Failure::Transient {
                    status: None,
                    message: format!(
                        "provider kind `{}` cannot serve this request",
                        provider.kind
                    ),
                }));
                return Err(TargetError::Failed(failures));
            }
            Err(e) => {
                breaker.record(Outcome::Neutral);
                return Err(TargetError::Rejected(e));
            }
        };
        let now = Instant::now();
        let first_byte = timeouts
            .first_byte()
            .min(deadline.saturating_duration_since(now));
        let sent = st.client.send(&call, timeouts.connect(), first_byte).await;
        let elapsed = now.elapsed();
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
                observe(st, cand, key_index, &failure, elapsed);
                record.attempt(attempt_of(cand, None, Some(&failure), elapsed));
                breaker.record(Outcome::Failure);
                failures.push(fail(failure));
                return Err(TargetError::Failed(failures));
            }
        };
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            let headers = resp.headers().clone();
            let body = read_capped(resp, MAX_ERROR_BODY, deadline)
                .await
                .unwrap_or_default();
            let failure = classify(status, &headers, &body);
            observe(st, cand, key_index, &failure, elapsed);
            record.attempt(attempt_of(cand, Some(status), Some(&failure), elapsed));
            match failure {
                Failure::RequestFault { status, message } => {
                    breaker.record(Outcome::Neutral);
                    return Err(TargetError::Rejected(GatewayError::UpstreamRejected {
                        status,
                        message,
                    }));
                }
                Failure::KeyDead { .. } | Failure::Throttled { .. } => {
                    // The key's fault, not the target's: next key.
                    failures.push(fail(failure));
                    continue;
                }
                Failure::Transient { .. } | Failure::Timeout { .. } => {
                    breaker.record(Outcome::Failure);
                    failures.push(fail(failure));
                    return Err(TargetError::Failed(failures));
                }
            }
        }
        let answer = if stream {
            Answer::Stream(resp)
        } else {
            match read_capped(resp, crate::MAX_ANSWER_BODY, deadline).await {
                Ok(b) => Answer::Body(b),
                Err(failure) => {
                    observe(st, cand, key_index, &failure, elapsed);
                    record.attempt(attempt_of(cand, Some(status), Some(&failure), elapsed));
                    breaker.record(Outcome::Failure);
                    failures.push(fail(failure));
                    return Err(TargetError::Failed(failures));
                }
            }
        };
        observe_ok(st, cand, key_index, elapsed);
        record.attempt(attempt_of(cand, Some(status), None, elapsed));
        breaker.record(Outcome::Success);
        return Ok(answer);
    }
    breaker.record(Outcome::Neutral);
    Err(TargetError::Failed(failures))
}

/// Books a failed attempt: metrics, latency, the key's health, the operator alert.
fn observe(st: &GatewayState, cand: &Candidate, key: Option<usize>, f: &Failure, took: Duration) {
    let provider = &cand.provider.name;
    metrics::histogram!(names::UPSTREAM_DURATION_SECONDS, "provider" => provider.clone(), "outcome" => f.cause())
        .record(took.as_secs_f64());
    metrics::counter!(names::UPSTREAM_FAILURES_TOTAL, "provider" => provider.clone(), "cause" => f.cause())
        .increment(1);
    tracing::warn!(provider = %provider, target = %cand.target.model, cause = f.cause(), "upstream attempt failed");
    let outcome = match f {
        Failure::KeyDead { status, .. } => KeyOutcome::dead(*status),
        Failure::Throttled { retry_after, .. } => KeyOutcome::Throttled {
            retry_after: *retry_after,
        },
        Failure::Transient { .. } | Failure::Timeout { .. } => {
            st.routing.balancer.observe(&cand.id, took, false);
            KeyOutcome::Transient
        }
        Failure::RequestFault { .. } => return,
    };
    let Some(index) = key else { return };
    let report = st.routing.keys.report(provider, index, outcome);
    if let (Some(report), Failure::KeyDead { status, message }) = (report, f)
        && report.first_time
    {
        tracing::error!(provider = %provider, key_index = index, status, "provider key refused: taken out");
        if let Some(m) = &st.metering {
            m.alerter.raise(AlertEvent {
                kind: AlertKind::ProviderKeyDead,
                scope: format!("provider:{provider}"),
                period_key: format!("key{index}:{status}"),
                threshold_percent: None,
                used_usd: None,
                limit_usd: None,
                detail: json!({
                    "provider": provider,
                    "key_index": index,
                    "status": status,
                    "message": message,
                    "cooldown_seconds": report.cooldown.as_secs(),
                }),
            });
        }
    }
}

fn observe_ok(st: &GatewayState, cand: &Candidate, key: Option<usize>, took: Duration) {
    metrics::histogram!(names::UPSTREAM_DURATION_SECONDS, "provider" => cand.provider.name.clone(), "outcome" => "ok")
        .record(took.as_secs_f64());
    st.routing.balancer.observe(&cand.id, took, true);
    if let Some(i) = key {
        st.routing
            .keys
            .report(&cand.provider.name, i, KeyOutcome::Ok);
    }
}

/// Reads a whole upstream body, at most `cap` bytes, before `deadline`.
pub async fn read_capped(
    resp: reqwest::Response,
    cap: usize,
    deadline: Instant,
) -> Result<Bytes, Failure> {
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

/// The most telling cause of total failure: unpaid when every attempt met a dead or
/// unpaid key, otherwise the last non-key failure's class.
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
