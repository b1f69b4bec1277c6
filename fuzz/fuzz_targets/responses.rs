//! Non-stream answers: every upstream answer format → the door's format, never panic.
//! The first byte picks the translator, the rest is the upstream's JSON body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_protocol::translate::{
    NativeHints, ResponseHints, anthropic_response_to_openai, gemini_response_to_openai,
    ollama_response_to_openai, openai_response_to_anthropic,
};
use tollgate_protocol::{anthropic, gemini, ollama, openai};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let native = NativeHints::new("chatcmpl-fuzz", "model", 0);
    let hints = ResponseHints {
        created: 0,
        json_tool: (selector & 4 == 4).then(|| "answer".to_string()),
    };
    // A translated hub answer also goes on to the Anthropic door.
    let to_anthropic = |r: &openai::ChatResponse| {
        tollgate_fuzz::serialize(r);
        tollgate_fuzz::serialize(&openai_response_to_anthropic(r));
    };
    match selector % 4 {
        0 => {
            if let Ok(r) = serde_json::from_slice::<anthropic::MessagesResponse>(body) {
                to_anthropic(&anthropic_response_to_openai(&r, &hints));
            }
        }
        1 => {
            if let Ok(r) = serde_json::from_slice::<openai::ChatResponse>(body) {
                to_anthropic(&r);
            }
        }
        2 => {
            if let Ok(r) = serde_json::from_slice::<gemini::GenerateContentResponse>(body) {
                to_anthropic(&gemini_response_to_openai(&r, &native));
            }
        }
        _ => {
            if let Ok(r) = serde_json::from_slice::<ollama::ChatResponse>(body) {
                to_anthropic(&ollama_response_to_openai(&r, &native));
            }
        }
    }
});
