//! Shared by the stream property tests: a chat stream run through the Responses
//! event builder, checked for the event grammar, and the parts of a Responses object
//! that a streamed and a whole answer must agree on.

use serde_json::{Value, json};
use tollgate_protocol::openai::ChatChunk;
use tollgate_protocol::responses::{Echo, ResponsesRequest, ResponsesStream};

pub fn echo() -> Echo {
    let r: ResponsesRequest =
        serde_json::from_value(json!({"model": "pub-model", "input": "q"})).unwrap();
    Echo::new("resp_prop".into(), 42, &r)
}

/// Runs `chunks` through the Responses stream; checks the event grammar (sequence
/// numbers, item lifecycle, deltas adding up to the final items); returns the final
/// response object.
pub fn run(chunks: &[ChatChunk], echo: &Echo) -> Value {
    let mut s = ResponsesStream::new(echo.clone());
    let mut evs = s.begin();
    for c in chunks {
        evs.extend(s.push(c));
    }
    evs.extend(s.finish());
    assert!(s.finish().is_empty(), "finish is idempotent");
    for (i, e) in evs.iter().enumerate() {
        assert_eq!(e["sequence_number"], i as u64, "{e}");
    }
    assert_eq!(evs[0]["type"], "response.created");
    assert_eq!(evs[1]["type"], "response.in_progress");
    let last = evs.last().unwrap();
    let kind = last["type"].as_str().unwrap();
    assert!(
        kind == "response.completed" || kind == "response.incomplete",
        "{kind}"
    );
    let response = last["response"].clone();
    let output = response["output"].as_array().unwrap();
    // Every item added once, done once, and its deltas add up to it.
    for (index, item) in output.iter().enumerate() {
        let of = |t: &str| {
            evs.iter()
                .filter(|e| e["type"] == t && e["output_index"] == index as u64)
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(of("response.output_item.added").len(), 1);
        let done = of("response.output_item.done");
        assert_eq!(done.len(), 1);
        assert_eq!(&done[0]["item"], item);
        if item["type"] == "message" {
            let text: String = of("response.output_text.delta")
                .iter()
                .map(|e| e["delta"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(item["content"][0]["text"], text.as_str());
            assert_eq!(of("response.output_text.done")[0]["text"], text.as_str());
        } else {
            let args: String = of("response.function_call_arguments.delta")
                .iter()
                .map(|e| e["delta"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(item["arguments"], args.as_str());
        }
    }
    response
}

/// What a streamed and a whole answer agree on: the items without their ids (an
/// upstream may name a call differently in each), messages first, with the text, the
/// calls' names and parsed arguments, the statuses, and (`with_usage`) the usage.
pub fn essentials(r: &Value, with_usage: bool) -> Value {
    let mut items: Vec<Value> = r["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let mut i = i.clone();
            let o = i.as_object_mut().unwrap();
            o.remove("id");
            o.remove("call_id");
            if let Some(Value::String(a)) = o.get("arguments") {
                let parsed: Value = serde_json::from_str(a).unwrap_or(Value::String(a.clone()));
                o.insert("arguments".into(), parsed);
            }
            i
        })
        .collect();
    items.sort_by_key(|i| i["type"] != "message");
    json!({
        "status": r["status"],
        "incomplete_details": r["incomplete_details"],
        "output": items,
        "usage": if with_usage { r["usage"].clone() } else { Value::Null },
    })
}
