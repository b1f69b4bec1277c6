//! What only the Redis backend has: a failure policy, timeouts, and leases that make a
//! dead node's slots and holds vanish.

// Test helpers outside #[test] fns are not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::RedisKeys;
use tollgate_limits::*;

fn rules() -> Vec<RateRule> {
    vec![RateRule {
        scope: "key:p".into(),
        requests_per_minute: Some(1),
        tokens_per_minute: None,
        concurrent: Some(1),
    }]
}

fn budget() -> Vec<BudgetRule> {
    vec![BudgetRule {
        scope: "consumer:p".into(),
        limit: Amount::Usd(1_000_000),
        period: Period::Monthly,
    }]
}

async fn try_admit(l: &Limiter, rules: &[RateRule]) -> Result<Admitted, AdmitError> {
    l.admit(&Admission {
        request_id: "r",
        rules,
        estimated_tokens: 0,
    })
    .await
}

async fn try_reserve(
    l: &Limiter,
    rules: &[BudgetRule],
    cost: i64,
) -> Result<Reservation, ReserveError> {
    l.reserve(&Reserve {
        request_id: "r",
        rules,
        cost,
        tokens: 0,
        credits_of: None,
    })
    .await
}

/// Fail open: an unreachable Redis admits and reserves, without holding anything, and
/// counts each failure; nothing panics and nothing waits long.
#[tokio::test]
async fn open_policy_admits_when_redis_is_unreachable() {
    let l = Limiter::redis("redis://127.0.0.1:1", "tgtest:open:", FailurePolicy::Open)
        .await
        .expect("an unreachable Redis is not a startup error");
    let started = Instant::now();
    for _ in 0..3 {
        let a = try_admit(&l, &rules()).await.expect("fail open");
        assert!(!a.permit.is_enforced());
        assert!(a.headers.is_none());
        l.settle_tokens(&a.permit, 10).await;
        l.release(a.permit).await;
        let r = try_reserve(&l, &budget(), 2_000_000)
            .await
            .expect("fail open");
        assert!(!r.is_enforced());
        let s = l.settle(r, Spend::new(5, 5)).await;
        assert!(s.thresholds.is_empty());
    }
    assert!(
        l.backend_errors() >= 6,
        "errors counted: {}",
        l.backend_errors()
    );
    assert!(matches!(
        l.budget_status(&budget()[0], chrono::Utc::now()).await,
        Err(LimitError::Unavailable(_))
    ));
    assert!(l.health().await.is_err());
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Fail closed: the same calls refuse with an error the gateway maps to 503.
#[tokio::test]
async fn closed_policy_refuses_when_redis_is_unreachable() {
    let l = Limiter::redis(
        "redis://127.0.0.1:1",
        "tgtest:closed:",
        FailurePolicy::Closed,
    )
    .await
    .unwrap();
    assert!(matches!(
        try_admit(&l, &rules()).await,
        Err(AdmitError::Backend(LimitError::Unavailable(_)))
    ));
    assert!(matches!(
        try_reserve(&l, &budget(), 1).await,
        Err(ReserveError::Backend(LimitError::Unavailable(_)))
    ));
    assert!(matches!(
        l.add_credits("c", 1).await,
        Err(LimitError::Unavailable(_))
    ));
    assert!(l.backend_errors() >= 3);
    // No rules: nothing to ask Redis.
    assert!(try_admit(&l, &[]).await.is_ok());
}

/// A Redis that accepts connections but never answers must not hang requests: each
/// call gives up after the timeout and the policy applies.
#[tokio::test]
async fn a_silent_redis_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock); // never read, never answer
        }
    });
    let url = format!("redis://{addr}");
    let mut opts = RedisOptions::new(FailurePolicy::Closed);
    opts.timeout = Duration::from_millis(200);
    let l = Limiter::redis_with(&url, "tgtest:silent:", opts)
        .await
        .unwrap();
    for _ in 0..3 {
        let started = Instant::now();
        assert!(matches!(
            try_admit(&l, &rules()).await,
            Err(AdmitError::Backend(LimitError::Unavailable(_)))
        ));
        assert!(
            started.elapsed() < Duration::from_millis(1000),
            "{:?}",
            started.elapsed()
        );
    }
    let open = Limiter::redis_with(
        &url,
        "tgtest:silent:",
        RedisOptions {
            policy: FailurePolicy::Open,
            ..opts
        },
    )
    .await
    .unwrap();
    let started = Instant::now();
    assert!(try_reserve(&open, &budget(), 1).await.is_ok());
    assert!(started.elapsed() < Duration::from_millis(1000));
    hold.abort();
}

/// A node that dies holding a concurrency slot and a budget hold: both expire with
/// their lease, while a live node's leases are renewed and do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_nodes_slots_and_holds_expire_live_ones_do_not() {
    let guard = RedisKeys::fresh();
    let (url, prefix) = (guard.url.clone(), guard.prefix.clone());
    let lease = Duration::from_millis(600);
    let opts = RedisOptions {
        lease,
        ..RedisOptions::new(FailurePolicy::Closed)
    };
    let slot = vec![RateRule {
        scope: "key:lease".into(),
        concurrent: Some(1),
        ..RateRule::default()
    }];
    let survivor = Limiter::redis(&url, &prefix, FailurePolicy::Closed)
        .await
        .unwrap();
    survivor
        .health()
        .await
        .expect("Redis must be running for this test");

    // A live node keeps its slot and hold well past the lease.
    let live = Limiter::redis_with(&url, &prefix, opts).await.unwrap();
    let p = try_admit(&live, &slot).await.unwrap();
    let r = try_reserve(&live, &budget(), 600_000).await.unwrap();
    tokio::time::sleep(lease * 3).await;
    assert!(
        try_admit(&survivor, &slot).await.is_err(),
        "renewed slot still held"
    );
    assert!(
        try_reserve(&survivor, &budget(), 600_000).await.is_err(),
        "renewed hold still held"
    );
    live.release(p.permit).await;
    live.settle(r, Spend::default()).await;
    drop(live);

    // A node that dies: its permit and reservation are never released and its lease
    // keeper stops with it.
    let dying = Limiter::redis_with(&url, &prefix, opts).await.unwrap();
    let p = try_admit(&dying, &slot).await.unwrap();
    let r = try_reserve(&dying, &budget(), 600_000).await.unwrap();
    std::mem::forget(p);
    std::mem::forget(r);
    drop(dying);
    assert!(try_admit(&survivor, &slot).await.is_err());
    assert!(try_reserve(&survivor, &budget(), 600_000).await.is_err());
    tokio::time::sleep(lease + Duration::from_millis(200)).await;
    let p = try_admit(&survivor, &slot)
        .await
        .expect("dead node's slot expired");
    let r = try_reserve(&survivor, &budget(), 1_000_000)
        .await
        .expect("dead node's hold expired");
    let st = survivor
        .budget_status(&budget()[0], chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(st.reserved.cost, 1_000_000, "only the live hold remains");
    survivor.release(p.permit).await;
    survivor.settle(r, Spend::default()).await;
}

/// Rate and concurrency keys expire on their own: an idle scope leaves nothing behind.
#[tokio::test]
async fn rate_keys_carry_ttls() {
    let guard = RedisKeys::fresh();
    let (url, prefix) = (guard.url.clone(), guard.prefix.clone());
    let l = Limiter::redis(&url, &prefix, FailurePolicy::Closed)
        .await
        .unwrap();
    l.health()
        .await
        .expect("Redis must be running for this test");
    let rules = [RateRule {
        scope: "key:ttl".into(),
        requests_per_minute: Some(100),
        tokens_per_minute: Some(1000),
        concurrent: Some(3),
    }];
    let a = l
        .admit(&Admission {
            request_id: "r",
            rules: &rules,
            estimated_tokens: 10,
        })
        .await
        .unwrap();
    l.release(a.permit).await;
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut conn)
        .unwrap();
    assert!(!keys.is_empty());
    for k in &keys {
        let ttl: i64 = redis::cmd("PTTL").arg(k).query(&mut conn).unwrap();
        assert!(ttl > 0, "{k} has no TTL ({ttl})");
    }
}
