//! `POST /v1/embeddings`: OpenAI's format in and out, any provider with embeddings
//! behind it (openai, openai_compatible, azure_openai, mistral: OpenAI's format; gemini:
//! `batchEmbedContents`; ollama: `/api/embed`).
//!
//! Same contract as chat: the key (401), the body within the size limit (413), a valid
//! request (400), the model (404) and the key's scope (403), in that order; then the
//! model's targets and fallbacks are tried, a provider's rejection of the request goes
//! back to the client, other failures move on to the next target. The answer always has
//! the encoding the client asked for (the gateway encodes base64 itself for providers
//! that answer floats) and a `usage` (estimated with the tokenizer when the provider
//! reports none, as Gemini does), which is metered like chat tokens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue};
use rand::Rng;
use tollgate_core::money::{TokenPrice, format_usd};
use tollgate_core::spec::{ModelSpec, ProviderSpec};
use tollgate_core::{Door, GatewayError, UpstreamCode};
use tollgate_protocol::openai::{
    EmbeddingInput, EmbeddingUsage, EmbeddingsRequest, EmbeddingsResponse,
};
use tollgate_protocol::translate::embeddings as emb;
use tollgate_protocol::{TranslateError, gemini, ollama};
use tollgate_providers::{
    Failure, SendError, UpstreamCall, WireFormat, classify, embeddings_call, embeddings_format,
    prepare_openai_embeddings,
};
use tollgate_telemetry::names;

use crate::meter::{Meter, Usage};
use crate::reply::ApiError;
use crate::state::GatewayState;
use crate::{auth, body, forward, tokens};

/// Largest upstream answer read (a batch of large vectors is big).
const MAX_ANSWER_BODY: usize = 256 * 1024 * 1024;
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The route handler.
pub async fn handler(State(st): State<GatewayState>, headers: HeaderMap, body: Body) -> Response {
    match run(&st, &headers, body).await {
        Ok(r) => r,
        Err(e) => ApiError::new(Door::OpenAi, e).into_response(),
    }
}

async fn run(st: &GatewayState, headers: &HeaderMap, body: Body) -> Result<Response, GatewayError> {
    let snapshot = st.live.snapshot.load_full();
    let caller = auth::authenticate(&snapshot, headers)?;
    let bytes: Bytes = body::read_limited(body, headers, st.max_body_bytes).await?;
    let request = parse(&bytes)?;
    let model: Arc<ModelSpec> = snapshot
        .models
        .get(&request.model)
        .cloned()
        .ok_or_else(|| GatewayError::ModelNotFound(request.model.clone()))?;
    if !caller.may_use(&model.name) {
        return Err(GatewayError::ModelNotAllowed(model.name.clone()));
    }
    let wants_base64 = request.encoding_format.as_deref() == Some("base64");
    let deadline = Instant::now() + model.timeouts.unwrap_or_default().total();
    let mut failures: Vec<(String, Failure)> = Vec::new();
    let candidates: Vec<_> = forward::candidates(st, &snapshot, &model)
        .into_iter()
        .filter(|c| embeddings_format(c.provider.kind).is_some())
        .collect();
    if candidates.is_empty() {
        return Err(GatewayError::invalid_param(
            format!(
                "The model `{}` is served only by providers without an embeddings API (such as anthropic)",
                model.name
            ),
            "model",
        ));
    }

    for cand in candidates {
        let provider = &cand.provider;
        let Some(format) = embeddings_format(provider.kind) else {
            continue;
        };
        let now = Instant::now();
        if now >= deadline {
            failures.push((
                provider.name.clone(),
                Failure::Timeout {
                    message: "request deadline passed".into(),
                },
            ));
            break;
        }
        let body = native_body(&request, provider, format, &cand.target.model)?;
        let Some(call) = embeddings_call(provider, pick_key(provider), &cand.target.model, body)
        else {
            continue;
        };
        let timeouts = cand
            .target
            .timeouts
            .unwrap_or_default()
            .or(cand.model.timeouts.unwrap_or_default());
        let started = Instant::now();
        let result = attempt(
            st,
            &call,
            timeouts.connect(),
            timeouts.first_byte().min(deadline - now),
            deadline,
        )
        .await;
        let elapsed = started.elapsed().as_secs_f64();
        let raw = match result {
            Ok(raw) => raw,
            Err(failure) => {
                record_upstream(&provider.name, failure.cause(), elapsed);
                tracing::warn!(provider = %provider.name, target = %cand.target.model, cause = failure.cause(), "embeddings attempt failed");
                if let Failure::RequestFault { status, message } = failure {
                    return Err(GatewayError::UpstreamRejected { status, message });
                }
                failures.push((provider.name.clone(), failure));
                continue;
            }
        };
        let answer = match door_answer(&request, format, &cand.target.model, wants_base64, &raw) {
            Ok(a) => a,
            Err(message) => {
                record_upstream(&provider.name, "transient", elapsed);
                tracing::warn!(provider = %provider.name, %message, "upstream sent an invalid embeddings answer");
                failures.push((
                    provider.name.clone(),
                    Failure::Transient {
                        status: Some(200),
                        message,
                    },
                ));
                continue;
            }
        };
        record_upstream(&provider.name, "ok", elapsed);
        let prompt_tokens = answer.usage.as_ref().map_or(0, |u| u.prompt_tokens);
        let mut meter = Meter::new(
            Arc::from(model.name.as_str()),
            cand.model.price.map(TokenPrice::from),
        );
        meter.observe(Usage {
            input: prompt_tokens,
            output: 0,
        });
        let cost = meter.record();
        let body = serde_json::to_vec(&answer)
            .map_err(|e| GatewayError::Internal(format!("serialising embeddings: {e}")))?;
        let mut res = Response::new(Body::from(body));
        let h = res.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(v) = HeaderValue::from_str(&format_usd(cost)) {
            h.insert("x-tollgate-cost-usd", v);
        }
        return Ok(res);
    }
    Err(final_error(&failures))
}

/// Parses and validates the body (400 with the offending field where known).
fn parse(bytes: &[u8]) -> Result<EmbeddingsRequest, GatewayError> {
    if bytes.is_empty() {
        return Err(GatewayError::invalid(
            "The request body is empty; send a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let req: EmbeddingsRequest = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() || path == "." {
            GatewayError::invalid(format!("Invalid JSON body: {inner}"))
        } else if path == "input" {
            GatewayError::invalid_param(
                "`input` must be a string, an array of strings, an array of token ids or an array of token id arrays",
                path,
            )
        } else {
            GatewayError::invalid_param(format!("Invalid field `{path}`: {inner}"), path)
        }
    })?;
    req.validate().map_err(|e| match e.param {
        Some(p) => GatewayError::invalid_param(e.message, p),
        None => GatewayError::invalid(e.message),
    })?;
    Ok(req)
}

fn translate_error(e: TranslateError) -> GatewayError {
    match e.param() {
        Some(p) => GatewayError::invalid_param(e.to_string(), p.to_string()),
        None => GatewayError::invalid(e.to_string()),
    }
}

/// The request body in the provider's format, for `upstream_model`.
fn native_body(
    request: &EmbeddingsRequest,
    provider: &ProviderSpec,
    format: WireFormat,
    upstream_model: &str,
) -> Result<Bytes, GatewayError> {
    let json = match format {
        WireFormat::Gemini => serde_json::to_vec(
            &emb::openai_embeddings_to_gemini(request, upstream_model).map_err(translate_error)?,
        ),
        WireFormat::Ollama => serde_json::to_vec(
            &emb::openai_embeddings_to_ollama(request, upstream_model).map_err(translate_error)?,
        ),
        WireFormat::OpenAiChat | WireFormat::AnthropicMessages => {
            let mut r = request.clone();
            r.model = upstream_model.to_string();
            prepare_openai_embeddings(provider.kind, &mut r);
            serde_json::to_vec(&r)
        }
    };
    json.map(Bytes::from)
        .map_err(|e| GatewayError::Internal(format!("serialising the upstream request: {e}")))
}

/// The provider's answer as the client's: OpenAI's format, the encoding asked for, and
/// usage (estimated when the provider gives none). `Err` describes a malformed answer.
fn door_answer(
    request: &EmbeddingsRequest,
    format: WireFormat,
    upstream_model: &str,
    base64: bool,
    raw: &[u8],
) -> Result<EmbeddingsResponse, String> {
    let mut answer = match format {
        WireFormat::Gemini => {
            let g: gemini::BatchEmbedContentsResponse =
                serde_json::from_slice(raw).map_err(|e| e.to_string())?;
            emb::gemini_embeddings_to_openai(&g, upstream_model, base64)
        }
        WireFormat::Ollama => {
            let o: ollama::EmbedResponse =
                serde_json::from_slice(raw).map_err(|e| e.to_string())?;
            emb::ollama_embeddings_to_openai(&o, base64)
        }
        WireFormat::OpenAiChat | WireFormat::AnthropicMessages => {
            let mut o: EmbeddingsResponse =
                serde_json::from_slice(raw).map_err(|e| e.to_string())?;
            emb::set_encoding(&mut o, base64).map_err(|e| e.to_string())?;
            o
        }
    };
    if answer.data.len() != request.input.len() {
        return Err(format!(
            "the answer has {} embeddings for {} inputs",
            answer.data.len(),
            request.input.len()
        ));
    }
    if answer.model.is_empty() {
        answer.model = upstream_model.to_string();
    }
    if answer.usage.as_ref().is_none_or(|u| u.prompt_tokens == 0) {
        let n = estimate_tokens(&request.input);
        answer.usage = Some(EmbeddingUsage {
            prompt_tokens: n,
            total_tokens: n,
            extra: Default::default(),
        });
    }
    Ok(answer)
}

/// Prompt tokens of the inputs, with the gateway's tokenizer.
fn estimate_tokens(input: &EmbeddingInput) -> u64 {
    match input {
        EmbeddingInput::Text(s) => tokens::count(s),
        EmbeddingInput::Texts(v) => v.iter().map(|s| tokens::count(s)).sum(),
        EmbeddingInput::Tokens(t) => t.len() as u64,
        EmbeddingInput::TokenArrays(v) => v.iter().map(|t| t.len() as u64).sum(),
    }
}

/// One attempt: the answer's body, or why it failed.
async fn attempt(
    st: &GatewayState,
    call: &UpstreamCall,
    connect: Duration,
    first_byte: Duration,
    deadline: Instant,
) -> Result<Bytes, Failure> {
    let resp = st
        .client
        .send(call, connect, first_byte)
        .await
        .map_err(|e| match e {
            SendError::Timeout(_) => Failure::Timeout {
                message: e.to_string(),
            },
            SendError::Connect(_) | SendError::Io(_) => Failure::Transient {
                status: None,
                message: e.to_string(),
            },
        })?;
    let status = resp.status().as_u16();
    if !resp.status().is_success() {
        let headers = resp.headers().clone();
        let body = read_capped(resp, MAX_ERROR_BODY, deadline)
            .await
            .unwrap_or_default();
        return Err(classify(status, &headers, &body));
    }
    read_capped(resp, MAX_ANSWER_BODY, deadline).await
}

async fn read_capped(
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

fn pick_key(provider: &ProviderSpec) -> Option<&str> {
    match provider.api_keys.len() {
        0 => None,
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

/// The most telling cause of total failure, as for chat.
fn final_error(failures: &[(String, Failure)]) -> GatewayError {
    let Some((last, _)) = failures.last() else {
        return GatewayError::Upstream {
            code: UpstreamCode::Unavailable,
            message: "No upstream target with an embeddings API is configured for this model"
                .into(),
        };
    };
    if failures
        .iter()
        .all(|(_, f)| matches!(f, Failure::KeyDead { .. }))
    {
        return GatewayError::Upstream {
            code: UpstreamCode::PaymentRequired,
            message: "Every upstream target refused the gateway's credentials; the operator has been told".into(),
        };
    }
    let code = match failures
        .iter()
        .rev()
        .map(|(_, f)| f)
        .find(|f| !matches!(f, Failure::KeyDead { .. }))
    {
        Some(Failure::Timeout { .. }) => UpstreamCode::Timeout,
        Some(Failure::Throttled { .. }) => UpstreamCode::RateLimited,
        _ => UpstreamCode::Unavailable,
    };
    let message = match code {
        UpstreamCode::RateLimited => "Every upstream target is rate limited; retry later".into(),
        _ => format!(
            "Every upstream target failed ({} attempt(s), last: {last})",
            failures.len()
        ),
    };
    GatewayError::Upstream { code, message }
}
