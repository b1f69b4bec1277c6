//! Prompt estimates from the typed requests of each door.
//!
//! Every piece of text a provider would read is counted with the tokenizer, once:
//! messages, the system prompt, tool definitions, tool calls and their results, and
//! the text of documents. What is not text gets an allowance instead of being
//! tokenized: an image part a fixed [`PER_IMAGE`] (providers resize images, so their
//! cost is bounded whatever the payload's size), other binary payloads (PDFs, audio)
//! one token per [`BINARY_BYTES_PER_TOKEN`] bytes, and a document referenced by URL
//! or file id, whose size the gateway cannot see, a fixed [`PER_DOCUMENT`].
//!
//! Parts the protocol crate keeps raw (documents, thinking, server tools, newer part
//! kinds) are walked as JSON with the same rules, so nothing that is forwarded is free.
//!
//! Admission does not need the tokenizer for a short prompt: [`PromptEstimate`] bounds
//! it by its bytes, and counts it only if an answer has to be booked from the estimate.

use std::sync::Arc;

use serde_json::{Map, Value};
use tollgate_protocol::{anthropic, openai};

use super::{count, count_async, fallback, is_loaded};

/// Per-message overhead of chat formatting (role markers), as OpenAI documents it.
pub const PER_MESSAGE: u64 = 4;
/// The priming of the answer (`<|start|>assistant<|message|>`).
pub const PER_REPLY: u64 = 3;
/// One image, whatever its payload: at the upper end of what providers charge after
/// their own resizing (OpenAI: 765 for a 1024×1024 image in high detail; Anthropic
/// about 1,600 at its largest size).
pub const PER_IMAGE: u64 = 1_600;
/// A document the gateway cannot read (by URL or file id): about one page.
pub const PER_DOCUMENT: u64 = 1_600;
/// A binary payload other than an image (a PDF, audio), estimated from its size.
pub const BINARY_BYTES_PER_TOKEN: u64 = 4;

/// An estimate of the prompt tokens of an OpenAI chat request.
pub fn estimate_openai(req: &openai::ChatRequest) -> u64 {
    Prompt::openai(req).tokens()
}

/// An estimate of the prompt tokens of an Anthropic Messages request.
pub fn estimate_anthropic(req: &anthropic::MessagesRequest) -> u64 {
    Prompt::anthropic(req).tokens()
}

/// [`estimate_openai`], tokenizing a large prompt off the async executor.
pub async fn estimate_openai_async(req: &openai::ChatRequest) -> u64 {
    Prompt::openai(req).tokens_async().await
}

/// [`estimate_anthropic`], tokenizing a large prompt off the async executor.
pub async fn estimate_anthropic_async(req: &anthropic::MessagesRequest) -> u64 {
    Prompt::anthropic(req).tokens_async().await
}

/// A prompt text up to this many bytes is bounded by its byte count instead of being
/// tokenized to admit the request: the vocabulary (tens of MiB once built) is then
/// never built by a gateway serving short prompts. The bound over-reserves at most
/// about three quarters of this many tokens, and the reservation is settled to the
/// provider's usage anyway.
pub const BOUND_BY_BYTES: usize = 2048;

/// A prompt's tokens as the request path needs them.
///
/// Admission reserves [`PromptEstimate::bound`], which never undercounts the text: a
/// prompt of at most [`BOUND_BY_BYTES`] of text is bounded by its byte count (a
/// byte-level BPE such as o200k makes at most one token per byte, and so does any
/// tokenizer whose tokens cover at least one byte), with no tokenizer; a larger one is
/// tokenized at once (off the executor). The short prompt's count itself
/// ([`PromptEstimate::count`]) is only made when an answer without usage is booked
/// from the estimate, and it is never above the bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptEstimate {
    /// Tokens not counted from text (allowances, chat formatting).
    fixed: u64,
    text: PromptText,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PromptText {
    /// Tokenized: its count.
    Counted(u64),
    /// Short, not tokenized yet (kept to be counted if the estimate is booked).
    Uncounted(Arc<str>),
}

impl Default for PromptEstimate {
    fn default() -> Self {
        Self::counted(0)
    }
}

impl From<u64> for PromptEstimate {
    fn from(tokens: u64) -> Self {
        Self::counted(tokens)
    }
}

impl PromptEstimate {
    /// An estimate already counted (`tokens` in all).
    pub fn counted(tokens: u64) -> Self {
        PromptEstimate {
            fixed: tokens,
            text: PromptText::Counted(0),
        }
    }

    /// What to reserve: the count, or for a short prompt an upper bound of it.
    pub fn bound(&self) -> u64 {
        let text = match &self.text {
            PromptText::Counted(n) => *n,
            PromptText::Uncounted(t) => t.len() as u64,
        };
        self.fixed.saturating_add(text)
    }

    /// Whether the tokenizer has counted it ([`Self::bound`] is then the count).
    pub fn is_counted(&self) -> bool {
        matches!(self.text, PromptText::Counted(_))
    }

    /// The estimate itself, tokenizing a short prompt now (the vocabulary is built
    /// off the executor if this is its first use).
    pub async fn count(&self) -> u64 {
        let text = match &self.text {
            PromptText::Counted(n) => *n,
            PromptText::Uncounted(t) => count_async(t.to_string()).await,
        };
        self.fixed.saturating_add(text)
    }

    /// [`Self::count`] without waiting (for a `Drop`): the tokenizer's count when its
    /// vocabulary is built, else four bytes a token rather than building it here.
    pub fn count_now(&self) -> u64 {
        let text = match &self.text {
            PromptText::Counted(n) => *n,
            PromptText::Uncounted(t) if is_loaded() => count(t),
            PromptText::Uncounted(t) => fallback(t.len()),
        };
        self.fixed.saturating_add(text)
    }
}

/// The admission estimate of an OpenAI chat request (see [`PromptEstimate`]).
pub async fn reserve_openai(req: &openai::ChatRequest) -> PromptEstimate {
    Prompt::openai(req).estimate().await
}

/// The admission estimate of an Anthropic Messages request (see [`PromptEstimate`]).
pub async fn reserve_anthropic(req: &anthropic::MessagesRequest) -> PromptEstimate {
    Prompt::anthropic(req).estimate().await
}

/// The text of a prompt, gathered to be counted in one go, and the tokens that are
/// not counted from text (allowances and formatting overhead).
#[derive(Debug, Default)]
struct Prompt {
    text: String,
    fixed: u64,
}

impl Prompt {
    fn tokens(&self) -> u64 {
        count(&self.text) + self.fixed
    }

    async fn tokens_async(self) -> u64 {
        count_async(self.text).await + self.fixed
    }

    async fn estimate(self) -> PromptEstimate {
        let text = if self.text.len() <= BOUND_BY_BYTES {
            PromptText::Uncounted(Arc::from(self.text))
        } else {
            PromptText::Counted(count_async(self.text).await)
        };
        PromptEstimate {
            fixed: self.fixed,
            text,
        }
    }

    /// One piece of text (pieces are separated by a line break, as a provider's
    /// chat template separates them).
    fn text(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(s);
    }

    /// A JSON value the provider reads as JSON text (a schema, tool arguments).
    fn json(&mut self, v: &Value) {
        if v.is_null() {
            return;
        }
        if let Ok(s) = serde_json::to_string(v) {
            self.text(&s);
        }
    }

    fn binary(&mut self, bytes: usize) {
        self.fixed += (bytes as u64).div_ceil(BINARY_BYTES_PER_TOKEN);
    }

    fn openai(req: &openai::ChatRequest) -> Self {
        let mut p = Prompt::default();
        for m in &req.messages {
            p.fixed += PER_MESSAGE;
            if let Some(name) = &m.name {
                p.text(name);
            }
            match &m.content {
                Some(openai::MessageContent::Text(s)) => p.text(s),
                Some(openai::MessageContent::Parts(parts)) => {
                    parts.iter().for_each(|part| p.openai_part(part));
                }
                None => {}
            }
            for call in m.tool_calls.iter().flatten() {
                p.text(&call.function.name);
                p.text(&call.function.arguments);
            }
            p.object(&m.extra);
        }
        for tool in req.tools.iter().flatten() {
            match tool {
                openai::Tool::Function(f) => {
                    p.text(&f.function.name);
                    if let Some(d) = &f.function.description {
                        p.text(d);
                    }
                    if let Some(schema) = &f.function.parameters {
                        p.json(schema);
                    }
                }
                openai::Tool::Other(v) => p.value(v),
            }
        }
        match &req.response_format {
            Some(openai::ResponseFormat::JsonSchema { json_schema }) => {
                p.text(&json_schema.name);
                if let Some(d) = &json_schema.description {
                    p.text(d);
                }
                if let Some(schema) = &json_schema.schema {
                    p.json(schema);
                }
            }
            Some(openai::ResponseFormat::Other(v)) => p.value(v),
            _ => {}
        }
        p.fixed += PER_REPLY;
        p
    }

    fn openai_part(&mut self, part: &openai::ContentPart) {
        match part {
            openai::ContentPart::Text(t) => self.text(&t.text),
            // An http(s) URL or a data: URL alike: the payload is never tokenized.
            openai::ContentPart::ImageUrl(_) => self.fixed += PER_IMAGE,
            openai::ContentPart::Other(v) => self.value(v),
        }
    }

    fn anthropic(req: &anthropic::MessagesRequest) -> Self {
        let mut p = Prompt::default();
        match &req.system {
            Some(anthropic::System::Text(s)) => p.text(s),
            Some(anthropic::System::Blocks(blocks)) => p.blocks(blocks),
            None => {}
        }
        for m in &req.messages {
            p.fixed += PER_MESSAGE;
            p.content(&m.content);
        }
        for tool in req.tools.iter().flatten() {
            match tool {
                anthropic::Tool::Custom(t) => {
                    p.text(&t.name);
                    if let Some(d) = &t.description {
                        p.text(d);
                    }
                    p.json(&t.input_schema);
                }
                anthropic::Tool::Other(v) => p.value(v),
            }
        }
        p.fixed += PER_REPLY;
        p
    }

    fn content(&mut self, c: &anthropic::Content) {
        match c {
            anthropic::Content::Text(s) => self.text(s),
            anthropic::Content::Blocks(blocks) => self.blocks(blocks),
        }
    }

    fn blocks(&mut self, blocks: &[anthropic::ContentBlock]) {
        for b in blocks {
            match b {
                anthropic::ContentBlock::Text(t) => self.text(&t.text),
                anthropic::ContentBlock::Image(_) => self.fixed += PER_IMAGE,
                anthropic::ContentBlock::ToolUse(u) => {
                    self.text(&u.name);
                    self.json(&u.input);
                }
                anthropic::ContentBlock::ToolResult(r) => {
                    if let Some(c) = &r.content {
                        self.content(c);
                    }
                }
                // Documents, thinking, search results, server tool blocks, ...
                anthropic::ContentBlock::Other(v) => self.value(v),
            }
        }
    }

    /// A part the protocol crate keeps raw: every string is text, except binary
    /// payloads and references, which get their allowance.
    fn value(&mut self, v: &Value) {
        match v {
            Value::String(s) => match s.strip_prefix("data:") {
                Some(rest) if rest.starts_with("image/") => self.fixed += PER_IMAGE,
                Some(_) => self.binary(s.len()),
                None => self.text(s),
            },
            Value::Array(items) => items.iter().for_each(|x| self.value(x)),
            Value::Object(o) => self.object(o),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn object(&mut self, o: &Map<String, Value>) {
        let kind = o.get("type").and_then(Value::as_str);
        match kind {
            // An image part or block (in a raw part: inside a document, a tool
            // result, or a malformed known part).
            Some("image" | "image_url" | "input_image") => {
                self.fixed += PER_IMAGE;
                return;
            }
            // A binary source (Anthropic's `{type: base64, media_type, data}`).
            Some("base64") => {
                let image = o
                    .get("media_type")
                    .and_then(Value::as_str)
                    .is_some_and(|m| m.starts_with("image/"));
                if image {
                    self.fixed += PER_IMAGE;
                } else {
                    self.binary(o.get("data").and_then(Value::as_str).map_or(0, str::len));
                }
                return;
            }
            // A document by reference.
            Some("url" | "file") if o.contains_key("url") || o.contains_key("file_id") => {
                self.fixed += PER_DOCUMENT;
                return;
            }
            _ => {}
        }
        for (key, v) in o {
            match (key.as_str(), v) {
                // The tag is structure, not content.
                ("type", Value::String(_)) => {}
                ("file_id", Value::String(_)) => self.fixed += PER_DOCUMENT,
                // A text source keeps its text in `data`; elsewhere `data` and
                // `file_data` are binary (audio, files, redacted thinking).
                ("data", Value::String(s)) if kind == Some("text") => self.text(s),
                ("data" | "file_data", Value::String(s)) => self.binary(s.len()),
                _ => self.value(v),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn openai(v: Value) -> openai::ChatRequest {
        serde_json::from_value(v).expect("openai request")
    }

    fn anthropic(v: Value) -> anthropic::MessagesRequest {
        serde_json::from_value(v).expect("anthropic request")
    }

    /// Minified JSON: no ASCII space anywhere.
    fn no_space(bytes: usize) -> String {
        let mut s = String::from("[");
        let mut i = 0u64;
        while s.len() < bytes {
            s.push_str(&format!(
                "{{\"id\":{i},\"name\":\"item-{}\"}},",
                i * 7919 % 10007
            ));
            i += 1;
        }
        s.push(']');
        s
    }

    fn one_user_message(text: &str) -> u64 {
        count(text) + PER_MESSAGE + PER_REPLY
    }

    #[test]
    fn a_long_string_without_spaces_counts_as_its_tokens() {
        let text = no_space(100_000);
        assert!(!text.contains(' '));
        let n = count(&text);
        assert!(n > 10_000, "{n}");
        let req = openai(json!({"model": "m", "messages": [{"role": "user", "content": text}]}));
        assert_eq!(estimate_openai(&req), one_user_message(&text));
        let req = openai(
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "text", "text": text}
            ]}]}),
        );
        assert_eq!(estimate_openai(&req), one_user_message(&text));
        let req = anthropic(json!({"model": "m", "max_tokens": 1, "messages": [
            {"role": "user", "content": text}
        ]}));
        assert_eq!(estimate_anthropic(&req), one_user_message(&text));
    }

    #[test]
    fn anthropic_document_text_is_counted() {
        let body = "The quarterly report says revenue grew. ".repeat(500);
        let base = count(&body);
        let text_doc = anthropic(
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": body}},
            ]}]}),
        );
        assert!(estimate_anthropic(&text_doc) >= base, "text source");
        let content_doc = anthropic(
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
                {"type": "document", "title": "Q3", "source": {"type": "content", "content": [
                    {"type": "text", "text": body},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo".repeat(10_000)}},
                ]}},
            ]}]}),
        );
        let n = estimate_anthropic(&content_doc);
        assert!(n >= base + PER_IMAGE, "content source: {n}");
        assert!(n < base + PER_IMAGE + 50, "image bytes not tokenized: {n}");
        // A tool result holding a document or text is counted too.
        let result = anthropic(
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": body}]},
            ]}]}),
        );
        assert!(estimate_anthropic(&result) >= base);
        // A PDF is binary: estimated from its size, not free and not tokenized.
        let pdf = anthropic(
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x".repeat(1000)}},
            ]}]}),
        );
        assert_eq!(estimate_anthropic(&pdf), 8000 / 4 + PER_MESSAGE + PER_REPLY);
    }

    #[test]
    fn the_system_prompt_is_counted_once_with_tools() {
        let system = "You are a careful assistant who answers in French. ".repeat(40);
        let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}});
        let plain = anthropic(json!({"model": "m", "max_tokens": 1, "system": system,
            "messages": [{"role": "user", "content": "hi"}]}));
        let with_tools = anthropic(json!({"model": "m", "max_tokens": 1, "system": system,
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "weather", "description": "Weather of a city", "input_schema": schema}]}));
        let tool_tokens = estimate_anthropic(&with_tools) - estimate_anthropic(&plain);
        let schema_text = serde_json::to_string(&schema).expect("json");
        let expected = count(&format!("weather\nWeather of a city\n{schema_text}"));
        assert!(
            tool_tokens.abs_diff(expected) <= 3,
            "tools add {tool_tokens}, their text is {expected}; the system prompt is {}",
            count(&system)
        );
        // As blocks, the same.
        let blocks = anthropic(json!({"model": "m", "max_tokens": 1,
            "system": [{"type": "text", "text": system}],
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "weather", "description": "Weather of a city", "input_schema": schema}]}));
        assert_eq!(estimate_anthropic(&blocks), estimate_anthropic(&with_tools));
    }

    #[test]
    fn image_payloads_are_an_allowance_not_text() {
        let b64 = "iVBORw0KGgoAAAANSUhEUgAA".repeat(50_000); // 1.2 MB
        let data_url = format!("data:image/png;base64,{b64}");
        let req = openai(
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": data_url}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}},
            ]}]}),
        );
        assert_eq!(
            estimate_openai(&req),
            one_user_message("what is this?") + 2 * PER_IMAGE
        );
        let req = anthropic(
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64}},
                {"type": "text", "text": "what is this?"},
            ]}]}),
        );
        assert_eq!(
            estimate_anthropic(&req),
            one_user_message("what is this?") + PER_IMAGE
        );
        // A data: URL inside a raw part is not tokenized either; audio is binary.
        let req = openai(
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "input_audio", "input_audio": {"data": "UklGR".repeat(800), "format": "wav"}},
                {"type": "file", "file": {"filename": "a.pdf", "file_data": format!("data:application/pdf;base64,{}", "JVBE".repeat(1000))}},
            ]}]}),
        );
        let n = estimate_openai(&req);
        assert!((2000..2040).contains(&n), "{n}");
    }

    #[test]
    fn tool_calls_and_schemas_are_counted() {
        let args = json!({"query": "tokenizers ".repeat(200)}).to_string();
        let base = openai(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}));
        let with = openai(json!({"model": "m", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "search", "arguments": args}}
            ]},
            {"role": "tool", "tool_call_id": "c1", "content": "no results"},
        ]}));
        let added = estimate_openai(&with) - estimate_openai(&base);
        assert!(added >= count(&args) + 2 * PER_MESSAGE, "{added}");
        let big_input = anthropic(json!({"model": "m", "max_tokens": 1, "messages": [
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "search", "input": {"q": "tokenizers ".repeat(200)}}]},
        ]}));
        assert!(estimate_anthropic(&big_input) >= count(&"tokenizers ".repeat(200)));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_short_prompt_is_bounded_by_its_bytes_and_counted_on_demand() {
        let texts = [
            "hi",
            "Write one short paragraph about toll roads.",
            "日本語のテキストと emoji 🦀🦀🦀 and über-naïve résumé",
            "    \n\n\t  spaces   and\ttabs  ",
        ];
        for text in texts {
            let req = openai(json!({"model": "m", "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": text},
            ]}));
            let est = reserve_openai(&req).await;
            assert!(!est.is_counted(), "{text}");
            let exact = estimate_openai(&req);
            assert_eq!(est.count().await, exact, "{text}");
            assert_eq!(est.count_now(), exact, "{text}");
            // Never under the count: a token covers at least one byte.
            let bytes = "Be brief.".len() + 1 + text.len();
            assert_eq!(est.bound(), bytes as u64 + 2 * PER_MESSAGE + PER_REPLY);
            assert!(est.bound() >= exact, "{text}: {} < {exact}", est.bound());
        }
        let a = anthropic(json!({"model": "m", "max_tokens": 1, "system": "s",
            "messages": [{"role": "user", "content": "hello there"}]}));
        let est = reserve_anthropic(&a).await;
        assert!(!est.is_counted());
        assert_eq!(est.count().await, estimate_anthropic(&a));
        assert!(est.bound() >= estimate_anthropic(&a));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_long_prompt_is_counted_for_admission() {
        let text = "tokens are counted before the request goes upstream ".repeat(100);
        assert!(text.len() > BOUND_BY_BYTES);
        let req = openai(json!({"model": "m", "messages": [{"role": "user", "content": text}]}));
        let est = reserve_openai(&req).await;
        assert!(est.is_counted());
        assert_eq!(est.bound(), estimate_openai(&req));
        assert_eq!(est.count().await, est.bound());
        // Images are allowances either way, never bytes.
        let img = openai(
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{}", "A".repeat(100_000))}},
            ]}]}),
        );
        let est = reserve_openai(&img).await;
        assert_eq!(est.bound(), PER_IMAGE + PER_MESSAGE + PER_REPLY);
        assert_eq!(PromptEstimate::from(42).bound(), 42);
        assert_eq!(PromptEstimate::default().count_now(), 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn async_estimates_equal_the_sync_ones() {
        let text = no_space(200_000);
        let o = openai(json!({"model": "m", "messages": [{"role": "user", "content": text}]}));
        assert_eq!(estimate_openai_async(&o).await, estimate_openai(&o));
        let a = anthropic(
            json!({"model": "m", "max_tokens": 1, "system": "s", "messages": [
                {"role": "user", "content": text}
            ]}),
        );
        assert_eq!(estimate_anthropic_async(&a).await, estimate_anthropic(&a));
    }
}
