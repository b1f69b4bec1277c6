//! Stored `/v1/responses` on SQLite and PostgreSQL: kept per consumer, invisible to
//! any other consumer (read and delete), replaced when written again, not counted as
//! configuration changes, and deleted with their consumer.

use tollgate_store::Source;
use tollgate_store::testing::TestDb;

tollgate_store::backend_suite!(responses_are_kept_per_consumer);

fn consumer(name: &str) -> tollgate_core::spec::ConsumerSpec {
    serde_json::from_value(serde_json::json!({"name": name})).expect("consumer")
}

async fn responses_are_kept_per_consumer(db: &TestDb) {
    let store = db.connect().await;
    store
        .upsert_consumer(&consumer("ann"), Source::Api)
        .await
        .expect("consumer");
    let before = store.revision().await.expect("revision");

    store
        .insert_response("resp_1", "ann", r#"{"id":"resp_1"}"#, "[]")
        .await
        .expect("insert");
    store
        .insert_response("resp_2", "bob", r#"{"id":"resp_2"}"#, "[]")
        .await
        .expect("insert");
    let got = store
        .get_response("ann", "resp_1")
        .await
        .expect("get")
        .expect("found");
    assert_eq!(
        (
            got.id.as_str(),
            got.consumer.as_str(),
            got.response.as_str()
        ),
        ("resp_1", "ann", r#"{"id":"resp_1"}"#)
    );
    // Another consumer sees nothing, and deletes nothing.
    assert!(
        store
            .get_response("bob", "resp_1")
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        !store
            .delete_response("bob", "resp_1")
            .await
            .expect("delete")
    );
    assert!(
        store
            .get_response("ann", "resp_1")
            .await
            .expect("get")
            .is_some()
    );
    // Written again: replaced.
    store
        .insert_response(
            "resp_1",
            "ann",
            r#"{"id":"resp_1","v":2}"#,
            r#"[{"role":"user"}]"#,
        )
        .await
        .expect("insert again");
    let got = store
        .get_response("ann", "resp_1")
        .await
        .expect("get")
        .expect("found");
    assert_eq!(got.conversation, r#"[{"role":"user"}]"#);
    assert_eq!(store.revision().await.expect("revision"), before);
    // Its owner deletes it.
    assert!(
        store
            .delete_response("ann", "resp_1")
            .await
            .expect("delete")
    );
    assert!(
        store
            .get_response("ann", "resp_1")
            .await
            .expect("get")
            .is_none()
    );
    // A consumer's responses go with it.
    store
        .insert_response("resp_3", "ann", "{}", "[]")
        .await
        .expect("insert");
    assert!(store.delete_consumer("ann").await.expect("delete consumer"));
    assert!(
        store
            .get_response("ann", "resp_3")
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        store
            .get_response("bob", "resp_2")
            .await
            .expect("get")
            .is_some()
    );
}
