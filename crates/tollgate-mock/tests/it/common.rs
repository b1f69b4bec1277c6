use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tollgate_mock::MockProvider;

pub struct Harness {
    pub mock: MockProvider,
    pub http: reqwest::Client,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

pub async fn start() -> Harness {
    Harness {
        mock: MockProvider::start().await.unwrap(),
        http: reqwest::Client::builder().build().unwrap(),
    }
}

impl Harness {
    pub fn openai(&self, path: &str, key: Option<&str>) -> reqwest::RequestBuilder {
        let mut rb = self
            .http
            .post(format!("{}{path}", self.mock.openai_base_url()));
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        rb
    }

    pub fn anthropic(&self, key: Option<&str>, version: bool) -> reqwest::RequestBuilder {
        let mut rb = self
            .http
            .post(format!("{}/v1/messages", self.mock.anthropic_base_url()));
        if let Some(k) = key {
            rb = rb.header("x-api-key", k);
        }
        if version {
            rb = rb.header("anthropic-version", "2023-06-01");
        }
        rb
    }

    /// POST /v1/chat/completions with a valid key.
    pub async fn chat(&self, body: Value) -> Reply {
        send(
            self.openai("/chat/completions", Some("sk-test"))
                .json(&body),
        )
        .await
    }

    /// POST /v1/messages with a valid key and version.
    pub async fn messages(&self, body: Value) -> Reply {
        send(self.anthropic(Some("sk-ant-test"), true).json(&body)).await
    }

    pub async fn chat_stream(&self, body: Value) -> (Head, Vec<Event>) {
        let resp = self
            .openai("/chat/completions", Some("sk-test"))
            .json(&body)
            .send()
            .await
            .unwrap();
        read_events(resp).await
    }

    pub async fn messages_stream(&self, body: Value) -> (Head, Vec<Event>) {
        let resp = self
            .anthropic(Some("sk-ant-test"), true)
            .json(&body)
            .send()
            .await
            .unwrap();
        read_events(resp).await
    }
}

pub async fn send(rb: reqwest::RequestBuilder) -> Reply {
    let resp = rb.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

pub fn parse_sse(text: &str) -> Vec<Event> {
    text.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut name = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_string());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            Event { name, data }
        })
        .collect()
}

/// Reads the whole body (which must end cleanly) and splits it into SSE events.
async fn read_events(resp: reqwest::Response) -> (Head, Vec<Event>) {
    let head = Head {
        status: resp.status(),
        headers: resp.headers().clone(),
    };
    let text = resp.text().await.unwrap();
    (head, parse_sse(&text))
}

pub struct Head {
    pub status: StatusCode,
    pub headers: HeaderMap,
}

impl Head {
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Reads a body chunk by chunk; returns what arrived and whether the body ended with an error.
pub async fn read_until_error(mut resp: reqwest::Response) -> (String, bool) {
    let mut got = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => got.extend_from_slice(&c),
            Ok(None) => return (String::from_utf8_lossy(&got).into_owned(), false),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), true),
        }
    }
}

pub fn user(text: &str) -> Value {
    serde_json::json!({"role": "user", "content": text})
}
