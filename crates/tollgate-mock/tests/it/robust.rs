//! Malformed input never panics the mock: every mutation of a valid body gets an answer.
use crate::common::{send, start};
use serde_json::{Value, json};

fn weird() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(-1),
        json!(1.5),
        json!(18446744073709551615u64),
        json!(""),
        json!("x@"),
        json!([]),
        json!([null]),
        json!({}),
        json!({"type": "text"}),
    ]
}

/// Every value reachable in `v`, replaced in turn by every weird value.
fn mutations(v: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    fn walk(root: &Value, path: &mut Vec<Value>, node: &Value, out: &mut Vec<Value>) {
        for w in weird() {
            let mut copy = root.clone();
            if let Some(slot) = locate(&mut copy, path) {
                *slot = w;
                out.push(copy);
            }
        }
        match node {
            Value::Object(o) => {
                for (k, child) in o {
                    path.push(json!(k));
                    walk(root, path, child, out);
                    path.pop();
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    path.push(json!(i));
                    walk(root, path, child, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    fn locate<'a>(v: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
        let mut cur = v;
        for p in path {
            cur = match p {
                Value::String(k) => cur.get_mut(k.as_str())?,
                Value::Number(i) => cur.get_mut(i.as_u64()? as usize)?,
                _ => return None,
            };
        }
        Some(cur)
    }
    walk(v, &mut Vec::new(), v, &mut out);
    out
}

#[tokio::test]
async fn mutated_bodies_get_answers() {
    let h = start().await;
    let openai = json!({
        "model": "gpt-4o", "stream": false, "max_tokens": 5, "stop": ["a"],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "response_format": {"type": "json_schema", "json_schema": {"name": "n"}},
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": [{"type": "text", "text": "t"}, {"type": "image_url", "image_url": {"url": "https://x/y"}}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "r"},
        ],
    });
    for body in mutations(&openai) {
        let r = send(h.openai("/chat/completions", Some("sk")).json(&body)).await;
        assert!(r.status.as_u16() < 500, "{body} -> {} {}", r.status, r.body);
    }
    let anthropic = json!({
        "model": "c", "max_tokens": 5, "stop_sequences": ["z"], "system": [{"type": "text", "text": "s"}],
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "f"}, "metadata": {"user_id": "u"},
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "t"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "aGk="}}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "tu", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu", "content": [{"type": "text", "text": "r"}]}]},
        ],
    });
    for body in mutations(&anthropic) {
        let r = send(h.anthropic(Some("k"), true).json(&body)).await;
        assert!(r.status.as_u16() < 500, "{body} -> {} {}", r.status, r.body);
    }
    let emb =
        json!({"model": "m", "input": ["a", "b"], "dimensions": 4, "encoding_format": "base64"});
    for body in mutations(&emb) {
        let r = send(h.openai("/embeddings", Some("sk")).json(&body)).await;
        assert!(r.status.as_u16() < 500, "{body} -> {} {}", r.status, r.body);
    }
}
