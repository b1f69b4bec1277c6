//! OpenAI hub → Ollama `/api/chat`: request translation, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_protocol::openai::ChatRequest;
use tollgate_protocol::translate::openai_request_to_ollama;

fuzz_target!(|data: &[u8]| {
    let Ok(req) = serde_json::from_slice::<ChatRequest>(data) else {
        return;
    };
    let _ = req.validate();
    if let Ok(out) = openai_request_to_ollama(&req) {
        tollgate_fuzz::serialize(&out);
    }
});
