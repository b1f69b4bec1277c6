//! One chat request through either door, from the headers to the forwarded answer.
//!
//! The checks run in PRODUCT.md's precedence order (401, 413, 400, 404, 403, then
//! limits and upstream errors), so that when several errors apply the client sees
//! the first one.

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use tollgate_core::money::format_usd;
use tollgate_core::spec::ModelSpec;
use tollgate_core::{Door, GatewayError};
use tollgate_protocol::{anthropic, openai};

use crate::metering;
use crate::reply::ApiError;
use crate::request_id::RequestId;
use crate::state::GatewayState;
use crate::{auth, body, chat, tokens};

/// A chat request as it arrived, in its door's wire format.
#[derive(Debug, Clone)]
pub enum DoorRequest {
    OpenAi(Box<openai::ChatRequest>),
    Anthropic(Box<anthropic::MessagesRequest>),
}

impl DoorRequest {
    pub fn door(&self) -> Door {
        match self {
            DoorRequest::OpenAi(_) => Door::OpenAi,
            DoorRequest::Anthropic(_) => Door::Anthropic,
        }
    }

    /// Parses and validates the body in `door`'s format (400 on any fault, with the
    /// offending field as `param` where known).
    pub fn parse(door: Door, bytes: &[u8]) -> Result<Self, GatewayError> {
        match door {
            Door::OpenAi => {
                let req: openai::ChatRequest = parse_typed(bytes)?;
                req.validate().map_err(protocol_error)?;
                Ok(DoorRequest::OpenAi(Box::new(req)))
            }
            Door::Anthropic => {
                let req: anthropic::MessagesRequest = parse_typed(bytes)?;
                req.validate().map_err(protocol_error)?;
                Ok(DoorRequest::Anthropic(Box::new(req)))
            }
        }
    }

    pub fn model(&self) -> &str {
        match self {
            DoorRequest::OpenAi(r) => &r.model,
            DoorRequest::Anthropic(r) => &r.model,
        }
    }

    pub fn is_stream(&self) -> bool {
        match self {
            DoorRequest::OpenAi(r) => r.is_stream(),
            DoorRequest::Anthropic(r) => r.stream.unwrap_or(false),
        }
    }

    /// The answer's token cap the client set, if any.
    pub fn max_output_tokens(&self) -> Option<u32> {
        match self {
            DoorRequest::OpenAi(r) => r.max_output_tokens(),
            DoorRequest::Anthropic(r) => r.max_tokens,
        }
    }

    /// Whether an OpenAI client asked for the final usage chunk of a stream.
    pub fn wants_usage_chunk(&self) -> bool {
        match self {
            DoorRequest::OpenAi(r) => r.include_usage(),
            DoorRequest::Anthropic(_) => false,
        }
    }
}

fn parse_typed<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, GatewayError> {
    if bytes.is_empty() {
        return Err(GatewayError::invalid(
            "The request body is empty; send a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() || path == "." {
            GatewayError::invalid(format!("Invalid JSON body: {inner}"))
        } else {
            GatewayError::invalid_param(format!("Invalid field `{path}`: {inner}"), path)
        }
    })
}

fn protocol_error(e: tollgate_protocol::ProtocolError) -> GatewayError {
    match e.param.clone() {
        Some(p) => GatewayError::invalid_param(e.message.clone(), p),
        None => GatewayError::invalid(e.message.clone()),
    }
}

/// The configured model a request resolved to, for metric labels (never a name the
/// client made up, so label cardinality stays bounded by the configuration).
#[derive(Debug, Clone)]
pub struct ModelLabel(pub Arc<str>);

/// Runs a chat request through `door`; every outcome, errors included, becomes the
/// door's answer, with the caller's rate-limit headers where a limit applies.
pub async fn run(
    st: &GatewayState,
    door: Door,
    headers: &HeaderMap,
    body: Body,
    request_id: &RequestId,
) -> Response {
    let mut extra = Vec::new();
    let mut model = None;
    let result = run_inner(st, door, headers, body, request_id, &mut extra, &mut model).await;
    let mut res = result.unwrap_or_else(|e| ApiError::new(door, e).into_response());
    let h = res.headers_mut();
    for (name, value) in extra {
        h.insert(name, value);
    }
    if let Some(m) = model {
        res.extensions_mut().insert(ModelLabel(m));
    }
    res
}

async fn run_inner(
    st: &GatewayState,
    door: Door,
    headers: &HeaderMap,
    body: Body,
    request_id: &RequestId,
    extra: &mut Vec<(HeaderName, HeaderValue)>,
    label: &mut Option<Arc<str>>,
) -> Result<Response, GatewayError> {
    let snapshot = st.live.snapshot.load_full();
    let caller = auth::authenticate(&snapshot, headers)?;
    let bytes: Bytes = body::read_limited(body, headers, st.max_body_bytes).await?;
    let request = DoorRequest::parse(door, &bytes)?;
    let model: Arc<ModelSpec> = snapshot
        .models
        .get(request.model())
        .cloned()
        .ok_or_else(|| GatewayError::ModelNotFound(request.model().to_string()))?;
    *label = Some(Arc::from(model.name.as_str()));
    if !caller.may_use(&model.name) {
        return Err(GatewayError::ModelNotAllowed(model.name.clone()));
    }

    let max_output = request
        .max_output_tokens()
        .or(model.max_output_tokens)
        .unwrap_or(metering::DEFAULT_MAX_OUTPUT_TOKENS);
    let prompt_estimate = tokens::estimate_prompt(&request);
    let admitted = metering::admission(
        st.metering.as_ref(),
        &snapshot,
        &caller,
        &model,
        &request_id.0,
        prompt_estimate,
        max_output,
    )
    .await;
    let settlement = match admitted {
        Ok(s) => s,
        Err(refusal) => {
            // A refused request is still "under a limit": its figures go on the answer.
            if let Some(h) = &refusal.rate_headers {
                extra.extend(metering::rate_header_pairs(h));
            }
            return Err(refusal.error);
        }
    };
    let ticket = settlement.ticket();
    if let Some(h) = &ticket.rate_headers {
        extra.extend(metering::rate_header_pairs(h));
    }
    if let Some(left) = ticket.budget_remaining
        && let Ok(v) = HeaderValue::from_str(&format_usd(left.max(0)))
    {
        extra.push((
            HeaderName::from_static("x-tollgate-budget-remaining-usd"),
            v,
        ));
    }
    let consumer = caller.consumer.name.clone();
    chat::respond(
        st,
        &snapshot,
        &model,
        request,
        prompt_estimate,
        settlement,
        headers,
        &consumer,
    )
    .await
}
