//! A chat request after admission: the response cache, failover to the upstream,
//! and the answer in the door's format (whole or streamed).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use tollgate_cache::{Begin, CacheKey, CacheOutcome, CachedAnswer, StreamRecorder};
use tollgate_core::money::{TokenPrice, format_usd};
use tollgate_core::snapshot::Snapshot;
use tollgate_core::spec::{CacheSpec, ModelSpec};
use tollgate_core::{GatewayError, UpstreamCode};
use tollgate_providers::{chat_call, native_format};

use crate::forward::{self, Answer, Success};
use crate::meter::{Meter, Usage};
use crate::metering::Settlement;
use crate::pipeline::DoorRequest;
use crate::relay::{self, StreamTap};
use crate::reply::ApiError;
use crate::state::GatewayState;
use crate::transcode;

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

/// Sends the request to the model's targets (in the native format of each).
async fn upstream(
    st: &GatewayState,
    snapshot: &Snapshot,
    model: &Arc<ModelSpec>,
    request: &DoorRequest,
) -> Result<Success, GatewayError> {
    let stream = request.is_stream();
    forward::send_with_failover(st, snapshot, model, stream, |cand, key| {
        let Some(native) = native_format(cand.provider.kind) else {
            return Ok(None);
        };
        let default_max = cand
            .model
            .max_output_tokens
            .unwrap_or(crate::metering::DEFAULT_MAX_OUTPUT_TOKENS);
        let body = transcode::native_request(request, native, &cand.target.model, default_max)?;
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
    transcode::door_response(request, native, raw).map_err(|message| {
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

fn price_of(model: &ModelSpec) -> Option<TokenPrice> {
    model.price.map(TokenPrice::from)
}

/// Answers a chat request; `settlement` is closed whatever happens.
#[allow(clippy::too_many_arguments)]
pub async fn respond(
    st: &GatewayState,
    snapshot: &Snapshot,
    model: &Arc<ModelSpec>,
    request: DoorRequest,
    prompt_estimate: u64,
    settlement: Settlement,
    headers: &HeaderMap,
    consumer: &str,
) -> Result<Response, GatewayError> {
    let mut meter =
        Meter::new(Arc::from(model.name.as_str()), price_of(model)).with_settlement(settlement);
    let started = Instant::now();
    let cache = cache_use(st, headers, model, &request, consumer);
    // A model with a cache marks every answer, errors included.
    let error_mark = match &cache {
        CacheUse::Off => None,
        CacheUse::Bypass => Some("bypass"),
        CacheUse::On { .. } => Some("miss"),
    };
    let door = request.door();
    let result = match cache {
        CacheUse::On { key, spec } if !request.is_stream() => {
            whole_cached(
                st,
                snapshot,
                model,
                &request,
                prompt_estimate,
                &mut meter,
                key,
                spec,
            )
            .await
        }
        CacheUse::On { key, spec } => {
            stream_cached(
                st,
                snapshot,
                model,
                &request,
                prompt_estimate,
                meter,
                key,
                spec,
            )
            .await
        }
        CacheUse::Off | CacheUse::Bypass => {
            let mark = matches!(cache, CacheUse::Bypass).then_some("bypass");
            let res = match upstream(st, snapshot, model, &request).await {
                Ok(success) if request.is_stream() => {
                    stream_response(&request, success, meter, prompt_estimate, None)
                }
                Ok(success) => whole_response(&request, &success, &mut meter, prompt_estimate),
                Err(e) => Err(fail(&mut meter, e)),
            };
            res.map(|mut r| {
                if let Some(m) = mark {
                    r.headers_mut()
                        .insert("x-tollgate-cache", HeaderValue::from_static(m));
                }
                r
            })
        }
    };
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "chat answered"
    );
    match (result, error_mark) {
        (Err(e), Some(mark)) => {
            let mut res = ApiError::new(door, e).into_response();
            res.headers_mut()
                .insert("x-tollgate-cache", HeaderValue::from_static(mark));
            Ok(res)
        }
        (result, _) => result,
    }
}

/// Books an error on the meter's settlement and passes it on.
fn fail(meter: &mut Meter, e: GatewayError) -> GatewayError {
    meter.outcome(None, e.status(), Some(e.classify().code));
    meter.observe(Usage::default());
    meter.record();
    e
}

fn whole_response(
    request: &DoorRequest,
    success: &Success,
    meter: &mut Meter,
    prompt_estimate: u64,
) -> Result<Response, GatewayError> {
    let (body, usage) = match whole_answer(request, success) {
        Ok(v) => v,
        Err(e) => return Err(fail(meter, e)),
    };
    meter.set_price(price_of(&success.cand.model));
    meter.outcome(Some(&success.cand.provider.name), 200, None);
    meter.first_byte(success.ttfb.as_millis() as u64);
    meter.observe(usage.unwrap_or(Usage {
        input: prompt_estimate,
        output: 0,
    }));
    let cost = meter.record();
    Ok(json_response(body, cost))
}

fn json_response(body: Bytes, cost: i64) -> Response {
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
    mut meter: Meter,
    prompt_estimate: u64,
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
        return Err(fail(
            &mut meter,
            GatewayError::Internal("expected a streamed answer".into()),
        ));
    };
    meter.set_price(price_of(&cand.model));
    // Until the stream ends cleanly, a dropped body means the client left.
    meter.outcome(Some(&cand.provider.name), 200, Some("client_closed"));
    meter.first_byte(ttfb.as_millis() as u64);
    let native =
        native_format(cand.provider.kind).unwrap_or(tollgate_providers::WireFormat::OpenAiChat);
    let transcoder = transcode::stream_transcoder(request, native, &cand.model.name);
    let body = relay::stream_body(
        resp,
        transcoder,
        relay::RelaySpec {
            door: request.door(),
            idle: cand.timeouts().idle(),
            deadline,
            prompt_estimate,
        },
        meter,
        tap,
    );
    let mut res = Response::new(body);
    stream_headers(&mut res);
    Ok(res)
}

/// A cache hit's tokens and cost: nothing unless the model charges hits.
fn book_hit(meter: &mut Meter, spec: &CacheSpec, answer: &CachedAnswer) -> i64 {
    meter.mark_cached();
    meter.outcome(None, 200, None);
    meter.first_byte(0);
    if spec.charge_hits {
        meter.observe(Usage {
            input: answer.usage.0,
            output: answer.usage.1,
        });
    } else {
        meter.observe(Usage::default());
    }
    meter.record()
}

#[allow(clippy::too_many_arguments)]
async fn whole_cached(
    st: &GatewayState,
    snapshot: &Snapshot,
    model: &Arc<ModelSpec>,
    request: &DoorRequest,
    prompt_estimate: u64,
    meter: &mut Meter,
    key: CacheKey,
    spec: CacheSpec,
) -> Result<Response, GatewayError> {
    let Some(cache) = st.cache.as_ref() else {
        return Err(GatewayError::Internal("cache vanished".into()));
    };
    // The filler's provider and price, for its own books.
    let filled_by: Arc<Mutex<Option<Success>>> = Arc::default();
    let cell = filled_by.clone();
    let fill = async move {
        let success = upstream(st, snapshot, model, request).await?;
        let (body, usage) = whole_answer(request, &success)?;
        let usage = usage.unwrap_or(Usage {
            input: prompt_estimate,
            output: 0,
        });
        if let Ok(mut c) = cell.lock() {
            *c = Some(success);
        }
        Ok::<CachedAnswer, GatewayError>(CachedAnswer::new(
            200,
            "application/json",
            body,
            (usage.input, usage.output),
        ))
    };
    let ttl = Duration::from_secs(spec.ttl_seconds);
    let (answer, outcome) = match cache.get_or_fill(&key, ttl, fill).await {
        Ok(v) => v,
        Err(e) => return Err(fail(meter, e)),
    };
    let filler = filled_by.lock().ok().and_then(|mut c| c.take());
    let cost = match (outcome, filler) {
        (CacheOutcome::Miss, Some(success)) => {
            meter.set_price(price_of(&success.cand.model));
            meter.outcome(Some(&success.cand.provider.name), 200, None);
            meter.first_byte(success.ttfb.as_millis() as u64);
            meter.observe(Usage {
                input: answer.usage.0,
                output: answer.usage.1,
            });
            meter.record()
        }
        _ => book_hit(meter, &spec, &answer),
    };
    let mut res = json_response(answer.body.clone(), cost);
    let mark = match outcome {
        CacheOutcome::Hit => "hit",
        CacheOutcome::Miss => "miss",
    };
    res.headers_mut()
        .insert("x-tollgate-cache", HeaderValue::from_static(mark));
    Ok(res)
}

#[allow(clippy::too_many_arguments)]
async fn stream_cached(
    st: &GatewayState,
    snapshot: &Snapshot,
    model: &Arc<ModelSpec>,
    request: &DoorRequest,
    prompt_estimate: u64,
    mut meter: Meter,
    key: CacheKey,
    spec: CacheSpec,
) -> Result<Response, GatewayError> {
    let Some(cache) = st.cache.as_ref() else {
        return Err(GatewayError::Internal("cache vanished".into()));
    };
    let ttl = Duration::from_secs(spec.ttl_seconds);
    let wait = model.timeouts.unwrap_or_default().first_byte();
    let (tap, mark) = match cache.begin(&key, wait).await {
        Begin::Hit(answer) => {
            book_hit(&mut meter, &spec, &answer);
            let mut res = Response::new(relay::replay_body(&answer));
            stream_headers(&mut res);
            res.headers_mut()
                .insert("x-tollgate-cache", HeaderValue::from_static("hit"));
            return Ok(res);
        }
        Begin::Fill(guard) => (
            Some(StreamTap {
                recorder: StreamRecorder::new(cache.max_entry_bytes()),
                guard,
                ttl,
            }),
            "miss",
        ),
        Begin::Miss => (None, "miss"),
    };
    match upstream(st, snapshot, model, request).await {
        Ok(success) => {
            let mut res = stream_response(request, success, meter, prompt_estimate, tap)?;
            res.headers_mut()
                .insert("x-tollgate-cache", HeaderValue::from_static(mark));
            Ok(res)
        }
        Err(e) => Err(fail(&mut meter, e)),
    }
}
