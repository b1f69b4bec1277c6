//! Token counting with a real tokenizer (o200k, embedded in the binary: nothing is
//! downloaded at run time).
//!
//! Used to estimate a prompt before the provider counts it (for tokens/min limits and
//! budget reservations) and to count a streamed answer whose upstream sent no usage.

use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

use crate::pipeline::DoorRequest;

/// Per-message overhead of chat formatting (role markers), as OpenAI documents it.
const PER_MESSAGE: u64 = 4;
/// Images are not tokenised here; a fixed allowance keeps estimates on the safe side.
const PER_IMAGE: u64 = 765;

fn encoder() -> Option<&'static CoreBPE> {
    static ENCODER: OnceLock<Option<CoreBPE>> = OnceLock::new();
    ENCODER
        .get_or_init(|| match tiktoken_rs::o200k_base() {
            Ok(bpe) => Some(bpe),
            Err(e) => {
                tracing::error!(error = %e, "tokenizer unavailable; falling back to 4 bytes per token");
                None
            }
        })
        .as_ref()
}

/// Tokens in `text`.
pub fn count(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    match encoder() {
        Some(bpe) => bpe.encode_ordinary(text).len() as u64,
        None => (text.len() as u64).div_ceil(4),
    }
}

/// Loads the vocabulary now rather than on the first request.
pub fn warm_up() {
    let _ = count("warm up");
}

/// An estimate of the prompt tokens of a chat request: all text, tool definitions
/// and tool calls, plus formatting overhead.
pub fn estimate_prompt(request: &DoorRequest) -> u64 {
    let json = match request {
        DoorRequest::OpenAi(r) => serde_json::to_value(&r.messages)
            .ok()
            .map(|m| (m, serde_json::to_value(&r.tools).ok())),
        DoorRequest::Anthropic(r) => serde_json::to_value(&r.messages).ok().map(|m| {
            let mut tools = serde_json::to_value(&r.tools).ok();
            if let (Some(sys), Some(serde_json::Value::Array(list))) =
                (serde_json::to_value(&r.system).ok(), tools.as_mut())
            {
                list.push(sys);
            }
            (m, tools)
        }),
    };
    let Some((messages, tools)) = json else {
        return 0;
    };
    let mut text = String::new();
    let mut images = 0u64;
    collect_text(&messages, &mut text, &mut images);
    if let Some(t) = tools {
        collect_text(&t, &mut text, &mut images);
    }
    if let DoorRequest::Anthropic(r) = request
        && let Ok(sys) = serde_json::to_value(&r.system)
    {
        collect_text(&sys, &mut text, &mut images);
    }
    let n_messages = messages.as_array().map_or(0, Vec::len) as u64;
    count(&text) + n_messages * PER_MESSAGE + images * PER_IMAGE + 3
}

/// Walks JSON collecting string values (skipping base64 image payloads).
fn collect_text(v: &serde_json::Value, out: &mut String, images: &mut u64) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            if s.starts_with("data:") || s.len() > 4096 && !s.contains(' ') {
                *images += 1;
            } else {
                out.push_str(s);
                out.push(' ');
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_text(x, out, images)),
        Value::Object(o) => {
            for (k, x) in o {
                if k == "image_url" || k == "source" {
                    *images += 1;
                    continue;
                }
                collect_text(x, out, images);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_with_the_real_vocabulary() {
        assert_eq!(count(""), 0);
        assert_eq!(count("hello world"), 2);
        assert!(count(&"token ".repeat(100)) >= 100);
    }
}
