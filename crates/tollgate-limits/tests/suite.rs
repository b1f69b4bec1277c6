//! ONE suite, run against both backends: every case below is generated twice, as
//! `local::<case>` (in-process, manual clock) and `redis::<case>` (Redis at
//! 127.0.0.1:6379, or $TOLLGATE_TEST_REDIS_URL; the Redis half fails when Redis is down).

// Test helpers outside #[test] fns are not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use common::{Harness, assert_close_below, eventually};
use rand::Rng;
use tollgate_limits::*;

fn rpm(scope: &str, n: u64) -> RateRule {
    RateRule {
        scope: scope.into(),
        requests_per_minute: Some(n),
        ..RateRule::default()
    }
}

fn tpm(scope: &str, n: u64) -> RateRule {
    RateRule {
        scope: scope.into(),
        tokens_per_minute: Some(n),
        ..RateRule::default()
    }
}

fn conc(scope: &str, n: u32) -> RateRule {
    RateRule {
        scope: scope.into(),
        concurrent: Some(n),
        ..RateRule::default()
    }
}

async fn admit(l: &Limiter, rules: &[RateRule], tokens: u64) -> Result<Admitted, AdmitError> {
    l.admit(&Admission {
        request_id: "req",
        rules,
        estimated_tokens: tokens,
    })
    .await
}

#[track_caller]
fn limited(r: Result<Admitted, AdmitError>) -> RateDenied {
    match r {
        Err(AdmitError::Limited(d)) => d,
        other => panic!("expected a rate limit, got {other:?}"),
    }
}

fn usd(scope: &str, micros: i64, period: Period) -> BudgetRule {
    BudgetRule {
        scope: scope.into(),
        limit: Amount::Usd(micros),
        period,
    }
}

async fn reserve(
    l: &Limiter,
    rules: &[BudgetRule],
    cost: i64,
    tokens: u64,
    credits_of: Option<&str>,
) -> Result<Reservation, ReserveError> {
    l.reserve(&Reserve {
        request_id: "req",
        rules,
        cost,
        tokens,
        credits_of,
    })
    .await
}

#[track_caller]
fn quota(r: Result<Reservation, ReserveError>) -> QuotaDenied {
    match r {
        Err(ReserveError::Denied(d)) => d,
        other => panic!("expected a 402 denial, got {other:?}"),
    }
}

async fn status(l: &Limiter, rule: &BudgetRule) -> BudgetStatus {
    l.budget_status(rule, Utc::now()).await.unwrap()
}

async fn status_at(h: &Harness, l: &Limiter, rule: &BudgetRule) -> BudgetStatus {
    l.budget_status(rule, h.now()).await.unwrap()
}

mod cases {
    use super::*;

    /// 60 rpm: a full minute's burst passes, the next is refused with the exact wait
    /// (one emission interval, 1 s), and passes once that wait is over.
    pub async fn rpm_limit_and_retry_after(h: &Harness) {
        let l = &h.limiter;
        let rules = [rpm("key:rpm", 60)];
        for i in 0..60u64 {
            let a = admit(l, &rules, 0).await.unwrap();
            let r = a.headers.unwrap().requests.unwrap();
            assert_eq!(r.limit, 60);
            assert!(
                r.remaining == 59 - i || (h.is_redis() && r.remaining == 60 - i),
                "remaining {} after {} requests",
                r.remaining,
                i + 1
            );
            assert!(a.headers.unwrap().tokens.is_none());
        }
        let d = limited(admit(l, &rules, 0).await);
        assert_eq!(d.kind, RateKind::Requests);
        assert_eq!(d.scope, "key:rpm");
        assert_eq!(d.limit, 60);
        assert_close_below(
            d.retry_after,
            Duration::from_secs(1),
            h.slack(),
            "retry_after",
        );
        assert_eq!(d.retry_after_secs(), 1);
        let hdr = d.headers.unwrap().requests.unwrap();
        assert_eq!(hdr.remaining, 0);
        assert_close_below(hdr.reset, Duration::from_secs(60), h.slack(), "reset");

        h.advance(d.retry_after).await;
        admit(l, &rules, 0)
            .await
            .expect("passes once retry_after has passed");
        let d = limited(admit(l, &rules, 0).await);
        assert_close_below(
            d.retry_after,
            Duration::from_secs(1),
            h.slack(),
            "retry_after",
        );
    }

    /// 1000 tpm (60 ms per token): the estimate is charged at admission, corrected by
    /// settle_tokens both ways; using more than estimated is debt that delays the next.
    pub async fn tpm_settle_correction_and_debt(h: &Harness) {
        let l = &h.limiter;
        let s = h.slack();
        let rules = [tpm("key:tpm", 1000)];
        let a1 = admit(l, &rules, 600).await.unwrap();
        let t = a1.headers.unwrap().tokens.unwrap();
        assert_eq!((t.limit, t.remaining), (1000, 400));
        assert_close_below(t.reset, Duration::from_secs(36), s, "reset");

        let d = limited(admit(l, &rules, 500).await);
        assert_eq!(d.kind, RateKind::Tokens);
        assert_eq!(d.limit, 1000);
        // 100 tokens short, 60 ms each.
        assert_close_below(d.retry_after, Duration::from_secs(6), s, "retry_after");

        // Used only 100: 500 come back.
        l.settle_tokens(&a1.permit, 100).await;
        let a2 = admit(l, &rules, 500).await.expect("room given back");
        let t = a2.headers.unwrap().tokens.unwrap();
        assert!(t.remaining == 400 || (h.is_redis() && t.remaining == 401));

        // Used 2000 instead of 500: the allowance is 126 s in debt.
        l.settle_tokens(&a2.permit, 2000).await;
        let d = limited(admit(l, &rules, 0).await);
        assert_close_below(d.retry_after, Duration::from_secs(66), s, "debt wait");
        assert_eq!(d.headers.unwrap().tokens.unwrap().remaining, 0);

        // A later count replaces the earlier one (not added to it).
        l.settle_tokens(&a2.permit, 500).await;
        admit(l, &rules, 100).await.expect("debt corrected");
        l.release(a1.permit).await;
        l.release(a2.permit).await;
    }

    /// Two slots: the third waits; release frees one, and so does dropping a permit.
    pub async fn concurrency_release_and_drop(h: &Harness) {
        let l = &h.limiter;
        let rules = [conc("key:conc", 2)];
        let a = admit(l, &rules, 0).await.unwrap();
        let b = admit(l, &rules, 0).await.unwrap();
        assert!(
            a.headers.is_none(),
            "no x-ratelimit headers for concurrency"
        );
        let d = limited(admit(l, &rules, 0).await);
        assert_eq!(d.kind, RateKind::Concurrency);
        assert_eq!(d.limit, 2);
        assert_eq!(d.retry_after_secs(), 1);

        l.release(a.permit).await;
        let c = admit(l, &rules, 0).await.expect("released slot");
        limited(admit(l, &rules, 0).await);

        drop(b.permit);
        let d = eventually("a dropped permit frees its slot", || async {
            admit(l, &rules, 0).await.ok()
        })
        .await;
        limited(admit(l, &rules, 0).await);
        l.release(c.permit).await;
        l.release(d.permit).await;
        let again = admit(l, &rules, 0).await.unwrap();
        let again2 = admit(l, &rules, 0).await.unwrap();
        l.release(again.permit).await;
        l.release(again2.permit).await;
    }

    /// A refusal by one rule takes nothing from the others.
    pub async fn all_or_nothing_admission(h: &Harness) {
        let l = &h.limiter;
        let wide = rpm("consumer:wide", 10);
        let narrow = rpm("key:narrow", 1);
        admit(l, &[wide.clone(), narrow.clone()], 0).await.unwrap();
        for _ in 0..5 {
            let d = limited(admit(l, &[wide.clone(), narrow.clone()], 0).await);
            assert_eq!(d.scope, "key:narrow");
        }
        // The five refusals did not charge `wide`: 9 of its 10 remain.
        for i in 0..9 {
            admit(l, std::slice::from_ref(&wide), 0)
                .await
                .unwrap_or_else(|e| panic!("request {i}: {e}"));
        }
        limited(admit(l, std::slice::from_ref(&wide), 0).await);

        // Nor does a refusal take a concurrency slot or tokens.
        let slot = RateRule {
            scope: "team:slot".into(),
            concurrent: Some(1),
            tokens_per_minute: Some(1000),
            ..RateRule::default()
        };
        let closed = rpm("model:closed", 0);
        let d = limited(admit(l, &[slot.clone(), closed], 1000).await);
        assert_eq!(d.scope, "model:closed");
        let a = admit(l, std::slice::from_ref(&slot), 1000)
            .await
            .expect("slot and tokens untouched");
        l.release(a.permit).await;

        // When several rules refuse, the longest wait is reported.
        let d = limited(admit(l, &[wide.clone(), rpm("model:closed", 0)], 0).await);
        assert_eq!(d.scope, "model:closed");
        assert_eq!(d.retry_after, Duration::from_secs(60));
    }

    /// Each header side comes from its rule with least remaining, not the smallest limit.
    pub async fn headers_pick_tightest_rule(h: &Harness) {
        let l = &h.limiter;
        let big = RateRule {
            scope: "consumer:big".into(),
            requests_per_minute: Some(20),
            tokens_per_minute: Some(100_000),
            concurrent: Some(10),
        };
        let small = RateRule {
            scope: "key:small".into(),
            requests_per_minute: Some(5),
            tokens_per_minute: Some(1000),
            concurrent: None,
        };
        let a = admit(l, &[big.clone(), small.clone()], 100).await.unwrap();
        let hd = a.headers.unwrap();
        let r = hd.requests.unwrap();
        assert_eq!((r.limit, r.remaining), (5, 4));
        assert_close_below(
            r.reset,
            Duration::from_secs(12),
            h.slack(),
            "requests reset",
        );
        let t = hd.tokens.unwrap();
        assert_eq!((t.limit, t.remaining), (1000, 900));
        l.release(a.permit).await;

        // Spend `big` down to 2 remaining requests: now it is the tightest although
        // its limit is larger.
        for _ in 0..17 {
            let a = admit(l, std::slice::from_ref(&big), 0).await.unwrap();
            l.release(a.permit).await;
        }
        let a = admit(l, &[big.clone(), small.clone()], 0).await.unwrap();
        let r = a.headers.unwrap().requests.unwrap();
        assert_eq!(r.limit, 20);
        assert!(
            r.remaining == 1 || (h.is_redis() && r.remaining == 2),
            "remaining {}",
            r.remaining
        );
        let pairs = a.headers.unwrap().to_pairs();
        let names: Vec<&str> = pairs.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "x-ratelimit-limit-requests",
                "x-ratelimit-remaining-requests",
                "x-ratelimit-reset-requests",
                "x-ratelimit-limit-tokens",
                "x-ratelimit-remaining-tokens",
                "x-ratelimit-reset-tokens"
            ]
        );
        assert_eq!(pairs[0].1, "20");
        l.release(a.permit).await;
    }

    /// USD budgets per calendar period: the window and resets_at are the calendar
    /// window of now; a request that does not fit is refused with the figures; on the
    /// manual clock, the budget is whole again at resets_at.
    pub async fn usd_budgets_per_period(h: &Harness) {
        let l = &h.limiter;
        for period in [
            Period::Daily,
            Period::Weekly,
            Period::Monthly,
            Period::Total,
        ] {
            let now = h.now();
            let (ws, we) = window(period, now);
            let rule = usd(&format!("consumer:{period:?}"), 1_000_000, period);
            let r1 = reserve(l, std::slice::from_ref(&rule), 600_000, 10, None)
                .await
                .unwrap();
            assert_eq!(r1.remaining_usd(), Some(400_000));
            let b = &r1.budgets()[0];
            assert_eq!((b.window_start, b.resets_at), (ws, we), "{period:?}");

            let d = quota(reserve(l, std::slice::from_ref(&rule), 500_000, 10, None).await);
            assert_eq!(d.kind, QuotaKind::Budget);
            assert_eq!(d.scope, rule.scope);
            assert_eq!(d.limit, Amount::Usd(1_000_000));
            assert_eq!(d.used, Spend::new(0, 0));
            assert_eq!(d.reserved, Spend::new(600_000, 10));
            assert_eq!(d.requested, Spend::new(500_000, 10));
            assert_eq!(d.period, period);
            assert_eq!(d.resets_at, we);
            assert_eq!(d.remaining(), 400_000);
            assert!(d.to_string().contains("max_tokens"));

            let s = l.settle(r1, Spend::new(450_000, 8)).await;
            assert!(s.thresholds.is_empty());
            let st = status_at(h, l, &rule).await;
            assert_eq!(st.used, Spend::new(450_000, 8));
            assert_eq!(st.reserved, Spend::default());
            assert_eq!((st.window_start, st.resets_at), (ws, we));
            assert_eq!(st.remaining(), 550_000);

            let r2 = reserve(l, std::slice::from_ref(&rule), 550_000, 1, None)
                .await
                .expect("exactly the remainder fits");
            l.settle(r2, Spend::default()).await; // the request failed: nothing spent

            if h.controls_time() {
                match we {
                    Some(end) => {
                        h.set_time(end - chrono::Duration::seconds(1));
                        quota(reserve(l, std::slice::from_ref(&rule), 600_000, 1, None).await);
                        h.set_time(end);
                        let r = reserve(l, std::slice::from_ref(&rule), 1_000_000, 1, None)
                            .await
                            .expect("a new window starts empty");
                        assert_eq!(r.budgets()[0].window_start, end);
                        l.settle(r, Spend::default()).await;
                    }
                    None => {
                        h.set_time(now + chrono::Duration::days(400));
                        let st = status_at(h, l, &rule).await;
                        assert_eq!(st.used.cost, 450_000, "total never resets");
                    }
                }
            }
        }
    }

    /// Token quotas compare tokens; a USD and a token cap on one scope are separate.
    pub async fn token_quota(h: &Harness) {
        let l = &h.limiter;
        let toks = BudgetRule {
            scope: "consumer:tok".into(),
            limit: Amount::Tokens(10_000),
            period: Period::Monthly,
        };
        let money = usd("consumer:tok", 1_000_000_000, Period::Monthly);
        let rules = [money.clone(), toks.clone()];
        let r = reserve(l, &rules, 1000, 6000, None).await.unwrap();
        assert_eq!(r.remaining_usd(), Some(1_000_000_000 - 1000));
        let d = quota(reserve(l, &rules, 1000, 5000, None).await);
        assert_eq!(d.kind, QuotaKind::TokenQuota);
        assert_eq!(d.limit, Amount::Tokens(10_000));
        assert_eq!(d.reserved.tokens, 6000);
        assert_eq!(d.remaining(), 4000);
        // Nothing of the refused request is held on the USD cap.
        assert_eq!(status_at(h, l, &money).await.reserved.cost, 1000);
        l.settle(r, Spend::new(900, 3000)).await;
        let r = reserve(l, &rules, 1000, 7000, None)
            .await
            .expect("3000 + 7000 is exactly the quota");
        l.settle(r, Spend::new(1000, 7000)).await;
        let st = status_at(h, l, &toks).await;
        assert_eq!(st.used.tokens, 10_000);
        assert_eq!(st.remaining(), 0);
        let from_spec = BudgetRule::from_spec(
            "consumer:x",
            &tollgate_core::spec::BudgetSpec {
                usd: Some(25.0),
                tokens: Some(5),
                period: Period::Monthly,
            },
        );
        assert_eq!(from_spec[0].limit, Amount::Usd(25_000_000));
        assert_eq!(from_spec[1].limit, Amount::Tokens(5));
    }

    /// Settle replaces the hold (even by more than it); a dropped reservation is
    /// released; settling to 0 (a failed request) spends nothing.
    pub async fn reserve_settle_and_drop_release(h: &Harness) {
        let l = &h.limiter;
        let rule = usd("key:drop", 1_000_000, Period::Daily);
        let r = reserve(l, std::slice::from_ref(&rule), 300_000, 0, None)
            .await
            .unwrap();
        assert!(r.is_enforced());
        assert_eq!(status_at(h, l, &rule).await.reserved.cost, 300_000);
        drop(r);
        eventually("a dropped reservation is released", || async {
            let s = status_at(h, l, &rule).await;
            (s.reserved == Spend::default()).then_some(())
        })
        .await;
        assert_eq!(status_at(h, l, &rule).await.used, Spend::default());

        let r = reserve(l, std::slice::from_ref(&rule), 100_000, 0, None)
            .await
            .unwrap();
        l.settle(r, Spend::new(250_000, 0)).await;
        let st = status_at(h, l, &rule).await;
        assert_eq!(
            st.used.cost, 250_000,
            "actual above the hold is recorded as is"
        );
        assert_eq!(st.reserved, Spend::default());

        let r = reserve(l, std::slice::from_ref(&rule), 100_000, 0, None)
            .await
            .unwrap();
        l.settle(r, Spend::default()).await;
        assert_eq!(status_at(h, l, &rule).await.used.cost, 250_000);

        // No rules and no credits: nothing to hold, nothing to settle.
        let r = reserve(l, &[], 5, 5, None).await.unwrap();
        assert!(!r.is_enforced());
        assert_eq!(l.settle(r, Spend::new(5, 5)).await, Settled::default());
    }

    /// Prepaid credits: seeded once, held by reservations, charged by settlements,
    /// topped up; unknown balances are an error, not a zero.
    pub async fn credits(h: &Harness) {
        let l = &h.limiter;
        let who = "consumer:cred";
        assert_eq!(l.credit_balance(who).await.unwrap(), None);
        match reserve(l, &[], 1, 0, Some(who)).await {
            Err(ReserveError::Backend(LimitError::CreditsNotSeeded(c))) => assert_eq!(c, who),
            other => panic!("expected CreditsNotSeeded, got {other:?}"),
        }
        assert!(matches!(
            l.add_credits(who, 5).await,
            Err(LimitError::CreditsNotSeeded(_))
        ));

        l.seed_credits(who, 1_000_000).await.unwrap();
        l.seed_credits(who, 5).await.unwrap();
        assert_eq!(l.credit_balance(who).await.unwrap(), Some(1_000_000));

        let r1 = reserve(l, &[], 600_000, 0, Some(who)).await.unwrap();
        assert_eq!(r1.credits_available(), Some(400_000));
        let d = quota(reserve(l, &[], 600_000, 0, Some(who)).await);
        assert_eq!(d.kind, QuotaKind::Credits);
        assert_eq!(d.scope, who);
        assert_eq!(d.balance, Some(1_000_000));
        assert_eq!(d.reserved.cost, 600_000);
        assert_eq!(d.resets_at, None);
        assert_eq!(d.remaining(), 400_000);

        // All or nothing across budgets and credits.
        let rule = usd("consumer:cred", 10_000_000, Period::Monthly);
        quota(reserve(l, std::slice::from_ref(&rule), 600_000, 0, Some(who)).await);
        assert_eq!(status_at(h, l, &rule).await.reserved, Spend::default());

        let s = l.settle(r1, Spend::new(500_000, 0)).await;
        assert_eq!(s.credit_balance, Some(500_000));
        assert_eq!(l.credit_balance(who).await.unwrap(), Some(500_000));
        assert_eq!(l.add_credits(who, 1_000_000).await.unwrap(), 1_500_000);
        assert_eq!(l.add_credits(who, -200_000).await.unwrap(), 1_300_000);

        let r = reserve(l, std::slice::from_ref(&rule), 1_300_000, 0, Some(who))
            .await
            .expect("the whole balance can be held");
        drop(r);
        eventually("dropped credit hold released", || async {
            reserve(l, &[], 1_300_000, 0, Some(who)).await.ok()
        })
        .await;
    }

    /// 50/80/100 % crossings are reported by the settlement that crosses them, once.
    pub async fn thresholds_reported_once(h: &Harness) {
        let l = &h.limiter;
        let rule = usd("team:thr", 1000, Period::Monthly);
        let rules = std::slice::from_ref(&rule);
        let mut seen = Vec::new();
        // The last one held 0 and spent 50: past 100 %, nothing new to report.
        for (held, spent) in [
            (400, 400),
            (200, 200),
            (300, 300),
            (100, 100),
            (0, 0),
            (0, 50),
        ] {
            let r = reserve(l, rules, held, 0, None).await.unwrap();
            let s = l.settle(r, Spend::new(spent, 0)).await;
            seen.push(s.thresholds.iter().map(|t| t.percent).collect::<Vec<_>>());
            if let Some(t) = s.thresholds.first() {
                assert_eq!(t.scope, "team:thr");
                assert_eq!(t.limit, Amount::Usd(1000));
                assert_eq!(t.period, Period::Monthly);
                assert_eq!(t.window_start, window(Period::Monthly, h.now()).0);
            }
        }
        assert_eq!(
            seen,
            [vec![], vec![50], vec![80], vec![100], vec![], vec![]]
        );

        // One settlement jumping several thresholds reports each of them.
        let rule = usd("team:jump", 1000, Period::Monthly);
        let r = reserve(l, std::slice::from_ref(&rule), 900, 0, None)
            .await
            .unwrap();
        let s = l.settle(r, Spend::new(1200, 0)).await;
        let p: Vec<u8> = s.thresholds.iter().map(|t| t.percent).collect();
        assert_eq!(p, [50, 80, 100]);
        assert_eq!(s.thresholds[2].used.cost, 1200);

        // Many concurrent settlements (on two nodes where there are two): each
        // threshold still reported exactly once.
        let other = h.second_node().await;
        let rule = usd("team:race", 6000, Period::Monthly);
        let mut tasks = Vec::new();
        for i in 0..60 {
            let l = if i % 2 == 0 { l.clone() } else { other.clone() };
            let rule = rule.clone();
            tasks.push(tokio::spawn(async move {
                let r = reserve(&l, std::slice::from_ref(&rule), 100, 0, None)
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
                l.settle(r, Spend::new(100, 0)).await.thresholds
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap().into_iter().map(|t| t.percent));
        }
        all.sort_unstable();
        assert_eq!(all, [50, 80, 100]);
    }

    /// The no-overspend property: 60 tasks (on two nodes where there are two) reserve
    /// and settle concurrently against one budget; with every actual at most its
    /// reservation, the settled spend never exceeds the limit, and the books balance.
    pub async fn parallel_reservations_never_overspend(h: &Harness) {
        let limit = 1_000_000i64;
        let rule = usd("consumer:race", limit, Period::Daily);
        let other = h.second_node().await;
        let spent = Arc::new(AtomicU64::new(0));
        let denials = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for i in 0..60 {
            let l = if i % 2 == 0 {
                h.limiter.clone()
            } else {
                other.clone()
            };
            let rule = rule.clone();
            let spent = spent.clone();
            let denials = denials.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..8 {
                    let (cost, wait) = {
                        let mut rng = rand::rng();
                        (
                            rng.random_range(20_000..=80_000i64),
                            rng.random_range(0..3u64),
                        )
                    };
                    match reserve(&l, std::slice::from_ref(&rule), cost, 0, None).await {
                        Ok(r) => {
                            for b in r.budgets() {
                                assert!(b.used.cost + b.reserved.cost <= limit);
                            }
                            tokio::time::sleep(Duration::from_millis(wait)).await;
                            let actual = rand::rng().random_range(0..=cost);
                            l.settle(r, Spend::new(actual, 0)).await;
                            spent.fetch_add(u64::try_from(actual).unwrap(), Ordering::Relaxed);
                        }
                        Err(ReserveError::Denied(d)) => {
                            assert!(d.used.cost + d.reserved.cost + cost > limit);
                            denials.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("backend error: {e}"),
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let st = status_at(h, &h.limiter, &rule).await;
        let spent = i64::try_from(spent.load(Ordering::Relaxed)).unwrap();
        assert_eq!(st.reserved, Spend::default(), "every hold settled");
        assert_eq!(st.used.cost, spent, "the books balance");
        assert!(
            st.used.cost <= limit,
            "overspent: {} > {limit}",
            st.used.cost
        );
        assert!(
            denials.load(Ordering::Relaxed) > 0 && st.used.cost > limit / 2,
            "the test must actually contend (used {}, denials {})",
            st.used.cost,
            denials.load(Ordering::Relaxed)
        );
    }

    /// The same property for prepaid credits: 60 concurrent tasks (two nodes where
    /// there are two) never take a balance below zero, and every charge is counted.
    pub async fn parallel_credits_never_go_negative(h: &Harness) {
        let who = "consumer:race-credits";
        let start = 700_000i64;
        h.limiter.seed_credits(who, start).await.unwrap();
        let other = h.second_node().await;
        let spent = Arc::new(AtomicU64::new(0));
        let denials = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for i in 0..60 {
            let l = if i % 2 == 0 {
                h.limiter.clone()
            } else {
                other.clone()
            };
            let (spent, denials) = (spent.clone(), denials.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..8 {
                    let cost = rand::rng().random_range(20_000..=80_000i64);
                    match reserve(&l, &[], cost, 0, Some(who)).await {
                        Ok(r) => {
                            assert!(r.credits_available().unwrap() >= 0);
                            tokio::task::yield_now().await;
                            let actual = rand::rng().random_range(0..=cost);
                            let s = l.settle(r, Spend::new(actual, 0)).await;
                            assert!(s.credit_balance.unwrap() >= 0);
                            spent.fetch_add(u64::try_from(actual).unwrap(), Ordering::Relaxed);
                        }
                        Err(ReserveError::Denied(d)) => {
                            assert_eq!(d.kind, QuotaKind::Credits);
                            denials.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("backend error: {e}"),
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let spent = i64::try_from(spent.load(Ordering::Relaxed)).unwrap();
        let balance = h.limiter.credit_balance(who).await.unwrap().unwrap();
        assert_eq!(balance, start - spent, "every charge counted once");
        assert!(balance >= 0, "credits overdrawn: {balance}");
        assert!(denials.load(Ordering::Relaxed) > 0, "the test must contend");
        // Nothing is left held: the whole balance can be reserved.
        let r = reserve(&h.limiter, &[], balance, 0, Some(who))
            .await
            .unwrap();
        assert_eq!(r.credits_available(), Some(0));
    }

    /// Two nodes on one backend share every counter exactly.
    pub async fn two_nodes_share_limits_and_budgets(h: &Harness) {
        let (a, b) = (&h.limiter, &h.second_node().await);
        let rules = [rpm("consumer:shared", 10)];
        for i in 0..10 {
            let node = if i % 2 == 0 { a } else { b };
            admit(node, &rules, 0).await.unwrap();
        }
        limited(admit(a, &rules, 0).await);
        limited(admit(b, &rules, 0).await);

        let slot = [conc("consumer:shared-slot", 1)];
        let p = admit(a, &slot, 0).await.unwrap();
        limited(admit(b, &slot, 0).await);
        a.release(p.permit).await;
        let p = admit(b, &slot, 0).await.unwrap();
        b.release(p.permit).await;

        let rule = usd("consumer:shared", 1_000_000, Period::Monthly);
        let r = reserve(a, std::slice::from_ref(&rule), 600_000, 0, None)
            .await
            .unwrap();
        let d = quota(reserve(b, std::slice::from_ref(&rule), 500_000, 0, None).await);
        assert_eq!(d.reserved.cost, 600_000);
        assert_eq!(status_at(h, b, &rule).await.reserved.cost, 600_000);
        a.settle(r, Spend::new(300_000, 0)).await;
        let r = reserve(b, std::slice::from_ref(&rule), 700_000, 0, None)
            .await
            .expect("room settled on the other node");
        b.settle(r, Spend::new(700_000, 0)).await;
        assert_eq!(status_at(h, a, &rule).await.used.cost, 1_000_000);

        a.seed_credits("consumer:two", 1000).await.unwrap();
        b.seed_credits("consumer:two", 5).await.unwrap();
        assert_eq!(b.credit_balance("consumer:two").await.unwrap(), Some(1000));
    }

    /// Seeding sets a window's usage only if the window is not known yet.
    pub async fn seed_budget_only_if_absent(h: &Harness) {
        let l = &h.limiter;
        let rule = usd("consumer:seeded", 1_000_000, Period::Monthly);
        let (ws, _) = window(Period::Monthly, h.now());
        l.seed_budget(&rule, ws, Spend::new(900_000, 42))
            .await
            .unwrap();
        l.seed_budget(&rule, ws, Spend::new(0, 0)).await.unwrap();
        let st = status_at(h, l, &rule).await;
        assert_eq!(st.used, Spend::new(900_000, 42));
        let d = quota(reserve(l, std::slice::from_ref(&rule), 200_000, 0, None).await);
        assert_eq!(d.used.cost, 900_000);
        // Any instant inside the window names the same window.
        let other = usd("consumer:seeded2", 1_000_000, Period::Monthly);
        l.seed_budget(&other, h.now(), Spend::new(7, 0))
            .await
            .unwrap();
        assert_eq!(status_at(h, l, &other).await.used.cost, 7);
        if h.is_redis() {
            // Server-time windows and node-side windows agree (same machine here).
            assert_eq!(status(l, &rule).await.window_start, ws);
        }
    }
}

/// The gateway awaits these inside axum handlers and spawned tasks: they must be Send.
#[allow(dead_code)]
fn futures_are_send(l: &Limiter, p: Permit, r: Reservation, rule: &BudgetRule) {
    fn send<T: Send>(_: T) {}
    let rules = [rpm("x", 1)];
    send(l.admit(&Admission {
        request_id: "r",
        rules: &rules,
        estimated_tokens: 0,
    }));
    send(l.settle_tokens(&p, 1));
    send(l.reserve(&Reserve {
        request_id: "r",
        rules: std::slice::from_ref(rule),
        cost: 0,
        tokens: 0,
        credits_of: None,
    }));
    send(l.settle(r, Spend::default()));
    send(l.release(p));
    send(l.budget_status(rule, Utc::now()));
    send(l.add_credits("c", 1));
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod local {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let h = Harness::local();
                    cases::$case(&h).await;
                }
            )*
        }
        mod redis {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let h = Harness::redis().await;
                    cases::$case(&h).await;
                }
            )*
        }
    };
}

suite!(
    rpm_limit_and_retry_after,
    tpm_settle_correction_and_debt,
    concurrency_release_and_drop,
    all_or_nothing_admission,
    headers_pick_tightest_rule,
    usd_budgets_per_period,
    token_quota,
    reserve_settle_and_drop_release,
    credits,
    thresholds_reported_once,
    parallel_reservations_never_overspend,
    parallel_credits_never_go_negative,
    two_nodes_share_limits_and_budgets,
    seed_budget_only_if_absent,
);
