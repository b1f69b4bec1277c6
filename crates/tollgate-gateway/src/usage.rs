//! Token usage: read from what the provider reported, in every wire format, with
//! token classes kept apart; estimated with the tokenizer when the provider said
//! nothing.

use serde_json::Value;
use tollgate_core::Door;
use tollgate_protocol::sse::SseParser;
use tollgate_protocol::{anthropic, openai};

use tollgate_core::money::{Micros, TokenPrice};

use crate::forward::Candidate;
use crate::tokens;

/// Token counts of one answer, by class ([`tollgate_core::money::TokenCounts`]).
pub type Usage = tollgate_core::money::TokenCounts;

fn u64_at(v: &Value, path: &str) -> u64 {
    v.pointer(path).and_then(Value::as_u64).unwrap_or(0)
}

/// From an OpenAI `usage` object: `prompt_tokens` includes the cached ones
/// (`prompt_tokens_details.cached_tokens`); `completion_tokens` includes reasoning.
pub fn from_openai_value(v: &Value) -> Option<Usage> {
    let prompt = v.get("prompt_tokens")?.as_u64()?;
    let cached = u64_at(v, "/prompt_tokens_details/cached_tokens").min(prompt);
    Some(Usage {
        input: prompt - cached,
        cache_read: cached,
        cache_write: 0,
        output: u64_at(v, "/completion_tokens"),
        reasoning: u64_at(v, "/completion_tokens_details/reasoning_tokens"),
    })
}

/// From an Anthropic `usage` object: `input_tokens` excludes the cache classes.
pub fn from_anthropic_value(v: &Value) -> Option<Usage> {
    let u = v.as_object()?;
    if !u.contains_key("input_tokens") && !u.contains_key("output_tokens") {
        return None;
    }
    Some(Usage {
        input: u64_at(v, "/input_tokens"),
        cache_read: u64_at(v, "/cache_read_input_tokens"),
        cache_write: u64_at(v, "/cache_creation_input_tokens"),
        output: u64_at(v, "/output_tokens"),
        reasoning: 0,
    })
}

/// From a typed OpenAI usage.
pub fn from_openai(u: &openai::Usage) -> Usage {
    let cached = u
        .prompt_tokens_details
        .as_ref()
        .and_then(|d| d.cached_tokens)
        .unwrap_or(0)
        .min(u.prompt_tokens);
    let reasoning = u
        .extra
        .get("completion_tokens_details")
        .and_then(|d| d.get("reasoning_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Usage {
        input: u.prompt_tokens - cached,
        cache_read: cached,
        cache_write: 0,
        output: u.completion_tokens,
        reasoning,
    }
}

/// From a typed Anthropic usage.
pub fn from_anthropic(u: &anthropic::Usage) -> Usage {
    Usage {
        input: u.input_tokens,
        cache_read: u.cache_read_input_tokens.unwrap_or(0),
        cache_write: u.cache_creation_input_tokens.unwrap_or(0),
        output: u.output_tokens,
        reasoning: 0,
    }
}

/// Output tokens of a whole answer in the door's format, counted with the tokenizer
/// (for an upstream that reported no usage).
pub fn count_answer(door: Door, body: &[u8]) -> u64 {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return 0;
    };
    let mut text = String::new();
    match door {
        Door::OpenAi => {
            for c in v["choices"].as_array().into_iter().flatten() {
                let m = &c["message"];
                push_str(&mut text, &m["content"]);
                push_str(&mut text, &m["refusal"]);
                for call in m["tool_calls"].as_array().into_iter().flatten() {
                    push_str(&mut text, &call["function"]["name"]);
                    push_str(&mut text, &call["function"]["arguments"]);
                }
            }
        }
        Door::Anthropic => {
            for block in v["content"].as_array().into_iter().flatten() {
                push_str(&mut text, &block["text"]);
                push_str(&mut text, &block["thinking"]);
                push_str(&mut text, &block["name"]);
                if let Some(input) = block.get("input") {
                    push_str(&mut text, &Value::String(input.to_string()));
                }
            }
        }
    }
    tokens::count(&text)
}

fn push_str(out: &mut String, v: &Value) {
    if let Some(s) = v.as_str() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(s);
    }
}

/// The text of a door-format event stream (what was delivered), for counting.
pub fn delivered_text(door: Door, bytes: &[u8]) -> String {
    let mut parser = SseParser::new();
    // What was delivered is bounded (the relay keeps at most 1 MiB), under the caps.
    let mut events = parser.push(bytes).unwrap_or_default();
    events.extend(parser.finish().unwrap_or_default());
    let mut text = String::new();
    for ev in events {
        let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
            continue;
        };
        match door {
            Door::OpenAi => {
                for c in v["choices"].as_array().into_iter().flatten() {
                    let d = &c["delta"];
                    push_str(&mut text, &d["content"]);
                    for call in d["tool_calls"].as_array().into_iter().flatten() {
                        push_str(&mut text, &call["function"]["name"]);
                        push_str(&mut text, &call["function"]["arguments"]);
                    }
                }
            }
            Door::Anthropic => {
                let d = &v["delta"];
                for k in ["text", "partial_json", "thinking"] {
                    push_str(&mut text, &d[k]);
                }
            }
        }
    }
    text
}

/// The provider's usage, when it said anything (an all-zero usage is no usage).
pub fn usable(usage: Option<Usage>) -> Option<Usage> {
    usage.filter(|u| u.output > 0 || u.prompt_total() > 0)
}

/// What an answer is billed: the provider's usage, or the tokenizer's count when it
/// gave none; output never beyond the cap the request was held and sent with (an
/// upstream reporting more than it was allowed is the operator's dispute, not the
/// consumer's charge).
pub fn billed(
    cand: &Candidate,
    reported: Option<Usage>,
    estimate: impl FnOnce() -> Usage,
) -> (Usage, Micros) {
    let mut u = usable(reported).unwrap_or_else(estimate);
    let cap = u64::from(cand.max_output);
    if u.output > cap {
        tracing::warn!(provider = %cand.provider.name, reported = u.output, cap, "upstream reported more output tokens than the cap it was sent; billing the cap");
        metrics::counter!("tollgate_upstream_usage_over_cap_total", "provider" => cand.provider.name.clone()).increment(1);
        u.output = cap;
        u.reasoning = u.reasoning.min(cap);
    }
    let cost = cand
        .model
        .price
        .map(TokenPrice::from)
        .map_or(0, |p| p.cost_of(&u));
    (u, cost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classes_are_kept_apart_in_both_formats() {
        let o = from_openai_value(&json!({
            "prompt_tokens": 10, "completion_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 3}
        }))
        .unwrap();
        assert_eq!((o.input, o.cache_read, o.output, o.reasoning), (6, 4, 7, 3));
        let a = from_anthropic_value(&json!({
            "input_tokens": 3, "cache_read_input_tokens": 2,
            "cache_creation_input_tokens": 5, "output_tokens": 5
        }))
        .unwrap();
        assert_eq!(
            (a.input, a.cache_read, a.cache_write, a.output),
            (3, 2, 5, 5)
        );
        assert_eq!(a.prompt_total(), 10);
        assert_eq!(from_openai_value(&json!(null)), None);
        // A lying upstream (cached > prompt) cannot make input negative.
        let l = from_openai_value(&json!({"prompt_tokens": 1,
            "prompt_tokens_details": {"cached_tokens": 9}}))
        .unwrap();
        assert_eq!((l.input, l.cache_read), (0, 1));
    }

    #[test]
    fn answers_without_usage_are_counted() {
        let o = br#"{"choices":[{"message":{"content":"hello world"}}]}"#;
        assert_eq!(count_answer(Door::OpenAi, o), 2);
        let a = br#"{"content":[{"type":"text","text":"hello world"}]}"#;
        assert_eq!(count_answer(Door::Anthropic, a), 2);
        let openai = b"data: {\"choices\":[{\"delta\":{\"content\":\"hello world\"}}]}\n\n";
        assert_eq!(tokens::count(&delivered_text(Door::OpenAi, openai)), 2);
        let anthropic = b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"hello world\"}}\n\n";
        assert_eq!(
            tokens::count(&delivered_text(Door::Anthropic, anthropic)),
            2
        );
    }
}
