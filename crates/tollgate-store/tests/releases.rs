//! Service releases on SQLite and PostgreSQL: kept per service and version, a
//! duplicate version refused, listed oldest first, not counted as configuration
//! changes, and deleted with their service.

use tollgate_core::service_docs::{ParameterDoc, ParameterLocation, ReleaseSnapshot, RouteDocs};
use tollgate_core::spec::{ServiceRoute, ServiceSpec};
use tollgate_store::testing::TestDb;
use tollgate_store::{Source, StoreError};

tollgate_store::backend_suite!(releases_are_kept_listed_and_deleted_with_their_service);

fn spec(name: &str) -> ServiceSpec {
    serde_json::from_value(serde_json::json!({
        "name": name, "path_prefix": format!("/{name}"),
        "upstream": {"nodes": [{"url": "http://127.0.0.1:9", "weight": 2}], "timeout_ms": 500},
    }))
    .expect("spec")
}

fn snapshot(path: &str) -> ReleaseSnapshot {
    let s = spec("x");
    ReleaseSnapshot {
        upstream: s.upstream,
        routes: vec![ServiceRoute {
            name: "get".into(),
            methods: vec!["GET".into()],
            path: path.into(),
            rewrite: None,
            docs: Some(RouteDocs {
                summary: Some("One thing".into()),
                parameters: vec![ParameterDoc {
                    name: "id".into(),
                    location: ParameterLocation::Path,
                    required: true,
                    description: None,
                    schema: serde_json::json!({"type": ["string", "null"]})
                        .as_object()
                        .cloned(),
                }],
                ..RouteDocs::default()
            }),
        }],
    }
}

async fn releases_are_kept_listed_and_deleted_with_their_service(db: &TestDb) {
    let store = db.connect().await;
    store
        .upsert_service(&spec("weather"), Source::Api)
        .await
        .expect("service");
    store
        .upsert_service(&spec("other"), Source::Api)
        .await
        .expect("service");
    let before = store.revision().await.expect("revision");

    let one = store
        .insert_service_release("weather", "1.0", Some("first"), &snapshot("/a/{id}"))
        .await
        .expect("1.0");
    assert_eq!(one.notes.as_deref(), Some("first"));
    store
        .insert_service_release("weather", "2.0", None, &snapshot("/b/{id}"))
        .await
        .expect("2.0");
    store
        .insert_service_release("other", "1.0", None, &snapshot("/c/{id}"))
        .await
        .expect("same version, other service");
    let dup = store
        .insert_service_release("weather", "1.0", None, &snapshot("/z"))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert_eq!(
        store.revision().await.expect("revision"),
        before,
        "a release is a record, not configuration"
    );

    let all = store.list_service_releases("weather").await.expect("list");
    let versions: Vec<_> = all.iter().map(|r| r.version.as_str()).collect();
    assert_eq!(versions, ["1.0", "2.0"]);
    assert_eq!(
        all[0].snapshot,
        snapshot("/a/{id}"),
        "docs and schemas kept"
    );
    assert_eq!(all[1].notes, None);
    let got = store
        .get_service_release("weather", "2.0")
        .await
        .expect("get")
        .expect("found");
    assert_eq!(got.snapshot.routes[0].path, "/b/{id}");
    assert!(
        store
            .get_service_release("weather", "3.0")
            .await
            .expect("get")
            .is_none()
    );

    assert!(store.delete_service("weather").await.expect("delete"));
    assert!(store.get_service("weather").await.expect("get").is_none());
    assert!(
        store
            .list_service_releases("weather")
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        store
            .list_service_releases("other")
            .await
            .expect("list")
            .len(),
        1,
        "other services keep theirs"
    );
    assert!(!store.delete_service("weather").await.expect("delete again"));
}
