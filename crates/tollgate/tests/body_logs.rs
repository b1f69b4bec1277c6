//! Request and response bodies in call records (issue 9): only when the model or the
//! consumer has `log_bodies: true`, capped at `storage.log_bodies_max_bytes` with the
//! cut marked, and with secrets redacted; returned by `GET /admin/v1/calls/{id}` and
//! in the NDJSON export.

mod common;

use common::*;
use serde_json::{Value, json};
use tollgate_mock::rest::RestUpstream;

/// A consumer with `log_bodies: true`.
const KEY_C: &str = "tg-test-key-c";
/// The cap of the test config.
const CAP: usize = 2048;

/// The record of `id`, once the journal has written it (up to 10 s).
/// Sends and reads the whole answer: (status, request id, body text).
async fn send(req: reqwest::RequestBuilder) -> (u16, String, String) {
    let res = req.send().await.expect("send");
    let id = res.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    let status = res.status().as_u16();
    (status, id, res.text().await.expect("body"))
}

/// How an ASCII body without secrets is stored: whole, or cut at the cap and marked.
fn stored(text: &str) -> String {
    if text.len() <= CAP {
        text.to_string()
    } else {
        format!("{}…[truncated: {} bytes in all]", &text[..CAP], text.len())
    }
}

fn config(mock: &MockProvider, rest: &RestUpstream, database: Option<&str>) -> String {
    let mut config = config_for(
        mock,
        r#"
  - name: logged
    targets: [{provider: mock-openai, model: gpt-4o-mini}]
    log_bodies: true
  - name: leaky
    targets: [{provider: mock-openai, model: "gpt-4o-mini@reply=the_upstream_key_is_compat-key_ok"}]
    log_bodies: true
"#,
    );
    config.push_str(&format!(
        "  - name: team-c\n    api_keys: [\"{KEY_C}\"]\n    log_bodies: true\nservices:\n  - name: echo\n    path_prefix: /svc/echo\n    upstream: {{nodes: [{{url: \"{}\"}}]}}\n",
        rest.url()
    ));
    let storage = match database {
        Some(url) => format!("storage:\n  database: {url}\n  log_bodies_max_bytes: {CAP}\n"),
        None => format!("storage:\n  log_bodies_max_bytes: {CAP}\n"),
    };
    config.replace("providers:\n", &format!("{storage}providers:\n"))
}

#[tokio::test]
async fn bodies_are_logged_when_asked_capped_and_redacted_on_sqlite() {
    bodies_are_logged(None).await;
}

#[tokio::test]
async fn bodies_are_logged_when_asked_capped_and_redacted_on_postgres() {
    let url = fresh_pg_schema("tg_bodies");
    bodies_are_logged(Some(&url)).await;
    drop_pg_schema(&url);
}

async fn bodies_are_logged(database: Option<&str>) {
    let mock = MockProvider::start().await.expect("mock");
    let rest = RestUpstream::start("n1").await.expect("rest upstream");
    let gw = Gateway::start(&config(&mock, &rest, database));
    let store = match database {
        Some(url) => open_store_at(&gw, url).await,
        None => open_store(&gw).await,
    };
    let http = client();
    let chat = gw.gw("/v1/chat/completions");
    let ask = |model: &str, text: &str| {
        json!({"model": model, "messages": [{"role": "user", "content": text}]}).to_string()
    };
    let post = |key: &str, body: &str| {
        http.post(&chat)
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body.to_string())
    };

    // Off by default: neither the model nor the consumer asks.
    let (status, id, _) = send(post(KEY_A, &ask("gpt-mock", "hello"))).await;
    assert_eq!(status, 200);
    let r = record(&store, &id).await;
    assert_eq!((r.request_body, r.response_body), (None, None));

    // The model asks: the request as sent, the answer as received.
    let sent = ask("logged", "what is the weather like");
    let (status, id, answer) = send(post(KEY_A, &sent)).await;
    assert_eq!(status, 200, "{answer}");
    let r = record(&store, &id).await;
    assert_eq!(r.request_body.as_deref(), Some(sent.as_str()));
    assert_eq!(r.response_body, Some(stored(&answer)));

    // The consumer asks, on a model that does not.
    let sent = ask("gpt-mock", "and tomorrow");
    let (status, id, answer) = send(post(KEY_C, &sent)).await;
    assert_eq!(status, 200);
    let r = record(&store, &id).await;
    assert_eq!(r.request_body.as_deref(), Some(sent.as_str()));
    assert_eq!(r.response_body, Some(stored(&answer)));

    // Another consumer without the flag, on the same model: nothing.
    let (status, id, _) = send(post(KEY_B, &ask("gpt-mock", "and tomorrow"))).await;
    assert_eq!(status, 200);
    let r = record(&store, &id).await;
    assert_eq!((r.request_body, r.response_body), (None, None));

    // A stream: the SSE bytes as the client got them, usage chunk and [DONE] included.
    let sent = json!({"model": "gpt-mock", "stream": true,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "stream it"}]})
    .to_string();
    let (status, id, streamed) = send(post(KEY_C, &sent)).await;
    assert_eq!(status, 200);
    assert!(streamed.ends_with("data: [DONE]\n\n"), "{streamed}");
    let r = record(&store, &id).await;
    assert!(r.stream);
    assert_eq!(r.request_body.as_deref(), Some(sent.as_str()));
    assert_eq!(r.response_body, Some(stored(&streamed)));

    // The Anthropic door, streamed too.
    let sent = json!({"model": "claude-mock", "max_tokens": 20, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]})
    .to_string();
    let (status, id, streamed) = send(
        http.post(gw.gw("/v1/messages"))
            .header("x-api-key", KEY_C)
            .header("content-type", "application/json")
            .body(sent.clone()),
    )
    .await;
    assert_eq!(status, 200);
    let r = record(&store, &id).await;
    assert_eq!(r.door, "anthropic");
    assert_eq!(r.request_body.as_deref(), Some(sent.as_str()));
    assert_eq!(r.response_body, Some(stored(&streamed)));
    assert!(streamed.contains("message_stop"), "{streamed}");

    // Embeddings, by the model's flag.
    let sent = json!({"model": "logged", "input": ["a", "b"]}).to_string();
    let (status, id, answer) = send(
        http.post(gw.gw("/v1/embeddings"))
            .bearer_auth(KEY_A)
            .header("content-type", "application/json")
            .body(sent.clone()),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let r = record(&store, &id).await;
    assert_eq!(r.request_body.as_deref(), Some(sent.as_str()));
    assert_eq!(r.response_body, Some(stored(&answer)));

    // An error answer is logged as the client got it; a body that does not parse is
    // logged for a consumer that asks.
    let (status, id, answer) = send(post(KEY_C, "{not json")).await;
    assert_eq!(status, 400);
    let r = record(&store, &id).await;
    assert_eq!(r.request_body.as_deref(), Some("{not json"));
    assert_eq!(r.response_body, Some(stored(&answer)));

    // A large prompt: the stored body is cut at the cap and says how long it was.
    let sent = ask("logged", &"lorem ipsum ".repeat(1000));
    let (status, id, answer) = send(post(KEY_A, &sent)).await;
    assert_eq!(status, 200);
    assert!(answer.len() > CAP);
    let r = record(&store, &id).await;
    let body = r.request_body.expect("request body");
    let marker = format!("…[truncated: {} bytes in all]", sent.len());
    let kept = body.strip_suffix(&marker).unwrap_or_else(|| {
        panic!(
            "no truncation marker on {} bytes: ...{}",
            body.len(),
            &body[body.len() - 80..]
        )
    });
    assert_eq!(kept, &sent[..CAP]);
    // The answer echoes the prompt: cut likewise.
    assert_eq!(r.response_body, Some(stored(&answer)));

    // Secrets in the prompt and in the answer: a provider key of the config (exactly),
    // the caller's own key, another consumer's key, key and token shapes.
    let secrets = [
        "compat-key",
        KEY_C,
        KEY_B,
        "sk-live-0123456789abcdefghijklmn",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        "abcdefghijklmnopqrstuvwxyz012345",
    ];
    let prompt = format!(
        "keys: {} {} {} {} jwt {} Authorization: Bearer {}",
        secrets[0], secrets[1], secrets[2], secrets[3], secrets[4], secrets[5]
    );
    let (status, id, answer) = send(post(KEY_C, &ask("leaky", &prompt))).await;
    assert_eq!(status, 200);
    assert!(
        answer.contains("compat-key"),
        "the client's answer is its own: {answer}"
    );
    let r = record(&store, &id).await;
    let (req, res) = (
        r.request_body.expect("request body"),
        r.response_body.expect("response body"),
    );
    for s in secrets {
        assert!(!req.contains(s), "{s} kept in {req}");
        assert!(!res.contains(s), "{s} kept in {res}");
    }
    assert!(req.contains("keys: [REDACTED] [REDACTED] [REDACTED] [REDACTED] jwt [REDACTED] Authorization: Bearer [REDACTED]"), "{req}");
    assert!(res.contains("the upstream key is [REDACTED] ok"), "{res}");

    // The admin API returns them, one record and the export.
    let one = admin_json(&gw, &format!("/admin/v1/calls/{id}")).await;
    assert_eq!(one["request_body"], req.as_str());
    assert_eq!(one["response_body"], res.as_str());
    let (status, export) = admin_get(
        &gw,
        "/admin/v1/calls/export?format=ndjson&consumer=team-c&model=leaky",
    )
    .await;
    assert_eq!(status, 200, "{export}");
    let lines: Vec<Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson"))
        .collect();
    assert_eq!(lines.len(), 1, "{export}");
    assert_eq!(lines[0]["request_body"], req.as_str());
    assert_eq!(lines[0]["response_body"], res.as_str());
    // A record without bodies has no such fields.
    let (_, plain, _) = send(post(KEY_A, &ask("gpt-mock", "plain"))).await;
    record(&store, &plain).await;
    let one = admin_json(&gw, &format!("/admin/v1/calls/{plain}")).await;
    assert!(one.get("request_body").is_none(), "{one}");
    assert!(one.get("response_body").is_none(), "{one}");

    // The flag through the admin API: taken, shown, and absent when off.
    for (path, shape) in [
        (
            "/admin/v1/consumers",
            json!({"name": "team-d", "log_bodies": true}),
        ),
        (
            "/admin/v1/models",
            json!({"name": "m-d", "log_bodies": true,
                "targets": [{"provider": "mock-openai", "model": "x"}]}),
        ),
    ] {
        let res = http
            .post(gw.admin(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(&shape)
            .send()
            .await
            .expect("send");
        assert_eq!(
            res.status().as_u16(),
            201,
            "{}",
            res.text().await.unwrap_or_default()
        );
        let name = shape["name"].as_str().expect("name");
        let got = admin_json(&gw, &format!("{path}/{name}")).await;
        assert_eq!(got["log_bodies"], true, "{got}");
    }
    let got = admin_json(&gw, "/admin/v1/consumers/team-a").await;
    assert!(got.get("log_bodies").is_none(), "{got}");

    // A service: both bodies captured as they stream through, for the consumer that
    // asks only.
    let sent = format!("report {}", "x".repeat(3000));
    let (status, id, answer) = send(
        http.post(gw.gw("/svc/echo/reports"))
            .bearer_auth(KEY_C)
            .body(sent.clone()),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let r = record(&store, &id).await;
    assert_eq!(r.door, "service");
    assert_eq!(
        r.request_body,
        Some(format!(
            "{}…[truncated: {} bytes in all]",
            &sent[..CAP],
            sent.len()
        ))
    );
    assert_eq!(r.response_body, Some(stored(&answer)));
    let echoed: Value = serde_json::from_str(&answer).expect("echo");
    assert_eq!(echoed["body_len"], sent.len());
    let (status, id, _) = send(
        http.post(gw.gw("/svc/echo/reports"))
            .bearer_auth(KEY_A)
            .body(sent.clone()),
    )
    .await;
    assert_eq!(status, 200);
    let r = record(&store, &id).await;
    assert_eq!((r.request_body, r.response_body), (None, None));
    store.close().await;
}
