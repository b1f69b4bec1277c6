//! Property: OpenAI → Anthropic → OpenAI keeps the conversation (texts, tool calls, tool
//! results) and the stop sequences, up to the merging the Anthropic format imposes.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tollgate_protocol::openai::{ChatRequest, ContentPart, MessageContent, Role, Stop};
use tollgate_protocol::translate::{anthropic_request_to_openai, openai_request_to_anthropic};

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Text(String),
    Call(String, String, Value),
    Result(String, String),
}

/// (system text, [(speaker, items)] with same-speaker neighbours merged, stop sequences).
type Normal = (String, Vec<(&'static str, Vec<Item>)>, Vec<String>);

fn texts(c: &Option<MessageContent>) -> Vec<String> {
    match c {
        None => Vec::new(),
        Some(MessageContent::Text(s)) => vec![s.clone()],
        Some(MessageContent::Parts(p)) => p
            .iter()
            .map(|p| match p {
                ContentPart::Text(t) => t.text.clone(),
                other => panic!("unexpected part {other:?}"),
            })
            .collect(),
    }
}

fn normalize(req: &ChatRequest) -> Normal {
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Item>)> = Vec::new();
    for m in &req.messages {
        let (speaker, items) = match m.role {
            Role::System | Role::Developer => {
                system.extend(texts(&m.content));
                continue;
            }
            Role::User => (
                "user",
                texts(&m.content)
                    .into_iter()
                    .filter(|t| !t.is_empty())
                    .map(Item::Text)
                    .collect(),
            ),
            Role::Tool => (
                "user",
                vec![Item::Result(
                    m.tool_call_id.clone().unwrap(),
                    texts(&m.content).concat(),
                )],
            ),
            Role::Assistant => {
                let text = texts(&m.content).concat();
                let mut items: Vec<Item> = Vec::new();
                if !text.is_empty() {
                    items.push(Item::Text(text));
                }
                for c in m.tool_calls.iter().flatten() {
                    let args: Value = serde_json::from_str(&c.function.arguments).unwrap();
                    items.push(Item::Call(c.id.clone(), c.function.name.clone(), args));
                }
                ("assistant", items)
            }
            Role::Other(_) => panic!("unexpected role"),
        };
        match turns.last_mut() {
            Some((s, existing)) if *s == speaker => existing.extend(items),
            _ => turns.push((speaker, items)),
        }
    }
    // One OpenAI assistant message holds one text and then its calls, so merged
    // assistant turns compare as all their text followed by all their calls.
    for (speaker, items) in &mut turns {
        if *speaker == "assistant" {
            let (text, calls): (Vec<Item>, Vec<Item>) = std::mem::take(items)
                .into_iter()
                .partition(|i| matches!(i, Item::Text(_)));
            let joined: String = text
                .into_iter()
                .map(|i| match i {
                    Item::Text(t) => t,
                    _ => String::new(),
                })
                .collect();
            if !joined.is_empty() {
                items.push(Item::Text(joined));
            }
            items.extend(calls);
        }
    }
    let stop = req.stop.as_ref().map(Stop::to_vec).unwrap_or_default();
    (system.join("\n\n"), turns, stop)
}

fn arb_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 .,!?éü世🎉\n]{1,24}"
}

fn arb_args() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(
        "[a-z]{1,5}",
        prop_oneof![
            any::<i64>().prop_map(Value::from),
            arb_text().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
        ],
        0..3,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>()))
}

/// One exchange: a user text, or an assistant turn with tool calls, their results and
/// possibly a user follow-up.
fn arb_turn() -> impl Strategy<Value = Vec<Value>> {
    prop_oneof![
        arb_text().prop_map(|t| vec![json!({"role": "user", "content": t})]),
        proptest::collection::vec(arb_text(), 1..3).prop_map(|parts| vec![json!({"role": "user",
            "content": parts.iter().map(|t| json!({"type": "text", "text": t})).collect::<Vec<_>>()})]),
        arb_text().prop_map(|t| vec![json!({"role": "assistant", "content": t})]),
        (
            proptest::option::of(arb_text()),
            proptest::collection::vec(("[a-zA-Z0-9]{6}", "[a-z_]{1,8}", arb_args(), arb_text()), 1..4),
            proptest::option::of(arb_text()),
        )
            .prop_map(|(text, calls, follow_up)| {
                let tool_calls: Vec<Value> = calls.iter().map(|(id, name, args, _)| json!({
                    "id": format!("call_{id}"), "type": "function",
                    "function": {"name": name, "arguments": args.to_string()}})).collect();
                let mut out = vec![json!({"role": "assistant", "content": text, "tool_calls": tool_calls})];
                for (id, _, _, result) in &calls {
                    out.push(json!({"role": "tool", "tool_call_id": format!("call_{id}"), "content": result}));
                }
                if let Some(t) = follow_up {
                    out.push(json!({"role": "user", "content": t}));
                }
                out
            }),
    ]
}

fn arb_request() -> impl Strategy<Value = ChatRequest> {
    (
        proptest::collection::vec(arb_text(), 0..3),
        proptest::collection::vec(arb_turn(), 1..6),
        prop_oneof![
            Just(Value::Null),
            "[a-zA-Z#]{1,5}".prop_map(Value::from),
            proptest::collection::vec("[a-zA-Z#]{1,5}", 1..4).prop_map(Value::from),
        ],
    )
        .prop_map(|(system, turns, stop)| {
            let mut messages: Vec<Value> = system
                .into_iter()
                .map(|s| json!({"role": "system", "content": s}))
                .collect();
            messages.extend(turns.into_iter().flatten());
            let mut req = json!({"model": "m", "messages": messages});
            if !stop.is_null() {
                req["stop"] = stop;
            }
            serde_json::from_value(req).unwrap()
        })
}

proptest! {
    #[test]
    fn openai_to_anthropic_to_openai_keeps_the_conversation(req in arb_request()) {
        req.validate().unwrap();
        let anthropic = openai_request_to_anthropic(&req, 1000).unwrap();
        anthropic.validate().unwrap();
        let back = anthropic_request_to_openai(&anthropic).unwrap();
        back.validate().unwrap();
        prop_assert_eq!(normalize(&back), normalize(&req));
    }
}
