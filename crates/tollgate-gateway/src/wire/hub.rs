//! The hub: formats without a translator of their own to the Anthropic door (Gemini,
//! Ollama) are translated to and from the OpenAI format, and from there to the door's.

use std::borrow::Cow;

use bytes::Bytes;
use tollgate_core::{Door, GatewayError};
use tollgate_protocol::openai;
use tollgate_protocol::translate::{self, NativeHints, OpenAiToAnthropicStream};

use super::{
    OutputCap, Transcoder, encode_anthropic, encode_openai_data, translate_error, usage_of_openai,
};
use crate::door::{DoorRequest, door_of};
use crate::usage::{self, Usage};

/// The request in the hub (OpenAI) format, for providers reached through it, with
/// `cap` set when the client set none (copied only then).
pub(super) fn hub_request(
    request: &DoorRequest,
    cap: OutputCap,
) -> Result<Cow<'_, openai::ChatRequest>, GatewayError> {
    let mut o = match request {
        DoorRequest::OpenAi(r) => Cow::Borrowed(r.as_ref()),
        DoorRequest::Anthropic(r) => translate::anthropic_request_to_openai(r)
            .map(Cow::Owned)
            .map_err(translate_error)?,
    };
    if o.max_output_tokens().is_none() {
        cap.apply(o.to_mut());
    }
    Ok(o)
}

/// Ids and names for an answer translated from a native format.
pub(super) fn native_hints(request: &DoorRequest) -> NativeHints {
    NativeHints::new(super::chat_id(), request.model(), super::unix_now())
}

/// A hub (OpenAI) answer in the door's format, with its usage.
pub(super) fn hub_response(
    door: Door,
    o: &openai::ChatResponse,
) -> Result<(Bytes, Option<Usage>), String> {
    let usage = usage_of_openai(o);
    let body = match door {
        Door::OpenAi => serde_json::to_vec(o),
        Door::Anthropic => serde_json::to_vec(&translate::openai_response_to_anthropic(o)),
    }
    .map_err(|e| e.to_string())?;
    Ok((Bytes::from(body), usage))
}

/// A native stream's decoder and its translator to OpenAI chunks.
pub(super) trait HubDecoder: Send + 'static {
    /// Upstream bytes in (`None`: the body ended), OpenAI chunks out; at the end, with
    /// the translator's closing chunks.
    fn chunks(&mut self, bytes: Option<&[u8]>) -> Result<Vec<openai::ChatChunk>, String>;
    fn usage(&self) -> Option<openai::Usage>;
}

/// A native stream for either door: native → OpenAI chunks (→ Anthropic events).
pub(super) struct HubStream<D> {
    inner: D,
    to_anthropic: Option<OpenAiToAnthropicStream>,
}

impl<D: HubDecoder> HubStream<D> {
    /// The hints and usage choice for a native stream's translator to OpenAI chunks,
    /// then the stream built from the decoder made with them.
    pub(super) fn boxed(
        request: &DoorRequest,
        model: &str,
        decoder: impl FnOnce(NativeHints, bool) -> D,
    ) -> Box<dyn Transcoder> {
        let door = door_of(request);
        let hints = NativeHints::new(super::chat_id(), model, super::unix_now());
        // The Anthropic door always needs usage for `message_delta`.
        let include_usage = request.wants_usage_chunk() || door == Door::Anthropic;
        Box::new(Self {
            inner: decoder(hints, include_usage),
            to_anthropic: (door == Door::Anthropic)
                .then(|| OpenAiToAnthropicStream::new(super::message_id(), model.to_string())),
        })
    }

    fn encode(&mut self, chunks: &[openai::ChatChunk], end: bool) -> Result<Bytes, String> {
        let mut out = Vec::new();
        match &mut self.to_anthropic {
            None => {
                for c in chunks {
                    let json = serde_json::to_vec(c).map_err(|e| e.to_string())?;
                    out.extend_from_slice(&encode_openai_data(&json));
                }
                if end {
                    out.extend_from_slice(b"data: [DONE]\n\n");
                }
            }
            Some(a) => {
                for c in chunks {
                    encode_anthropic(&a.push(c), &mut out)?;
                }
                if end {
                    encode_anthropic(&a.finish(), &mut out)?;
                }
            }
        }
        Ok(Bytes::from(out))
    }
}

impl<D: HubDecoder> Transcoder for HubStream<D> {
    fn push(&mut self, chunk: &Bytes) -> Result<Bytes, String> {
        let chunks = self.inner.chunks(Some(chunk))?;
        self.encode(&chunks, false)
    }

    fn finish(&mut self) -> Result<Bytes, String> {
        let chunks = self.inner.chunks(None)?;
        self.encode(&chunks, true)
    }

    fn usage(&self) -> Option<Usage> {
        let u = self.inner.usage()?;
        Some(usage::from_openai(&u))
    }
}
