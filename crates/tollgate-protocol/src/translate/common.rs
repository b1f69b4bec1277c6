//! Mappings shared by request, response and stream translation.

use serde_json::{Map, Value};

use crate::anthropic::{self, ImageSource, StopReason};
use crate::openai::{self, ChatRequest, FinishReason, PromptTokensDetails, ResponseFormat};

/// Appended to the Anthropic system prompt for `response_format: json_object`, which
/// Anthropic has no switch for.
pub const JSON_OBJECT_INSTRUCTION: &str =
    "Respond with exactly one JSON object and nothing else: no prose, no Markdown code fences.";

/// What translating an Anthropic answer back to OpenAI needs to know about the original
/// request: this crate reads no clock, and a `json_schema` answer arrives as a call of a
/// forced tool that must become plain text again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseHints {
    /// Unix seconds for `created`.
    pub created: u64,
    /// Name of the tool standing in for `response_format: json_schema`.
    pub json_tool: Option<String>,
}

impl ResponseHints {
    pub fn for_request(req: &ChatRequest, created: u64) -> Self {
        Self {
            created,
            json_tool: json_schema_tool_name(req).map(str::to_owned),
        }
    }
}

/// The forced tool that `openai_request_to_anthropic` adds for a `json_schema` response
/// format: it is named after the schema.
pub fn json_schema_tool_name(req: &ChatRequest) -> Option<&str> {
    match &req.response_format {
        Some(ResponseFormat::JsonSchema { json_schema }) => Some(json_schema.name.as_str()),
        _ => None,
    }
}

pub(crate) fn stop_reason_to_finish(reason: &StopReason) -> FinishReason {
    match reason {
        StopReason::MaxTokens => FinishReason::Length,
        StopReason::ToolUse => FinishReason::ToolCalls,
        StopReason::Refusal => FinishReason::ContentFilter,
        StopReason::Other(s) if s == "model_context_window_exceeded" => FinishReason::Length,
        StopReason::EndTurn
        | StopReason::StopSequence
        | StopReason::PauseTurn
        | StopReason::Other(_) => FinishReason::Stop,
    }
}

pub(crate) fn finish_to_stop_reason(reason: &FinishReason) -> StopReason {
    match reason {
        FinishReason::Length => StopReason::MaxTokens,
        FinishReason::ToolCalls | FinishReason::FunctionCall => StopReason::ToolUse,
        FinishReason::ContentFilter => StopReason::Refusal,
        FinishReason::Stop | FinishReason::Other(_) => StopReason::EndTurn,
    }
}

/// Anthropic usage in OpenAI terms: `prompt_tokens` counts every prompt token (uncached,
/// cache reads and cache writes), cache reads also go to `cached_tokens`.
pub fn anthropic_usage_to_openai(u: &anthropic::Usage) -> openai::Usage {
    let mut out = openai::Usage::new(u.total_input_tokens(), u.output_tokens);
    if let Some(cached) = u.cache_read_input_tokens {
        out.prompt_tokens_details = Some(PromptTokensDetails {
            cached_tokens: Some(cached),
            extra: Map::new(),
        });
    }
    out
}

/// OpenAI usage in Anthropic terms: cached prompt tokens move from `input_tokens` to
/// `cache_read_input_tokens` (the inverse of [`anthropic_usage_to_openai`]).
pub fn openai_usage_to_anthropic(u: &openai::Usage) -> anthropic::Usage {
    let cached = u
        .prompt_tokens_details
        .as_ref()
        .and_then(|d| d.cached_tokens);
    anthropic::Usage {
        input_tokens: u.prompt_tokens.saturating_sub(cached.unwrap_or(0)),
        output_tokens: u.completion_tokens,
        cache_creation_input_tokens: None,
        cache_read_input_tokens: cached,
        extra: Map::new(),
    }
}

/// `data:<media>;base64,<data>` → base64 source, `http(s)://` → url source.
pub(crate) fn image_url_to_source(url: &str) -> Option<ImageSource> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',')?;
        let mut params = meta.split(';');
        let media_type = params.next().filter(|m| !m.is_empty())?;
        if !params.any(|p| p.eq_ignore_ascii_case("base64")) || data.is_empty() {
            return None;
        }
        return Some(ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        });
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then(|| ImageSource::Url {
        url: url.to_owned(),
    })
}

/// The inverse of [`image_url_to_source`]; `None` for source kinds OpenAI cannot express.
pub(crate) fn source_to_image_url(source: &ImageSource) -> Option<String> {
    match source {
        ImageSource::Base64 { media_type, data } => {
            Some(format!("data:{media_type};base64,{data}"))
        }
        ImageSource::Url { url } => Some(url.clone()),
        ImageSource::Other(_) => None,
    }
}

/// Tool call arguments of an upstream *response* as an Anthropic `input`. A response cannot
/// be refused, so arguments that are not a JSON object are kept rather than dropped:
/// empty → `{}`, other JSON as is, broken JSON as the raw string.
pub(crate) fn lenient_arguments(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return Value::Object(Map::new());
    }
    serde_json::from_str(arguments).unwrap_or_else(|_| Value::String(arguments.to_owned()))
}

/// An Anthropic `input` as OpenAI `arguments` text.
pub(crate) fn input_to_arguments(input: &Value) -> String {
    match input {
        Value::Null => "{}".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn data_urls_and_http_urls() {
        assert_eq!(
            image_url_to_source("data:image/webp;base64,UklGR"),
            Some(ImageSource::Base64 {
                media_type: "image/webp".into(),
                data: "UklGR".into()
            })
        );
        assert_eq!(
            image_url_to_source("data:image/png;name=a.png;base64,AA"),
            Some(ImageSource::Base64 {
                media_type: "image/png".into(),
                data: "AA".into()
            })
        );
        assert_eq!(
            image_url_to_source("HTTPS://x/y"),
            Some(ImageSource::Url {
                url: "HTTPS://x/y".into()
            })
        );
        for bad in [
            "data:image/png,rawbytes",
            "data:;base64,AA",
            "data:image/png;base64,",
            "file:///a",
            "x",
        ] {
            assert_eq!(image_url_to_source(bad), None, "{bad}");
        }
        let src = image_url_to_source("data:image/gif;base64,R0lG").unwrap();
        assert_eq!(
            source_to_image_url(&src).as_deref(),
            Some("data:image/gif;base64,R0lG")
        );
    }

    #[test]
    fn usage_maps_are_inverse() {
        let a = anthropic::Usage {
            input_tokens: 10,
            output_tokens: 7,
            cache_read_input_tokens: Some(30),
            cache_creation_input_tokens: None,
            extra: Map::new(),
        };
        let o = anthropic_usage_to_openai(&a);
        assert_eq!(
            (o.prompt_tokens, o.completion_tokens, o.total_tokens),
            (40, 7, 47)
        );
        assert_eq!(o.cached_tokens(), 30);
        assert_eq!(openai_usage_to_anthropic(&o), a);
        // Cache writes count as prompt tokens too.
        let w = anthropic::Usage {
            cache_creation_input_tokens: Some(5),
            ..a
        };
        assert_eq!(anthropic_usage_to_openai(&w).prompt_tokens, 45);
    }

    #[test]
    fn lenient_arguments_never_lose_data() {
        assert_eq!(lenient_arguments(""), Value::Object(Map::new()));
        assert_eq!(lenient_arguments("{\"a\":1}")["a"], 1);
        assert_eq!(lenient_arguments("{oops"), Value::String("{oops".into()));
        assert_eq!(input_to_arguments(&lenient_arguments("{oops")), "{oops");
    }
}
