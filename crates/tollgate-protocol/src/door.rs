//! A chat request as it arrived at one of the gateway's chat doors, in that door's
//! wire format. The gateway's lifecycle carries it from parsing to translation.

use crate::{anthropic, openai};

/// A chat request in its door's wire format.
#[derive(Debug, Clone)]
pub enum DoorRequest {
    /// `POST /v1/chat/completions`.
    OpenAi(Box<openai::ChatRequest>),
    /// `POST /v1/messages`.
    Anthropic(Box<anthropic::MessagesRequest>),
}

impl DoorRequest {
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
