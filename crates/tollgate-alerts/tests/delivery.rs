//! Webhook delivery against a real receiver (axum on 127.0.0.1:0), with the store on
//! SQLite (a temp file) and on PostgreSQL (`postgres://postgres@127.0.0.1:5432/test`,
//! one fresh schema per test; unreachable is a failure, not a skip).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::Utc;
use tollgate_alerts::{
    AlertEvent, AlertKind, Alerter, EVENT_ID_HEADER, RetryPolicy, SIGNATURE_HEADER, event_id,
    payload, signature,
};
use tollgate_core::spec::AlertSpec;
use tollgate_store::{AlertEventRecord, AlertStatus, NewAlertEvent, Store};

use tollgate_store::testing::TestDb;

tollgate_store::backend_suite!(
    delivers_signed_body,
    retries_after_server_errors,
    same_crossing_is_delivered_once,
    same_crossing_from_two_nodes_is_delivered_once,
    no_secret_no_signature,
    unanswering_channel_fails_without_blocking,
    pending_deliveries_resume_on_start,
    removed_channel_fails_its_pending_delivery,
);

// ---------------------------------------------------------------------------------
// Receiver

#[derive(Debug, Clone)]
struct Hit {
    headers: HeaderMap,
    body: Vec<u8>,
    at: Instant,
}

#[derive(Clone, Copy)]
enum Behaviour {
    /// Answer 500 to the first N requests, then 200.
    FailFirst(usize),
    /// Never answer.
    Hang,
}

#[derive(Clone)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    url: String,
}

impl Receiver {
    async fn start(behaviour: Behaviour) -> Receiver {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let state = (hits.clone(), behaviour);
        let app = Router::new().route("/hook", post(handle)).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Receiver {
            hits,
            url: format!("http://{addr}/hook"),
        }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("lock").clone()
    }

    fn channel(&self, name: &str, secret: Option<&str>) -> AlertSpec {
        AlertSpec {
            name: name.into(),
            webhook: self.url.clone(),
            secret: secret.map(String::from),
        }
    }
}

async fn handle(
    State((hits, behaviour)): State<(Arc<Mutex<Vec<Hit>>>, Behaviour)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let n = {
        let mut hits = hits.lock().expect("lock");
        hits.push(Hit {
            headers,
            body: body.to_vec(),
            at: Instant::now(),
        });
        hits.len()
    };
    match behaviour {
        Behaviour::FailFirst(k) if n <= k => StatusCode::INTERNAL_SERVER_ERROR,
        Behaviour::FailFirst(_) => StatusCode::NO_CONTENT,
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::OK
        }
    }
}

// ---------------------------------------------------------------------------------
// Helpers

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 5,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(400),
        timeout: Duration::from_secs(2),
        sweep_interval: Duration::from_secs(60),
    }
}

fn threshold(scope: &str, percent: u8) -> AlertEvent {
    AlertEvent {
        kind: AlertKind::BudgetThreshold,
        scope: scope.into(),
        period_key: "2026-11".into(),
        threshold_percent: Some(percent),
        used_usd: Some(20.5),
        limit_usd: Some(25.0),
        detail: serde_json::json!({"period": "monthly", "resets_at": "2026-12-01T00:00:00Z"}),
    }
}

async fn wait_for<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_hits(r: &Receiver, n: usize) -> Vec<Hit> {
    wait_for(&format!("{n} deliveries"), async || {
        let hits = r.hits();
        (hits.len() >= n).then_some(hits)
    })
    .await
}

async fn wait_status(store: &Store, id: &str, status: AlertStatus) -> AlertEventRecord {
    wait_for(&format!("{id} to be {status}"), async || {
        store
            .get_alert_event(id)
            .await
            .expect("get")
            .filter(|e| e.status == status)
    })
    .await
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("JSON body")
}

// ---------------------------------------------------------------------------------
// Behaviours

async fn delivers_signed_body(db: &TestDb) {
    let store = db.connect().await;
    let r = Receiver::start(Behaviour::FailFirst(0)).await;
    let secret = "whsec-test-1";
    let alerter = Alerter::start_with(store.clone(), vec![r.channel("ops", Some(secret))], fast());
    let ev = threshold("consumer:team-a", 80);
    let before = Utc::now();
    alerter.raise(ev.clone());

    let hit = wait_hits(&r, 1).await.remove(0);
    let sig = hit
        .headers
        .get(SIGNATURE_HEADER)
        .expect("signed")
        .to_str()
        .expect("ascii");
    assert_eq!(
        sig,
        signature(secret, &hit.body),
        "signature of the exact body"
    );
    assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64, "{sig}");
    assert_eq!(
        hit.headers.get("content-type").expect("content-type"),
        "application/json"
    );

    let body = json(&hit.body);
    let id = event_id("ops", &ev);
    assert_eq!(body["id"], id.as_str());
    assert_eq!(
        hit.headers.get(EVENT_ID_HEADER).expect("id header"),
        id.as_str()
    );
    assert_eq!(body["type"], "budget.threshold");
    assert_eq!(body["scope"], "consumer:team-a");
    assert_eq!(body["threshold_percent"], 80);
    assert_eq!(body["used_usd"], 20.5);
    assert_eq!(body["limit_usd"], 25.0);
    assert_eq!(body["detail"]["period"], "monthly");
    let at =
        chrono::DateTime::parse_from_rfc3339(body["at"].as_str().expect("at")).expect("RFC 3339");
    assert!(at.timestamp_millis() >= before.timestamp_millis());
    assert_eq!(body.as_object().expect("object").len(), 8);

    let rec = wait_status(&store, &id, AlertStatus::Delivered).await;
    assert_eq!(rec.attempts, 1);
    assert_eq!(rec.alert, "ops");
    assert_eq!(rec.kind, "budget.threshold");
    assert_eq!(rec.payload.as_bytes(), hit.body.as_slice());
    assert!(rec.delivered_at.is_some());

    // A credits event and a dead-key event (no threshold: null fields).
    alerter.raise(AlertEvent {
        kind: AlertKind::ProviderKeyDead,
        scope: "provider:openai".into(),
        period_key: "openai#1:401".into(),
        threshold_percent: None,
        used_usd: None,
        limit_usd: None,
        detail: serde_json::json!({"provider": "openai", "key_index": 1, "status": 401}),
    });
    let hit = wait_hits(&r, 2).await.remove(1);
    let body = json(&hit.body);
    assert_eq!(body["type"], "provider_key.dead");
    assert!(body["threshold_percent"].is_null());
    assert!(body["used_usd"].is_null());
    assert_eq!(body["detail"]["status"], 401);
    assert_eq!(
        hit.headers.get(SIGNATURE_HEADER).expect("signed"),
        signature(secret, &hit.body).as_str()
    );
}

async fn retries_after_server_errors(db: &TestDb) {
    let store = db.connect().await;
    let r = Receiver::start(Behaviour::FailFirst(2)).await;
    let alerter = Alerter::start_with(store.clone(), vec![r.channel("ops", Some("s"))], fast());
    let ev = threshold("consumer:team-a", 50);
    alerter.raise(ev.clone());
    let id = event_id("ops", &ev);
    let rec = wait_status(&store, &id, AlertStatus::Delivered).await;
    assert_eq!(rec.attempts, 3);
    assert_eq!(rec.last_error, None);
    let hits = r.hits();
    assert_eq!(hits.len(), 3);
    // The same body each time, with backoff between attempts (50 ms, then 100 ms).
    assert!(hits.iter().all(|h| h.body == hits[0].body));
    assert!(hits[1].at - hits[0].at >= Duration::from_millis(45));
    assert!(hits[2].at - hits[1].at >= Duration::from_millis(95));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.hits().len(), 3, "nothing after success");
}

async fn same_crossing_is_delivered_once(db: &TestDb) {
    let store = db.connect().await;
    let r = Receiver::start(Behaviour::FailFirst(0)).await;
    let alerter = Alerter::start_with(store.clone(), vec![r.channel("ops", None)], fast());
    let ev = threshold("consumer:team-a", 80);
    for _ in 0..5 {
        alerter.raise(ev.clone());
    }
    // With other figures, still the same crossing.
    let mut later = ev.clone();
    later.used_usd = Some(21.0);
    alerter.clone().raise(later);
    wait_status(&store, &event_id("ops", &ev), AlertStatus::Delivered).await;
    // Another threshold of the same budget is another crossing.
    alerter.raise(threshold("consumer:team-a", 100));
    wait_hits(&r, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hits = r.hits();
    assert_eq!(hits.len(), 2);
    assert_eq!(json(&hits[0].body)["threshold_percent"], 80);
    assert_eq!(json(&hits[1].body)["threshold_percent"], 100);

    // A fresh Alerter (a restart) on the same database does not send it again.
    let again = Alerter::start_with(store.clone(), vec![r.channel("ops", None)], fast());
    again.raise(ev);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.hits().len(), 2);
}

async fn same_crossing_from_two_nodes_is_delivered_once(db: &TestDb) {
    let r = Receiver::start(Behaviour::FailFirst(0)).await;
    let audit = Receiver::start(Behaviour::FailFirst(0)).await;
    let channels = vec![r.channel("ops", Some("k")), audit.channel("audit", None)];
    let a = Alerter::start_with(db.connect().await, channels.clone(), fast());
    let b = Alerter::start_with(db.connect().await, channels, fast());
    for i in 0..10 {
        let ev = threshold("team:platform", 80);
        if i % 2 == 0 { a.raise(ev) } else { b.raise(ev) }
    }
    wait_hits(&r, 1).await;
    wait_hits(&audit, 1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(r.hits().len(), 1, "one delivery per channel across nodes");
    assert_eq!(audit.hits().len(), 1);
    // Each channel gets its own event id.
    let id_ops = json(&r.hits()[0].body)["id"].clone();
    let id_audit = json(&audit.hits()[0].body)["id"].clone();
    assert_ne!(id_ops, id_audit);
    let store = db.connect().await;
    let events = store.list_alert_events(10).await.expect("list");
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.attempts == 1));
}

async fn no_secret_no_signature(db: &TestDb) {
    let store = db.connect().await;
    let r = Receiver::start(Behaviour::FailFirst(0)).await;
    let alerter = Alerter::start_with(
        store,
        vec![r.channel("plain", None), r.channel("empty", Some(""))],
        fast(),
    );
    alerter.raise(AlertEvent {
        kind: AlertKind::CreditsLow,
        scope: "consumer:team-a".into(),
        period_key: "floor-1000000".into(),
        threshold_percent: None,
        used_usd: None,
        limit_usd: Some(1.0),
        detail: serde_json::json!({"balance_usd": 0.42}),
    });
    let hits = wait_hits(&r, 2).await;
    for h in &hits {
        assert!(h.headers.get(SIGNATURE_HEADER).is_none());
        assert_eq!(json(&h.body)["type"], "credits.low");
    }
}

async fn unanswering_channel_fails_without_blocking(db: &TestDb) {
    let store = db.connect().await;
    let dead = Receiver::start(Behaviour::Hang).await;
    let ok = Receiver::start(Behaviour::FailFirst(0)).await;
    let policy = RetryPolicy {
        attempts: 3,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(50),
        timeout: Duration::from_millis(250),
        sweep_interval: Duration::from_secs(60),
    };
    let alerter = Alerter::start_with(
        store.clone(),
        vec![dead.channel("dead", None), ok.channel("ok", None)],
        policy,
    );
    let started = Instant::now();
    for p in [50, 80, 100] {
        alerter.raise(threshold("consumer:slow", p));
    }
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "raise() returned after {:?}",
        started.elapsed()
    );
    // The healthy channel is served meanwhile.
    wait_hits(&ok, 3).await;
    // Serially behind the dead channel it would take 3 x (3 x 250 ms + backoff).
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );

    for p in [50, 80, 100] {
        let id = event_id("dead", &threshold("consumer:slow", p));
        let rec = wait_status(&store, &id, AlertStatus::Failed).await;
        assert_eq!(rec.attempts, 3);
        assert!(
            rec.last_error
                .as_deref()
                .unwrap_or("")
                .contains("timed out"),
            "{:?}",
            rec.last_error
        );
        assert_eq!(rec.delivered_at, None);
    }
    assert_eq!(dead.hits().len(), 9);
}

async fn pending_deliveries_resume_on_start(db: &TestDb) {
    let store = db.connect().await;
    let r = Receiver::start(Behaviour::FailFirst(0)).await;
    // Left by a node that claimed it, tried twice, and died.
    let ev = threshold("consumer:team-a", 100);
    let id = event_id("ops", &ev);
    let body = payload(&id, &ev, Utc::now());
    let past = Utc::now() - chrono::Duration::seconds(5);
    assert!(
        store
            .claim_alert_event(&NewAlertEvent {
                id: id.clone(),
                alert: "ops".into(),
                kind: "budget.threshold".into(),
                scope: ev.scope.clone(),
                period_key: ev.period_key.clone(),
                threshold_percent: ev.threshold_percent,
                payload: body.clone(),
                created_at: past,
                lease_owner: "node_dead".into(),
                lease_until: past,
            })
            .await
            .expect("claim")
    );
    for _ in 0..2 {
        store
            .mark_alert_attempt(&id, false, Some("connection refused"))
            .await
            .expect("attempt");
    }
    // A pending event whose lease is still held by a live node is left alone.
    let mut held = threshold("consumer:team-b", 50);
    held.scope = "consumer:team-b".into();
    let held_id = event_id("ops", &held);
    assert!(
        store
            .claim_alert_event(&NewAlertEvent {
                id: held_id.clone(),
                alert: "ops".into(),
                kind: "budget.threshold".into(),
                scope: held.scope.clone(),
                period_key: held.period_key.clone(),
                threshold_percent: held.threshold_percent,
                payload: payload(&held_id, &held, Utc::now()),
                created_at: Utc::now(),
                lease_owner: "node_alive".into(),
                lease_until: Utc::now() + chrono::Duration::seconds(600),
            })
            .await
            .expect("claim")
    );

    let _alerter = Alerter::start_with(store.clone(), vec![r.channel("ops", Some("s"))], fast());
    let rec = wait_status(&store, &id, AlertStatus::Delivered).await;
    assert_eq!(rec.attempts, 3);
    let hits = wait_hits(&r, 1).await;
    assert_eq!(
        hits[0].body,
        body.as_bytes(),
        "the stored body, byte for byte"
    );
    assert_eq!(
        hits[0].headers.get(SIGNATURE_HEADER).expect("signed"),
        signature("s", body.as_bytes()).as_str()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.hits().len(), 1);
    let held_rec = store
        .get_alert_event(&held_id)
        .await
        .expect("get")
        .expect("some");
    assert_eq!(held_rec.status, AlertStatus::Pending);
    assert_eq!(held_rec.attempts, 0);
}

async fn removed_channel_fails_its_pending_delivery(db: &TestDb) {
    let store = db.connect().await;
    let r = Receiver::start(Behaviour::FailFirst(usize::MAX)).await;
    let policy = RetryPolicy {
        initial_backoff: Duration::from_millis(300),
        ..fast()
    };
    let alerter = Alerter::start_with(store.clone(), vec![r.channel("ops", None)], policy);
    let ev = threshold("consumer:team-a", 80);
    alerter.raise(ev.clone());
    wait_hits(&r, 1).await;
    alerter.set_channels(vec![]);
    assert!(alerter.channels().is_empty());
    let rec = wait_status(&store, &event_id("ops", &ev), AlertStatus::Failed).await;
    assert_eq!(rec.attempts, 1);
    assert_eq!(rec.last_error.as_deref(), Some("alert channel removed"));
    // With no channels, raising is a no-op.
    alerter.raise(threshold("consumer:team-a", 100));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(store.list_alert_events(10).await.expect("list").len(), 1);
}
