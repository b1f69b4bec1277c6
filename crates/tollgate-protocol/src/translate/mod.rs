//! Pure translation between the OpenAI Chat Completions format (the hub) and the
//! Anthropic Messages format: requests, answers and streams.
//!
//! Mapping summary: system/developer messages ↔ top-level `system` (joined with a blank
//! line); `image_url` data URLs ↔ base64 image sources, http(s) URLs ↔ url sources;
//! function tools ↔ custom tools; `tool_choice` auto/none/required/named ↔
//! auto/none/any/tool; `parallel_tool_calls: false` ↔ `disable_parallel_tool_use`;
//! tool calls (JSON string arguments) ↔ `tool_use` blocks (object input); consecutive
//! `tool` messages ↔ one user message of `tool_result` blocks; `stop` ↔ `stop_sequences`;
//! finish reasons stop/length/tool_calls/content_filter ↔ end_turn/max_tokens/tool_use/
//! refusal; usage prompt = input + cache reads + cache writes; `json_object` → a system
//! instruction; `json_schema` → a forced tool whose call is turned back into text.
//!
//! Gemini ([`gemini`]) and Ollama ([`ollama`]) are reached from the hub only: a request
//! at the Anthropic door goes Anthropic → OpenAI → native, and a native stream becomes
//! OpenAI chunks, which [`OpenAiToAnthropicStream`] turns into Anthropic events when
//! needed. [`embeddings`] maps OpenAI embeddings to both and keeps `encoding_format`.

mod common;
pub mod embeddings;
pub mod gemini;
mod native;
pub mod ollama;
mod response;
mod stream_to_anthropic;
mod stream_to_openai;
mod to_anthropic;
mod to_openai;

pub use common::{
    JSON_OBJECT_INSTRUCTION, ResponseHints, anthropic_usage_to_openai, json_schema_tool_name,
    openai_usage_to_anthropic,
};
pub use gemini::{GeminiToOpenAiStream, gemini_response_to_openai, openai_request_to_gemini};
pub use native::{NativeHints, THOUGHT_SIGNATURE_SEPARATOR};
pub use ollama::{OllamaToOpenAiStream, ollama_response_to_openai, openai_request_to_ollama};
pub use response::{anthropic_response_to_openai, openai_response_to_anthropic};
pub use stream_to_anthropic::OpenAiToAnthropicStream;
pub use stream_to_openai::AnthropicToOpenAiStream;
pub use to_anthropic::openai_request_to_anthropic;
pub use to_openai::anthropic_request_to_openai;
