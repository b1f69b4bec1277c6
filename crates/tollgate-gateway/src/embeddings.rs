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

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use tollgate_core::money::format_usd;
use tollgate_core::spec::{ModelSpec, ProviderSpec};
use tollgate_core::{Door, GatewayError, UpstreamCode};
use tollgate_protocol::openai::{
    EmbeddingInput, EmbeddingUsage, EmbeddingsRequest, EmbeddingsResponse,
};
use tollgate_protocol::translate::embeddings as emb;
use tollgate_protocol::{TranslateError, gemini, ollama};
use tollgate_providers::{
    WireFormat, embeddings_call, embeddings_format, prepare_openai_embeddings,
};

use tracing::Instrument;

use crate::admission::{self, Plan};
use crate::forward::{self, Answer};
use crate::lifecycle::Call;
use crate::reply::ApiError;
use crate::state::GatewayState;
use crate::usage::{Usage, billed};
use crate::{auth, body, body_log, tokens};

/// The route handler.
pub async fn handler(
    State(st): State<GatewayState>,
    Extension(call): Extension<Call>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match run(&st, &headers, body, &call).await {
        Ok(r) => r,
        Err(e) => ApiError::new(Door::OpenAi, e).into_response(),
    }
}

async fn run(
    st: &GatewayState,
    headers: &HeaderMap,
    body: Body,
    call: &Call,
) -> Result<Response, GatewayError> {
    let snapshot = st.live.snapshot.load_full();
    let caller = tracing::info_span!("auth")
        .in_scope(|| auth::authenticate_call(&snapshot, headers, call))?;
    let bytes: Bytes = body::read_limited(body, headers, st.max_body_bytes).await?;
    // As for chat: the consumer's `log_bodies` from here, the model's once known.
    body_log::begin(
        call,
        caller.consumer.log_bodies,
        st,
        &snapshot,
        headers,
        &bytes,
    );
    let mut request = parse(&bytes)?;
    let model_logs = snapshot
        .models
        .get(&request.model)
        .is_some_and(|m| m.log_bodies);
    body_log::begin(call, model_logs, st, &snapshot, headers, &bytes);
    drop(bytes);
    call.set_model(&request.model, false);
    call.set_masks(crate::masking::Masks::select(
        &snapshot,
        Some(&request.model),
        None,
    ));
    crate::masking::mask_embeddings(&mut request.input, call)?;
    let model: Arc<ModelSpec> = snapshot
        .models
        .get(&request.model)
        .cloned()
        .ok_or_else(|| GatewayError::ModelNotFound(request.model.clone()))?;
    call.set_model_label(Arc::from(model.name.as_str()));
    auth::permit_model(&caller, &model, call)?;
    // Limits and budgets as for chat: the inputs' tokens are the whole cost.
    let prompt_estimate = estimate_tokens(&request.input).await;
    let plan = Plan::new(&snapshot, Some(&caller), model, Some(0), prompt_estimate);
    let servable = forward::candidates(st, &snapshot, &plan)
        .iter()
        .any(|c| embeddings_format(c.provider.kind).is_some());
    if !servable {
        return Err(GatewayError::invalid_param(
            format!(
                "The model `{}` is served only by providers without an embeddings API (such as anthropic)",
                plan.requested().name
            ),
            "model",
        ));
    }
    admission::admit(st.metering.as_ref(), &snapshot, &caller, &plan, call)
        .instrument(tracing::info_span!("admission"))
        .await?;

    let wants_base64 = request.encoding_format.as_deref() == Some("base64");
    let success = forward::send_with_failover(st, &snapshot, &plan, false, call, |cand, key| {
        let provider = &cand.provider;
        let Some(format) = embeddings_format(provider.kind) else {
            return Ok(None);
        };
        let body = native_body(&request, provider, format, &cand.target.model)?;
        Ok(embeddings_call(provider, key, &cand.target.model, body))
    })
    .await?;
    let provider = &success.cand.provider;
    let Answer::Body(raw) = &success.answer else {
        return Err(GatewayError::Internal("expected a whole answer".into()));
    };
    let answer = embeddings_format(provider.kind)
        .ok_or_else(|| "no embeddings format".to_string())
        .and_then(|format| {
            door_answer(
                &request,
                format,
                &success.cand.target.model,
                wants_base64,
                raw,
                prompt_estimate,
            )
        });
    let answer = answer.map_err(|message| {
        tracing::warn!(provider = %provider.name, %message, "upstream sent an invalid embeddings answer");
        GatewayError::Upstream {
            code: UpstreamCode::Unavailable,
            message: format!(
                "The upstream `{}` sent an embeddings answer the gateway could not read",
                provider.name
            ),
        }
    })?;
    let prompt_tokens = answer.usage.as_ref().map_or(0, |u| u.prompt_tokens);
    let (usage, cost) = billed(&success.cand, Some(Usage::new(prompt_tokens, 0)), || {
        Usage::new(prompt_estimate, 0)
    });
    call.answered_by(
        &provider.name,
        &success.cand.target.model,
        success.ttfb.as_millis() as u64,
    );
    call.set_usage(usage, cost);
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
    Ok(res)
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
/// usage (`estimate`, the inputs' tokens counted at admission, when the provider gives
/// none). `Err` describes a malformed answer.
fn door_answer(
    request: &EmbeddingsRequest,
    format: WireFormat,
    upstream_model: &str,
    base64: bool,
    raw: &[u8],
    estimate: u64,
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
        answer.usage = Some(EmbeddingUsage {
            prompt_tokens: estimate,
            total_tokens: estimate,
            extra: Default::default(),
        });
    }
    Ok(answer)
}

/// Prompt tokens of the inputs, with the gateway's tokenizer: each text on its own, as
/// the provider counts them, and off the async executor when they are large (a copy of
/// the text is cheap next to tokenizing it).
async fn estimate_tokens(input: &EmbeddingInput) -> u64 {
    match input {
        EmbeddingInput::Text(s) => tokens::count_async(s.clone()).await,
        EmbeddingInput::Texts(v) => tokens::count_all_async(v.clone()).await,
        EmbeddingInput::Tokens(t) => t.len() as u64,
        EmbeddingInput::TokenArrays(v) => v.iter().map(|t| t.len() as u64).sum(),
    }
}
