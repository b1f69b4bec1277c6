//! Stream translation: exact sequences for typical streams, the grammar of each side,
//! and the property that a translated stream adds up to the translated answer.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tollgate_protocol::TranslateError;
use tollgate_protocol::anthropic::{
    self, BlockDelta, ContentBlock, EventAccumulator, MessagesResponse, StopReason, StreamEvent,
};
use tollgate_protocol::openai::{
    ChatChunk, ChatResponse, ChunkAccumulator, FinishReason, MessageContent,
};
use tollgate_protocol::translate::{
    AnthropicToOpenAiStream, OpenAiToAnthropicStream, ResponseHints, anthropic_response_to_openai,
    openai_response_to_anthropic,
};

fn events(v: Value) -> Vec<StreamEvent> {
    serde_json::from_value(v).unwrap()
}

fn chunks(v: Value) -> Vec<ChatChunk> {
    serde_json::from_value(v).unwrap()
}

fn run_a2o(evs: &[StreamEvent], include_usage: bool, json_tool: Option<&str>) -> Vec<ChatChunk> {
    let mut t = AnthropicToOpenAiStream::new("chatcmpl-x", "pub-model", 42, include_usage)
        .with_json_tool(json_tool.map(str::to_owned));
    let mut out = Vec::new();
    for e in evs {
        out.extend(t.push(e).unwrap());
    }
    assert!(t.is_done());
    out
}

fn run_o2a(chs: &[ChatChunk]) -> Vec<StreamEvent> {
    let mut t = OpenAiToAnthropicStream::new("msg_x", "pub-model");
    let mut out = Vec::new();
    for c in chs {
        out.extend(t.push(c));
    }
    out.extend(t.finish());
    assert!(t.finish().is_empty(), "finish is idempotent");
    out
}

/// The compact shape of an OpenAI chunk: what the delta/finish/usage carry.
fn shape(c: &ChatChunk) -> Value {
    let mut v = serde_json::to_value(c).unwrap();
    let o = v.as_object_mut().unwrap();
    assert_eq!(o.remove("id"), Some(json!("chatcmpl-x")));
    assert_eq!(o.remove("object"), Some(json!("chat.completion.chunk")));
    assert_eq!(o.remove("created"), Some(json!(42)));
    assert_eq!(o.remove("model"), Some(json!("pub-model")));
    v
}

#[test]
fn anthropic_text_and_tool_stream_to_openai_chunks() {
    let evs = events(json!([
        {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1,"cache_read_input_tokens":5}}},
        {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}},
        {"type":"ping"},
        {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}},
        {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" world"}},
        {"type":"content_block_stop","index":0},
        {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"w","input":{}}},
        {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}},
        {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}},
        {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}},
        {"type":"content_block_stop","index":1},
        {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":15}},
        {"type":"message_stop"}
    ]));
    let out: Vec<Value> = run_a2o(&evs, true, None).iter().map(shape).collect();
    let ch =
        |delta: Value| json!({"choices": [{"index": 0, "delta": delta, "finish_reason": null}]});
    assert_eq!(
        out,
        vec![
            ch(json!({"role": "assistant", "content": ""})),
            ch(json!({"content": "Hello"})),
            ch(json!({"content": " world"})),
            ch(
                json!({"tool_calls": [{"index": 0, "id": "toolu_1", "type": "function", "function": {"name": "w", "arguments": ""}}]})
            ),
            ch(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]})),
            ch(json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]})),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 15, "total_tokens": 45,
                "prompt_tokens_details": {"cached_tokens": 5}}}),
        ]
    );
    // Without include_usage there is no usage chunk.
    assert_eq!(run_a2o(&evs, false, None).len(), 7);
}

#[test]
fn anthropic_error_event_is_an_upstream_error() {
    let mut t = AnthropicToOpenAiStream::new("c", "m", 0, false);
    let evs = events(json!([
        {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}},
        {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}
    ]));
    assert_eq!(t.push(&evs[0]).unwrap().len(), 1);
    let err = t.push(&evs[1]).unwrap_err();
    assert_eq!(
        err,
        TranslateError::Upstream {
            error_type: "overloaded_error".into(),
            message: "Overloaded".into()
        }
    );
    assert!(!err.is_client_error());
    assert!(!t.is_done());
}

#[test]
fn json_schema_tool_stream_becomes_text_with_finish_stop() {
    let evs = events(json!([
        {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"c","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}},
        {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"math","input":{}}},
        {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"answer\""}},
        {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":": 4}"}},
        {"type":"content_block_stop","index":0},
        {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":9}},
        {"type":"message_stop"}
    ]));
    let mut acc = ChunkAccumulator::new();
    for c in run_a2o(&evs, false, Some("math")) {
        acc.push(&c);
    }
    let resp = acc.finish();
    let choice = &resp.choices[0];
    assert_eq!(
        choice.message.content,
        Some(MessageContent::Text("{\"answer\": 4}".into()))
    );
    assert!(choice.message.tool_calls.is_none());
    assert_eq!(choice.finish_reason, Some(FinishReason::Stop));
}

#[test]
fn openai_text_and_tools_stream_to_anthropic_events() {
    let base = |choices: Value| json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt","choices":choices,"usage":null});
    let chs = chunks(json!([
        base(json!([{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}])),
        base(json!([{"index":0,"delta":{"content":"Hel"},"finish_reason":null}])),
        base(json!([{"index":0,"delta":{"content":"lo"},"finish_reason":null}])),
        base(json!([{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"w","arguments":""}}]},"finish_reason":null}])),
        base(json!([{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}])),
        base(json!([{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}])),
        base(json!([{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"w","arguments":"{}"}}]},"finish_reason":null}])),
        base(json!([{"index":0,"delta":{},"finish_reason":"tool_calls"}])),
        {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt","choices":[],
         "usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42,"prompt_tokens_details":{"cached_tokens":10}}}
    ]));
    let out = serde_json::to_value(run_o2a(&chs)).unwrap();
    assert_eq!(
        out,
        json!([
            {"type":"message_start","message":{"id":"msg_x","type":"message","role":"assistant","model":"pub-model","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}},
            {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}},
            {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}},
            {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}},
            {"type":"content_block_stop","index":0},
            {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"call_1","name":"w","input":{}}},
            {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}},
            {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}},
            {"type":"content_block_stop","index":1},
            {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"call_2","name":"w","input":{}}},
            {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{}"}},
            {"type":"content_block_stop","index":2},
            {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},
             "usage":{"output_tokens":12,"input_tokens":20,"cache_read_input_tokens":10}},
            {"type":"message_stop"}
        ])
    );
}

#[test]
fn openai_stream_without_chunks_still_makes_a_valid_message() {
    let out = run_o2a(&[]);
    let names: Vec<&str> = out.iter().map(StreamEvent::event_name).collect();
    assert_eq!(names, ["message_start", "message_delta", "message_stop"]);
    assert_grammar_anthropic(&out);
}

// ---------- grammar of each side ----------

/// Anthropic: message_start first; blocks opened with consecutive indexes from 0, each
/// delta for the open block, each closed before the next opens; message_delta after the
/// last block is closed; message_stop last.
fn assert_grammar_anthropic(evs: &[StreamEvent]) {
    assert!(matches!(
        evs.first(),
        Some(StreamEvent::MessageStart { .. })
    ));
    assert!(matches!(evs.last(), Some(StreamEvent::MessageStop)));
    let mut open: Option<u32> = None;
    let mut next = 0;
    let mut delta_seen = false;
    for e in &evs[1..evs.len() - 1] {
        assert!(
            !delta_seen,
            "nothing but message_stop after message_delta: {e:?}"
        );
        match e {
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                assert!(open.is_none(), "block {index} opened while another is open");
                assert_eq!(*index, next);
                assert!(matches!(
                    content_block,
                    ContentBlock::Text(_) | ContentBlock::ToolUse(_)
                ));
                open = Some(*index);
                next += 1;
            }
            StreamEvent::ContentBlockDelta { index, .. } => assert_eq!(Some(*index), open),
            StreamEvent::ContentBlockStop { index } => {
                assert_eq!(Some(*index), open);
                open = None;
            }
            StreamEvent::MessageDelta { delta, .. } => {
                assert!(open.is_none());
                assert!(delta.stop_reason.is_some());
                delta_seen = true;
            }
            StreamEvent::Ping => {}
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert!(delta_seen);
}

/// OpenAI: the first chunk has role assistant; a tool call's first fragment has id, type
/// and name; exactly one finish chunk; with include_usage a last chunk with no choices.
fn assert_grammar_openai(chs: &[ChatChunk], include_usage: bool) {
    let first = &chs[0].choices[0].delta;
    assert_eq!(first.role, Some(tollgate_protocol::openai::Role::Assistant));
    let mut seen_tools = Vec::new();
    let mut finishes = 0;
    for c in chs {
        for choice in &c.choices {
            for tc in choice.delta.tool_calls.iter().flatten() {
                if !seen_tools.contains(&tc.index) {
                    assert_eq!(
                        tc.index as usize,
                        seen_tools.len(),
                        "tool indexes are consecutive"
                    );
                    assert!(tc.id.is_some() && tc.kind.as_deref() == Some("function"));
                    assert!(tc.function.as_ref().unwrap().name.is_some());
                    seen_tools.push(tc.index);
                } else {
                    assert!(tc.id.is_none());
                }
            }
            if choice.finish_reason.is_some() {
                finishes += 1;
            }
        }
    }
    assert_eq!(finishes, 1);
    let last = chs.last().unwrap();
    if include_usage {
        assert!(last.choices.is_empty() && last.usage.is_some());
    } else {
        assert!(chs.iter().all(|c| c.usage.is_none()));
    }
}

// ---------- generators ----------

type Calls = Vec<(String, String, Value)>;
/// Text, tool calls, finish reason and usage of an OpenAI answer.
type OaEssentials = (String, Calls, Option<FinishReason>, Value);
/// Text, tool uses, stop reason and usage of an Anthropic answer.
type AnEssentials = (String, Calls, Option<StopReason>, anthropic::Usage);

#[derive(Debug, Clone)]
enum GenBlock {
    Text(String),
    Tool {
        id: String,
        name: String,
        input: Value,
    },
}

fn arb_input() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(
        "[a-z]{1,6}",
        prop_oneof![
            any::<i32>().prop_map(Value::from),
            "[ -~éü世\"\\\\]{0,12}".prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            proptest::collection::vec(any::<u8>().prop_map(Value::from), 0..3)
                .prop_map(Value::from),
        ],
        0..4,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>()))
}

fn arb_blocks() -> impl Strategy<Value = Vec<GenBlock>> {
    proptest::collection::vec(
        prop_oneof![
            "[ -~éü世🎉\n]{1,40}".prop_map(GenBlock::Text),
            ("[a-zA-Z0-9]{4,10}", "[a-z_]{1,10}", arb_input()).prop_map(|(id, name, input)| {
                GenBlock::Tool {
                    id: format!("toolu_{id}"),
                    name,
                    input,
                }
            }),
        ],
        0..5,
    )
}

/// Splits `s` into pieces at char boundaries chosen by `cuts`.
fn split(s: &str, cuts: &[prop::sample::Index]) -> Vec<String> {
    let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).skip(1).collect();
    let mut points: Vec<usize> = if bounds.is_empty() {
        Vec::new()
    } else {
        cuts.iter().map(|c| bounds[c.index(bounds.len())]).collect()
    };
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    for p in points {
        out.push(s[start..p].to_owned());
        start = p;
    }
    out.push(s[start..].to_owned());
    out
}

#[derive(Debug, Clone)]
struct AnthropicCase {
    blocks: Vec<GenBlock>,
    stop: StopReason,
    usage: anthropic::Usage,
    cuts: Vec<prop::sample::Index>,
    pings: bool,
}

fn arb_anthropic_case() -> impl Strategy<Value = AnthropicCase> {
    (
        arb_blocks(),
        prop_oneof![
            Just(StopReason::EndTurn),
            Just(StopReason::MaxTokens),
            Just(StopReason::StopSequence)
        ],
        (
            0u64..5000,
            0u64..5000,
            proptest::option::of(0u64..900),
            proptest::option::of(0u64..900),
        ),
        proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        any::<bool>(),
    )
        .prop_map(
            |(blocks, stop, (input, output, read, write), cuts, pings)| {
                let has_tool = blocks.iter().any(|b| matches!(b, GenBlock::Tool { .. }));
                AnthropicCase {
                    stop: if has_tool { StopReason::ToolUse } else { stop },
                    blocks,
                    usage: anthropic::Usage {
                        input_tokens: input,
                        output_tokens: output,
                        cache_read_input_tokens: read,
                        cache_creation_input_tokens: write,
                        extra: Map::new(),
                    },
                    cuts,
                    pings,
                }
            },
        )
}

impl AnthropicCase {
    fn response(&self) -> MessagesResponse {
        let mut r = MessagesResponse::new("msg_1", "claude");
        r.content = self
            .blocks
            .iter()
            .map(|b| match b {
                GenBlock::Text(t) => ContentBlock::text(t.clone()),
                GenBlock::Tool { id, name, input } => {
                    ContentBlock::tool_use(id.clone(), name.clone(), input.clone())
                }
            })
            .collect();
        r.stop_reason = Some(self.stop.clone());
        r.usage = self.usage.clone();
        r
    }

    /// The stream Anthropic would send for [`Self::response`].
    fn events(&self) -> Vec<StreamEvent> {
        let mut start = MessagesResponse::new("msg_1", "claude");
        start.usage = anthropic::Usage {
            output_tokens: 1,
            ..self.usage.clone()
        };
        let mut evs = vec![StreamEvent::MessageStart { message: start }];
        if self.pings {
            evs.push(StreamEvent::Ping);
        }
        for (i, b) in self.blocks.iter().enumerate() {
            let index = i as u32;
            let (block, pieces) = match b {
                GenBlock::Text(t) => (ContentBlock::text(""), split(t, &self.cuts)),
                GenBlock::Tool { id, name, input } => (
                    ContentBlock::tool_use(id.clone(), name.clone(), json!({})),
                    split(&input.to_string(), &self.cuts),
                ),
            };
            evs.push(StreamEvent::ContentBlockStart {
                index,
                content_block: block,
            });
            for p in pieces {
                let delta = match b {
                    GenBlock::Text(_) => BlockDelta::TextDelta { text: p },
                    GenBlock::Tool { .. } => BlockDelta::InputJsonDelta { partial_json: p },
                };
                evs.push(StreamEvent::ContentBlockDelta { index, delta });
            }
            evs.push(StreamEvent::ContentBlockStop { index });
        }
        evs.push(StreamEvent::MessageDelta {
            delta: anthropic::MessageDelta {
                stop_reason: Some(self.stop.clone()),
                stop_sequence: None,
                extra: Map::new(),
            },
            usage: anthropic::DeltaUsage {
                output_tokens: self.usage.output_tokens,
                ..Default::default()
            },
        });
        evs.push(StreamEvent::MessageStop);
        evs
    }
}

/// The parts of an OpenAI answer both paths must agree on.
fn essentials(r: &ChatResponse) -> OaEssentials {
    let m = &r.choices[0].message;
    let text = m.text_content();
    let calls = m
        .tool_calls
        .iter()
        .flatten()
        .map(|c| {
            (
                c.id.clone(),
                c.function.name.clone(),
                serde_json::from_str(&c.function.arguments).unwrap(),
            )
        })
        .collect();
    (
        text,
        calls,
        r.choices[0].finish_reason.clone(),
        serde_json::to_value(&r.usage).unwrap(),
    )
}

#[derive(Debug, Clone)]
struct OpenAiCase {
    text: String,
    calls: Vec<(String, String, Value)>,
    finish: FinishReason,
    usage: (u64, u64, Option<u64>),
    cuts: Vec<prop::sample::Index>,
}

fn arb_openai_case() -> impl Strategy<Value = OpenAiCase> {
    (
        "[ -~éü世🎉\n]{0,40}",
        proptest::collection::vec(("[a-zA-Z0-9]{4,10}", "[a-z_]{1,10}", arb_input()), 0..4),
        prop_oneof![
            Just(FinishReason::Stop),
            Just(FinishReason::Length),
            Just(FinishReason::ContentFilter)
        ],
        (0u64..5000, 0u64..5000, proptest::option::of(0u64..900)),
        proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    )
        .prop_map(
            |(text, calls, finish, (prompt, completion, cached), cuts)| {
                let calls: Vec<(String, String, Value)> = calls
                    .into_iter()
                    .map(|(id, name, input)| (format!("call_{id}"), name, input))
                    .collect();
                OpenAiCase {
                    finish: if calls.is_empty() {
                        finish
                    } else {
                        FinishReason::ToolCalls
                    },
                    text,
                    calls,
                    usage: (prompt + cached.unwrap_or(0), completion, cached),
                    cuts,
                }
            },
        )
}

impl OpenAiCase {
    fn usage(&self) -> Value {
        let (prompt, completion, cached) = self.usage;
        let mut u = json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion});
        if let Some(c) = cached {
            u["prompt_tokens_details"] = json!({"cached_tokens": c});
        }
        u
    }

    fn response(&self) -> ChatResponse {
        let calls: Vec<Value> = self
            .calls
            .iter()
            .map(|(id, name, input)| json!({"id": id, "type": "function", "function": {"name": name, "arguments": input.to_string()}}))
            .collect();
        let content = if self.text.is_empty() && !calls.is_empty() {
            Value::Null
        } else {
            json!(self.text)
        };
        let mut message = json!({"role": "assistant", "content": content});
        if !calls.is_empty() {
            message["tool_calls"] = json!(calls);
        }
        serde_json::from_value(json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt",
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish.as_str()}], "usage": self.usage()}))
        .unwrap()
    }

    /// The stream OpenAI would send for [`Self::response`] with include_usage.
    fn chunks(&self) -> Vec<ChatChunk> {
        let chunk = |delta: Value, finish: Value| {
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "usage": null})
        };
        let mut out = vec![chunk(
            json!({"role": "assistant", "content": "", "refusal": null}),
            Value::Null,
        )];
        if !self.text.is_empty() {
            for p in split(&self.text, &self.cuts) {
                out.push(chunk(json!({"content": p}), Value::Null));
            }
        }
        for (i, (id, name, input)) in self.calls.iter().enumerate() {
            out.push(chunk(
                json!({"tool_calls": [{"index": i, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}),
                Value::Null,
            ));
            for p in split(&input.to_string(), &self.cuts) {
                out.push(chunk(
                    json!({"tool_calls": [{"index": i, "function": {"arguments": p}}]}),
                    Value::Null,
                ));
            }
        }
        out.push(chunk(json!({}), json!(self.finish.as_str())));
        out.push(json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt",
            "choices": [], "usage": self.usage()}));
        chunks(Value::Array(out))
    }
}

/// The parts of an Anthropic answer both paths must agree on (text blocks are joined:
/// block boundaries between texts are not meaningful).
fn an_essentials(r: &MessagesResponse) -> AnEssentials {
    let mut text = String::new();
    let mut calls = Vec::new();
    for b in &r.content {
        match b {
            ContentBlock::Text(t) => text.push_str(&t.text),
            ContentBlock::ToolUse(t) => calls.push((t.id.clone(), t.name.clone(), t.input.clone())),
            other => panic!("unexpected block {other:?}"),
        }
    }
    (text, calls, r.stop_reason.clone(), r.usage.clone())
}

proptest! {
    #[test]
    fn anthropic_stream_adds_up_to_the_translated_answer(case in arb_anthropic_case()) {
        let hints = ResponseHints { created: 42, json_tool: None };
        let expected = anthropic_response_to_openai(&case.response(), &hints);
        let chs = run_a2o(&case.events(), true, None);
        assert_grammar_openai(&chs, true);
        let mut acc = ChunkAccumulator::new();
        for c in &chs {
            acc.push(c);
        }
        let streamed = acc.finish();
        prop_assert_eq!(essentials(&streamed), essentials(&expected));
        let (text, calls, _, _) = essentials(&expected);
        let original: String = case.blocks.iter().filter_map(|b| match b {
            GenBlock::Text(t) => Some(t.as_str()),
            GenBlock::Tool { .. } => None,
        }).collect();
        prop_assert_eq!(text, original);
        prop_assert_eq!(calls.len(), case.blocks.iter().filter(|b| matches!(b, GenBlock::Tool { .. })).count());
    }

    #[test]
    fn openai_stream_adds_up_to_the_translated_answer(case in arb_openai_case()) {
        let expected = openai_response_to_anthropic(&case.response());
        let evs = run_o2a(&case.chunks());
        assert_grammar_anthropic(&evs);
        let mut acc = EventAccumulator::new();
        for e in &evs {
            acc.push(e);
        }
        let streamed = acc.finish();
        prop_assert_eq!(an_essentials(&streamed), an_essentials(&expected));
        let (text, calls, _, usage) = an_essentials(&expected);
        prop_assert_eq!(text, case.text.clone());
        prop_assert_eq!(calls, case.calls.clone());
        prop_assert_eq!(usage.output_tokens, case.usage.1);
        prop_assert_eq!(usage.total_input_tokens(), case.usage.0);
    }
}

#[test]
fn calls_that_all_say_index_0_are_told_apart_by_id() {
    // Some OpenAI-compatible servers send each whole call with index 0.
    let base = |choices: Value| json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"g","choices":choices});
    let chs = chunks(json!([
        base(
            json!([{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]},"finish_reason":null}])
        ),
        base(
            json!([{"index":0,"delta":{"tool_calls":[{"index":0,"id":"b","type":"function","function":{"name":"g","arguments":"{}"}}]},"finish_reason":"tool_calls"}])
        )
    ]));
    let evs = run_o2a(&chs);
    assert_grammar_anthropic(&evs);
    let mut acc = EventAccumulator::new();
    evs.iter().for_each(|e| acc.push(e));
    let (_, calls, stop, _) = an_essentials(&acc.finish());
    assert_eq!(
        calls,
        vec![
            ("a".to_owned(), "f".to_owned(), json!({"x": 1})),
            ("b".to_owned(), "g".to_owned(), json!({}))
        ]
    );
    assert_eq!(stop, Some(StopReason::ToolUse));
    let mut oacc = ChunkAccumulator::new();
    chs.iter().for_each(|c| oacc.push(c));
    let resp = oacc.finish();
    let calls = resp.choices[0].message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].function.name, "g");
}

// ---- the Responses door: a provider's stream as Responses events ----

#[path = "support/responses.rs"]
mod responses_support;

fn accumulate(chs: &[ChatChunk]) -> ChatResponse {
    let mut acc = ChunkAccumulator::new();
    chs.iter().for_each(|c| acc.push(c));
    acc.finish()
}

/// OpenAI chunks as the SSE bytes an upstream sends, cut at `cuts` and read back.
fn through_sse(chs: &[ChatChunk], cuts: &[prop::sample::Index]) -> Vec<ChatChunk> {
    let mut bytes = Vec::new();
    for c in chs {
        bytes.extend_from_slice(&tollgate_protocol::sse::encode_json(c).unwrap());
    }
    bytes.extend_from_slice(&tollgate_protocol::sse::encode_done());
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    at.sort_unstable();
    let mut parser = tollgate_protocol::sse::SseParser::new();
    let mut evs = Vec::new();
    let mut prev = 0;
    for a in at.into_iter().chain(std::iter::once(bytes.len())) {
        evs.extend(parser.push(&bytes[prev..a]).unwrap());
        prev = a;
    }
    evs.extend(parser.finish().unwrap());
    evs.iter()
        .filter(|e| !e.is_done())
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect()
}

proptest! {
    #[test]
    fn anthropic_stream_as_responses_events_equals_the_whole_answer(case in arb_anthropic_case()) {
        use responses_support::{echo, essentials, run};
        let hints = ResponseHints { created: 42, json_tool: None };
        let whole = anthropic_response_to_openai(&case.response(), &hints);
        let chs = run_a2o(&case.events(), true, None);
        let echo = echo();
        let streamed = run(&chs, &echo);
        prop_assert_eq!(essentials(&streamed, true), essentials(&echo.from_chat(&accumulate(&chs)), true));
        prop_assert_eq!(essentials(&streamed, true), essentials(&echo.from_chat(&whole), true));
    }

    #[test]
    fn openai_stream_as_responses_events_equals_the_whole_answer(case in arb_openai_case()) {
        use responses_support::{echo, essentials, run};
        let chs = through_sse(&case.chunks(), &case.cuts);
        let echo = echo();
        let streamed = run(&chs, &echo);
        let whole = echo.from_chat(&case.response());
        prop_assert_eq!(essentials(&streamed, true), essentials(&whole, true));
        // The call ids of an OpenAI stream are the whole answer's.
        let ids = |v: &Value| v["output"].as_array().unwrap().iter()
            .filter_map(|i| i["call_id"].as_str().map(str::to_owned)).collect::<Vec<_>>();
        prop_assert_eq!(ids(&streamed), ids(&whole));
    }
}
