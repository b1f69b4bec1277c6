//! The OpenAI Responses door: `POST /v1/responses`, `GET` and `DELETE
//! /v1/responses/{id}`.
//!
//! A Responses request is translated to a Chat Completions request
//! ([`ResponsesRequest::to_chat`]) and runs through the chat route kind unchanged
//! ([`crate::pipeline`]: key, body limit, model, scope, limits, budgets with the
//! reservation covering `max_output_tokens`, cache, failover, every provider kind,
//! the call record under door `responses`). Its answer, in the OpenAI door's format,
//! is turned into a Responses object ([`Echo::from_chat`]) or, for a stream, into the
//! Responses events chunk by chunk as the relay hands them over
//! ([`ResponsesStream`]). Errors use OpenAI's envelope.
//!
//! **Stored responses.** With `store` (default `true`, as in OpenAI) the finished
//! response and its whole conversation (earlier turns, the input, the output; not the
//! `instructions`, which a continuation does not inherit, as in OpenAI) are written to
//! the database off the request path ([`Pending`]), under the calling consumer.
//! `previous_response_id` reads them back (a database read, before admission) and
//! the upstream sees the conversation whole. Another consumer's id is a 404
//! `not_found`, exactly like an id that never existed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use http::HeaderMap;
use serde_json::{Value, json};
use tokio::sync::watch;
use tollgate_core::{Door, GatewayError};
use tollgate_protocol::openai::{ChatChunk, ChatResponse, Message};
use tollgate_protocol::responses::{
    Echo, ResponsesRequest, ResponsesStream, encode, output_messages,
};
use tollgate_protocol::sse::SseParser;
use tollgate_store::Store;

use crate::auth;
use crate::door::DoorRequest;
use crate::lifecycle::Call;
use crate::pipeline::{self, ModelLabel};
use crate::reply::ApiError;
use crate::state::GatewayState;

/// Stored responses being written, by id: a continuation or a read on this node
/// waits for the write of the response it names instead of missing it.
#[derive(Debug, Default)]
pub struct Pending {
    writes: Mutex<HashMap<String, watch::Receiver<bool>>>,
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Receiver<bool>>> {
        self.writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `write` in the background, known as pending under `id` until it is done.
    fn spawn(
        self: &Arc<Self>,
        id: String,
        write: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let (tx, rx) = watch::channel(false);
        self.lock().insert(id.clone(), rx);
        let me = self.clone();
        tokio::spawn(async move {
            write.await;
            me.lock().remove(&id);
            let _ = tx.send(true);
        });
    }

    /// Waits until the write of `id`, if one is under way on this node, is done.
    async fn settled(&self, id: &str) {
        let rx = self.lock().get(id).cloned();
        if let Some(mut rx) = rx {
            let _ = rx.wait_for(|done| *done).await;
        }
    }
}

/// What keeps a finished response: where, for whom, and the conversation so far.
struct Keep {
    store: Store,
    pending: Arc<Pending>,
    consumer: String,
    /// Earlier turns and this request's input, as chat messages.
    conversation: Vec<Message>,
}

impl Keep {
    /// Writes `response` (a finished Responses object) in the background.
    fn save(self, response: &Value) {
        let Some(id) = response
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return;
        };
        let mut conversation = self.conversation;
        conversation.extend(output_messages(
            response["output"].as_array().map_or(&[][..], Vec::as_slice),
        ));
        let (Ok(conversation), Ok(body)) = (
            serde_json::to_string(&conversation),
            serde_json::to_string(response),
        ) else {
            return;
        };
        let Keep {
            store,
            pending,
            consumer,
            ..
        } = self;
        let key = id.clone();
        pending.spawn(key, async move {
            if let Err(e) = store
                .insert_response(&id, &consumer, &body, &conversation)
                .await
            {
                tracing::warn!(response_id = %id, error = %e, "a response could not be stored");
            }
        });
    }
}

fn not_found(id: &str, param: Option<&str>) -> GatewayError {
    GatewayError::ResourceNotFound {
        message: format!("No response with id '{id}' found"),
        param: param.map(str::to_string),
    }
}

fn store_of(st: &GatewayState) -> Option<&Store> {
    st.metering.as_ref().map(|m| &m.store)
}

/// A stored response of `consumer` (after any write of it on this node is done).
async fn stored(
    st: &GatewayState,
    consumer: &str,
    id: &str,
    param: Option<&str>,
) -> Result<tollgate_store::StoredResponse, GatewayError> {
    let Some(store) = store_of(st) else {
        return Err(not_found(id, param));
    };
    st.responses.settled(id).await;
    store
        .get_response(consumer, id)
        .await
        .map_err(|e| GatewayError::Internal(format!("reading a stored response: {e}")))?
        .ok_or_else(|| not_found(id, param))
}

/// `POST /v1/responses`.
pub async fn create(
    State(st): State<GatewayState>,
    Extension(call): Extension<Call>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut label = None;
    let mut res = match phases(&st, &headers, body, &call, &mut label).await {
        Ok(res) => res,
        Err(e) => ApiError::new(Door::OpenAi, e).into_response(),
    };
    if let Some(m) = label {
        res.extensions_mut().insert(ModelLabel(m));
    }
    res
}

async fn phases(
    st: &GatewayState,
    headers: &HeaderMap,
    body: Body,
    call: &Call,
    label: &mut Option<Arc<str>>,
) -> Result<Response, GatewayError> {
    let (snapshot, caller, bytes) =
        pipeline::authenticate_and_read(st, headers, body, call).await?;
    let request: ResponsesRequest = pipeline::parse_typed(&bytes)?;
    // 400 before 404: the input is read before a stored conversation is looked up.
    let input = request.input_messages().map_err(pipeline::protocol_error)?;
    let history = match request.previous_response_id.as_deref() {
        Some(id) => {
            let prev = stored(st, &caller.consumer.name, id, Some("previous_response_id")).await?;
            serde_json::from_str::<Vec<Message>>(&prev.conversation).map_err(|e| {
                GatewayError::Internal(format!("stored response {id} is unreadable: {e}"))
            })?
        }
        None => Vec::new(),
    };
    let chat_request = request
        .to_chat(history.clone())
        .map_err(pipeline::protocol_error)?;
    chat_request.validate().map_err(pipeline::protocol_error)?;
    let door_request = DoorRequest::OpenAi(Box::new(chat_request));
    pipeline::parsed(st, &snapshot, &door_request, headers, bytes, call);
    let echo = Echo::new(
        format!("resp_{}", uuid::Uuid::new_v4().simple()),
        chrono::Utc::now().timestamp().max(0) as u64,
        &request,
    );
    let keep = match (request.wants_store(), store_of(st)) {
        (true, Some(store)) => {
            let mut conversation = history;
            conversation.extend(input);
            Some(Keep {
                store: store.clone(),
                pending: st.responses.clone(),
                consumer: caller.consumer.name.clone(),
                conversation,
            })
        }
        _ => None,
    };
    // resolve, admit, cache, forward: the chat door's phases
    let answer =
        pipeline::serve(st, &snapshot, &caller, door_request, headers, call, label).await?;
    if request.is_stream() {
        Ok(stream_answer(answer, echo, keep))
    } else {
        whole_answer(answer, &echo, keep).await
    }
}

/// A whole chat answer as a Responses object (the answer is in memory already).
async fn whole_answer(
    answer: Response,
    echo: &Echo,
    keep: Option<Keep>,
) -> Result<Response, GatewayError> {
    let (mut parts, body) = answer.into_parts();
    let bytes = axum::body::to_bytes(body, crate::MAX_ANSWER_BODY)
        .await
        .map_err(|e| GatewayError::Internal(format!("reading the chat answer: {e}")))?;
    let chat: ChatResponse = serde_json::from_slice(&bytes)
        .map_err(|e| GatewayError::Internal(format!("the chat answer is unreadable: {e}")))?;
    let response = echo.from_chat(&chat);
    if let Some(keep) = keep {
        keep.save(&response);
    }
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Ok(Response::from_parts(
        parts,
        Body::from(response.to_string()),
    ))
}

/// The chat stream's body, turned into Responses events as it arrives.
struct Transcode {
    chat: futures::stream::BoxStream<'static, Result<Bytes, axum::Error>>,
    parser: SseParser,
    events: ResponsesStream,
    keep: Option<Keep>,
    begun: bool,
}

impl Transcode {
    fn render(events: Vec<Value>) -> Bytes {
        let mut out = Vec::new();
        for e in &events {
            out.extend_from_slice(&encode(e));
        }
        Bytes::from(out)
    }

    /// The events of some chat stream bytes.
    fn push(&mut self, bytes: &[u8]) -> Vec<Value> {
        let parsed = match self.parser.push(bytes) {
            Ok(p) => p,
            Err(e) => return self.events.fail("upstream_stream_broken", &e.to_string()),
        };
        let mut out = Vec::new();
        for ev in parsed {
            if ev.is_done() || ev.data.is_empty() {
                continue;
            }
            let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
                out.extend(self.events.fail(
                    "upstream_stream_broken",
                    "The upstream stream sent an unreadable chunk",
                ));
                break;
            };
            if let Some(err) = v.get("error") {
                let code = err
                    .get("code")
                    .and_then(Value::as_str)
                    .unwrap_or("upstream_stream_broken");
                let message = err
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("The upstream stream broke");
                out.extend(self.events.fail(code, message));
                break;
            }
            match serde_json::from_value::<ChatChunk>(v) {
                Ok(chunk) => out.extend(self.events.push(&chunk)),
                Err(_) => {
                    out.extend(self.events.fail(
                        "upstream_stream_broken",
                        "The upstream stream sent an unreadable chunk",
                    ));
                    break;
                }
            }
        }
        out
    }

    /// Keeps the finished response, once, if it finished well and is to be kept.
    fn save(&mut self) {
        let Some(result) = self.events.result() else {
            return;
        };
        if result["status"] == "failed" {
            self.keep = None;
            return;
        }
        if let Some(keep) = self.keep.take() {
            keep.save(result);
        }
    }

    async fn next(&mut self) -> Option<Bytes> {
        if !self.begun {
            self.begun = true;
            return Some(Self::render(self.events.begin()));
        }
        loop {
            if self.events.is_ended() {
                return None;
            }
            let events = match self.chat.next().await {
                Some(Ok(bytes)) => self.push(&bytes),
                Some(Err(e)) => self.events.fail(
                    "upstream_stream_broken",
                    &format!("The upstream stream broke: {e}"),
                ),
                None => {
                    let mut tail = match self.parser.finish() {
                        Ok(rest) => {
                            let mut out = Vec::new();
                            for ev in rest.into_iter().filter(|e| !e.is_done()) {
                                if let Ok(chunk) = serde_json::from_str::<ChatChunk>(&ev.data) {
                                    out.extend(self.events.push(&chunk));
                                }
                            }
                            out
                        }
                        Err(e) => self.events.fail("upstream_stream_broken", &e.to_string()),
                    };
                    tail.extend(self.events.finish());
                    tail
                }
            };
            self.save();
            if !events.is_empty() {
                return Some(Self::render(events));
            }
        }
    }
}

/// A streamed chat answer as the Responses event stream (same headers).
fn stream_answer(answer: Response, echo: Echo, keep: Option<Keep>) -> Response {
    let (parts, body) = answer.into_parts();
    let transcode = Transcode {
        chat: body.into_data_stream().boxed(),
        parser: SseParser::new(),
        events: ResponsesStream::new(echo),
        keep,
        begun: false,
    };
    let stream = futures::stream::unfold(transcode, |mut t| async move {
        let chunk = t.next().await?;
        Some((Ok::<Bytes, std::convert::Infallible>(chunk), t))
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

/// `GET /v1/responses/{id}`: a stored response of the calling consumer.
pub async fn get(
    State(st): State<GatewayState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let snapshot = st.live.snapshot.load_full();
        let caller = auth::authenticate(&snapshot, &headers)?;
        let found = stored(&st, &caller.consumer.name, &id, None).await?;
        let body: Value = serde_json::from_str(&found.response)
            .map_err(|e| GatewayError::Internal(format!("stored response {id}: {e}")))?;
        Ok::<_, GatewayError>(axum::Json(body).into_response())
    }
    .await;
    result.unwrap_or_else(|e| ApiError::new(Door::OpenAi, e).into_response())
}

/// `DELETE /v1/responses/{id}`: deletes a stored response of the calling consumer.
pub async fn delete(
    State(st): State<GatewayState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let snapshot = st.live.snapshot.load_full();
        let caller = auth::authenticate(&snapshot, &headers)?;
        let Some(store) = store_of(&st) else {
            return Err(not_found(&id, None));
        };
        st.responses.settled(&id).await;
        let deleted = store
            .delete_response(&caller.consumer.name, &id)
            .await
            .map_err(|e| GatewayError::Internal(format!("deleting a stored response: {e}")))?;
        if !deleted {
            return Err(not_found(&id, None));
        }
        Ok(axum::Json(json!({"id": id, "object": "response", "deleted": true})).into_response())
    }
    .await;
    result.unwrap_or_else(|e| ApiError::new(Door::OpenAi, e).into_response())
}
