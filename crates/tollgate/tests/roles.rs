//! Console users and roles (PRODUCT.md, "Users, roles, audit"): `/admin/v1/users`, and
//! each role held to its rights on every admin route, against the real binary.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "bootstrap-admin-pw";

/// Calls the admin API and keeps every answer body, so a test can check that no
/// password or password hash was ever sent back.
struct Api<'a> {
    gw: &'a Gateway,
    seen: Vec<String>,
}

impl<'a> Api<'a> {
    fn new(gw: &'a Gateway) -> Self {
        Api {
            gw,
            seen: Vec::new(),
        }
    }

    async fn call(
        &mut self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = client()
            .request(method, self.gw.admin(path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("send");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        let v = serde_json::from_str(&text).unwrap_or(Value::Null);
        self.seen.push(text);
        (status, v)
    }

    async fn login(&mut self, username: &str, password: &str) -> (u16, Value) {
        let res = client()
            .post(self.gw.admin("/admin/v1/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("send");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        let v = serde_json::from_str(&text).unwrap_or(Value::Null);
        self.seen.push(text);
        (status, v)
    }

    /// Logs in and returns the session token.
    async fn session(&mut self, username: &str, password: &str) -> String {
        let (status, v) = self.login(username, password).await;
        assert_eq!(status, 200, "login {username}: {v}");
        v["token"].as_str().expect("token").to_string()
    }

    /// Asserts that no answer so far carried a password hash or one of `passwords`.
    fn assert_no_secrets(&self, passwords: &[&str]) {
        assert!(!self.seen.is_empty());
        for text in &self.seen {
            assert!(
                !text.contains("$argon2"),
                "a password hash was sent: {text}"
            );
            assert!(!text.contains("password_hash"), "{text}");
            for pw in passwords {
                assert!(!text.contains(pw), "a password was sent back: {text}");
            }
        }
    }
}

/// A 403 in the admin API's OpenAI envelope.
#[track_caller]
fn assert_forbidden((status, body): (u16, Value), what: &str) {
    assert_eq!(status, 403, "{what}: {body}");
    assert_eq!(body["error"]["type"], "permission_error", "{what}: {body}");
    assert_eq!(body["error"]["code"], "forbidden", "{what}: {body}");
}

fn start(mock: &MockProvider) -> Gateway {
    Gateway::start_with_env(
        &config_for(mock, ""),
        &[("TOLLGATE_ADMIN_PASSWORD", ADMIN_PASSWORD)],
    )
}

/// Creates a user with the admin token; asserts the 201.
async fn create(api: &mut Api<'_>, user: Value) -> Value {
    let (status, v) = api
        .call(ADMIN_TOKEN, Method::POST, "/admin/v1/users", Some(user))
        .await;
    assert_eq!(status, 201, "{v}");
    v
}

#[tokio::test]
async fn each_role_is_held_to_its_rights_on_every_kind_of_route() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = start(&mock);
    let mut api = Api::new(&gw);
    let passwords = [
        "operator-pw-1",
        "viewer-pw-12",
        "developer-pw",
        "second-admin",
    ];
    create(
        &mut api,
        json!({"username": "olga", "password": passwords[0], "role": "operator"}),
    )
    .await;
    let v = create(
        &mut api,
        json!({"username": "vic", "password": passwords[1], "role": "viewer"}),
    )
    .await;
    assert_eq!(v["role"], "viewer");
    assert!(v["consumer"].is_null(), "{v}");
    let v = create(
        &mut api,
        json!({"username": "dana", "password": passwords[2], "role": "developer", "consumer": "team-a"}),
    )
    .await;
    assert_eq!(v["consumer"], "team-a");
    create(
        &mut api,
        json!({"username": "ada", "password": passwords[3], "role": "admin"}),
    )
    .await;
    // A provider nobody uses, to try deleting.
    let (status, v) = api
        .call(
            ADMIN_TOKEN,
            Method::POST,
            "/admin/v1/providers",
            Some(json!({"name": "spare", "kind": "openai", "base_url": mock.openai_base_url(), "api_keys": ["sk-spare"]})),
        )
        .await;
    assert_eq!(status, 201, "{v}");

    let (status, v) = api.login("vic", passwords[1]).await;
    assert_eq!(status, 200);
    assert_eq!(v["role"], "viewer", "the session carries the role: {v}");
    let viewer = v["token"].as_str().expect("token").to_string();
    let operator = api.session("olga", passwords[0]).await;
    let developer = api.session("dana", passwords[2]).await;
    let admin = api.session("ada", passwords[3]).await;

    // Viewer: reads everything but users, changes nothing.
    for path in [
        "/admin/v1/consumers",
        "/admin/v1/consumers/team-a",
        "/admin/v1/providers",
        "/admin/v1/consumers/team-a/keys",
        "/admin/v1/consumers/team-a/credits",
        "/admin/v1/routing",
    ] {
        let (status, v) = api.call(&viewer, Method::GET, path, None).await;
        assert_eq!(status, 200, "viewer GET {path}: {v}");
    }
    let (_, keys_before) = api
        .call(
            &viewer,
            Method::GET,
            "/admin/v1/consumers/team-a/keys",
            None,
        )
        .await;
    let (_, credits_before) = api
        .call(
            &viewer,
            Method::GET,
            "/admin/v1/consumers/team-a/credits",
            None,
        )
        .await;
    let writes: Vec<(Method, &str, Option<Value>)> = vec![
        (
            Method::POST,
            "/admin/v1/consumers",
            Some(json!({"name": "by-viewer"})),
        ),
        (
            Method::POST,
            "/admin/v1/consumers/team-a/keys",
            Some(json!({"name": "by-viewer"})),
        ),
        (
            Method::POST,
            "/admin/v1/consumers/team-a/credits",
            Some(json!({"amount_usd": 100.0, "reason": "role test"})),
        ),
        (Method::DELETE, "/admin/v1/providers/spare", None),
    ];
    for (method, path, body) in &writes {
        let r = api.call(&viewer, method.clone(), path, body.clone()).await;
        assert_forbidden(r, &format!("viewer {method} {path}"));
    }
    assert_forbidden(
        api.call(&viewer, Method::GET, "/admin/v1/users", None)
            .await,
        "viewer GET users",
    );
    // ... and the refused writes left no trace.
    assert_eq!(
        api.call(&viewer, Method::GET, "/admin/v1/consumers/by-viewer", None)
            .await
            .0,
        404
    );
    assert_eq!(
        api.call(&viewer, Method::GET, "/admin/v1/providers/spare", None)
            .await
            .0,
        200
    );
    let (_, keys_after) = api
        .call(
            &viewer,
            Method::GET,
            "/admin/v1/consumers/team-a/keys",
            None,
        )
        .await;
    assert_eq!(keys_before, keys_after);
    let (_, credits_after) = api
        .call(
            &viewer,
            Method::GET,
            "/admin/v1/consumers/team-a/credits",
            None,
        )
        .await;
    assert_eq!(credits_before["balance_usd"], credits_after["balance_usd"]);

    // Developer: nothing under /admin/v1, reads included.
    for (method, path, body) in writes.iter().cloned().chain([
        (Method::GET, "/admin/v1/consumers", None),
        (Method::GET, "/admin/v1/consumers/team-a/keys", None),
        (Method::GET, "/admin/v1/providers", None),
        (Method::GET, "/admin/v1/users", None),
    ]) {
        let r = api.call(&developer, method.clone(), path, body).await;
        assert_forbidden(r, &format!("developer {method} {path}"));
    }

    // Operator: every resource...
    let expected = [201, 201, 201, 204];
    for ((method, path, body), want) in writes.iter().zip(expected) {
        let (status, v) = api
            .call(&operator, method.clone(), path, body.clone())
            .await;
        assert_eq!(status, want, "operator {method} {path}: {v}");
    }
    assert_eq!(
        api.call(
            &operator,
            Method::GET,
            "/admin/v1/consumers/by-viewer",
            None
        )
        .await
        .0,
        200
    );
    // ... but not users.
    assert_forbidden(
        api.call(&operator, Method::GET, "/admin/v1/users", None)
            .await,
        "operator GET users",
    );
    assert_forbidden(
        api.call(&operator, Method::GET, "/admin/v1/users/olga", None)
            .await,
        "operator GET own user",
    );
    assert_forbidden(
        api.call(
            &operator,
            Method::POST,
            "/admin/v1/users",
            Some(json!({"username": "mallory", "password": "mallory-pw", "role": "admin"})),
        )
        .await,
        "operator POST users",
    );
    assert_forbidden(
        api.call(
            &operator,
            Method::PUT,
            "/admin/v1/users/olga",
            Some(json!({"role": "admin"})),
        )
        .await,
        "operator promoting themselves",
    );

    // A console admin manages users.
    let (status, list) = api.call(&admin, Method::GET, "/admin/v1/users", None).await;
    assert_eq!(status, 200, "{list}");
    let mut names: Vec<(&str, &str)> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|u| {
            (
                u["username"].as_str().expect("name"),
                u["role"].as_str().expect("role"),
            )
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ("ada", "admin"),
            ("admin", "admin"),
            ("dana", "developer"),
            ("olga", "operator"),
            ("vic", "viewer")
        ]
    );

    // Every role may end its own session.
    let (status, _) = api
        .call(&developer, Method::POST, "/admin/v1/logout", None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        api.call(&developer, Method::GET, "/admin/v1/consumers", None)
            .await
            .0,
        401
    );

    let mut all: Vec<&str> = passwords.to_vec();
    all.push(ADMIN_PASSWORD);
    api.assert_no_secrets(&all);
}

#[tokio::test]
async fn admins_create_change_and_delete_users_with_validation() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = start(&mock);
    let mut api = Api::new(&gw);
    let root = api.session("admin", ADMIN_PASSWORD).await;

    // Validation: the field is named.
    let bad = [
        (
            json!({"username": "x1", "password": "long-enough", "role": "superuser"}),
            "role",
        ),
        (
            json!({"username": "x2", "password": "short", "role": "viewer"}),
            "password",
        ),
        (
            json!({"username": "", "password": "long-enough", "role": "viewer"}),
            "username",
        ),
        (
            json!({"username": "a b", "password": "long-enough", "role": "viewer"}),
            "username",
        ),
        (
            json!({"username": "x3", "password": "long-enough", "role": "developer"}),
            "consumer",
        ),
        (
            json!({"username": "x4", "password": "long-enough", "role": "developer", "consumer": "ghost"}),
            "consumer",
        ),
        (
            json!({"username": "x5", "password": "long-enough", "role": "viewer", "consumer": "team-a"}),
            "consumer",
        ),
        (
            json!({"username": "x6", "password": "long-enough", "role": "viewer", "superuser": true}),
            "superuser",
        ),
    ];
    for (body, param) in bad {
        let (status, v) = api
            .call(&root, Method::POST, "/admin/v1/users", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}: {v}");
        assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
        assert_eq!(v["error"]["param"], param, "{body}: {v}");
    }
    let (_, list) = api.call(&root, Method::GET, "/admin/v1/users", None).await;
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(1),
        "nothing invalid was created: {list}"
    );

    // Create, conflict, read.
    let (status, v) = api
        .call(
            &root,
            Method::POST,
            "/admin/v1/users",
            Some(json!({"username": "val", "password": "val-pw-one", "role": "viewer"})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let (status, v) = api
        .call(
            &root,
            Method::POST,
            "/admin/v1/users",
            Some(json!({"username": "val", "password": "val-pw-two", "role": "admin"})),
        )
        .await;
    assert_eq!(status, 409, "{v}");
    let (status, v) = api
        .call(&root, Method::GET, "/admin/v1/users/val", None)
        .await;
    assert_eq!((status, v["role"].as_str()), (200, Some("viewer")), "{v}");
    assert_eq!(
        api.call(&root, Method::GET, "/admin/v1/users/nobody", None)
            .await
            .0,
        404
    );
    assert_eq!(
        api.call(&root, Method::DELETE, "/admin/v1/users/nobody", None)
            .await
            .0,
        404
    );

    // A role change applies to an open session at once.
    let val = api.session("val", "val-pw-one").await;
    let new_team = json!({"name": "team-val"});
    assert_forbidden(
        api.call(
            &val,
            Method::POST,
            "/admin/v1/teams",
            Some(new_team.clone()),
        )
        .await,
        "viewer POST team",
    );
    let (status, v) = api
        .call(
            &root,
            Method::PUT,
            "/admin/v1/users/val",
            Some(json!({"role": "operator"})),
        )
        .await;
    assert_eq!((status, v["role"].as_str()), (200, Some("operator")), "{v}");
    let (status, v) = api
        .call(&val, Method::POST, "/admin/v1/teams", Some(new_team))
        .await;
    assert_eq!(status, 201, "{v}");

    // PUT validates too, and a body naming another user is refused.
    for (change, field) in [
        (json!({"role": "root"}), "role"),
        (json!({"password": "1234567"}), "password"),
        (json!({"role": "developer"}), "consumer"),
    ] {
        let (status, v) = api
            .call(&root, Method::PUT, "/admin/v1/users/val", Some(change))
            .await;
        assert_eq!(
            (status, v["error"]["param"].as_str()),
            (400, Some(field)),
            "{v}"
        );
    }
    let (status, _) = api
        .call(
            &root,
            Method::PUT,
            "/admin/v1/users/val",
            Some(json!({"username": "other", "role": "viewer"})),
        )
        .await;
    assert_eq!(status, 400);

    // A password change ends the user's sessions; the new password works, the old not.
    let (status, _) = api
        .call(
            &root,
            Method::PUT,
            "/admin/v1/users/val",
            Some(json!({"password": "val-pw-new"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        api.call(&val, Method::GET, "/admin/v1/teams", None).await.0,
        401
    );
    assert_eq!(api.login("val", "val-pw-one").await.0, 401);
    let val = api.session("val", "val-pw-new").await;
    assert_eq!(
        api.call(&val, Method::GET, "/admin/v1/teams", None).await.0,
        200
    );

    // Becoming a developer binds a consumer, which then cannot be deleted from under it.
    let (status, v) = api
        .call(
            &root,
            Method::PUT,
            "/admin/v1/users/val",
            Some(json!({"role": "developer", "consumer": "team-b"})),
        )
        .await;
    assert_eq!(
        (status, v["consumer"].as_str()),
        (200, Some("team-b")),
        "{v}"
    );
    assert_forbidden(
        api.call(&val, Method::GET, "/admin/v1/teams", None).await,
        "now a developer",
    );
    let (status, v) = api
        .call(&root, Method::DELETE, "/admin/v1/consumers/team-b", None)
        .await;
    assert_eq!(status, 409, "{v}");
    // Leaving the developer role drops the binding.
    let (status, v) = api
        .call(
            &root,
            Method::PUT,
            "/admin/v1/users/val",
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert!(v["consumer"].is_null(), "{v}");

    // The last admin can neither be demoted nor deleted, by the token or by themselves.
    let (status, v) = api
        .call(
            ADMIN_TOKEN,
            Method::PUT,
            "/admin/v1/users/admin",
            Some(json!({"role": "operator"})),
        )
        .await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(
        api.call(ADMIN_TOKEN, Method::DELETE, "/admin/v1/users/admin", None)
            .await
            .0,
        409
    );
    assert_eq!(
        api.call(&root, Method::DELETE, "/admin/v1/users/admin", None)
            .await
            .0,
        409
    );
    let (_, v) = api
        .call(&root, Method::GET, "/admin/v1/users/admin", None)
        .await;
    assert_eq!(v["role"], "admin");
    // With a second admin, the first may go; its session ends with it.
    let (status, _) = api
        .call(
            &root,
            Method::PUT,
            "/admin/v1/users/val",
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        api.call(&root, Method::DELETE, "/admin/v1/users/admin", None)
            .await
            .0,
        204
    );
    assert_eq!(
        api.call(&root, Method::GET, "/admin/v1/users", None)
            .await
            .0,
        401
    );
    assert_eq!(api.login("admin", ADMIN_PASSWORD).await.0, 401);
    let (status, list) = api.call(&val, Method::GET, "/admin/v1/users", None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");

    api.assert_no_secrets(&[ADMIN_PASSWORD, "val-pw-one", "val-pw-new", "long-enough"]);
}

#[tokio::test]
async fn the_users_endpoints_are_in_the_openapi_document() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = start(&mock);
    let doc: Value = client()
        .get(gw.admin("/admin/v1/openapi.json"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let users = &doc["paths"]["/admin/v1/users"];
    assert!(
        users["get"].is_object() && users["post"].is_object(),
        "{users}"
    );
    let user = &doc["paths"]["/admin/v1/users/{username}"];
    for m in ["get", "put", "delete"] {
        assert!(user[m].is_object(), "{m}: {user}");
    }
    let roles = &doc["components"]["schemas"]["Role"]["enum"];
    assert_eq!(roles, &json!(["admin", "operator", "viewer", "developer"]));
}
