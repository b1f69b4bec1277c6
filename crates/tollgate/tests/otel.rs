//! OpenTelemetry traces over OTLP/HTTP (cargo feature `otel`): the real binary exports
//! to a small OTLP receiver run by the test, which decodes the protobuf and checks the
//! span tree and its GenAI semantic-convention attributes.
//!
//! Run: `cargo test -p tollgate --features otel --test otel`.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use common::*;
use serde_json::json;

/// One exported span: its ids, name and attributes (values as text).
#[derive(Debug, Clone)]
struct Span {
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent: Vec<u8>,
    name: String,
    attrs: BTreeMap<String, String>,
}

/// A protobuf message's fields: (number, value) where a length-delimited value is its
/// bytes and a varint or fixed value is its number.
enum Field<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(out);
        }
    }
    None
}

fn fields(buf: &[u8]) -> Vec<(u64, Field<'_>)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let Some(tag) = varint(buf, &mut pos) else {
            break;
        };
        let field = match tag & 7 {
            0 => match varint(buf, &mut pos) {
                Some(v) => Field::Int(v),
                None => break,
            },
            1 => {
                let Some(b) = buf.get(pos..pos + 8) else {
                    break;
                };
                pos += 8;
                Field::Int(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            }
            2 => {
                let Some(len) = varint(buf, &mut pos) else {
                    break;
                };
                let Some(b) = buf.get(pos..pos + len as usize) else {
                    break;
                };
                pos += len as usize;
                Field::Bytes(b)
            }
            5 => {
                let Some(b) = buf.get(pos..pos + 4) else {
                    break;
                };
                pos += 4;
                Field::Int(u64::from(u32::from_le_bytes(
                    b.try_into().unwrap_or([0; 4]),
                )))
            }
            _ => break,
        };
        out.push((tag >> 3, field));
    }
    out
}

fn submessages(buf: &[u8], number: u64) -> Vec<&[u8]> {
    fields(buf)
        .into_iter()
        .filter_map(|(n, f)| match f {
            Field::Bytes(b) if n == number => Some(b),
            _ => None,
        })
        .collect()
}

/// `KeyValue { key = 1; AnyValue value = 2 }`, AnyValue's string (1), bool (2), int (3).
fn key_values(buf: &[u8], number: u64) -> BTreeMap<String, String> {
    submessages(buf, number)
        .into_iter()
        .filter_map(|kv| {
            let key = submessages(kv, 1)
                .first()
                .map(|k| String::from_utf8_lossy(k).to_string())?;
            let value = submessages(kv, 2).first().copied()?;
            let text = fields(value).into_iter().find_map(|(n, f)| match (n, f) {
                (1, Field::Bytes(s)) => Some(String::from_utf8_lossy(s).to_string()),
                (2, Field::Int(b)) => Some((b != 0).to_string()),
                (3, Field::Int(i)) => Some((i as i64).to_string()),
                _ => None,
            })?;
            Some((key, text))
        })
        .collect()
}

/// ExportTraceServiceRequest → ResourceSpans(1) → {Resource(1), ScopeSpans(2) → Span(2)}.
fn decode(body: &[u8]) -> (Vec<BTreeMap<String, String>>, Vec<Span>) {
    let mut resources = Vec::new();
    let mut spans = Vec::new();
    for rs in submessages(body, 1) {
        for resource in submessages(rs, 1) {
            resources.push(key_values(resource, 1));
        }
        for ss in submessages(rs, 2) {
            for span in submessages(ss, 2) {
                let bytes = |n| {
                    submessages(span, n)
                        .first()
                        .map(|b| b.to_vec())
                        .unwrap_or_default()
                };
                spans.push(Span {
                    trace_id: bytes(1),
                    span_id: bytes(2),
                    parent: bytes(4),
                    name: String::from_utf8_lossy(&bytes(5)).to_string(),
                    attrs: key_values(span, 9),
                });
            }
        }
    }
    (resources, spans)
}

type Received = Arc<Mutex<Vec<Bytes>>>;

async fn receive(State(got): State<Received>, body: Bytes) -> &'static str {
    got.lock().expect("lock").push(body);
    ""
}

/// An OTLP/HTTP receiver on a free port: its base URL and what it received.
async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let app = Router::new()
        .route("/v1/traces", post(receive))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), got)
}

fn received(got: &Received) -> (Vec<BTreeMap<String, String>>, Vec<Span>) {
    let bodies = got.lock().expect("lock").clone();
    let mut resources = Vec::new();
    let mut spans = Vec::new();
    for b in bodies {
        let (r, s) = decode(&b);
        resources.extend(r);
        spans.extend(s);
    }
    (resources, spans)
}

#[tokio::test]
async fn spans_per_phase_with_genai_attributes_reach_the_collector() {
    let (endpoint, got) = receiver().await;
    let mock = MockProvider::start().await.expect("mock");
    let config = config_for(&mock, "").replace(
        "providers:\n",
        &format!("telemetry:\n  otlp_endpoint: {endpoint}\n  service_name: tollgate-otel-test\nproviders:\n"),
    );
    let gw = Gateway::start_with_env(&config, &[("OTEL_BSP_SCHEDULE_DELAY", "100")]);
    let http = client();
    let send = |stream: bool| {
        http.post(gw.gw("/v1/chat/completions"))
            .bearer_auth(KEY_A)
            .json(&json!({
                "model": "gpt-mock", "stream": stream, "max_tokens": 40,
                "messages": [{"role": "user", "content": "trace me"}],
            }))
            .send()
    };
    let whole = send(false).await.expect("send");
    assert_eq!(whole.status(), 200);
    let whole_id = whole.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    whole.bytes().await.expect("body");
    let streamed = send(true).await.expect("send");
    assert_eq!(streamed.status(), 200);
    let stream_id = streamed.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    streamed.bytes().await.expect("body");

    // The batch exporter sends every 100 ms; wait for both requests' spans.
    let mut spans = Vec::new();
    let mut resources = Vec::new();
    for _ in 0..100 {
        (resources, spans) = received(&got);
        let requests = spans
            .iter()
            .filter(|s| s.name == "request" && s.attrs.contains_key("gen_ai.usage.output_tokens"))
            .count();
        if requests >= 2 && spans.iter().filter(|s| s.name == "settle").count() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        resources
            .iter()
            .any(|r| r.get("service.name").map(String::as_str) == Some("tollgate-otel-test")),
        "{resources:?}"
    );

    for (id, stream) in [(&whole_id, false), (&stream_id, true)] {
        let request = spans
            .iter()
            .find(|s| s.name == "request" && s.attrs.get("request_id") == Some(id))
            .unwrap_or_else(|| panic!("no request span for {id} in {spans:#?}"));
        let a = &request.attrs;
        let attr = |k: &str| a.get(k).map(String::as_str);
        assert_eq!(attr("gen_ai.operation.name"), Some("chat"), "{a:?}");
        assert_eq!(attr("gen_ai.request.model"), Some("gpt-mock"));
        assert_eq!(attr("gen_ai.response.model"), Some("gpt-4o-mini"));
        assert_eq!(attr("gen_ai.provider.name"), Some("openai"));
        assert_eq!(attr("gen_ai.request.max_tokens"), Some("40"));
        assert_eq!(attr("http.response.status_code"), Some("200"));
        for k in ["gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"] {
            let n: i64 = attr(k).and_then(|v| v.parse().ok()).unwrap_or(0);
            assert!(n > 0, "{k} in {a:?}");
        }
        // Its phases, each a child span in the same trace.
        let children: Vec<&Span> = spans
            .iter()
            .filter(|s| s.parent == request.span_id && s.trace_id == request.trace_id)
            .collect();
        let names: Vec<&str> = children.iter().map(|s| s.name.as_str()).collect();
        let mut want = vec!["auth", "admission", "upstream", "settle"];
        if stream {
            want.push("relay");
        }
        for n in want {
            assert!(names.contains(&n), "{n} missing under request: {names:?}");
        }
        let upstream = children
            .iter()
            .find(|s| s.name == "upstream")
            .expect("upstream span");
        assert_eq!(
            upstream
                .attrs
                .get("gen_ai.request.model")
                .map(String::as_str),
            Some("gpt-4o-mini")
        );
        assert_eq!(
            upstream
                .attrs
                .get("gen_ai.provider.name")
                .map(String::as_str),
            Some("openai")
        );
        assert_eq!(
            upstream
                .attrs
                .get("http.response.status_code")
                .map(String::as_str),
            Some("200")
        );
    }
}
