//! The chat route kind (`/v1/chat/completions`, `/v1/messages`, and through
//! [`crate::responses`] `/v1/responses`): the lifecycle's
//! phases for one chat request, in PRODUCT.md's precedence order (401, 413, 400, 404,
//! 403, then 429, 402 and upstream errors), so that when several errors apply the
//! client sees the first one.

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::HeaderMap;
use tollgate_core::snapshot::{Caller, Snapshot};
use tollgate_core::spec::ModelSpec;
use tollgate_core::{Door, GatewayError};
use tollgate_protocol::{anthropic, openai};

pub use crate::door::{DoorRequest, door_of};

use tracing::Instrument;

use crate::admission::{self, Plan};
use crate::lifecycle::Call;
use crate::reply::ApiError;
use crate::state::GatewayState;
use crate::{auth, body, body_log, chat, tokens};

/// Parses and validates a body in `door`'s format (400 on any fault, with the
/// offending field as `param` where known).
pub fn parse_door_request(door: Door, bytes: &[u8]) -> Result<DoorRequest, GatewayError> {
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

pub(crate) fn parse_typed<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, GatewayError> {
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

pub(crate) fn protocol_error(e: tollgate_protocol::ProtocolError) -> GatewayError {
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
/// door's answer.
pub async fn run(
    st: &GatewayState,
    door: Door,
    headers: &HeaderMap,
    body: Body,
    call: &Call,
) -> Response {
    let mut label = None;
    let mut res = match phases(st, door, headers, body, call, &mut label).await {
        Ok(res) => res,
        Err(e) => ApiError::new(door, e).into_response(),
    };
    if let Some(m) = label {
        res.extensions_mut().insert(ModelLabel(m));
    }
    res
}

async fn phases(
    st: &GatewayState,
    door: Door,
    headers: &HeaderMap,
    body: Body,
    call: &Call,
    label: &mut Option<Arc<str>>,
) -> Result<Response, GatewayError> {
    let (snapshot, caller, bytes) = authenticate_and_read(st, headers, body, call).await?;
    let request = parse_door_request(door, &bytes)?;
    parsed(st, &snapshot, &request, headers, bytes, call);
    serve(st, &snapshot, &caller, request, headers, call, label).await
}

/// Phases 1 and 2 of every chat door: who is calling (401), and the body, read up to
/// the limit (413). Bodies are logged from here when the consumer asks (a bad request
/// included), or once the model is known when the model does ([`parsed`]).
pub async fn authenticate_and_read(
    st: &GatewayState,
    headers: &HeaderMap,
    body: Body,
    call: &Call,
) -> Result<(Arc<Snapshot>, Caller, Bytes), GatewayError> {
    // authenticate (401)
    let snapshot = st.live.snapshot.load_full();
    let caller = tracing::info_span!("auth")
        .in_scope(|| auth::authenticate_call(&snapshot, headers, call))?;
    // read (413)
    let bytes: Bytes = body::read_limited(body, headers, st.max_body_bytes).await?;
    body_log::begin(
        call,
        caller.consumer.log_bodies,
        st,
        &snapshot,
        headers,
        &bytes,
    );
    Ok((snapshot, caller, bytes))
}

/// A request parsed (400 passed): bodies logged when its model asks, and the model
/// and stream flag on the call. The body is released here.
pub fn parsed(
    st: &GatewayState,
    snapshot: &Arc<Snapshot>,
    request: &DoorRequest,
    headers: &HeaderMap,
    bytes: Bytes,
    call: &Call,
) {
    let model_logs = snapshot
        .models
        .get(request.model())
        .is_some_and(|m| m.log_bodies);
    body_log::begin(call, model_logs, st, snapshot, headers, &bytes);
    drop(bytes);
    call.set_model(request.model(), request.is_stream());
}

/// A chat request once read: resolve (404, 403), admit (429, 402), then the cache,
/// failover and the answer in the request's door format. The chat doors come here
/// after parsing, prompt-APIs after rendering their template into a request.
pub async fn serve(
    st: &GatewayState,
    snapshot: &Arc<Snapshot>,
    caller: &Caller,
    mut request: DoorRequest,
    headers: &HeaderMap,
    call: &Call,
    label: &mut Option<Arc<str>>,
) -> Result<Response, GatewayError> {
    // mask (400 when a `block` rule matches): before anything reads the prompt
    let service = call.service();
    call.set_masks(crate::masking::Masks::select(
        snapshot,
        Some(request.model()),
        service.as_deref(),
    ));
    crate::masking::mask_chat_request(&mut request, call)?;
    // resolve (404, 403)
    let model: Arc<ModelSpec> = snapshot
        .models
        .get(request.model())
        .cloned()
        .ok_or_else(|| GatewayError::ModelNotFound(request.model().to_string()))?;
    let name: Arc<str> = Arc::from(model.name.as_str());
    call.set_model_label(name.clone());
    *label = Some(name);
    if let Some(n) = request.max_output_tokens() {
        call.span().record("gen_ai.request.max_tokens", n);
    }
    auth::permit_model(caller, &model, call)?;
    // admit (429, 402): the worst case over every model the request may end on
    let prompt = tokens::estimate_prompt(&request).await;
    let plan = Plan::new(
        snapshot,
        Some(caller),
        model,
        request.max_output_tokens(),
        prompt,
    );
    admission::admit(st.metering.as_ref(), snapshot, caller, &plan, call)
        .instrument(tracing::info_span!("admission"))
        .await?;
    // cache, forward, answer
    chat::respond(
        st,
        snapshot,
        &plan,
        request,
        headers,
        &caller.consumer.name,
        call,
    )
    .await
}
