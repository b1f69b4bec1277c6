//! Balancer, breaker, key pool and retry policy, on a fake clock.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tollgate_core::spec::{Retries, Strategy};
use tollgate_routing::{
    Balancer, BreakerConfig, BreakerState, CircuitBreaker, Clock, DeadKeyReport, FakeClock,
    KeyOutcome, KeyPool, KeyState, Outcome, RetryPolicy, TargetInfo,
};

fn clock() -> (Arc<FakeClock>, Arc<dyn Clock>) {
    let c = FakeClock::new();
    let d: Arc<dyn Clock> = c.clone();
    (c, d)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

// ---------------------------------------------------------------- breaker

fn fail(b: &CircuitBreaker, t: &str) {
    b.allow(t).expect("allowed").record(Outcome::Failure);
}

fn succeed(b: &CircuitBreaker, t: &str) {
    b.allow(t).expect("allowed").record(Outcome::Success);
}

#[test]
fn breaker_full_cycle() {
    let (fake, clk) = clock();
    let b = CircuitBreaker::new(BreakerConfig::default(), clk);
    let t = "openai/gpt-4o-mini";
    assert_eq!(b.state(t), BreakerState::Closed);

    for _ in 0..4 {
        fail(&b, t);
    }
    assert_eq!(
        b.state(t),
        BreakerState::Closed,
        "4 failures in a row is not 5"
    );
    fail(&b, t);
    let BreakerState::Open { .. } = b.state(t) else {
        panic!("5 consecutive failures open it: {:?}", b.state(t));
    };

    // Open: sheds load until the cooldown is over.
    let rej = b.allow(t).expect_err("open rejects");
    assert_eq!(rej.retry_after, Some(secs(30)));
    fake.advance(secs(29));
    assert!(b.allow(t).is_err());
    assert!(!b.is_available(t));

    // Half-open: one probe at a time.
    fake.advance(secs(1));
    assert_eq!(b.state(t), BreakerState::HalfOpen);
    let p1 = b.allow(t).expect("a probe goes through");
    assert!(p1.is_probe());
    assert!(b.allow(t).is_err(), "only one probe at a time");
    b.record(p1, Outcome::Success);
    assert_eq!(b.state(t), BreakerState::HalfOpen, "one success is not two");
    succeed(&b, t);
    assert_eq!(b.state(t), BreakerState::Closed);

    let snap = b.snapshot();
    assert_eq!(snap.len(), 1);
    assert_eq!(snap[0].target, t);
    assert_eq!(snap[0].counters.opened, 1);
    assert_eq!(snap[0].counters.failures, 5);
    assert_eq!(snap[0].counters.successes, 2);
    assert!(snap[0].counters.rejected >= 3);
}

#[test]
fn half_open_failure_reopens_with_doubled_cooldown() {
    let (fake, clk) = clock();
    let cfg = BreakerConfig {
        cooldown: secs(10),
        max_cooldown: secs(25),
        ..BreakerConfig::default()
    };
    let b = CircuitBreaker::new(cfg, clk);
    let t = "a/b";
    for _ in 0..5 {
        fail(&b, t);
    }
    fake.advance(secs(10));
    fail(&b, t); // the probe fails
    assert_eq!(
        b.allow(t).expect_err("reopened").retry_after,
        Some(secs(20)),
        "cooldown doubled"
    );
    fake.advance(secs(20));
    fail(&b, t);
    assert_eq!(
        b.allow(t).expect_err("reopened").retry_after,
        Some(secs(25)),
        "capped at max_cooldown"
    );
    fake.advance(secs(25));
    succeed(&b, t);
    succeed(&b, t);
    assert_eq!(b.state(t), BreakerState::Closed);
    // Closing resets the cooldown.
    for _ in 0..5 {
        fail(&b, t);
    }
    assert_eq!(b.allow(t).expect_err("open").retry_after, Some(secs(10)));
    let json = serde_json::to_value(b.snapshot()).unwrap();
    assert_eq!(json[0]["state"], "open");
    assert_eq!(json[0]["open_for_ms"], 10_000);
}

#[test]
fn ratio_trigger() {
    let (_fake, clk) = clock();
    let b = CircuitBreaker::new(BreakerConfig::default(), clk);
    let t = "x/y";
    // Alternating: never 5 in a row, but half of the outcomes fail.
    for i in 0..9 {
        if i % 2 == 0 {
            fail(&b, t);
        } else {
            succeed(&b, t);
        }
    }
    // 9 outcomes, 5 failures: over 50 %, but under the minimum of 10 outcomes.
    assert_eq!(b.state(t), BreakerState::Closed);
    succeed(&b, t); // 10 outcomes, 5 failures: the ratio is checked on a failure...
    assert_eq!(b.state(t), BreakerState::Closed);
    fail(&b, t); // ...as here: 11 outcomes, 6 failures
    assert!(
        matches!(b.state(t), BreakerState::Open { .. }),
        "{:?}",
        b.state(t)
    );
}

#[test]
fn ratio_below_threshold_stays_closed() {
    let (_fake, clk) = clock();
    let b = CircuitBreaker::new(BreakerConfig::default(), clk);
    let t = "x/y";
    // 1 failure in 3 over many outcomes: about 33 %.
    for i in 0..100 {
        if i % 3 == 0 {
            fail(&b, t);
        } else {
            succeed(&b, t);
        }
    }
    assert_eq!(b.state(t), BreakerState::Closed);
}

#[test]
fn stale_and_dropped_permits() {
    let (fake, clk) = clock();
    let b = CircuitBreaker::new(BreakerConfig::default(), clk);
    let t = "s/t";
    // A slow request let through while closed...
    let slow = b.allow(t).unwrap();
    for _ in 0..5 {
        fail(&b, t);
    }
    fake.advance(secs(30));
    // ...answers while half-open: it is not taken as a probe result.
    slow.record(Outcome::Success);
    assert_eq!(b.state(t), BreakerState::HalfOpen);
    // A probe dropped unrecorded (client went away) frees its slot.
    let probe = b.allow(t).unwrap();
    assert!(b.allow(t).is_err());
    drop(probe);
    let probe = b.allow(t).expect("slot freed");
    probe.record(Outcome::Neutral);
    assert_eq!(b.state(t), BreakerState::HalfOpen);
}

#[test]
fn neutral_outcomes_do_not_trip() {
    let (_fake, clk) = clock();
    let b = CircuitBreaker::new(BreakerConfig::default(), clk);
    for _ in 0..50 {
        b.allow("n/n").unwrap().record(Outcome::Neutral);
    }
    assert_eq!(b.state("n/n"), BreakerState::Closed);
}

// ---------------------------------------------------------------- balancer

fn targets<'a>(ids: &'a [&'a str], weights: &[u32]) -> Vec<TargetInfo<'a>> {
    ids.iter()
        .zip(weights)
        .map(|(id, w)| TargetInfo { id, weight: *w })
        .collect()
}

#[test]
fn weighted_distribution_within_tolerance() {
    let (_f, clk) = clock();
    let bal = Balancer::new(clk, None);
    let ids = ["a", "b", "c", "z"];
    let ts = targets(&ids, &[1, 3, 6, 0]);
    let mut rng = StdRng::seed_from_u64(7);
    let mut counts = [0usize; 4];
    let n = 10_000;
    for _ in 0..n {
        let order = bal.order_with(Strategy::Weighted, &ts, &mut rng);
        assert_eq!(order.len(), 4);
        assert_eq!(order[3], 3, "weight 0 only after every weighted target");
        counts[order[0]] += 1;
    }
    assert_eq!(counts[3], 0, "weight 0 never picked first");
    for (i, want) in [(0, 0.1), (1, 0.3), (2, 0.6)] {
        let got = counts[i] as f64 / n as f64;
        assert!((got - want).abs() < 0.02, "target {i}: {got} vs {want}");
    }
}

#[test]
fn all_zero_weights_are_uniform() {
    let (_f, clk) = clock();
    let bal = Balancer::new(clk, None);
    let ids = ["a", "b"];
    let ts = targets(&ids, &[0, 0]);
    let mut firsts = [0usize; 2];
    for _ in 0..2000 {
        firsts[bal.pick(Strategy::Weighted, &ts).unwrap()] += 1;
    }
    assert!(firsts[0] > 800 && firsts[1] > 800, "{firsts:?}");
}

#[test]
fn open_breaker_targets_go_last() {
    let (_f, clk) = clock();
    let breakers = Arc::new(CircuitBreaker::new(BreakerConfig::default(), clk.clone()));
    let bal = Balancer::new(clk, Some(breakers.clone()));
    for _ in 0..5 {
        fail(&breakers, "a");
    }
    let ids = ["a", "b", "c"];
    let ts = targets(&ids, &[100, 1, 1]);
    for strategy in [Strategy::Weighted, Strategy::Latency] {
        for _ in 0..200 {
            let order = bal.order(strategy, &ts);
            assert_eq!(order.len(), 3);
            assert_eq!(order[2], 0, "{strategy:?}: open target last");
        }
    }
    // Only open targets: still given, in order.
    let only = targets(&ids[..1], &[1]);
    assert_eq!(bal.order(Strategy::Weighted, &only), vec![0]);
}

#[test]
fn latency_prefers_the_faster_target_and_tries_unmeasured_first() {
    let (fake, clk) = clock();
    let bal = Balancer::new(clk, None);
    let ids = ["fast", "slow", "new"];
    let ts = targets(&ids, &[1, 1, 1]);
    for _ in 0..10 {
        bal.observe("fast", Duration::from_millis(100), true);
        bal.observe("slow", Duration::from_millis(900), true);
    }
    for _ in 0..100 {
        assert_eq!(bal.order(Strategy::Latency, &ts)[0], 2, "unmeasured first");
    }
    bal.observe("new", Duration::from_millis(500), true);
    let mut firsts = HashMap::new();
    for _ in 0..1000 {
        let order = bal.order(Strategy::Latency, &ts);
        *firsts.entry(order[0]).or_insert(0) += 1;
        assert_ne!(order[0], 1, "the slowest never wins a pair");
    }
    assert!(firsts.get(&0).copied().unwrap_or(0) > 600, "{firsts:?}");

    // Two targets: the faster always first.
    let two = targets(&ids[..2], &[1, 1]);
    for _ in 0..100 {
        assert_eq!(bal.order(Strategy::Latency, &two), vec![0, 1]);
    }
    // Failures make a fast target look slow.
    for _ in 0..5 {
        bal.observe("fast", Duration::from_millis(5), false);
    }
    assert_eq!(bal.order(Strategy::Latency, &two), vec![1, 0]);
    // A stale estimate counts as unmeasured again: re-measured first.
    fake.advance(Balancer::STALE_AFTER);
    bal.observe("slow", Duration::from_millis(900), true);
    assert_eq!(bal.order(Strategy::Latency, &two), vec![0, 1]);
    assert_eq!(bal.latency("fast"), None);
    assert_eq!(bal.latency_snapshot().len(), 3);
}

proptest! {
    #[test]
    fn order_is_a_permutation(weights in proptest::collection::vec(0u32..5, 0..8), latency in any::<bool>()) {
        let (_f, clk) = clock();
        let bal = Balancer::new(clk, None);
        let ids: Vec<String> = (0..weights.len()).map(|i| format!("t{i}")).collect();
        let ts: Vec<TargetInfo<'_>> = ids.iter().zip(&weights).map(|(id, w)| TargetInfo { id, weight: *w }).collect();
        for (i, id) in ids.iter().enumerate().step_by(2) {
            bal.observe(id, Duration::from_millis(10 * i as u64), true);
        }
        let strategy = if latency { Strategy::Latency } else { Strategy::Weighted };
        let mut order = bal.order(strategy, &ts);
        if weights.iter().any(|w| *w > 0)
            && let Some(first) = order.first()
        {
            prop_assert!(weights[*first] > 0);
        }
        order.sort_unstable();
        prop_assert_eq!(order, (0..weights.len()).collect::<Vec<_>>());
    }
}

// ---------------------------------------------------------------- keys

#[test]
fn keys_rotate() {
    let (_f, clk) = clock();
    let pool = KeyPool::new(clk);
    let picks: Vec<_> = (0..6).map(|_| pool.pick("openai", 3).unwrap()).collect();
    assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
    assert_eq!(pool.pick("none", 0), None);
    // Providers rotate independently.
    assert_eq!(pool.pick("other", 2), Some(0));
}

#[test]
fn dead_key_is_skipped_until_its_cooldown_and_alerts_once() {
    let (fake, clk) = clock();
    let pool = KeyPool::new(clk);
    let r = pool.report("openai", 1, KeyOutcome::dead(401));
    assert_eq!(
        r,
        Some(DeadKeyReport {
            first_time: true,
            key_index: 1,
            status: 401,
            cooldown: Duration::from_secs(3600)
        })
    );
    for _ in 0..10 {
        assert_ne!(pool.pick("openai", 3), Some(1));
    }
    let st = pool.status("openai");
    assert!(matches!(
        st[1].state,
        KeyState::Dead {
            status: 401,
            retry_in_ms: 3_600_000
        }
    ));
    let json = serde_json::to_value(&st).unwrap();
    assert_eq!(json[1]["state"], "dead");
    assert_eq!(json[0]["state"], "healthy");

    fake.advance(Duration::from_secs(3600));
    let picks: Vec<_> = (0..3).map(|_| pool.pick("openai", 3).unwrap()).collect();
    assert!(picks.contains(&1), "back after the cooldown: {picks:?}");
    // Still dead: no second alert for the same cause; a new cause alerts.
    assert!(
        !pool
            .report("openai", 1, KeyOutcome::dead(401))
            .unwrap()
            .first_time
    );
    assert!(
        pool.report("openai", 1, KeyOutcome::dead(402))
            .unwrap()
            .first_time
    );
    // Once it worked again, a new death alerts again.
    pool.report("openai", 1, KeyOutcome::Ok);
    assert!(
        pool.report("openai", 1, KeyOutcome::dead(401))
            .unwrap()
            .first_time
    );
    assert_eq!(pool.report("openai", 1, KeyOutcome::Transient), None);
}

#[test]
fn throttled_key_skipped_for_retry_after() {
    let (fake, clk) = clock();
    let pool = KeyPool::new(clk);
    pool.report(
        "p",
        0,
        KeyOutcome::Throttled {
            retry_after: Some(secs(7)),
        },
    );
    for _ in 0..5 {
        assert_eq!(pool.pick("p", 2), Some(1));
    }
    fake.advance(secs(6));
    assert_eq!(pool.pick("p", 2), Some(1));
    fake.advance(secs(1));
    let picks: Vec<_> = (0..2).map(|_| pool.pick("p", 2).unwrap()).collect();
    assert!(picks.contains(&0));

    // Every key cooling: none, and how long until one is back.
    pool.report("p", 0, KeyOutcome::Throttled { retry_after: None });
    pool.report(
        "p",
        1,
        KeyOutcome::Throttled {
            retry_after: Some(secs(60)),
        },
    );
    assert_eq!(pool.pick("p", 2), None);
    assert_eq!(
        pool.next_usable_in("p"),
        Some(tollgate_routing::DEFAULT_THROTTLE)
    );
    // A throttle does not shorten a dead key's cooldown.
    pool.report("q", 0, KeyOutcome::dead(403));
    pool.report(
        "q",
        0,
        KeyOutcome::Throttled {
            retry_after: Some(secs(1)),
        },
    );
    fake.advance(secs(2));
    assert_eq!(pool.pick("q", 1), None);
    pool.forget("q");
    assert_eq!(pool.pick("q", 1), Some(0));
}

#[test]
fn all_dead_tells_unpaid_from_throttled() {
    let (fake, clk) = clock();
    let pool = KeyPool::new(clk);
    assert_eq!(pool.all_dead("p"), None, "nothing known");
    pool.report("p", 0, KeyOutcome::dead(402));
    assert_eq!(pool.pick("p", 2), Some(1));
    assert_eq!(pool.all_dead("p"), None, "key 1 is usable");
    pool.report("p", 1, KeyOutcome::dead(401));
    assert_eq!(pool.pick("p", 2), None);
    assert_eq!(pool.all_dead("p"), Some(401));
    // One key throttled rather than dead: not "all dead".
    pool.report("q", 0, KeyOutcome::dead(402));
    pool.report("q", 1, KeyOutcome::Throttled { retry_after: None });
    assert_eq!(pool.pick("q", 2), None);
    assert_eq!(pool.all_dead("q"), None);
    // Cooled down: usable again, so no longer "all dead".
    fake.advance(Duration::from_secs(3600));
    assert_eq!(pool.all_dead("p"), None);
}

// ---------------------------------------------------------------- retry

#[test]
fn retry_respects_attempts_and_deadline() {
    let p = RetryPolicy::from(Retries {
        attempts: 3,
        backoff_ms: 100,
    });
    let long = secs(60);
    assert_eq!(p.next_delay(0, long), None);
    assert!(p.next_delay(1, long).is_some());
    assert!(p.next_delay(3, long).is_some());
    assert_eq!(p.next_delay(4, long), None);
    assert_eq!(
        p.next_delay(1, Duration::from_millis(10)),
        None,
        "deadline nearly gone"
    );
    assert_eq!(RetryPolicy::from_spec(None).next_delay(1, long), None);
    assert_eq!(p.ceiling(1), Duration::from_millis(100));
    assert_eq!(p.ceiling(3), Duration::from_millis(400));
    assert_eq!(p.ceiling(40), RetryPolicy::MAX_BACKOFF);
}

#[test]
fn retry_delays_are_jittered() {
    let p = RetryPolicy::from(Retries {
        attempts: 1,
        backoff_ms: 1000,
    });
    let delays: Vec<_> = (0..50)
        .map(|_| p.next_delay(1, secs(60)).unwrap())
        .collect();
    let distinct: std::collections::HashSet<_> = delays.iter().collect();
    assert!(distinct.len() > 40, "full jitter spreads the waits");
}

proptest! {
    #[test]
    fn retry_delays_bounded(attempts in 0u32..10, backoff_ms in 0u64..5_000, attempt in 0u32..12, left_ms in 0u64..20_000, seed in any::<u64>()) {
        let p = RetryPolicy::from(Retries { attempts, backoff_ms });
        let left = Duration::from_millis(left_ms);
        let mut rng = StdRng::seed_from_u64(seed);
        match p.next_delay_with(attempt, left, &mut rng) {
            None => prop_assert!(attempt == 0 || attempt > attempts || left < RetryPolicy::MIN_ATTEMPT_TIME),
            Some(d) => {
                prop_assert!(attempt >= 1 && attempt <= attempts);
                prop_assert!(d <= p.ceiling(attempt));
                prop_assert!(d <= RetryPolicy::MAX_BACKOFF);
                prop_assert!(d + RetryPolicy::MIN_ATTEMPT_TIME <= left);
            }
        }
    }
}

#[test]
fn shared_state_is_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<tollgate_routing::Routing>();
    check::<tollgate_routing::Permit>();
    let r = tollgate_routing::Routing::system();
    let id = tollgate_routing::target_id("openai", "gpt-4o-mini");
    assert_eq!(id, "openai/gpt-4o-mini");
    let ts = [TargetInfo { id: &id, weight: 1 }];
    assert_eq!(r.balancer.order(Strategy::Weighted, &ts), vec![0]);
    r.breakers.allow(&id).unwrap().record(Outcome::Success);
    assert_eq!(r.keys.pick("openai", 1), Some(0));
}
