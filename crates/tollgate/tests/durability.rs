//! The money path survives a crash: every answered request is recorded and charged
//! even when the gateway is SIGKILLed under load, and budgets and credits re-seed
//! from what was recorded (issue 8, item 6).

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::json;
use tollgate_store::LedgerKind;

fn config(mock: &MockProvider) -> String {
    format!(
        r#"
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  admin_token: {ADMIN_TOKEN}
providers:
  - name: mock-openai
    kind: openai
    base_url: {openai}
    api_keys: ["sk-mock-openai-secret"]
models:
  - name: priced
    targets: [{{provider: mock-openai, model: "gpt@words=5"}}]
    price: {{input_per_mtok: 100, output_per_mtok: 100}}
consumers:
  - name: payer
    api_keys: ["tg-payer"]
    credits_usd: 1000
    budget: {{usd: 1000, period: monthly}}
"#,
        openai = mock.openai_base_url(),
    )
}

/// Clients sending chat requests as `tg-payer` until stopped, each keeping the id and
/// cost of every request answered in full.
struct Load {
    answered: Arc<Mutex<Vec<(String, f64)>>>,
    stop: Arc<AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// `clients` concurrent clients; with `every_answer_ok` each answer must be a 200
    /// (otherwise failed requests are skipped, as when the gateway is killed).
    fn start(gw: &Gateway, clients: usize, every_answer_ok: bool) -> Load {
        let answered: Arc<Mutex<Vec<(String, f64)>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..clients)
            .map(|_| {
                let (answered, stop, url) = (
                    answered.clone(),
                    stop.clone(),
                    gw.gw("/v1/chat/completions"),
                );
                tokio::spawn(async move {
                    let http = client();
                    while !stop.load(Ordering::Relaxed) {
                        let sent = http
                            .post(&url)
                            .bearer_auth("tg-payer")
                            .json(&json!({"model": "priced", "max_tokens": 50,
                                "messages": [{"role": "user", "content": "hello there"}]}))
                            .send()
                            .await;
                        let Ok(res) = sent else { continue };
                        if every_answer_ok {
                            assert_eq!(res.status(), 200, "the gateway keeps answering");
                        } else if res.status() != 200 {
                            continue;
                        }
                        let id = res.headers()["x-request-id"]
                            .to_str()
                            .expect("id")
                            .to_string();
                        let cost: f64 = res.headers()["x-tollgate-cost-usd"]
                            .to_str()
                            .expect("cost")
                            .parse()
                            .expect("number");
                        // Answered means the whole body arrived.
                        if res.bytes().await.is_ok() {
                            answered.lock().expect("lock").push((id, cost));
                        }
                    }
                })
            })
            .collect();
        Load {
            answered,
            stop,
            workers,
        }
    }

    fn answered(&self) -> usize {
        self.answered.lock().expect("lock").len()
    }

    async fn wait_for(&self, n: usize) {
        while self.answered() < n {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the clients (a client's failed assertion fails the test here) and
    /// returns what was answered.
    async fn stop(self) -> Vec<(String, f64)> {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            if let Err(e) = w.await
                && e.is_panic()
            {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        self.answered.lock().expect("lock").clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_no_answered_request_or_charge() {
    let mock = MockProvider::start().await.expect("mock");
    let cfg = config(&mock);
    let gw = Gateway::start(&cfg);
    let load = Load::start(&gw, 16, false);
    load.wait_for(400).await;
    Command::new("kill")
        .arg("-KILL")
        .arg(gw.pid().to_string())
        .status()
        .expect("kill");
    // Let the workers see the dead gateway, then stop them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answered = load.stop().await;
    assert!(answered.len() >= 400);

    // Restart on the same data directory.
    let mut gw = gw;
    let dir = std::mem::replace(&mut gw.dir, tempfile::tempdir().expect("dir"));
    drop(gw);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.arg("serve")
        .arg("--config")
        .arg(dir.path().join("tollgate.yaml"));
    let gw = Gateway::spawn(cmd, dir, &[]);

    let store = open_store(&gw).await;
    // The restarted node replays its journal before it serves.
    let mut missing = Vec::new();
    for (id, cost) in &answered {
        match store.get_call(id).await.expect("read") {
            Some(rec) => {
                let recorded = rec.cost_micros as f64 / 1e6;
                assert!(
                    (recorded - cost).abs() < 1e-6,
                    "{id}: recorded {recorded} vs answered {cost}"
                );
            }
            None => missing.push(id.clone()),
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} answered requests have no record after SIGKILL: {:?}",
        missing.len(),
        answered.len(),
        &missing[..missing.len().min(5)]
    );
    let ledger = store
        .list_ledger("payer", 100_000, None)
        .await
        .expect("ledger");
    let charged: std::collections::HashSet<String> = ledger
        .iter()
        .filter(|e| e.kind == LedgerKind::Charge)
        .filter_map(|e| e.request_id.clone())
        .collect();
    let uncharged: Vec<&String> = answered
        .iter()
        .map(|(id, _)| id)
        .filter(|id| !charged.contains(*id))
        .collect();
    assert!(
        uncharged.is_empty(),
        "{} answered requests were never charged: {:?}",
        uncharged.len(),
        &uncharged[..uncharged.len().min(5)]
    );
    // The budget re-seeded from the records: at least every answered cost counts.
    let answered_cost: f64 = answered.iter().map(|(_, c)| c).sum();
    let u = usage(&gw, "tg-payer").await;
    let used = u["budget"]["used_usd"].as_f64().expect("used");
    assert!(
        used + 1e-6 >= answered_cost,
        "budget used {used} after restart < answered {answered_cost}: {u}"
    );
    let credits = u["credits_usd"].as_f64().expect("credits");
    assert!(
        credits <= 1000.0 - answered_cost + 1e-6,
        "credits {credits} after restart: every answered charge is gone from the balance"
    );
}

/// A TCP hop between the gateway and PostgreSQL that can fail like a database outage:
/// every open connection is cut and new ones are refused (accepted and dropped at
/// once) until it is brought back.
struct FlakyHop {
    port: u16,
    down: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl FlakyHop {
    async fn start(upstream: &'static str) -> FlakyHop {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let down = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (d, l) = (down.clone(), links.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if d.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                l.lock().expect("lock").push(link);
            }
        });
        FlakyHop { port, down, links }
    }

    /// The outage starts: open connections are cut, new ones refused.
    fn fail(&self) {
        self.down.store(true, Ordering::SeqCst);
        for link in self.links.lock().expect("lock").drain(..) {
            link.abort();
        }
    }

    fn recover(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

/// Issue 9: a PostgreSQL outage under load loses nothing. Records and charges made
/// while the database is unreachable wait in the journal's local log and reach the
/// database once it is back, each exactly once; the gateway keeps answering meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_outage_under_load_loses_and_duplicates_nothing() {
    let direct = fresh_pg_schema("tg_outage");
    let hop = FlakyHop::start("127.0.0.1:5432").await;
    let mock = MockProvider::start().await.expect("mock");
    let through_hop = direct.replace(":5432/", &format!(":{}/", hop.port));
    let cfg = config(&mock).replace(
        "providers:\n",
        &format!("storage:\n  database: {through_hop}\nproviders:\n"),
    );
    let gw = Gateway::start(&cfg);

    let load = Load::start(&gw, 8, true);
    load.wait_for(100).await;
    hop.fail();
    load.wait_for(load.answered() + 200).await;
    hop.recover();
    load.wait_for(load.answered() + 100).await;
    let answered = load.stop().await;

    // Read what reached PostgreSQL (directly, not through the hop).
    let store = open_store_at(&gw, &direct).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let stored = store.count_calls().await.expect("count");
        if stored >= answered.len() as u64 || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut missing = Vec::new();
    for (id, cost) in &answered {
        match store.get_call(id).await.expect("read") {
            Some(rec) => assert!(
                (rec.cost_micros as f64 / 1e6 - cost).abs() < 1e-6,
                "{id}: recorded cost differs from the answered one"
            ),
            None => missing.push(id.clone()),
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} answered requests never reached PostgreSQL after the outage: {:?}",
        missing.len(),
        answered.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(
        store.count_calls().await.expect("count"),
        answered.len() as u64,
        "one record per request, none twice"
    );
    let charges: Vec<String> = store
        .list_ledger("payer", 100_000, None)
        .await
        .expect("ledger")
        .into_iter()
        .filter(|e| e.kind == LedgerKind::Charge)
        .filter_map(|e| e.request_id)
        .collect();
    let unique: std::collections::HashSet<&String> = charges.iter().collect();
    assert_eq!(unique.len(), charges.len(), "no request charged twice");
    assert_eq!(
        charges.len(),
        answered.len(),
        "every answered request charged"
    );
    store.close().await;
    drop_pg_schema(&direct);
}
