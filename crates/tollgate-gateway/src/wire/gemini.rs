//! Google Gemini `generateContent`, reached through the hub: requests are built from
//! the OpenAI form, answers and SSE streams (of whole partial answers) become OpenAI
//! ones, then the door's.

use bytes::Bytes;
use tollgate_core::GatewayError;
use tollgate_protocol::sse::SseParser;
use tollgate_protocol::translate::{self, GeminiToOpenAiStream};
use tollgate_protocol::{gemini, openai};

use super::hub::{HubDecoder, HubStream, hub_request, hub_response, native_hints};
use super::{OutputCap, Transcoder, WireAdapter, request_body, translate_error};
use crate::door::{DoorRequest, door_of};
use crate::usage::Usage;

pub(super) struct Gemini;

impl WireAdapter for Gemini {
    fn request(
        &self,
        request: &DoorRequest,
        _upstream_model: &str,
        cap: OutputCap,
    ) -> Result<Bytes, GatewayError> {
        // The model is in Gemini's URL, not its body.
        let o = hub_request(request, cap)?;
        let g = translate::openai_request_to_gemini(&o).map_err(translate_error)?;
        request_body(serde_json::to_vec(&g))
    }

    fn response(
        &self,
        request: &DoorRequest,
        raw: &[u8],
    ) -> Result<(Bytes, Option<Usage>), String> {
        let g: gemini::GenerateContentResponse =
            serde_json::from_slice(raw).map_err(|e| e.to_string())?;
        if g.candidates.is_empty() && g.prompt_feedback.is_none() {
            return Err("answer has no `candidates`".into());
        }
        let o = translate::gemini_response_to_openai(&g, &native_hints(request));
        hub_response(door_of(request), &o)
    }

    fn stream(&self, request: &DoorRequest, model: &str) -> Box<dyn Transcoder> {
        HubStream::boxed(request, model, |hints, include_usage| GeminiDecoder {
            parser: SseParser::new(),
            translator: GeminiToOpenAiStream::new(hints, include_usage),
        })
    }
}

/// Gemini's SSE decoder and its translator to OpenAI chunks.
struct GeminiDecoder {
    parser: SseParser,
    translator: GeminiToOpenAiStream,
}

impl HubDecoder for GeminiDecoder {
    fn chunks(&mut self, bytes: Option<&[u8]>) -> Result<Vec<openai::ChatChunk>, String> {
        let err = |e: tollgate_protocol::TranslateError| e.to_string();
        let mut out = Vec::new();
        let events = match bytes {
            Some(b) => self.parser.push(b),
            None => self.parser.finish(),
        }
        .map_err(|e| e.to_string())?;
        for ev in events {
            let Ok(e) = serde_json::from_str::<gemini::GenerateContentResponse>(&ev.data) else {
                return Err(format!(
                    "upstream sent an event that is not JSON: {}",
                    ev.data
                ));
            };
            out.extend(self.translator.push(&e).map_err(err)?);
        }
        if bytes.is_none() {
            out.extend(self.translator.finish().map_err(err)?);
        }
        Ok(out)
    }

    fn usage(&self) -> Option<openai::Usage> {
        self.translator.usage()
    }
}
