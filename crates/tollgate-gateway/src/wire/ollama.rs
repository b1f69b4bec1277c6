//! Ollama `/api/chat`, reached through the hub: requests are built from the OpenAI
//! form, answers and NDJSON streams become OpenAI ones, then the door's.

use bytes::Bytes;
use tollgate_core::GatewayError;
use tollgate_protocol::ollama::NdjsonParser;
use tollgate_protocol::translate::{self, OllamaToOpenAiStream};
use tollgate_protocol::{ollama, openai};

use super::hub::{HubDecoder, HubStream, hub_request, hub_response, native_hints};
use super::{OutputCap, Transcoder, WireAdapter, request_body, translate_error};
use crate::door::{DoorRequest, door_of};
use crate::usage::Usage;

pub(super) struct Ollama;

impl WireAdapter for Ollama {
    fn request(
        &self,
        request: &DoorRequest,
        upstream_model: &str,
        cap: OutputCap,
    ) -> Result<Bytes, GatewayError> {
        let o = hub_request(request, cap)?;
        let mut n = translate::openai_request_to_ollama(&o).map_err(translate_error)?;
        n.model = upstream_model.to_string();
        request_body(serde_json::to_vec(&n))
    }

    fn response(
        &self,
        request: &DoorRequest,
        raw: &[u8],
    ) -> Result<(Bytes, Option<Usage>), String> {
        let n: ollama::ChatResponse = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
        if let Some(e) = &n.error {
            return Err(format!("upstream reported an error: {e}"));
        }
        if n.message.is_none() {
            return Err("answer has no `message`".into());
        }
        let o = translate::ollama_response_to_openai(&n, &native_hints(request));
        hub_response(door_of(request), &o)
    }

    fn stream(&self, request: &DoorRequest, model: &str) -> Box<dyn Transcoder> {
        HubStream::boxed(request, model, |hints, include_usage| OllamaDecoder {
            parser: NdjsonParser::new(),
            translator: OllamaToOpenAiStream::new(hints, include_usage),
        })
    }
}

/// Ollama's NDJSON decoder and its translator to OpenAI chunks.
struct OllamaDecoder {
    parser: NdjsonParser,
    translator: OllamaToOpenAiStream,
}

impl HubDecoder for OllamaDecoder {
    fn chunks(&mut self, bytes: Option<&[u8]>) -> Result<Vec<openai::ChatChunk>, String> {
        let err = |e: tollgate_protocol::TranslateError| e.to_string();
        let mut out = Vec::new();
        let lines = match bytes {
            Some(b) => self.parser.push(b),
            None => self.parser.finish(),
        }
        .map_err(|e| e.to_string())?;
        for line in lines {
            let Ok(l) = serde_json::from_slice::<ollama::ChatResponse>(&line) else {
                return Err("upstream sent a line that is not JSON".into());
            };
            out.extend(self.translator.push(&l).map_err(err)?);
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
