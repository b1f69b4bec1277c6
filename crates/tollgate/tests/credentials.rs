//! Consumer credentials on services (issue 11, item 1): HTTP Basic, JWT (HS256,
//! RS256, ES256) and HMAC (Kong's hmac-auth) each accepted, and each failure mode a
//! 401 `invalid_credentials` (bad password, bad signature, expired, `nbf` in the
//! future, unknown issuer, skewed date, tampered request line or header); a service's
//! `auth` list refusing the types it does not name; secrets never shown; a deleted
//! credential refused at once. On SQLite and on PostgreSQL.

mod common;

use std::time::Duration;

use base64::Engine;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tollgate_mock::rest::RestUpstream;

const RSA_PRIVATE: &str = include_str!("fixtures/jwt-test-rsa-private.pem");
const RSA_PUBLIC: &str = include_str!("fixtures/jwt-test-rsa-public.pem");
const EC_PRIVATE: &str = include_str!("fixtures/jwt-test-ec-private.pem");
const EC_PUBLIC: &str = include_str!("fixtures/jwt-test-ec-public.pem");

const HS_SECRET: &str = "hs256-shared-secret-for-tests";
const HMAC_SECRET: &str = "hmac-secret-key-for-tests";
const PASSWORD: &str = "correct horse battery";

fn config(upstream: &str, storage: &str) -> String {
    format!(
        r#"
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  admin_token: {ADMIN_TOKEN}
{storage}
consumers:
  - name: team-a
    api_keys: ["{KEY_A}"]
  - name: team-b
    api_keys: ["{KEY_B}"]
services:
  - name: all
    path_prefix: /svc/all
    upstream: {{nodes: [{{url: "{upstream}"}}]}}
    auth: [key, basic, jwt, hmac]
  - name: basic-only
    path_prefix: /svc/basic
    upstream: {{nodes: [{{url: "{upstream}"}}]}}
    auth: [basic]
  - name: jwt-only
    path_prefix: /svc/jwt
    upstream: {{nodes: [{{url: "{upstream}"}}]}}
    auth: [jwt]
  - name: keys
    path_prefix: /svc/keys
    upstream: {{nodes: [{{url: "{upstream}"}}]}}
"#
    )
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.expect("send");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

async fn add_credential(gw: &Gateway, consumer: &str, body: Value) -> (u16, Value) {
    send(
        client()
            .post(gw.admin(&format!("/admin/v1/consumers/{consumer}/credentials")))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body),
    )
    .await
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

async fn call(gw: &Gateway, path: &str, authorization: &str) -> (u16, Value) {
    send(
        client()
            .get(gw.gw(path))
            .header("authorization", authorization),
    )
    .await
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn jwt(alg: Algorithm, key: &EncodingKey, claims: Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), &claims, key).expect("sign")
}

fn hs(secret: &str) -> EncodingKey {
    EncodingKey::from_secret(secret.as_bytes()).expect("hs key")
}

/// Kong's hmac-auth `Authorization` for `headers` (values as sent), signing
/// `request_line` for `request-line`.
fn hmac_auth(
    access_key: &str,
    secret: &str,
    algorithm: &str,
    request_line: &str,
    headers: &[(&str, &str)],
) -> String {
    use aws_lc_rs::hmac;
    let alg = match algorithm {
        "hmac-sha1" => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        "hmac-sha256" => hmac::HMAC_SHA256,
        "hmac-sha384" => hmac::HMAC_SHA384,
        _ => hmac::HMAC_SHA512,
    };
    let mut names = Vec::new();
    let mut lines = Vec::new();
    for (name, value) in headers {
        names.push(*name);
        if *name == "request-line" {
            lines.push(request_line.to_string());
        } else {
            lines.push(format!("{name}: {value}"));
        }
    }
    let tag = hmac::sign(
        &hmac::Key::new(alg, secret.as_bytes()),
        lines.join("\n").as_bytes(),
    );
    format!(
        r#"hmac username="{access_key}", algorithm="{algorithm}", headers="{}", signature="{}""#,
        names.join(" "),
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    )
}

fn http_date(offset_secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(offset_secs))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// An HMAC-signed GET of `path` (the request line signed is `signed_path`'s).
async fn hmac_call(
    gw: &Gateway,
    path: &str,
    signed_path: &str,
    algorithm: &str,
    date: &str,
    extra: Option<(&str, &str, &str)>,
) -> (u16, Value) {
    let request_line = format!("GET {signed_path} HTTP/1.1");
    let mut signed = vec![("date", date), ("request-line", "")];
    if let Some((name, signed_value, _)) = extra {
        signed.push((name, signed_value));
    }
    let auth = hmac_auth("ak-team-b", HMAC_SECRET, algorithm, &request_line, &signed);
    let mut req = client()
        .get(gw.gw(path))
        .header("date", date)
        .header("authorization", auth);
    if let Some((name, _, sent_value)) = extra {
        req = req.header(name, sent_value);
    }
    send(req).await
}

async fn each_credential_type(gw: &Gateway) {
    // ---- Basic ----
    let (s, created) = add_credential(
        gw,
        "team-a",
        json!({"type": "basic", "username": "alice", "password": PASSWORD}),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["type"], "basic");
    assert_eq!(created["username"], "alice");
    assert!(!created.to_string().contains(PASSWORD), "{created}");
    let basic_id = created["id"].as_str().expect("id").to_string();
    // The username is unique across consumers.
    let (s, body) = add_credential(
        gw,
        "team-b",
        json!({"type": "basic", "username": "alice", "password": "another password"}),
    )
    .await;
    assert_eq!(s, 409, "{body}");

    let good = basic("alice", PASSWORD);
    let (s, body) = call(gw, "/svc/all/x", &good).await;
    assert_eq!(s, 200, "{body}");
    assert!(
        body["headers"].get("authorization").is_none(),
        "the credential is not passed upstream: {body}"
    );
    // Again (from the verification cache), and on a basic-only service.
    assert_eq!(call(gw, "/svc/all/x", &good).await.0, 200);
    assert_eq!(call(gw, "/svc/basic/x", &good).await.0, 200);
    for bad in [
        basic("alice", "wrong password"),
        basic("nobody", PASSWORD),
        "Basic !!!not-base64".to_string(),
    ] {
        let (s, body) = call(gw, "/svc/all/x", &bad).await;
        assert_eq!(
            (s, code(&body)),
            (401, "invalid_credentials"),
            "{bad}: {body}"
        );
        assert_eq!(body["error"]["type"], "authentication_error");
    }

    // ---- The auth list ----
    // A key where only basic is taken; basic where only keys are (the default).
    let (s, body) = call(gw, "/svc/basic/x", &format!("Bearer {KEY_A}")).await;
    assert_eq!((s, code(&body)), (401, "invalid_credentials"), "{body}");
    let (s, body) = call(gw, "/svc/keys/x", &good).await;
    assert_eq!((s, code(&body)), (401, "invalid_credentials"), "{body}");
    assert_eq!(
        call(gw, "/svc/keys/x", &format!("Bearer {KEY_A}")).await.0,
        200
    );
    assert_eq!(
        call(gw, "/svc/all/x", &format!("Bearer {KEY_A}")).await.0,
        200
    );
    // A bad key stays an `invalid_api_key`; nothing at all where keys are not taken
    // is `invalid_credentials`.
    let (s, body) = call(gw, "/svc/all/x", "Bearer tg-not-a-key").await;
    assert_eq!((s, code(&body)), (401, "invalid_api_key"), "{body}");
    let (s, body) = send(client().get(gw.gw("/svc/basic/x"))).await;
    assert_eq!((s, code(&body)), (401, "invalid_credentials"), "{body}");

    // ---- JWT ----
    for (consumer, body) in [
        (
            "team-a",
            json!({"type": "jwt", "issuer": "hs-issuer", "algorithm": "HS256", "secret": HS_SECRET}),
        ),
        (
            "team-b",
            json!({"type": "jwt", "issuer": "rs-issuer", "algorithm": "RS256", "public_key": RSA_PUBLIC}),
        ),
        (
            "team-b",
            json!({"type": "jwt", "issuer": "es-issuer", "algorithm": "ES256", "public_key": EC_PUBLIC}),
        ),
    ] {
        let (s, created) = add_credential(gw, consumer, body).await;
        assert_eq!(s, 201, "{created}");
        assert!(!created.to_string().contains(HS_SECRET), "{created}");
    }
    // Requests that cannot be a credential are refused at creation.
    for bad in [
        json!({"type": "jwt", "issuer": "x", "algorithm": "HS256"}),
        json!({"type": "jwt", "issuer": "x", "algorithm": "RS256", "public_key": "not a pem"}),
        json!({"type": "jwt", "issuer": "x", "algorithm": "ES256", "secret": "s"}),
        json!({"type": "basic", "username": "a:b", "password": PASSWORD}),
        json!({"type": "ftp", "username": "x"}),
    ] {
        let (s, body) = add_credential(gw, "team-a", bad.clone()).await;
        assert_eq!(s, 400, "{bad}: {body}");
    }
    let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).expect("rsa key");
    let ec = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).expect("ec key");
    let valid = |iss: &str| json!({"iss": iss, "sub": "someone", "exp": now() + 3600});
    for (token, what) in [
        (
            jwt(Algorithm::HS256, &hs(HS_SECRET), valid("hs-issuer")),
            "HS256",
        ),
        (jwt(Algorithm::RS256, &rsa, valid("rs-issuer")), "RS256"),
        (jwt(Algorithm::ES256, &ec, valid("es-issuer")), "ES256"),
        (
            jwt(
                Algorithm::HS256,
                &hs(HS_SECRET),
                json!({"iss": "hs-issuer", "exp": now() + 3600, "nbf": now() - 10}),
            ),
            "nbf in the past",
        ),
    ] {
        let (s, body) = call(gw, "/svc/jwt/x", &format!("Bearer {token}")).await;
        assert_eq!(s, 200, "{what}: {body}");
    }
    for (token, what) in [
        (
            jwt(Algorithm::HS256, &hs("another secret"), valid("hs-issuer")),
            "bad signature",
        ),
        (
            jwt(
                Algorithm::HS256,
                &hs(HS_SECRET),
                json!({"iss": "hs-issuer", "exp": now() - 3600}),
            ),
            "expired",
        ),
        (
            jwt(
                Algorithm::HS256,
                &hs(HS_SECRET),
                json!({"iss": "hs-issuer", "exp": now() + 7200, "nbf": now() + 3600}),
            ),
            "nbf in the future",
        ),
        (
            jwt(Algorithm::HS256, &hs(HS_SECRET), valid("other-issuer")),
            "unknown issuer",
        ),
        (
            jwt(
                Algorithm::HS256,
                &hs(HS_SECRET),
                json!({"exp": now() + 3600}),
            ),
            "no issuer",
        ),
        // The RS256 issuer's name on a token signed by another key.
        (
            jwt(Algorithm::ES256, &ec, valid("rs-issuer")),
            "wrong issuer's key",
        ),
        (
            jwt(
                Algorithm::HS256,
                &hs(HS_SECRET),
                json!({"iss": "hs-issuer"}),
            ),
            "no exp",
        ),
    ] {
        let (s, body) = call(gw, "/svc/jwt/x", &format!("Bearer {token}")).await;
        assert_eq!(
            (s, code(&body)),
            (401, "invalid_credentials"),
            "{what}: {body}"
        );
    }
    // A JWT where JWTs are not taken (basic only).
    let token = jwt(Algorithm::HS256, &hs(HS_SECRET), valid("hs-issuer"));
    let (s, body) = call(gw, "/svc/basic/x", &format!("Bearer {token}")).await;
    assert_eq!(s, 401, "{body}");

    // ---- HMAC ----
    let (s, created) = add_credential(
        gw,
        "team-b",
        json!({"type": "hmac", "access_key": "ak-team-b", "secret_key": HMAC_SECRET}),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    assert!(!created.to_string().contains(HMAC_SECRET), "{created}");
    let date = http_date(0);
    for alg in ["hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512"] {
        let (s, body) = hmac_call(gw, "/svc/all/r?q=1", "/svc/all/r?q=1", alg, &date, None).await;
        assert_eq!(s, 200, "{alg}: {body}");
    }
    // Any header may be signed.
    let extra = Some(("x-custom", "v1", "v1"));
    let (s, body) = hmac_call(gw, "/svc/all/r", "/svc/all/r", "hmac-sha256", &date, extra).await;
    assert_eq!(s, 200, "{body}");
    // `x-date` instead of `Date`.
    let line = "GET /svc/all/r HTTP/1.1";
    let auth = hmac_auth(
        "ak-team-b",
        HMAC_SECRET,
        "hmac-sha256",
        line,
        &[("x-date", &date), ("request-line", "")],
    );
    let (s, body) = send(
        client()
            .get(gw.gw("/svc/all/r"))
            .header("x-date", &date)
            .header("authorization", auth),
    )
    .await;
    assert_eq!(s, 200, "x-date: {body}");
    let skewed = http_date(-600);
    let ahead = http_date(600);
    for (path, signed, date, extra, what) in [
        (
            "/svc/all/b",
            "/svc/all/a",
            date.as_str(),
            None,
            "tampered request line",
        ),
        (
            "/svc/all/r",
            "/svc/all/r",
            date.as_str(),
            Some(("x-custom", "v1", "v2")),
            "tampered header",
        ),
        (
            "/svc/all/r",
            "/svc/all/r",
            skewed.as_str(),
            None,
            "date 10 minutes old",
        ),
        (
            "/svc/all/r",
            "/svc/all/r",
            ahead.as_str(),
            None,
            "date 10 minutes ahead",
        ),
    ] {
        let (s, body) = hmac_call(gw, path, signed, "hmac-sha256", date, extra).await;
        assert_eq!(
            (s, code(&body)),
            (401, "invalid_credentials"),
            "{what}: {body}"
        );
    }
    // Wrong secret; unknown access key.
    let request_line = "GET /svc/all/r HTTP/1.1";
    for auth in [
        hmac_auth(
            "ak-team-b",
            "not the secret",
            "hmac-sha256",
            request_line,
            &[("date", &date), ("request-line", "")],
        ),
        hmac_auth(
            "ak-unknown",
            HMAC_SECRET,
            "hmac-sha256",
            request_line,
            &[("date", &date), ("request-line", "")],
        ),
    ] {
        let (s, body) = send(
            client()
                .get(gw.gw("/svc/all/r"))
                .header("date", &date)
                .header("authorization", auth),
        )
        .await;
        assert_eq!((s, code(&body)), (401, "invalid_credentials"), "{body}");
    }

    // ---- Lists show no secrets; a deleted credential is refused at once ----
    for consumer in ["team-a", "team-b"] {
        let list = admin_json(gw, &format!("/admin/v1/consumers/{consumer}/credentials")).await;
        let text = list.to_string();
        for secret in [PASSWORD, HS_SECRET, HMAC_SECRET, "argon2"] {
            assert!(!text.contains(secret), "{consumer}: {text}");
        }
    }
    let listed = admin_json(gw, "/admin/v1/consumers/team-b/credentials").await;
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");
    let res = client()
        .delete(gw.admin(&format!(
            "/admin/v1/consumers/team-a/credentials/{basic_id}"
        )))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 204);
    let (s, body) = call(gw, "/svc/all/x", &good).await;
    assert_eq!((s, code(&body)), (401, "invalid_credentials"), "{body}");
    // Not another consumer's credential, and not twice.
    let res = client()
        .delete(gw.admin(&format!(
            "/admin/v1/consumers/team-b/credentials/{basic_id}"
        )))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn credentials_on_sqlite() {
    let upstream = RestUpstream::start("a").await.expect("upstream");
    let gw = Gateway::start(&config(&upstream.url(), ""));
    each_credential_type(&gw).await;

    // The call record names the consumer and the credential (never a secret).
    let date = http_date(0);
    let auth = hmac_auth(
        "ak-team-b",
        HMAC_SECRET,
        "hmac-sha256",
        "GET /svc/all/recorded HTTP/1.1",
        &[("date", &date), ("request-line", "")],
    );
    let res = client()
        .get(gw.gw("/svc/all/recorded"))
        .header("authorization", auth)
        .header("date", &date)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let id = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("request id")
        .to_string();
    let store = open_store(&gw).await;
    let mut found = None;
    for _ in 0..100 {
        found = store.get_call(&id).await.expect("read");
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let record = found.expect("call record");
    assert_eq!(record.consumer.as_deref(), Some("team-b"));
    assert!(
        record
            .key_id
            .as_deref()
            .is_some_and(|k| k.starts_with("cred_")),
        "{:?}",
        record.key_id
    );
}

#[tokio::test]
async fn credentials_on_postgres() {
    let database = fresh_pg_schema("tg_creds");
    let upstream = RestUpstream::start("a").await.expect("upstream");
    let storage = format!("storage:\n  database: {database}");
    let shared = [("TOLLGATE_MASTER_KEY", SHARED_MASTER_KEY)];
    let gw = Gateway::start_with_env(&config(&upstream.url(), &storage), &shared);
    each_credential_type(&gw).await;
    drop(gw);
    drop_pg_schema(&database);
}
