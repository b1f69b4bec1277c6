//! The vocabulary is not built to admit a short prompt (a process of its own: the
//! vocabulary is process-wide, and no other test may have built it first).

use tollgate_core::Door;
use tollgate_gateway::pipeline::parse_door_request;
use tollgate_gateway::tokens;

#[tokio::test(flavor = "current_thread")]
async fn admitting_short_prompts_leaves_the_vocabulary_unbuilt() {
    let openai = br#"{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Write one short paragraph about toll roads."}]}"#;
    let anthropic =
        br#"{"model":"m","max_tokens":64,"messages":[{"role":"user","content":"hello"}]}"#;
    let a = parse_door_request(Door::OpenAi, openai).expect("openai");
    let b = parse_door_request(Door::Anthropic, anthropic).expect("anthropic");
    let (ea, eb) = (
        tokens::estimate_prompt(&a).await,
        tokens::estimate_prompt(&b).await,
    );
    assert!(ea.bound() > 0 && eb.bound() > 0);
    assert!(!tokens::is_loaded(), "admission built the vocabulary");
    // Without the vocabulary, a count that cannot wait falls back to the bytes.
    assert!(ea.count_now() <= ea.bound());
    assert!(!tokens::is_loaded());
    // Booking an answer without usage counts it, and builds the vocabulary then.
    let counted = ea.count().await;
    assert!(tokens::is_loaded());
    assert!(counted < ea.bound(), "{counted} vs {}", ea.bound());
    assert_eq!(ea.count_now(), counted);
}
