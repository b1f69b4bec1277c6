//! Prompt-APIs: a route kind of the request lifecycle that publishes a model and a
//! message template as `POST {path}` on the gateway listener (PRODUCT.md, "REST
//! services and prompt-APIs").
//!
//! A request whose path is a prompt-API's goes, in order: consumer key (401), the
//! prompt-API's lifecycle (draft 404, retired 410), the method (405 with `Allow`), the
//! body `{"variables", "stream"}` and the template's render (413, 400 naming a missing
//! or unknown variable). The rendered messages become an OpenAI chat request for the
//! prompt-API's model with its `max_tokens`, which takes the chat doors' own phases
//! ([`pipeline::serve`]): model permission (403), rate limits (429), the budget
//! reservation (402), the cache, failover, metering. The chat answer is then reshaped:
//! `{"request_id", "output", "model", "usage", "cost_usd"}`, or a stream re-framed as
//! `{"delta"}` events ending with `{"done": true, "usage"}` (a stream that breaks ends
//! with the chat door's error event, as it came). Errors are in the OpenAI envelope.
//! The call record has door `prompt_api` and the prompt-API's name as `model`; its
//! `provider` and `target_model` are the chat door's.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Method, StatusCode, header};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tollgate_core::money::micros_to_usd;
use tollgate_core::prompt::RenderError;
use tollgate_core::snapshot::{PromptApi, Snapshot};
use tollgate_core::spec::ServiceLifecycle;
use tollgate_core::{Door, GatewayError};
use tollgate_protocol::sse::SseParser;

use crate::door::DoorRequest;
use crate::lifecycle::Call;
use crate::reply::ApiError;
use crate::request_id::RequestId;
use crate::state::GatewayState;
use crate::{auth, body, body_log, pipeline};

/// A call's body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptCall {
    #[serde(default)]
    variables: Map<String, Value>,
    #[serde(default)]
    stream: bool,
}

/// The gateway's fallback: a request on a prompt-API's path is served here and
/// `Ok(answer)` returned; any other request is handed back.
pub async fn dispatch(
    st: &GatewayState,
    call: Option<&Call>,
    req: Request,
) -> Result<Response, Request> {
    let snapshot = st.live.snapshot.load_full();
    let Some(api) = snapshot.prompt_paths.get(req.uri().path()).cloned() else {
        return Err(req);
    };
    let owned;
    let call = match call {
        Some(c) => c,
        None => {
            owned = Call::new(&RequestId::generate().0, "prompt_api", st.metering.clone());
            &owned
        }
    };
    Ok(serve(st, &snapshot, call, &api, req).await)
}

async fn serve(
    st: &GatewayState,
    snapshot: &Arc<Snapshot>,
    call: &Call,
    api: &PromptApi,
    req: Request,
) -> Response {
    call.set_route_door("prompt_api");
    call.set_model(&api.spec.name, false);
    call.set_service(&api.spec.name);
    let mut label = None;
    let mut deprecated = false;
    let mut res = match phases(st, snapshot, call, api, req, &mut label, &mut deprecated).await {
        Ok(res) => res,
        Err(e) => ApiError::new(Door::OpenAi, e).into_response(),
    };
    // The chat phases record the model they resolved; the record names the prompt-API.
    let stream = call.state().stream;
    call.set_model(&api.spec.name, stream);
    if let Some(m) = label {
        res.extensions_mut().insert(pipeline::ModelLabel(m));
    }
    if deprecated {
        let h = res.headers_mut();
        h.insert("deprecation", HeaderValue::from_static("true"));
        if let Some(at) = api.spec.sunset_at
            && let Ok(v) =
                HeaderValue::from_str(&at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        {
            h.insert("sunset", v);
        }
    }
    res
}

async fn phases(
    st: &GatewayState,
    snapshot: &Arc<Snapshot>,
    call: &Call,
    api: &PromptApi,
    req: Request,
    label: &mut Option<Arc<str>>,
    deprecated: &mut bool,
) -> Result<Response, GatewayError> {
    let spec = &api.spec;
    let (parts, body) = req.into_parts();
    // authenticate (401)
    let caller = auth::authenticate_call(snapshot, &parts.headers, call)?;
    // lifecycle (404, 410)
    match spec.lifecycle {
        ServiceLifecycle::Draft => {
            return Err(GatewayError::NotFound {
                method: parts.method.to_string(),
                path: parts.uri.path().to_string(),
            });
        }
        ServiceLifecycle::Retired => return Err(GatewayError::ServiceRetired(spec.name.clone())),
        ServiceLifecycle::Deprecated => *deprecated = true,
        ServiceLifecycle::Published => {}
    }
    // method (405)
    if parts.method != Method::POST {
        return Ok(wrong_method(&parts.method, parts.uri.path()));
    }
    // read and render (413, 400)
    let bytes = body::read_limited(body, &parts.headers, st.max_body_bytes).await?;
    body_log::begin(
        call,
        caller.consumer.log_bodies,
        st,
        snapshot,
        &parts.headers,
        &bytes,
    );
    let model_logs = snapshot
        .models
        .get(&spec.model)
        .is_some_and(|m| m.log_bodies);
    body_log::begin(call, model_logs, st, snapshot, &parts.headers, &bytes);
    let input: PromptCall = if bytes.iter().all(u8::is_ascii_whitespace) {
        PromptCall::default()
    } else {
        pipeline::parse_typed(&bytes)?
    };
    drop(bytes);
    call.set_model(&spec.name, input.stream);
    let template = api.template.as_ref().map_err(|issues| {
        GatewayError::Internal(format!(
            "the prompt-API `{}` has an invalid template ({} issue(s)); fix it through the admin API",
            spec.name,
            issues.len()
        ))
    })?;
    let messages = template.render(&input.variables).map_err(|e| match &e {
        RenderError::Missing(n) | RenderError::Unknown(n, _) => {
            GatewayError::invalid_param(e.to_string(), format!("variables.{n}"))
        }
        RenderError::Template(_) => GatewayError::invalid_param(e.to_string(), "variables"),
    })?;
    let request = chat_request(api, messages, input.stream)?;
    // The chat door's phases: 404 (model gone), 403, 429, 402, cache, failover.
    // subscription (403), as a service's: after the body's errors, before the model's
    auth::require_subscription(snapshot, &caller, &spec.name, spec.subscription, call)?;
    let res = pipeline::serve(st, snapshot, &caller, request, &parts.headers, call, label).await?;
    if res.status() != StatusCode::OK {
        return Ok(res);
    }
    if input.stream {
        Ok(reframe_stream(res))
    } else {
        reshape_whole(res, call, spec.model.as_str()).await
    }
}

fn wrong_method(method: &Method, path: &str) -> Response {
    let mut res = ApiError::new(
        Door::OpenAi,
        GatewayError::MethodNotAllowed {
            method: method.to_string(),
            path: path.to_string(),
        },
    )
    .into_response();
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    res
}

/// The OpenAI chat request the rendered messages make.
fn chat_request(
    api: &PromptApi,
    messages: Vec<(tollgate_core::spec::PromptRole, String)>,
    stream: bool,
) -> Result<DoorRequest, GatewayError> {
    let spec = &api.spec;
    let mut body = json!({
        "model": spec.model,
        "messages": messages.into_iter().map(|(role, content)| json!({
            "role": role.as_str(), "content": content,
        })).collect::<Vec<_>>(),
        "max_tokens": spec.max_tokens,
    });
    if let Some(o) = body.as_object_mut() {
        if let Some(t) = spec.temperature {
            o.insert("temperature".into(), json!(t));
        }
        if stream {
            o.insert("stream".into(), json!(true));
            // The usage chunk gives the closing event its usage.
            o.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    let bytes = serde_json::to_vec(&body)
        .map_err(|e| GatewayError::Internal(format!("prompt request: {e}")))?;
    pipeline::parse_door_request(Door::OpenAi, &bytes)
}

/// `{"input", "output"}` of an OpenAI `usage` object.
fn usage_of(usage: &Value) -> Option<Value> {
    let input = usage.get("prompt_tokens")?.as_u64()?;
    let output = usage.get("completion_tokens")?.as_u64()?;
    Some(json!({"input": input, "output": output}))
}

/// A whole chat answer as the prompt-API's answer. Usage and cost are the call's
/// books (a cache hit not charged costs 0, with the cached answer's usage).
async fn reshape_whole(res: Response, call: &Call, model: &str) -> Result<Response, GatewayError> {
    let (mut parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, crate::MAX_ANSWER_BODY)
        .await
        .map_err(|e| GatewayError::Internal(format!("reading the chat answer: {e}")))?;
    let chat: Value = serde_json::from_slice(&bytes)
        .map_err(|e| GatewayError::Internal(format!("the chat answer is not JSON: {e}")))?;
    let output = chat
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (request_id, booked, cost) = {
        let s = call.state();
        (s.request_id.clone(), s.usage, s.cost)
    };
    let usage = if booked.total() > 0 {
        json!({"input": booked.prompt_total(), "output": booked.output})
    } else {
        chat.get("usage")
            .and_then(usage_of)
            .unwrap_or(json!({"input": 0, "output": 0}))
    };
    let answer = json!({
        "request_id": request_id,
        "output": output,
        "model": chat.get("model").and_then(Value::as_str).unwrap_or(model),
        "usage": usage,
        "cost_usd": micros_to_usd(cost),
    });
    let body = serde_json::to_vec(&answer)
        .map_err(|e| GatewayError::Internal(format!("prompt answer: {e}")))?;
    parts.headers.remove(header::CONTENT_LENGTH);
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// Re-frames a chat stream: each text delta as `{"delta"}`, `[DONE]` as `{"done":
/// true, "usage"}`; an error event passes as it is (and ends the stream).
fn reframe_stream(res: Response) -> Response {
    let (mut parts, body) = res.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut reframer = Reframer::default();
    let stream = body.into_data_stream().map(move |chunk| match chunk {
        Ok(bytes) => Ok::<Bytes, axum::Error>(reframer.push(&bytes)),
        Err(e) => Err(e),
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

#[derive(Default)]
struct Reframer {
    parser: SseParser,
    usage: Option<Value>,
}

impl Reframer {
    fn push(&mut self, bytes: &[u8]) -> Bytes {
        let mut out = Vec::new();
        // The relay's events are well-formed and bounded: a limit error cannot occur
        // on them, and would only drop what cannot be read.
        for ev in self.parser.push(bytes).unwrap_or_default() {
            if ev.is_done() {
                let usage = self
                    .usage
                    .take()
                    .unwrap_or(json!({"input": 0, "output": 0}));
                event(&mut out, &json!({"done": true, "usage": usage}));
                continue;
            }
            let Ok(chunk) = serde_json::from_str::<Value>(&ev.data) else {
                continue;
            };
            if chunk.get("error").is_some() {
                event(&mut out, &chunk);
                continue;
            }
            if let Some(u) = chunk.get("usage").and_then(usage_of) {
                self.usage = Some(u);
            }
            if let Some(text) = chunk
                .pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                && !text.is_empty()
            {
                event(&mut out, &json!({"delta": text}));
            }
        }
        Bytes::from(out)
    }
}

fn event(out: &mut Vec<u8>, value: &Value) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(value.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reframes_deltas_usage_done_and_errors_across_chunk_cuts() {
        let mut r = Reframer::default();
        let stream = concat!(
            "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n",
            "data: [DONE]\n\n",
        );
        let (a, b) = stream.split_at(70);
        let mut out = r.push(a.as_bytes()).to_vec();
        out.extend_from_slice(&r.push(b.as_bytes()));
        assert_eq!(
            String::from_utf8_lossy(&out),
            concat!(
                "data: {\"delta\":\"Hel\"}\n\n",
                "data: {\"delta\":\"lo\"}\n\n",
                "data: {\"done\":true,\"usage\":{\"input\":5,\"output\":2}}\n\n",
            )
        );
        let mut r = Reframer::default();
        let out = r
            .push(b"data: {\"error\":{\"message\":\"m\",\"code\":\"upstream_stream_broken\"}}\n\n");
        assert!(String::from_utf8_lossy(&out).starts_with("data: {\"error\""));
    }
}
