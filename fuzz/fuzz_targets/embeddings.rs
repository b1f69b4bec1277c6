//! Embeddings: OpenAI request → Gemini / Ollama, their answers → OpenAI, and the
//! `encoding_format` conversion, never panic. The first byte picks the direction and
//! whether base64 was asked for; the rest is the JSON body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_protocol::translate::embeddings as emb;
use tollgate_protocol::{gemini, ollama, openai};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let base64 = selector & 4 == 4;
    match selector % 4 {
        0 => {
            if let Ok(r) = serde_json::from_slice::<openai::EmbeddingsRequest>(body) {
                let _ = r.validate();
                if let Ok(g) = emb::openai_embeddings_to_gemini(&r, "text-embedding-004") {
                    tollgate_fuzz::serialize(&g);
                }
                if let Ok(o) = emb::openai_embeddings_to_ollama(&r, "nomic-embed-text") {
                    tollgate_fuzz::serialize(&o);
                }
            }
        }
        1 => {
            if let Ok(r) = serde_json::from_slice::<gemini::BatchEmbedContentsResponse>(body) {
                tollgate_fuzz::serialize(&emb::gemini_embeddings_to_openai(&r, "m", base64));
            }
        }
        2 => {
            if let Ok(r) = serde_json::from_slice::<ollama::EmbedResponse>(body) {
                tollgate_fuzz::serialize(&emb::ollama_embeddings_to_openai(&r, base64));
            }
        }
        _ => {
            if let Ok(mut r) = serde_json::from_slice::<openai::EmbeddingsResponse>(body) {
                if emb::set_encoding(&mut r, base64).is_ok() {
                    tollgate_fuzz::serialize(&r);
                }
            }
            if let Ok(s) = std::str::from_utf8(body) {
                if let Some(v) = emb::decode_embedding(s) {
                    let _ = emb::encode_embedding(&v);
                }
            }
        }
    }
});
