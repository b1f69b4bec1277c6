//! A chat request after admission: the response cache, failover to the upstream,
//! and the answer in the door's format (whole or streamed), metered into its call.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use tollgate_cache::{Begin, CacheKey, CacheOutcome, CachedAnswer, StreamRecorder};
use tollgate_core::money::{Micros, TokenPrice, format_usd};
use tollgate_core::snapshot::Snapshot;
use tollgate_core::spec::{CacheSpec, ModelSpec};
use tollgate_core::{GatewayError, UpstreamCode};
use tollgate_providers::{chat_call, native_format};
use tracing::Instrument;

use crate::admission::Plan;
use crate::door::{DoorRequest, door_of};
use crate::forward::{self, Answer, Success};
use crate::lifecycle::Call;
use crate::relay::{self, StreamTap};
use crate::state::GatewayState;
use crate::usage::{self, Usage, billed};
use crate::wire::{self, OutputCap};

/// How the response cache treats this request.
enum CacheUse {
    /// The model has no cache.
    Off,
    /// The client asked to skip it (`Cache-Control: no-cache`, `x-tollgate-cache: bypass`).
    Bypass,
    On {
        key: CacheKey,
        spec: CacheSpec,
    },
}

fn cache_use(
    st: &GatewayState,
    headers: &HeaderMap,
    model: &ModelSpec,
    request: &DoorRequest,
    consumer: &str,
) -> CacheUse {
    let (Some(spec), Some(_)) = (model.cache, st.cache.as_ref()) else {
        return CacheUse::Off;
    };
    let bypass = headers
        .get_all(http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.to_ascii_lowercase().contains("no-cache")
                || v.to_ascii_lowercase().contains("no-store")
        })
        || headers
            .get("x-tollgate-cache")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("bypass"));
    if bypass {
        return CacheUse::Bypass;
    }
    let (door, json) = match request {
        DoorRequest::OpenAi(r) => ("openai", serde_json::to_value(r)),
        DoorRequest::Anthropic(r) => ("anthropic", serde_json::to_value(r)),
    };
    let Ok(json) = json else {
        return CacheUse::Off;
    };
    // Streams and whole answers are cached apart: a stream is replayed as a stream,
    // byte for byte, so whether it ends with a usage chunk
    // (`stream_options.include_usage`, ignored by the key's normal form) matters too.
    let door = match (request.is_stream(), request.wants_usage_chunk()) {
        (false, _) => door.to_string(),
        (true, false) => format!("{door}+stream"),
        (true, true) => format!("{door}+stream+usage"),
    };
    let scope = tollgate_cache::scope(spec.scope, consumer);
    CacheUse::On {
        key: CacheKey::new(&door, &scope, &model.name, &json),
        spec,
    }
}

/// Sends the request to the plan's targets (in the native format of each).
async fn upstream(
    st: &GatewayState,
    snapshot: &Snapshot,
    plan: &Plan,
    request: &DoorRequest,
    call: &Call,
) -> Result<Success, GatewayError> {
    let stream = request.is_stream();
    forward::send_with_failover(st, snapshot, plan, stream, call, |cand, key| {
        let Some(native) = native_format(cand.provider.kind) else {
            return Ok(None);
        };
        let cap = OutputCap::for_kind(cand.max_output, cand.provider.kind);
        let body = wire::adapter(native).request(request, &cand.target.model, cap)?;
        Ok(Some(chat_call(
            &cand.provider,
            key,
            &cand.target.model,
            stream,
            body,
        )))
    })
    .await
}

fn price_of(model: &ModelSpec) -> Option<TokenPrice> {
    model.price.map(TokenPrice::from)
}

/// The whole answer in the door's format, with its usage, from a non-stream success.
fn whole_answer(
    request: &DoorRequest,
    success: &Success,
) -> Result<(Bytes, Option<Usage>), GatewayError> {
    let Answer::Body(raw) = &success.answer else {
        return Err(GatewayError::Internal("expected a whole answer".into()));
    };
    let native = native_format(success.cand.provider.kind)
        .ok_or_else(|| GatewayError::Internal("provider kind without a format".into()))?;
    wire::adapter(native).response(request, raw).map_err(|message| {
        tracing::warn!(provider = %success.cand.provider.name, %message, "upstream sent an invalid answer");
        GatewayError::Upstream {
            code: UpstreamCode::Unavailable,
            message: format!(
                "The upstream `{}` sent an answer the gateway could not read",
                success.cand.provider.name
            ),
        }
    })
}

/// The response's masking filter on a whole answer in the door's format, before the
/// cache stores it or the client sees it. It runs after the answer's usage and cost
/// are on the call: a blocked answer was still billed by the provider, so it is
/// charged like any other.
fn masked_answer(request: &DoorRequest, body: Bytes, call: &Call) -> Result<Bytes, GatewayError> {
    crate::masking::mask_answer(door_of(request), body, call)
}

/// Answers a chat request. Whatever happens, the call's books close in the lifecycle.
#[allow(clippy::too_many_arguments)]
pub async fn respond(
    st: &GatewayState,
    snapshot: &Snapshot,
    plan: &Plan,
    request: DoorRequest,
    headers: &HeaderMap,
    consumer: &str,
    call: &Call,
) -> Result<Response, GatewayError> {
    let cache = cache_use(st, headers, plan.requested(), &request, consumer);
    match cache {
        CacheUse::On { key, spec } if !request.is_stream() => {
            whole_cached(st, snapshot, plan, &request, call, key, spec).await
        }
        CacheUse::On { key, spec } => {
            stream_cached(st, snapshot, plan, &request, call, key, spec).await
        }
        CacheUse::Off | CacheUse::Bypass => {
            if matches!(cache, CacheUse::Bypass) {
                call.set_cache("bypass");
            }
            let success = upstream(st, snapshot, plan, &request, call).await?;
            if request.is_stream() {
                stream_response(&request, success, plan, call, None)
            } else {
                whole_response(&request, &success, plan, call).await
            }
        }
    }
}

/// The prompt tokens to book for an answer: counted only when the upstream reported
/// no usage (the answer is then billed from the estimate).
async fn prompt_to_book(plan: &Plan, reported: Option<Usage>) -> u64 {
    match usage::usable(reported) {
        Some(_) => 0,
        None => plan.prompt.count().await,
    }
}

async fn whole_response(
    request: &DoorRequest,
    success: &Success,
    plan: &Plan,
    call: &Call,
) -> Result<Response, GatewayError> {
    let (body, reported) = whole_answer(request, success)?;
    let door = door_of(request);
    let prompt = prompt_to_book(plan, reported).await;
    let (usage, cost) = billed(&success.cand, reported, || {
        Usage::new(prompt, usage::count_answer(door, &body))
    });
    call.answered_by(
        &success.cand.provider.name,
        &success.cand.target.model,
        success.ttfb.as_millis() as u64,
    );
    call.set_usage(usage, cost);
    let body = masked_answer(request, body, call).inspect_err(|_| call.withhold_answer())?;
    Ok(json_response(body, cost))
}

fn json_response(body: Bytes, cost: Micros) -> Response {
    let mut res = Response::new(Body::from(body));
    let h = res.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&format_usd(cost)) {
        h.insert("x-tollgate-cost-usd", v);
    }
    res
}

fn stream_headers(res: &mut Response) {
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
}

fn stream_response(
    request: &DoorRequest,
    success: Success,
    plan: &Plan,
    call: &Call,
    tap: Option<StreamTap>,
) -> Result<Response, GatewayError> {
    let Success {
        cand,
        answer,
        ttfb,
        deadline,
    } = success;
    let Answer::Stream(resp) = answer else {
        // send_with_failover was asked for a stream; never answer an empty 200.
        return Err(GatewayError::Internal("expected a streamed answer".into()));
    };
    call.answered_by(
        &cand.provider.name,
        &cand.target.model,
        ttfb.as_millis() as u64,
    );
    let native =
        native_format(cand.provider.kind).unwrap_or(tollgate_providers::WireFormat::OpenAiChat);
    let transcoder = wire::adapter(native).stream(request, &cand.model.name);
    call.hand_to_stream();
    let body = relay::stream_body(
        resp,
        transcoder,
        relay::RelaySpec {
            door: door_of(request),
            idle: cand.timeouts().idle(),
            deadline,
            prompt_estimate: plan.prompt.clone(),
            wants_usage_chunk: request.wants_usage_chunk(),
            model: request.model().to_string(),
        },
        cand,
        call.clone(),
        tap,
    );
    let mut res = Response::new(body);
    stream_headers(&mut res);
    Ok(res)
}

/// A cache hit's tokens and cost: nothing unless the model charges hits (at the
/// requested model's price).
fn book_hit(call: &Call, plan: &Plan, spec: &CacheSpec, answer: &CachedAnswer) -> Micros {
    call.set_cache("hit");
    call.first_token();
    if spec.charge_hits {
        let usage = Usage::new(answer.usage.0, answer.usage.1);
        let cost = price_of(plan.requested()).map_or(0, |p| p.cost_of(&usage));
        call.set_usage(usage, cost);
        cost
    } else {
        0
    }
}

async fn whole_cached(
    st: &GatewayState,
    snapshot: &Snapshot,
    plan: &Plan,
    request: &DoorRequest,
    call: &Call,
    key: CacheKey,
    spec: CacheSpec,
) -> Result<Response, GatewayError> {
    let Some(cache) = st.cache.as_ref() else {
        return Err(GatewayError::Internal("cache vanished".into()));
    };
    // The filler's own books: which target answered and what it cost.
    let filled: Arc<Mutex<Option<(Success, Usage, Micros)>>> = Arc::default();
    let cell = filled.clone();
    let fill = async move {
        let success = upstream(st, snapshot, plan, request, call).await?;
        let (body, reported) = whole_answer(request, &success)?;
        let door = door_of(request);
        let prompt = prompt_to_book(plan, reported).await;
        let (usage, cost) = billed(&success.cand, reported, || {
            Usage::new(prompt, usage::count_answer(door, &body))
        });
        let body = match masked_answer(request, body, call) {
            Ok(body) => body,
            Err(blocked) => {
                // Not cached; still charged (see `masked_answer`).
                call.answered_by(
                    &success.cand.provider.name,
                    &success.cand.target.model,
                    success.ttfb.as_millis() as u64,
                );
                call.set_usage(usage, cost);
                call.withhold_answer();
                return Err(blocked);
            }
        };
        if let Ok(mut c) = cell.lock() {
            *c = Some((success, usage, cost));
        }
        Ok::<CachedAnswer, GatewayError>(CachedAnswer::new(
            200,
            "application/json",
            body,
            (usage.prompt_total(), usage.output),
        ))
    };
    let ttl = Duration::from_secs(spec.ttl_seconds);
    // The `cache` span covers the lookup and, on a miss, the fill (the upstream call).
    let result = cache
        .get_or_fill(&key, ttl, fill)
        .instrument(tracing::info_span!("cache"))
        .await;
    if result.is_err() {
        call.set_cache("miss");
    }
    let (answer, outcome) = result?;
    let filler = filled.lock().ok().and_then(|mut c| c.take());
    let cost = match (outcome, filler) {
        (CacheOutcome::Miss, Some((success, usage, cost))) => {
            call.set_cache("miss");
            call.answered_by(
                &success.cand.provider.name,
                &success.cand.target.model,
                success.ttfb.as_millis() as u64,
            );
            call.set_usage(usage, cost);
            cost
        }
        _ => book_hit(call, plan, &spec, &answer),
    };
    Ok(json_response(answer.body.clone(), cost))
}

async fn stream_cached(
    st: &GatewayState,
    snapshot: &Snapshot,
    plan: &Plan,
    request: &DoorRequest,
    call: &Call,
    key: CacheKey,
    spec: CacheSpec,
) -> Result<Response, GatewayError> {
    let Some(cache) = st.cache.as_ref() else {
        return Err(GatewayError::Internal("cache vanished".into()));
    };
    let ttl = Duration::from_secs(spec.ttl_seconds);
    let wait = plan.requested().timeouts.unwrap_or_default().first_byte();
    let begun = cache
        .begin(&key, wait)
        .instrument(tracing::info_span!("cache"))
        .await;
    let tap = match begun {
        Begin::Hit(answer) => {
            book_hit(call, plan, &spec, &answer);
            let mut res = Response::new(relay::replay_body(&answer));
            stream_headers(&mut res);
            return Ok(res);
        }
        Begin::Fill(guard) => Some(StreamTap {
            recorder: StreamRecorder::new(cache.max_entry_bytes()),
            guard,
            ttl,
        }),
        Begin::Miss => None,
    };
    call.set_cache("miss");
    let success = upstream(st, snapshot, plan, request, call).await?;
    stream_response(request, success, plan, call, tap)
}
