//! Anthropic door → OpenAI hub (and from there every other upstream): request
//! translation, never panic. The hub request is also sent on to Gemini and Ollama, as
//! the gateway does for an Anthropic client in front of those providers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_protocol::anthropic::MessagesRequest;
use tollgate_protocol::translate::{
    anthropic_request_to_openai, openai_request_to_gemini, openai_request_to_ollama,
};

fuzz_target!(|data: &[u8]| {
    let Ok(req) = serde_json::from_slice::<MessagesRequest>(data) else {
        return;
    };
    let _ = req.validate();
    if let Ok(hub) = anthropic_request_to_openai(&req) {
        tollgate_fuzz::serialize(&hub);
        if let Ok(g) = openai_request_to_gemini(&hub) {
            tollgate_fuzz::serialize(&g);
        }
        if let Ok(o) = openai_request_to_ollama(&hub) {
            tollgate_fuzz::serialize(&o);
        }
    }
});
