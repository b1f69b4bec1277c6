use crate::common::{send, start, user};
use serde_json::{Value, json};
use tollgate_mock::{MockProvider, RecordedRequest};

#[tokio::test]
async fn records_every_request_in_order() {
    let h = start().await;
    let ok = json!({"model": "gpt-4o", "messages": [user("hi")]});
    h.chat(ok.clone()).await;
    send(h.openai("/chat/completions", None).json(&ok)).await;
    h.chat(json!({"model": "gpt-4o", "messages": []})).await;
    send(
        h.openai("/chat/completions?x=1", Some("sk"))
            .header("X-Custom", "Yes")
            .body("not json"),
    )
    .await;

    let reqs = h.mock.requests();
    let statuses: Vec<u16> = reqs.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 401, 400, 400]);
    assert!(
        reqs.iter()
            .all(|r| r.method == "POST" && r.path == "/v1/chat/completions")
    );
    assert_eq!(reqs[0].body, ok);
    assert_eq!(reqs[0].headers["authorization"], "Bearer sk-test");
    assert_eq!(reqs[3].query.as_deref(), Some("x=1"));
    assert_eq!(reqs[3].headers["x-custom"], "Yes");
    assert_eq!(reqs[3].body, Value::Null);

    // Over HTTP too.
    let url = format!("{}/_mock/requests", h.mock.anthropic_base_url());
    let listed: Vec<RecordedRequest> = h.http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed, reqs);

    let del = h.http.delete(&url).send().await.unwrap();
    assert_eq!(del.status(), 204);
    assert!(h.mock.requests().is_empty());

    h.chat(ok).await;
    assert_eq!(h.mock.requests().len(), 1);
    h.mock.clear();
    assert!(h.mock.requests().is_empty());
}

#[tokio::test]
async fn drop_shuts_down() {
    let mock = MockProvider::start().await.unwrap();
    let addr = mock.addr();
    assert_eq!(mock.openai_base_url(), format!("http://{addr}/v1"));
    assert_eq!(mock.anthropic_base_url(), format!("http://{addr}"));
    assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
    drop(mock);
    // The accept loop is aborted asynchronously; give it a moment.
    let mut refused = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(refused, "server still accepting after drop");
}

#[tokio::test]
async fn record_limit() {
    let mock = MockProvider::start_with(
        "127.0.0.1:0".parse().unwrap(),
        tollgate_mock::MockState::with_record_limit(Some(2)),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    for i in 0..3 {
        http.post(format!("{}/chat/completions", mock.openai_base_url()))
            .bearer_auth("sk")
            .json(&json!({"model": format!("m{i}"), "messages": [user("hi")]}))
            .send()
            .await
            .unwrap();
    }
    let models: Vec<Value> = mock
        .requests()
        .iter()
        .map(|r| r.body["model"].clone())
        .collect();
    assert_eq!(models, [json!("m1"), json!("m2")]);
}
