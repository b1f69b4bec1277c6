//! REST services, OpenAPI and releases (issue 10): import of a 3.0 YAML and a 3.1
//! JSON document (with `$ref`s, path parameters, a recursive schema), calls through
//! the gateway to what was imported, the export and its round trip, bad documents;
//! releases taken, listed and diffed, and publishing an older one (a rollback) live
//! at once, on SQLite and on PostgreSQL (where a second node sees it too).

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use tollgate_mock::rest::RestUpstream;

fn config(extra: &str) -> String {
    format!(
        r#"
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  admin_token: {ADMIN_TOKEN}
{extra}
consumers:
  - name: team-a
    api_keys: ["{KEY_A}"]
"#
    )
}

/// A 3.0 document in YAML: components for parameters, schemas and request bodies; a
/// path-level parameter; `nullable`; an operation without `operationId`.
fn pets_30_yaml(upstream: &str, name: &str, prefix: &str) -> String {
    format!(
        r#"
openapi: 3.0.3
info:
  title: Pet store
  version: "1.4"
  description: Pets, as a service
name: {name}
path_prefix: {prefix}
upstream:
  nodes: [{{url: "{upstream}"}}]
  timeout_ms: 5000
paths:
  /pets:
    get:
      operationId: listPets
      summary: List pets
      tags: [pets]
      parameters:
        - $ref: '#/components/parameters/Limit'
      responses:
        200:
          description: The pets
          content:
            application/json:
              schema:
                type: array
                items: {{$ref: '#/components/schemas/Pet'}}
    post:
      operationId: createPet
      requestBody:
        $ref: '#/components/requestBodies/NewPet'
      responses:
        '201': {{description: Created}}
  /pets/{{petId}}:
    parameters:
      - name: petId
        in: path
        required: true
        description: The pet's id
        schema: {{type: string}}
    get:
      operationId: showPet
      summary: One pet
      responses:
        '200':
          description: The pet
          content:
            application/json:
              schema: {{$ref: '#/components/schemas/Pet'}}
    delete:
      responses:
        '204': {{description: Deleted}}
components:
  parameters:
    Limit:
      name: limit
      in: query
      required: false
      schema: {{type: integer, maximum: 100, exclusiveMaximum: true, nullable: true}}
  requestBodies:
    NewPet:
      required: true
      content:
        application/json:
          schema: {{$ref: '#/components/schemas/NewPet'}}
  schemas:
    NewPet:
      type: object
      required: [name]
      properties:
        name: {{type: string}}
        tag: {{type: string, nullable: true}}
    Pet:
      allOf:
        - $ref: '#/components/schemas/NewPet'
        - type: object
          required: [id]
          properties:
            id: {{type: integer, format: int64}}
"#
    )
}

/// A 3.1 document as JSON: `$ref`s into parameters and schemas, a recursive schema,
/// two path parameters, `type` arrays.
fn tree_31_json(upstream: &str) -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Trees", "version": "2"},
        "name": "trees", "path_prefix": "/svc/trees",
        "upstream": {"nodes": [{"url": upstream}]},
        "paths": {
            "/forests/{forest}/trees/{tree}": {
                "get": {
                    "operationId": "getTree",
                    "parameters": [
                        {"$ref": "#/components/parameters/Forest"},
                        {"name": "tree", "in": "path", "required": true,
                         "schema": {"type": "integer"}},
                        {"name": "x-trace", "in": "header", "schema": {"type": ["string", "null"]}}
                    ],
                    "responses": {"200": {"description": "A tree", "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}}
                },
                "put": {
                    "operationId": "putTree",
                    "parameters": [
                        {"$ref": "#/components/parameters/Forest"},
                        {"name": "tree", "in": "path", "required": true, "schema": {"type": "integer"}}
                    ],
                    "requestBody": {"content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Node"}}}}
                }
            }
        },
        "components": {
            "parameters": {"Forest": {"name": "forest", "in": "path", "required": true,
                                      "schema": {"$ref": "#/components/schemas/Slug"}}},
            "schemas": {
                "Slug": {"type": "string", "pattern": "^[a-z-]+$"},
                "Node": {"type": "object", "properties": {
                    "name": {"$ref": "#/components/schemas/Slug"},
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}
                }}
            }
        }
    })
}

struct Admin<'a> {
    gw: &'a Gateway,
    token: String,
}

impl Admin<'_> {
    fn new(gw: &Gateway) -> Admin<'_> {
        Admin {
            gw,
            token: ADMIN_TOKEN.to_string(),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = client()
            .request(method, self.gw.admin(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        answer(req.send().await.expect("send")).await
    }

    async fn import(&self, content_type: &str, body: String) -> (u16, Value) {
        let res = client()
            .post(self.gw.admin("/admin/v1/services/import"))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("send");
        answer(res).await
    }
}

async fn answer(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn call(gw: &Gateway, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = client().request(method, gw.gw(path)).bearer_auth(KEY_A);
    if let Some(b) = body {
        req = req.json(&b);
    }
    answer(req.send().await.expect("send")).await
}

/// Every operation of a document: `(METHOD path) → operation`.
fn operations(doc: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            out.push((format!("{} {path}", method.to_uppercase()), op.clone()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn route<'a>(service: &'a Value, name: &str) -> &'a Value {
    service["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no route {name} in {service}"))
}

#[tokio::test]
async fn openapi_documents_import_call_export_and_round_trip() {
    let a = RestUpstream::start("a").await.expect("upstream");
    let gw = Gateway::start(&config(""));
    let admin = Admin::new(&gw);

    // 3.0, YAML: a route per operation, named by operationId or method and path.
    let (s, pets) = admin
        .import(
            "application/yaml",
            pets_30_yaml(&a.url(), "pets", "/svc/pets"),
        )
        .await;
    assert_eq!(s, 201, "{pets}");
    assert_eq!(pets["source"], "api");
    assert_eq!(pets["description"], "Pets, as a service");
    assert_eq!(pets["upstream"]["timeout_ms"], 5000);
    let names: Vec<_> = pets["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or(""),
                r["methods"][0].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("listPets", "GET"),
            ("createPet", "POST"),
            ("showPet", "GET"),
            ("delete_pets_petId", "DELETE")
        ]
    );
    assert!(
        !pets.to_string().contains("$ref"),
        "every $ref resolved: {pets}"
    );
    let show = route(&pets, "showPet");
    assert_eq!(show["path"], "/pets/{petId}");
    assert_eq!(
        show["docs"]["parameters"],
        json!([{"name": "petId", "in": "path", "required": true,
                "description": "The pet's id", "schema": {"type": "string"}}])
    );
    let new_pet = json!({"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "tag": {"type": ["string", "null"]}}});
    assert_eq!(
        show["docs"]["responses"]["200"]["content"]["application/json"]["schema"],
        json!({"allOf": [new_pet, {"type": "object", "required": ["id"],
               "properties": {"id": {"type": "integer", "format": "int64"}}}]})
    );
    let list = route(&pets, "listPets");
    assert_eq!(
        list["docs"]["parameters"][0]["schema"],
        json!({"type": ["integer", "null"], "exclusiveMaximum": 100}),
        "3.0 schemas are stored in the 3.1 form"
    );
    assert_eq!(list["docs"]["tags"], json!(["pets"]));
    let create = route(&pets, "createPet");
    assert_eq!(create["docs"]["request_body"]["required"], true);
    assert_eq!(
        create["docs"]["request_body"]["content"]["application/json"]["schema"],
        new_pet
    );

    // The imported routes are live on the gateway at once.
    let (s, body) = call(&gw, Method::GET, "/svc/pets/pets/42?limit=3", None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["path"], "/pets/42");
    assert_eq!(body["query"], "limit=3");
    let (s, body) = call(
        &gw,
        Method::POST,
        "/svc/pets/pets",
        Some(json!({"name": "rex"})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["method"], "POST");
    let (s, body) = call(&gw, Method::PUT, "/svc/pets/pets/42", None).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (s, _) = call(&gw, Method::GET, "/svc/pets/owners", None).await;
    assert_eq!(s, 404, "only the document's paths are routed");

    // 3.1, JSON: a recursive schema is cut where it recurses; two path parameters.
    let (s, trees) = admin
        .import("application/json", tree_31_json(&a.url()).to_string())
        .await;
    assert_eq!(s, 201, "{trees}");
    assert!(!trees.to_string().contains("\"$ref\""), "{trees}");
    let get_tree = route(&trees, "getTree");
    let params = &get_tree["docs"]["parameters"];
    assert_eq!(
        params[0],
        json!({"name": "forest", "in": "path", "required": true,
               "schema": {"type": "string", "pattern": "^[a-z-]+$"}})
    );
    assert_eq!(params[2]["in"], "header");
    assert_eq!(params[2]["required"], false);
    let node = &get_tree["docs"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(node["properties"]["name"]["pattern"], "^[a-z-]+$");
    assert_eq!(
        node["properties"]["children"]["items"]["$comment"],
        "recursive reference to #/components/schemas/Node, not expanded"
    );
    let (s, body) = call(
        &gw,
        Method::PUT,
        "/svc/trees/forests/black-forest/trees/7",
        Some(json!({"name": "oak"})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["path"], "/forests/black-forest/trees/7");

    // The export: a 3.1 document, the gateway as its server, the paths as on the
    // gateway, the imported docs kept.
    let (s, doc) = admin
        .call(Method::GET, "/admin/v1/services/pets/openapi.json", None)
        .await;
    assert_eq!(s, 200, "{doc}");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "pets");
    assert_eq!(doc["servers"], json!([{"url": gw.url}]));
    let ops = operations(&doc);
    let keys: Vec<_> = ops.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "DELETE /svc/pets/pets/{petId}",
            "GET /svc/pets/pets",
            "GET /svc/pets/pets/{petId}",
            "POST /svc/pets/pets"
        ]
    );
    let exported_show = &ops[2].1;
    assert_eq!(exported_show["operationId"], "showPet");
    assert_eq!(exported_show["summary"], "One pet");
    assert_eq!(exported_show["parameters"], show["docs"]["parameters"]);
    assert_eq!(
        exported_show["responses"]["200"]["content"]["application/json"]["schema"],
        show["docs"]["responses"]["200"]["content"]["application/json"]["schema"]
    );
    assert_eq!(
        ops[3].1["requestBody"]["content"]["application/json"]["schema"],
        new_pet
    );
    assert!(
        doc["components"]["securitySchemes"]["consumer_key"].is_object(),
        "{doc}"
    );
    // A route without docs still declares its path parameters.
    let (s, _) = admin
        .call(
            Method::POST,
            "/admin/v1/services",
            Some(json!({"name": "bare", "path_prefix": "/bare",
                "upstream": {"nodes": [{"url": a.url()}]},
                "routes": [{"name": "thing", "methods": ["GET"], "path": "/things/{id}"}]})),
        )
        .await;
    assert_eq!(s, 201);
    let (_, bare) = admin
        .call(Method::GET, "/admin/v1/services/bare/openapi.json", None)
        .await;
    assert_eq!(
        bare["paths"]["/bare/things/{id}"]["get"]["parameters"],
        json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}])
    );

    // Round trip: the export imported again (it is a valid 3.1 document) and exported
    // gives the same operations, under the new prefix.
    for service in ["pets", "trees"] {
        let (_, first) = admin
            .call(
                Method::GET,
                &format!("/admin/v1/services/{service}/openapi.json"),
                None,
            )
            .await;
        let mut again = first.clone();
        again["name"] = json!(format!("{service}-again"));
        again["path_prefix"] = json!(format!("/again-{service}"));
        again["upstream"] = json!({"nodes": [{"url": a.url()}]});
        let (s, body) = admin.import("application/json", again.to_string()).await;
        assert_eq!(s, 201, "{body}");
        let (_, second) = admin
            .call(
                Method::GET,
                &format!("/admin/v1/services/{service}-again/openapi.json"),
                None,
            )
            .await;
        let expected: Vec<_> = operations(&first)
            .into_iter()
            .map(|(k, op)| (k.replacen(" /", &format!(" /again-{service}/"), 1), op))
            .collect();
        assert_eq!(operations(&second), expected, "{service}");
    }

    // The original documents' operations survive the trip too: the trees export
    // re-imported keeps the recursive schema's cut and the header parameter.
    let (_, trees_again) = admin
        .call(Method::GET, "/admin/v1/services/trees-again", None)
        .await;
    assert_eq!(
        route(&trees_again, "getTree")["docs"],
        get_tree["docs"],
        "{trees_again}"
    );
}

#[tokio::test]
async fn bad_documents_are_refused_naming_what_is_wrong_and_roles_hold() {
    let a = RestUpstream::start("a").await.expect("upstream");
    let gw = Gateway::start(&config(""));
    let admin = Admin::new(&gw);
    let good = pets_30_yaml(&a.url(), "pets", "/svc/pets");

    let refused = [
        (
            "application/yaml",
            "openapi: [unclosed".to_string(),
            None,
            "not valid YAML",
        ),
        ("text/plain", good.clone(), None, "Content-Type"),
        (
            "application/yaml",
            good.replace("openapi: 3.0.3", "swagger: '2.0'"),
            Some("openapi"),
            "3.0.x or 3.1.x",
        ),
        (
            "application/yaml",
            good.replace("upstream:\n  nodes", "upstreams:\n  nodes"),
            Some("upstream"),
            "required",
        ),
        (
            "application/yaml",
            good.replace(
                "'#/components/parameters/Limit'",
                "'#/components/parameters/Nope'",
            ),
            Some("paths./pets.get.parameters[0]"),
            "#/components/parameters/Nope",
        ),
        (
            "application/yaml",
            good.replace("'#/components/requestBodies/NewPet'", "'pets.yaml#/NewPet'"),
            Some("paths./pets.post.requestBody"),
            "inside the document",
        ),
        (
            "application/yaml",
            good.replace(
                "        '204': {description: Deleted}",
                "        '204': {description: [1]}",
            ),
            Some("paths./pets/{petId}"),
            "OpenAPI 3.0",
        ),
        (
            "application/yaml",
            good.replace("path_prefix: /svc/pets", "path_prefix: /v1/pets"),
            Some("path_prefix"),
            "taken by the gateway",
        ),
        (
            "application/yaml",
            good.replace("path_prefix: /svc/pets", "path_prefix: /mcp"),
            Some("path_prefix"),
            "taken by the gateway",
        ),
        (
            "application/yaml",
            good.replace("operationId: showPet", "operationId: listPets"),
            Some("paths./pets/{petId}.get"),
            "duplicate route name",
        ),
    ];
    for (content_type, body, param, says) in refused {
        let (s, v) = admin.import(content_type, body).await;
        assert_eq!(s, 400, "{says}: {v}");
        assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
        assert_eq!(v["error"]["code"], "invalid_request", "{v}");
        assert_eq!(v["error"]["param"].as_str(), param, "{says}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(says)),
            "{says}: {v}"
        );
    }
    // Over the size limit: refused in the error envelope.
    let (s, v) = admin.import("application/json", " ".repeat(17 << 20)).await;
    assert_eq!(s, 413, "{v}");
    assert_eq!(v["error"]["code"], "request_too_large", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("at most 16 MiB")),
        "{v}"
    );
    // Any other admin body over 2 MiB: the same envelope, not axum's plain text.
    let huge = json!({"name": "huge", "path_prefix": "/svc/huge",
        "upstream": {"nodes": [{"url": "http://127.0.0.1:9"}]}, "description": "x".repeat(3 << 20)});
    let (s, v) = admin
        .call(Method::POST, "/admin/v1/services", Some(huge))
        .await;
    assert_eq!(s, 413, "{v}");
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    assert_eq!(v["error"]["code"], "request_too_large", "{v}");
    let (s, v) = admin.call(Method::GET, "/admin/v1/services", None).await;
    assert_eq!((s, v), (200, json!([])), "nothing was created");

    // A name or prefix taken: 409.
    let (s, _) = admin.import("application/x-yaml", good.clone()).await;
    assert_eq!(s, 201);
    let (s, v) = admin.import("text/yaml", good.clone()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{v}"
    );
    let (s, v) = admin
        .import(
            "application/yaml",
            good.replace("name: pets", "name: pets2"),
        )
        .await;
    assert_eq!(s, 409, "the prefix is taken: {v}");
    // A document over axum's default body limit (2 MiB) but within 16 MiB is taken.
    let big = good
        .replace("name: pets", "name: big")
        .replace("/svc/pets", "/svc/big")
        .replace("Pets, as a service", &"x".repeat(3 << 20));
    let (s, v) = admin.import("application/yaml", big).await;
    assert_eq!(s, 201, "{}", v["error"]);
    assert_eq!(v["description"].as_str().map(str::len), Some(3 << 20));

    // `import` is no service name: the path is the import's.
    let (s, v) = admin
        .import(
            "application/yaml",
            good.replace("name: pets", "name: import")
                .replace("/svc/pets", "/svc/import"),
        )
        .await;
    assert_eq!(
        (s, v["error"]["param"].as_str()),
        (400, Some("name")),
        "{v}"
    );

    // Unknown services: 404.
    for (method, path) in [
        (Method::GET, "/admin/v1/services/nope/openapi.json"),
        (Method::GET, "/admin/v1/services/nope/releases"),
        (Method::GET, "/admin/v1/services/nope/releases/1/diff"),
        (Method::POST, "/admin/v1/services/nope/releases/1/publish"),
    ] {
        let (s, v) = admin.call(method.clone(), path, None).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }

    // A viewer reads but does not write.
    let (s, v) = admin
        .call(
            Method::POST,
            "/admin/v1/users",
            Some(json!({"username": "vic", "password": "viewer-pw-12", "role": "viewer"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = answer(
        client()
            .post(gw.admin("/admin/v1/login"))
            .json(&json!({"username": "vic", "password": "viewer-pw-12"}))
            .send()
            .await
            .expect("login"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let viewer = Admin {
        gw: &gw,
        token: v["token"].as_str().expect("token").to_string(),
    };
    let (s, _) = viewer
        .call(Method::GET, "/admin/v1/services/pets/openapi.json", None)
        .await;
    assert_eq!(s, 200);
    let (s, _) = viewer
        .call(Method::GET, "/admin/v1/services/pets/releases", None)
        .await;
    assert_eq!(s, 200);
    let (s, v) = viewer
        .import("application/yaml", good.replace("name: pets", "name: p3"))
        .await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (403, Some("permission_error"))
    );
    let (s, _) = viewer
        .call(
            Method::POST,
            "/admin/v1/services/pets/releases",
            Some(json!({"version": "1"})),
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = admin
        .call(
            Method::POST,
            "/admin/v1/services/pets/releases",
            Some(json!({"version": "1"})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _) = viewer
        .call(
            Method::POST,
            "/admin/v1/services/pets/releases/1/publish",
            None,
        )
        .await;
    assert_eq!(s, 403);
}

/// `GET path` on `gw` until it answers `want` (up to 10 s); the last answer.
async fn until(gw: &Gateway, path: &str, want: u16) -> (u16, Value) {
    let mut last = (0, Value::Null);
    for _ in 0..100 {
        last = call(gw, Method::GET, path, None).await;
        if last.0 == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

/// Releases taken, listed, diffed and published (a rollback and back), with the
/// gateway serving each at once; `other`, a second node on the same database, sees
/// each publish by its revision poll.
async fn releases_flow(gw: &Gateway, other: Option<&Gateway>) {
    let a = RestUpstream::start("a").await.expect("a");
    let b = RestUpstream::start("b").await.expect("b");
    let admin = Admin::new(gw);
    let (s, v) = admin
        .import(
            "application/yaml",
            pets_30_yaml(&a.url(), "pets", "/svc/pets"),
        )
        .await;
    assert_eq!(s, 201, "{v}");

    let (s, one) = admin
        .call(
            Method::POST,
            "/admin/v1/services/pets/releases",
            Some(json!({"version": "1.0", "notes": "as imported"})),
        )
        .await;
    assert_eq!(s, 201, "{one}");
    assert_eq!(one["service"], "pets");
    assert_eq!(one["version"], "1.0");
    assert_eq!(one["notes"], "as imported");
    assert_eq!(one["routes"].as_array().map(Vec::len), Some(4));
    assert_eq!(one["upstream"]["nodes"][0]["url"], a.url().as_str());
    assert!(
        one["routes"][0]["docs"]["summary"].is_string(),
        "docs are part of the snapshot: {one}"
    );
    let (s, v) = admin
        .call(
            Method::POST,
            "/admin/v1/services/pets/releases",
            Some(json!({"version": "1.0"})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{v}"
    );
    let (s, v) = admin
        .call(
            Method::POST,
            "/admin/v1/services/pets/releases",
            Some(json!({"version": "../x"})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["param"].as_str()),
        (400, Some("version")),
        "{v}"
    );

    // Version 2: `showPet` moved and its docs changed, `delete_pets_petId` removed,
    // `feed` added, another node.
    let (_, mut current) = admin
        .call(Method::GET, "/admin/v1/services/pets", None)
        .await;
    for k in ["source", "created_at", "updated_at"] {
        current.as_object_mut().map(|m| m.remove(k));
    }
    let mut routes: Vec<Value> = current["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .filter(|r| r["name"] != "delete_pets_petId")
        .cloned()
        .collect();
    for r in routes.iter_mut().filter(|r| r["name"] == "showPet") {
        r["path"] = json!("/animals/{petId}");
        r["docs"]["summary"] = json!("One animal");
    }
    routes.push(json!({"name": "feed", "methods": ["POST"], "path": "/feed"}));
    current["routes"] = Value::Array(routes);
    current["upstream"] = json!({"nodes": [{"url": b.url()}]});
    let (s, v) = admin
        .call(Method::PUT, "/admin/v1/services/pets", Some(current))
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = admin
        .call(
            Method::POST,
            "/admin/v1/services/pets/releases",
            Some(json!({"version": "2.0"})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, list) = admin
        .call(Method::GET, "/admin/v1/services/pets/releases", None)
        .await;
    assert_eq!(s, 200);
    let versions: Vec<_> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["version"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(versions, ["1.0", "2.0"]);

    // Diffs against what runs (version 2): before is the release, after is now.
    let (s, d) = admin
        .call(
            Method::GET,
            "/admin/v1/services/pets/releases/1.0/diff",
            None,
        )
        .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["added"].as_array().map(Vec::len), Some(1), "{d}");
    assert_eq!(d["added"][0]["name"], "feed");
    assert_eq!(d["removed"].as_array().map(Vec::len), Some(1), "{d}");
    assert_eq!(d["removed"][0]["name"], "delete_pets_petId");
    assert_eq!(d["changed"].as_array().map(Vec::len), Some(1), "{d}");
    assert_eq!(d["changed"][0]["route"], "showPet");
    assert_eq!(d["changed"][0]["before"]["path"], "/pets/{petId}");
    assert_eq!(d["changed"][0]["after"]["path"], "/animals/{petId}");
    assert_eq!(d["changed"][0]["after"]["docs"]["summary"], "One animal");
    assert_eq!(d["upstream_changed"], true);
    let (_, d) = admin
        .call(
            Method::GET,
            "/admin/v1/services/pets/releases/2.0/diff",
            None,
        )
        .await;
    assert_eq!(
        d,
        json!({"added": [], "removed": [], "changed": [], "upstream_changed": false})
    );
    for (method, path) in [
        (Method::GET, "/admin/v1/services/pets/releases/9.9/diff"),
        (Method::POST, "/admin/v1/services/pets/releases/9.9/publish"),
    ] {
        let (s, v) = admin.call(method, path, None).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }

    // Version 2 runs: node b, the moved route, the new one.
    let (s, v) = call(gw, Method::GET, "/svc/pets/animals/7", None).await;
    assert_eq!((s, &v["node"]), (200, &json!("b")), "{v}");
    assert_eq!(call(gw, Method::GET, "/svc/pets/pets/7", None).await.0, 404);

    // Rollback: publishing 1.0 is live at once, here and (by its poll) elsewhere.
    let (s, v) = admin
        .call(
            Method::POST,
            "/admin/v1/services/pets/releases/1.0/publish",
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["upstream"]["nodes"][0]["url"], a.url().as_str());
    assert_eq!(
        v["lifecycle"], "published",
        "the lifecycle is left as it was"
    );
    let (s, v) = call(gw, Method::GET, "/svc/pets/pets/7", None).await;
    assert_eq!((s, &v["node"]), (200, &json!("a")), "{v}");
    assert_eq!(
        call(gw, Method::GET, "/svc/pets/animals/7", None).await.0,
        404
    );
    assert_eq!(call(gw, Method::POST, "/svc/pets/feed", None).await.0, 404);
    let (s, v) = call(gw, Method::DELETE, "/svc/pets/pets/7", None).await;
    assert_eq!(s, 200, "the removed route is back: {v}");
    if let Some(other) = other {
        let (s, v) = until(other, "/svc/pets/pets/7", 200).await;
        assert_eq!((s, &v["node"]), (200, &json!("a")), "{v}");
        assert_eq!(
            call(other, Method::GET, "/svc/pets/animals/7", None)
                .await
                .0,
            404
        );
    }
    let (_, d) = admin
        .call(
            Method::GET,
            "/admin/v1/services/pets/releases/1.0/diff",
            None,
        )
        .await;
    assert_eq!(
        d,
        json!({"added": [], "removed": [], "changed": [], "upstream_changed": false})
    );

    // And forward again.
    let (s, _) = admin
        .call(
            Method::POST,
            "/admin/v1/services/pets/releases/2.0/publish",
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = call(gw, Method::GET, "/svc/pets/animals/7", None).await;
    assert_eq!((s, &v["node"]), (200, &json!("b")), "{v}");
    if let Some(other) = other {
        let (s, v) = until(other, "/svc/pets/animals/7", 200).await;
        assert_eq!((s, &v["node"]), (200, &json!("b")), "{v}");
    }

    // Deleting the service deletes its releases: a new one by that name starts bare.
    let (s, _) = admin
        .call(Method::DELETE, "/admin/v1/services/pets", None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = admin
        .import(
            "application/yaml",
            pets_30_yaml(&a.url(), "pets", "/svc/pets"),
        )
        .await;
    assert_eq!(s, 201);
    let (s, list) = admin
        .call(Method::GET, "/admin/v1/services/pets/releases", None)
        .await;
    assert_eq!((s, list), (200, json!([])));
}

#[tokio::test]
async fn releases_diff_publish_and_rollback_on_sqlite() {
    let gw = Gateway::start(&config(""));
    releases_flow(&gw, None).await;
}

#[tokio::test]
async fn releases_diff_publish_and_rollback_on_postgres_across_nodes() {
    let database = fresh_pg_schema("tg_releases");
    let cfg = config(&format!("storage:\n  database: {database}"));
    let shared = [("TOLLGATE_MASTER_KEY", SHARED_MASTER_KEY)];
    let one = Gateway::start_with_env(&cfg, &shared);
    let two = Gateway::start_with_env(&cfg, &shared);
    releases_flow(&one, Some(&two)).await;
    drop((one, two));
    drop_pg_schema(&database);
}

#[tokio::test]
async fn the_export_names_the_configured_public_url() {
    let gw = Gateway::start(&config("  public_url: https://api.example.com/"));
    let admin = Admin::new(&gw);
    let (s, _) = admin
        .call(
            Method::POST,
            "/admin/v1/services",
            Some(json!({"name": "s", "path_prefix": "/s",
                "upstream": {"nodes": [{"url": "http://127.0.0.1:9"}]}, "lifecycle": "deprecated",
                "routes": [{"name": "r", "path": "/r"}]})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, doc) = admin
        .call(Method::GET, "/admin/v1/services/s/openapi.json", None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(doc["servers"], json!([{"url": "https://api.example.com"}]));
    // A route taking any method is shown with each common method, deprecated with
    // its service.
    let item = doc["paths"]["/s/r"].as_object().expect("item");
    let mut methods: Vec<_> = item.keys().cloned().collect();
    methods.sort();
    assert_eq!(methods, ["delete", "get", "patch", "post", "put"]);
    assert_eq!(item["get"]["operationId"], "r_get");
    assert_eq!(item["get"]["deprecated"], true);
}
