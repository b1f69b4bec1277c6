//! OpenAI door → Anthropic upstream: request translation, never panic.
//! Validation runs first, as at the door; translation also runs on requests validation
//! refuses, so its own guards are exercised too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_protocol::openai::ChatRequest;
use tollgate_protocol::translate::{ResponseHints, openai_request_to_anthropic};

fuzz_target!(|data: &[u8]| {
    let Ok(req) = serde_json::from_slice::<ChatRequest>(data) else {
        return;
    };
    let _ = req.validate();
    let _ = req.max_output_tokens();
    let _ = ResponseHints::for_request(&req, 0);
    if let Ok(out) = openai_request_to_anthropic(&req, 4096) {
        tollgate_fuzz::serialize(&out);
    }
});
