//! One behaviour suite, run against SQLite (a file in a temp dir) and PostgreSQL
//! (`postgres://postgres@127.0.0.1:5432/test`, one fresh schema per test). PostgreSQL
//! being unreachable is a failure, not a skip.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::Row;
use tollgate_core::spec::{
    AlertSpec, BudgetSpec, ConsumerSpec, ModelSpec, Period, Price, ProviderKind, ProviderSpec,
    RateLimitSpec, Strategy, TargetSpec, TeamSpec,
};
use tollgate_store::{
    AlertStatus, Backend, CallRecord, KeyRecord, LedgerEntry, LedgerKind, NewAlertEvent,
    SecretCipher, Source, Store, StoreError, UsageScope, UsageTotals, config_key_id, new_key_id,
};

use tollgate_store::testing::TestDb;

tollgate_store::backend_suite!(
    migrations_are_idempotent,
    provider_crud,
    model_crud,
    team_crud,
    consumer_crud_keeps_no_keys_in_spec,
    alert_crud,
    provider_keys_are_encrypted_at_rest,
    alert_secrets_are_encrypted_at_rest,
    wrong_master_key_fails_cleanly,
    keys_insert_list_revoke_expiry,
    config_key_upsert_is_idempotent,
    users_and_passwords,
    sessions,
    revision_bumps_on_every_write,
    concurrent_writes,
    calls_insert_idempotent_batches,
    usage_sums_by_scope_and_time,
    ledger_append_list_balance,
    ledger_charges_once_per_request,
    ledger_rejects_wrong_signs,
    alert_events_claim_once,
    alert_events_concurrent_claims_across_stores,
    alert_event_attempts_and_leases,
    metering_writes_do_not_bump_the_revision,
);

// ---------------------------------------------------------------------------------
// Fixtures

fn openai() -> ProviderSpec {
    ProviderSpec {
        name: "openai".into(),
        kind: ProviderKind::Openai,
        base_url: Some("https://api.openai.com/v1".into()),
        api_keys: vec!["sk-live-AAAA1111".into(), "sk-live-BBBB2222".into()],
        api_version: None,
    }
}

fn model(name: &str) -> ModelSpec {
    ModelSpec {
        name: name.into(),
        targets: vec![TargetSpec {
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
            weight: 3,
            timeouts: None,
        }],
        fallbacks: vec!["claude-haiku".into()],
        strategy: Strategy::Latency,
        timeouts: None,
        retries: None,
        cache: None,
        max_output_tokens: Some(4096),
        price: Some(Price {
            input_per_mtok: 0.15,
            output_per_mtok: 0.6,
            ..Price::default()
        }),
        rate_limit: None,
        log_bodies: false,
    }
}

fn team(name: &str) -> TeamSpec {
    TeamSpec {
        name: name.into(),
        budget: Some(BudgetSpec {
            usd: Some(500.0),
            tokens: None,
            period: Period::Monthly,
        }),
        rate_limit: None,
    }
}

fn consumer(name: &str) -> ConsumerSpec {
    ConsumerSpec {
        name: name.into(),
        team: Some("platform".into()),
        api_keys: vec!["tg-team-a-key".into()],
        models: Some(vec!["gpt-4o-mini".into()]),
        rate_limit: Some(RateLimitSpec {
            requests_per_minute: Some(600),
            tokens_per_minute: Some(200_000),
            concurrent: Some(50),
        }),
        budget: Some(BudgetSpec {
            usd: Some(25.0),
            tokens: None,
            period: Period::Monthly,
        }),
        credits_usd: Some(10.0),
        log_bodies: false,
    }
}

fn alert(name: &str) -> AlertSpec {
    AlertSpec {
        name: name.into(),
        webhook: "https://hooks.example.com/tollgate".into(),
        secret: Some("whsec-TOPSECRET-42".into()),
    }
}

/// Millisecond precision, as stored.
fn ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).expect("in range")
}

fn key_record(consumer: &str, secret: &str) -> KeyRecord {
    KeyRecord {
        id: new_key_id(),
        consumer: consumer.into(),
        name: Some("ci".into()),
        hash: tollgate_core::keys::hash(secret),
        prefix: tollgate_core::keys::prefix(secret),
        models: Some(vec!["gpt-4o-mini".into(), "claude-haiku".into()]),
        expires_at: Some(ms(Utc::now() + chrono::Duration::days(30))),
        revoked_at: None,
        created_at: ms(Utc::now()),
        source: Source::Api,
        limits: Default::default(),
    }
}

async fn raw_resource(db: &TestDb, kind: &str, name: &str) -> (String, Option<String>) {
    let pool = db.raw().await;
    let row = sqlx::query("SELECT spec, secret FROM resources WHERE kind = $1 AND name = $2")
        .bind(kind)
        .bind(name)
        .fetch_one(&pool)
        .await
        .expect("raw row");
    let out = (
        row.try_get::<String, _>("spec").expect("spec"),
        row.try_get::<Option<String>, _>("secret").expect("secret"),
    );
    pool.close().await;
    out
}

// ---------------------------------------------------------------------------------
// Behaviours

async fn migrations_are_idempotent(db: &TestDb) {
    let a = db.connect().await;
    a.ping().await.expect("ping");
    a.upsert_team(&team("platform"), Source::Config)
        .await
        .expect("upsert");
    let rev = a.revision().await.expect("revision");

    // Connecting again re-runs the migrator over an up-to-date schema.
    let b = db.connect().await;
    b.ping().await.expect("ping");
    assert_eq!(b.revision().await.expect("revision"), rev);
    assert!(b.get_team("platform").await.expect("get").is_some());
    let c = db.connect().await;
    assert_eq!(c.list_teams().await.expect("list").len(), 1);

    if db.backend == Backend::Sqlite {
        let dir = db.dir().expect("dir");
        assert!(dir.join("nested/tollgate.db").is_file());
    }
}

async fn provider_crud(db: &TestDb) {
    let s = db.connect().await;
    assert!(s.list_providers().await.expect("list").is_empty());
    assert!(s.get_provider("openai").await.expect("get").is_none());

    let p = openai();
    s.upsert_provider(&p, Source::Config).await.expect("upsert");
    let got = s.get_provider("openai").await.expect("get").expect("some");
    assert_eq!(got.spec, p, "api keys come back decrypted");
    assert_eq!(got.source, Source::Config);
    assert_eq!(got.created_at, got.updated_at);

    // A keyless provider.
    let ollama = ProviderSpec {
        name: "local".into(),
        kind: ProviderKind::Ollama,
        base_url: None,
        api_keys: vec![],
        api_version: None,
    };
    s.upsert_provider(&ollama, Source::Api)
        .await
        .expect("upsert");
    assert_eq!(raw_resource(db, "provider", "local").await.1, None);

    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut changed = p.clone();
    changed.base_url = Some("https://proxy.internal/v1".into());
    changed.api_keys = vec!["sk-rotated-CCCC3333".into()];
    s.upsert_provider(&changed, Source::Api)
        .await
        .expect("replace");
    let again = s.get_provider("openai").await.expect("get").expect("some");
    assert_eq!(again.spec, changed);
    assert_eq!(again.source, Source::Api);
    assert_eq!(again.created_at, got.created_at, "created_at kept");
    assert!(again.updated_at > got.updated_at);

    let all = s.list_providers().await.expect("list");
    let names: Vec<_> = all.iter().map(|p| p.spec.name.as_str()).collect();
    assert_eq!(names, ["local", "openai"]);
    assert_eq!(all[0].spec, ollama);

    assert!(s.delete_provider("openai").await.expect("delete"));
    assert!(!s.delete_provider("openai").await.expect("delete again"));
    assert!(s.get_provider("openai").await.expect("get").is_none());
    assert_eq!(s.list_providers().await.expect("list").len(), 1);
}

async fn model_crud(db: &TestDb) {
    let s = db.connect().await;
    let m = model("gpt-4o-mini");
    s.upsert_model(&m, Source::Config).await.expect("upsert");
    s.upsert_model(&model("b-model"), Source::Api)
        .await
        .expect("upsert");
    let got = s
        .get_model("gpt-4o-mini")
        .await
        .expect("get")
        .expect("some");
    assert_eq!(got.spec, m);
    let mut changed = m.clone();
    changed.fallbacks.clear();
    changed.price = None;
    s.upsert_model(&changed, Source::Config)
        .await
        .expect("replace");
    assert_eq!(
        s.get_model("gpt-4o-mini")
            .await
            .expect("get")
            .expect("some")
            .spec,
        changed
    );
    let names: Vec<_> = s
        .list_models()
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.spec.name)
        .collect();
    assert_eq!(names, ["b-model", "gpt-4o-mini"]);
    assert!(s.delete_model("b-model").await.expect("delete"));
    assert!(!s.delete_model("b-model").await.expect("delete"));
    assert_eq!(s.list_models().await.expect("list").len(), 1);
    // Kinds do not collide: a team of the same name is a different resource.
    assert!(s.get_team("gpt-4o-mini").await.expect("get").is_none());
}

async fn team_crud(db: &TestDb) {
    let s = db.connect().await;
    let t = team("platform");
    s.upsert_team(&t, Source::Config).await.expect("upsert");
    assert_eq!(
        s.get_team("platform")
            .await
            .expect("get")
            .expect("some")
            .spec,
        t
    );
    let mut changed = t.clone();
    changed.budget = None;
    changed.rate_limit = Some(RateLimitSpec {
        requests_per_minute: Some(10),
        tokens_per_minute: None,
        concurrent: None,
    });
    s.upsert_team(&changed, Source::Api).await.expect("replace");
    let got = s.get_team("platform").await.expect("get").expect("some");
    assert_eq!(got.spec, changed);
    assert_eq!(got.source, Source::Api);
    assert_eq!(s.list_teams().await.expect("list").len(), 1);
    assert!(s.delete_team("platform").await.expect("delete"));
    assert!(s.list_teams().await.expect("list").is_empty());
}

async fn consumer_crud_keeps_no_keys_in_spec(db: &TestDb) {
    let s = db.connect().await;
    let c = consumer("team-a");
    s.upsert_consumer(&c, Source::Config).await.expect("upsert");
    let got = s.get_consumer("team-a").await.expect("get").expect("some");
    let mut expected = c.clone();
    expected.api_keys.clear();
    assert_eq!(
        got.spec, expected,
        "api_keys are not part of the stored spec"
    );
    let (spec, secret) = raw_resource(db, "consumer", "team-a").await;
    assert!(!spec.contains("tg-team-a-key"), "{spec}");
    assert_eq!(secret, None);

    let mut changed = expected.clone();
    changed.credits_usd = None;
    changed.models = None;
    s.upsert_consumer(&changed, Source::Api)
        .await
        .expect("replace");
    assert_eq!(
        s.get_consumer("team-a")
            .await
            .expect("get")
            .expect("some")
            .spec,
        changed
    );
    assert_eq!(s.list_consumers().await.expect("list").len(), 1);
    assert!(s.delete_consumer("team-a").await.expect("delete"));
    assert!(!s.delete_consumer("team-a").await.expect("delete"));
}

async fn alert_crud(db: &TestDb) {
    let s = db.connect().await;
    let a = alert("ops");
    s.upsert_alert(&a, Source::Config).await.expect("upsert");
    let no_secret = AlertSpec {
        name: "audit".into(),
        webhook: "https://audit.example.com".into(),
        secret: None,
    };
    s.upsert_alert(&no_secret, Source::Api)
        .await
        .expect("upsert");
    assert_eq!(
        s.get_alert("ops").await.expect("get").expect("some").spec,
        a
    );
    let list = s.list_alerts().await.expect("list");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].spec, no_secret);
    assert_eq!(list[1].spec, a);
    assert!(s.delete_alert("ops").await.expect("delete"));
    assert!(s.get_alert("ops").await.expect("get").is_none());
}

async fn provider_keys_are_encrypted_at_rest(db: &TestDb) {
    let s = db.connect().await;
    s.upsert_provider(&openai(), Source::Config)
        .await
        .expect("upsert");
    let (spec, secret) = raw_resource(db, "provider", "openai").await;
    let secret = secret.expect("secret column set");
    for clear in ["sk-live-AAAA1111", "sk-live-BBBB2222"] {
        assert!(!spec.contains(clear), "spec JSON holds no key: {spec}");
        assert!(!secret.contains(clear), "secret column is not clear text");
    }
    assert!(!spec.contains("api_keys"), "{spec}");
    assert!(secret.starts_with("v1:"), "{secret}");
    let plain = db
        .cipher()
        .decrypt(&secret)
        .expect("decrypts with the master key");
    let keys: Vec<String> = serde_json::from_slice(&plain).expect("json");
    assert_eq!(keys, ["sk-live-AAAA1111", "sk-live-BBBB2222"]);
}

async fn alert_secrets_are_encrypted_at_rest(db: &TestDb) {
    let s = db.connect().await;
    s.upsert_alert(&alert("ops"), Source::Config)
        .await
        .expect("upsert");
    let (spec, secret) = raw_resource(db, "alert", "ops").await;
    let secret = secret.expect("secret column set");
    assert!(!spec.contains("TOPSECRET"), "{spec}");
    assert!(!secret.contains("TOPSECRET"));
    assert_eq!(
        db.cipher().decrypt(&secret).expect("decrypts"),
        b"whsec-TOPSECRET-42"
    );
}

async fn wrong_master_key_fails_cleanly(db: &TestDb) {
    let s = db.connect().await;
    s.upsert_provider(&openai(), Source::Config)
        .await
        .expect("upsert");
    s.upsert_alert(&alert("ops"), Source::Config)
        .await
        .expect("upsert");
    s.upsert_team(&team("platform"), Source::Config)
        .await
        .expect("upsert");

    let wrong = Store::connect(&db.url, SecretCipher::new([0xEE; 32]))
        .await
        .expect("connect");
    assert!(matches!(
        wrong.get_provider("openai").await,
        Err(StoreError::Decrypt(_))
    ));
    assert!(matches!(
        wrong.list_providers().await,
        Err(StoreError::Decrypt(_))
    ));
    let err = wrong.get_alert("ops").await.expect_err("wrong key");
    assert!(matches!(err, StoreError::Decrypt(_)));
    assert!(err.to_string().contains("alert 'ops'"), "{err}");
    // What holds no secret is still readable.
    assert_eq!(wrong.list_teams().await.expect("teams").len(), 1);
}

async fn keys_insert_list_revoke_expiry(db: &TestDb) {
    let s = db.connect().await;
    let k = key_record("team-a", "tg-first-secret-key");
    s.insert_key(&k).await.expect("insert");
    assert_eq!(s.get_key(&k.id).await.expect("get"), Some(k.clone()));
    assert_eq!(
        s.get_key_by_hash(&k.hash).await.expect("by hash"),
        Some(k.clone())
    );
    assert!(k.is_active(Utc::now()));

    // Nullable fields stay null.
    let bare = KeyRecord {
        name: None,
        models: None,
        expires_at: None,
        created_at: ms(Utc::now() + chrono::Duration::seconds(1)),
        ..key_record("team-a", "tg-second-secret-key")
    };
    s.insert_key(&bare).await.expect("insert");
    assert_eq!(s.get_key(&bare.id).await.expect("get"), Some(bare.clone()));

    let expired = KeyRecord {
        expires_at: Some(
            Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
                .single()
                .expect("date"),
        ),
        created_at: ms(Utc::now() + chrono::Duration::seconds(2)),
        ..key_record("team-b", "tg-expired-key")
    };
    s.insert_key(&expired).await.expect("insert");
    let got = s.get_key(&expired.id).await.expect("get").expect("some");
    assert_eq!(got.expires_at, expired.expires_at);
    assert!(!got.is_active(Utc::now()));

    // Duplicate id or duplicate hash.
    assert!(matches!(
        s.insert_key(&k).await,
        Err(StoreError::Conflict(_))
    ));
    let same_hash = KeyRecord {
        id: new_key_id(),
        ..k.clone()
    };
    assert!(matches!(
        s.insert_key(&same_hash).await,
        Err(StoreError::Conflict(_))
    ));

    let a = s.list_keys(Some("team-a")).await.expect("list");
    assert_eq!(a, vec![k.clone(), bare.clone()]);
    assert_eq!(s.list_keys(None).await.expect("list all").len(), 3);
    assert!(s.list_keys(Some("nobody")).await.expect("list").is_empty());

    // Revocation: idempotent, keeps the first time; unknown id is false.
    let t1 = ms(Utc::now());
    assert!(s.revoke_key(&k.id, t1).await.expect("revoke"));
    let revoked = s.get_key(&k.id).await.expect("get").expect("some");
    assert_eq!(revoked.revoked_at, Some(t1));
    assert!(!revoked.is_active(Utc::now()));
    assert!(
        s.revoke_key(&k.id, t1 + chrono::Duration::hours(1))
            .await
            .expect("revoke again")
    );
    assert_eq!(
        s.get_key(&k.id)
            .await
            .expect("get")
            .expect("some")
            .revoked_at,
        Some(t1)
    );
    assert!(!s.revoke_key("key_unknown", t1).await.expect("unknown"));
    assert!(s.get_key("key_unknown").await.expect("get").is_none());

    assert_eq!(
        s.delete_keys_of_consumer("team-a").await.expect("delete"),
        2
    );
    assert_eq!(
        s.delete_keys_of_consumer("team-a").await.expect("delete"),
        0
    );
    assert_eq!(s.list_keys(None).await.expect("list"), vec![got]);
}

async fn config_key_upsert_is_idempotent(db: &TestDb) {
    let s = db.connect().await;
    let secret = "tg-team-a-key";
    let first = s.upsert_config_key("team-a", secret).await.expect("upsert");
    assert_eq!(first.hash, tollgate_core::keys::hash(secret));
    assert_eq!(first.prefix, tollgate_core::keys::prefix(secret));
    assert_eq!(first.id, config_key_id(&first.hash));
    assert_eq!(first.source, Source::Config);
    assert_eq!(first.consumer, "team-a");
    assert!(first.revoked_at.is_none() && first.expires_at.is_none());

    let second = s.upsert_config_key("team-a", secret).await.expect("again");
    assert_eq!(second, first);
    assert_eq!(s.list_keys(None).await.expect("list"), vec![first.clone()]);

    // The secret itself is nowhere in the table.
    let pool = db.raw().await;
    let rows = sqlx::query("SELECT id, hash, prefix FROM consumer_keys")
        .fetch_all(&pool)
        .await
        .expect("raw");
    for row in rows {
        for col in ["id", "hash", "prefix"] {
            let v: String = row.try_get(col).expect("col");
            assert_ne!(v, secret);
        }
    }
    pool.close().await;

    // A revocation made through the API survives re-applying the config.
    assert!(s.revoke_key(&first.id, Utc::now()).await.expect("revoke"));
    let third = s.upsert_config_key("team-a", secret).await.expect("again");
    assert_eq!(third.id, first.id);
    assert!(third.revoked_at.is_some());

    // Moving the key to another consumer in the config moves it.
    let moved = s.upsert_config_key("team-b", secret).await.expect("move");
    assert_eq!(moved.id, first.id);
    assert_eq!(moved.consumer, "team-b");

    // Pruning keys the config no longer declares leaves API keys alone.
    let other = s
        .upsert_config_key("team-b", "tg-other-key")
        .await
        .expect("upsert");
    let api = key_record("team-b", "tg-api-made-key");
    s.insert_key(&api).await.expect("insert");
    assert_eq!(
        s.delete_config_keys_except("team-b", std::slice::from_ref(&other.id))
            .await
            .expect("prune"),
        1
    );
    let left: Vec<_> = s
        .list_keys(Some("team-b"))
        .await
        .expect("list")
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&other.id) && left.contains(&api.id));
}

async fn users_and_passwords(db: &TestDb) {
    let s = db.connect().await;
    assert_eq!(s.user_count().await.expect("count"), 0);
    s.create_user("admin", "correct horse battery staple", "admin")
        .await
        .expect("create");
    assert_eq!(s.user_count().await.expect("count"), 1);

    let u = s
        .verify_user("admin", "correct horse battery staple")
        .await
        .expect("verify")
        .expect("right password");
    assert_eq!(u.username, "admin");
    assert_eq!(u.role, "admin");
    assert!(
        s.verify_user("admin", "wrong")
            .await
            .expect("verify")
            .is_none()
    );
    assert!(
        s.verify_user("nobody", "x")
            .await
            .expect("verify")
            .is_none()
    );

    // Stored as argon2id, not in clear.
    let pool = db.raw().await;
    let row = sqlx::query("SELECT password_hash FROM users WHERE username = $1")
        .bind("admin")
        .fetch_one(&pool)
        .await
        .expect("raw");
    let stored: String = row.try_get(0).expect("hash");
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!stored.contains("correct horse"));
    pool.close().await;

    assert!(matches!(
        s.create_user("admin", "other", "viewer").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.create_user("", "pw", "viewer").await,
        Err(StoreError::InvalidInput(_))
    ));

    assert!(
        s.set_user_password("admin", "new-password")
            .await
            .expect("set")
    );
    assert!(!s.set_user_password("nobody", "pw").await.expect("set"));
    assert!(
        s.verify_user("admin", "correct horse battery staple")
            .await
            .expect("verify")
            .is_none()
    );
    assert!(
        s.verify_user("admin", "new-password")
            .await
            .expect("verify")
            .is_some()
    );
}

async fn sessions(db: &TestDb) {
    let s = db.connect().await;
    s.create_user("ops", "pw-ops-1", "viewer")
        .await
        .expect("user");
    let token = s
        .create_session("ops", Duration::from_secs(3600))
        .await
        .expect("session");
    assert!(token.len() >= 43);
    let u = s
        .session_user(&token)
        .await
        .expect("lookup")
        .expect("valid");
    assert_eq!(u.username, "ops");
    assert_eq!(u.role, "viewer");

    let other = s
        .create_session("ops", Duration::from_secs(3600))
        .await
        .expect("session");
    assert_ne!(other, token);

    assert!(
        s.session_user("not-a-token")
            .await
            .expect("lookup")
            .is_none()
    );
    let expired = s
        .create_session("ops", Duration::ZERO)
        .await
        .expect("session");
    assert!(s.session_user(&expired).await.expect("lookup").is_none());
    let short = s
        .create_session("ops", Duration::from_millis(30))
        .await
        .expect("session");
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(s.session_user(&short).await.expect("lookup").is_none());

    assert!(matches!(
        s.create_session("nobody", Duration::from_secs(60)).await,
        Err(StoreError::NotFound(_))
    ));

    // Only the token's hash is stored.
    let pool = db.raw().await;
    let rows = sqlx::query("SELECT token_hash FROM sessions")
        .fetch_all(&pool)
        .await
        .expect("raw");
    assert!(!rows.is_empty());
    for row in rows {
        let h: String = row.try_get(0).expect("hash");
        assert_ne!(h, token);
        assert_eq!(h.len(), 64);
    }
    pool.close().await;

    assert!(s.delete_session(&token).await.expect("logout"));
    assert!(!s.delete_session(&token).await.expect("logout again"));
    assert!(s.session_user(&token).await.expect("lookup").is_none());
    assert!(s.session_user(&other).await.expect("lookup").is_some());

    // A new password ends existing sessions.
    assert!(s.set_user_password("ops", "pw-ops-2").await.expect("set"));
    assert!(s.session_user(&other).await.expect("lookup").is_none());
}

async fn revision_bumps_on_every_write(db: &TestDb) {
    let s = db.connect().await;
    let mut last = s.revision().await.expect("revision");

    macro_rules! bumps {
        ($what:literal, $e:expr) => {{
            let out = $e.await.expect($what);
            let now = s.revision().await.expect("revision");
            assert!(
                now > last,
                "{} did not bump the revision ({} -> {})",
                $what,
                last,
                now
            );
            last = now;
            out
        }};
    }
    macro_rules! no_bump {
        ($what:literal, $e:expr) => {{
            let out = $e.await.expect($what);
            assert_eq!(
                s.revision().await.expect("revision"),
                last,
                "{} bumped",
                $what
            );
            out
        }};
    }

    bumps!(
        "upsert_provider",
        s.upsert_provider(&openai(), Source::Config)
    );
    bumps!("upsert_model", s.upsert_model(&model("m"), Source::Config));
    bumps!("upsert_team", s.upsert_team(&team("t"), Source::Config));
    bumps!(
        "upsert_consumer",
        s.upsert_consumer(&consumer("c"), Source::Config)
    );
    bumps!("upsert_alert", s.upsert_alert(&alert("a"), Source::Config));
    bumps!("upsert again", s.upsert_team(&team("t"), Source::Api));
    let k = key_record("c", "tg-rev-key");
    bumps!("insert_key", s.insert_key(&k));
    let ck = bumps!(
        "upsert_config_key",
        s.upsert_config_key("c", "tg-rev-config")
    );
    bumps!("revoke_key", s.revoke_key(&k.id, Utc::now()));
    bumps!("create_user", s.create_user("u", "pw", "admin"));
    bumps!("set_user_password", s.set_user_password("u", "pw2"));
    let tok = bumps!(
        "create_session",
        s.create_session("u", Duration::from_secs(60))
    );
    bumps!("delete_session", s.delete_session(&tok));
    bumps!(
        "delete_config_keys_except",
        s.delete_config_keys_except("c", &[])
    );
    assert!(s.get_key(&ck.id).await.expect("get").is_none());
    bumps!("delete_keys_of_consumer", s.delete_keys_of_consumer("c"));
    bumps!("delete_provider", s.delete_provider("openai"));
    bumps!("delete_model", s.delete_model("m"));
    bumps!("delete_team", s.delete_team("t"));
    bumps!("delete_consumer", s.delete_consumer("c"));
    bumps!("delete_alert", s.delete_alert("a"));

    // Reads and writes that change nothing leave it alone.
    no_bump!("list", s.list_providers());
    no_bump!("get", s.get_model("m"));
    no_bump!("list_keys", s.list_keys(None));
    no_bump!("verify_user", s.verify_user("u", "pw2"));
    no_bump!("delete unknown", s.delete_team("nope"));
    no_bump!("revoke unknown", s.revoke_key("nope", Utc::now()));
    no_bump!("revoke again", s.revoke_key(&k.id, Utc::now()));
    no_bump!("delete no keys", s.delete_keys_of_consumer("nope"));
    assert!(
        s.create_session("nobody", Duration::from_secs(1))
            .await
            .is_err()
    );
    assert_eq!(s.revision().await.expect("revision"), last);

    // Another Store on the same database sees the same counter.
    let other = db.connect().await;
    assert_eq!(other.revision().await.expect("revision"), last);
    other
        .upsert_team(&team("x"), Source::Api)
        .await
        .expect("upsert");
    assert_eq!(s.revision().await.expect("revision"), last + 1);
}

async fn concurrent_writes(db: &TestDb) {
    let s = db.connect().await;
    let before = s.revision().await.expect("revision");
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.upsert_team(&team(&format!("team-{i:02}")), Source::Api)
                .await?;
            s.insert_key(&key_record("c", &format!("tg-concurrent-{i}")))
                .await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("write");
    }
    assert_eq!(s.list_teams().await.expect("list").len(), 16);
    assert_eq!(s.list_keys(Some("c")).await.expect("list").len(), 16);
    assert_eq!(s.revision().await.expect("revision"), before + 32);
}

// ---------------------------------------------------------------------------------
// Metering: calls, credits ledger, alert deliveries

fn call(request_id: &str, consumer: &str, at: DateTime<Utc>) -> CallRecord {
    CallRecord {
        request_id: request_id.into(),
        at: ms(at),
        consumer: Some(consumer.into()),
        key_id: Some(format!("key_{consumer}")),
        team: Some("platform".into()),
        door: "openai".into(),
        model: Some("gpt-4o-mini".into()),
        provider: Some("openai".into()),
        target_model: Some("gpt-4o-mini-2024-07-18".into()),
        status: 200,
        input_tokens: 100,
        output_tokens: 50,
        cost_micros: 45,
        latency_ms: 812,
        ttft_ms: Some(120),
        steps: serde_json::json!([]).into(),
        ..CallRecord::default()
    }
}

fn new_alert_event(id: &str, threshold: Option<u8>) -> NewAlertEvent {
    let now = ms(Utc::now());
    NewAlertEvent {
        id: id.into(),
        alert: "ops".into(),
        kind: "budget.threshold".into(),
        scope: "consumer:team-a".into(),
        period_key: "2026-11".into(),
        threshold_percent: threshold,
        payload: format!(r#"{{"id":"{id}","type":"budget.threshold"}}"#),
        created_at: now,
        lease_owner: "node-a".into(),
        lease_until: now + chrono::Duration::seconds(30),
    }
}

async fn calls_insert_idempotent_batches(db: &TestDb) {
    let s = db.connect().await;
    assert_eq!(s.insert_calls(&[]).await.expect("empty"), 0);
    let t0 = Utc::now();
    let mut first = call("req-1", "team-a", t0);
    first.team = None;
    first.provider = None;
    first.status = 402;
    first.cost_micros = 0;
    first.cache = Some("hit".into());
    first.error_code = Some("budget_exceeded".into());
    first.ttft_ms = None;
    first.input_tokens = u64::from(u32::MAX) * 4;
    let second = call("req-2", "team-a", t0);
    assert_eq!(
        s.insert_calls(&[first.clone(), second.clone()])
            .await
            .expect("insert"),
        2
    );
    assert_eq!(s.get_call("req-1").await.expect("get"), Some(first.clone()));
    assert_eq!(
        s.get_call("req-2").await.expect("get"),
        Some(second.clone())
    );
    assert_eq!(s.get_call("nope").await.expect("get"), None);

    // Re-sending a batch (a retried flush) records nothing twice; a duplicate inside
    // one batch is skipped too.
    let third = call("req-3", "team-a", t0);
    let mut changed = second.clone();
    changed.cost_micros = 999;
    assert_eq!(
        s.insert_calls(&[changed, third.clone(), third.clone(), first.clone()])
            .await
            .expect("insert"),
        1
    );
    assert_eq!(
        s.get_call("req-2")
            .await
            .expect("get")
            .expect("some")
            .cost_micros,
        45,
        "the first record stands"
    );

    // A large batch spans several statements, in one transaction.
    let many: Vec<_> = (0..300)
        .map(|i| call(&format!("bulk-{i:03}"), "team-b", t0))
        .collect();
    assert_eq!(s.insert_calls(&many).await.expect("bulk"), 300);
    assert_eq!(s.insert_calls(&many).await.expect("bulk again"), 0);
    let totals = s
        .usage_since(
            &UsageScope::Consumer("team-b".into()),
            t0 - chrono::Duration::hours(1),
        )
        .await
        .expect("usage");
    assert_eq!(totals.requests, 300);

    // A batch with an invalid record is rejected whole.
    let bad = call("", "team-a", t0);
    assert!(matches!(
        s.insert_calls(&[call("req-4", "team-a", t0), bad]).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert_eq!(s.get_call("req-4").await.expect("get"), None);
}

async fn usage_sums_by_scope_and_time(db: &TestDb) {
    let s = db.connect().await;
    let month = Utc
        .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .expect("date");
    let before = month - chrono::Duration::milliseconds(1);
    let mut calls = vec![
        call("a-old", "team-a", before),
        call("a-1", "team-a", month),
        call("a-2", "team-a", month + chrono::Duration::days(3)),
        call("b-1", "team-b", month + chrono::Duration::days(1)),
    ];
    calls[2].input_tokens = 1_000;
    calls[2].output_tokens = 7;
    calls[2].cost_micros = 1_234_567;
    calls[2].key_id = Some("key_other".into());
    calls[2].cache_read_tokens = 300;
    calls[2].cache_write_tokens = 20;
    calls[2].reasoning_tokens = 5;
    calls[3].team = Some("research".into());
    s.insert_calls(&calls).await.expect("insert");

    let a = s
        .usage_since(&UsageScope::Consumer("team-a".into()), month)
        .await
        .expect("usage");
    assert_eq!(
        a,
        UsageTotals {
            requests: 2,
            input_tokens: 1_420,
            output_tokens: 57,
            cache_read_tokens: 300,
            cache_write_tokens: 20,
            reasoning_tokens: 5,
            cost_micros: 1_234_612,
        }
    );
    let all_a = s
        .usage_since(&UsageScope::Consumer("team-a".into()), before)
        .await
        .expect("usage");
    assert_eq!(all_a.requests, 3, "the bound is inclusive");
    let team = s
        .usage_since(&UsageScope::Team("platform".into()), month)
        .await
        .expect("usage");
    assert_eq!(team.requests, 2);
    let research = s
        .usage_since(&UsageScope::Team("research".into()), month)
        .await
        .expect("usage");
    assert_eq!(research.requests, 1);
    assert_eq!(research.cost_micros, 45);
    let key = s
        .usage_since(&UsageScope::Key("key_team-a".into()), before)
        .await
        .expect("usage");
    assert_eq!(key.requests, 2);
    assert_eq!(key.cost_micros, 90);
    let none = s
        .usage_since(&UsageScope::Consumer("nobody".into()), before)
        .await
        .expect("usage");
    assert_eq!(none, UsageTotals::default());
}

async fn ledger_append_list_balance(db: &TestDb) {
    let s = db.connect().await;
    assert_eq!(s.credit_balance("team-a").await.expect("balance"), 0);
    assert!(
        s.list_ledger("team-a", 10, None)
            .await
            .expect("list")
            .is_empty()
    );

    let mut topup = LedgerEntry::new("team-a", LedgerKind::Topup, 10_000_000, "PO 4711", "admin");
    topup.at = ms(topup.at);
    let topup = s.append_ledger(&topup).await.expect("topup");
    assert!(topup.id > 0);
    let got = s.list_ledger("team-a", 10, None).await.expect("list");
    assert_eq!(got, vec![topup.clone()], "round-trips every field");

    let charge = s
        .append_ledger(&LedgerEntry::charge("team-a", "req-1", 1_500))
        .await
        .expect("charge");
    assert_eq!(charge.amount_micros, -1_500);
    assert_eq!(charge.kind, LedgerKind::Charge);
    assert_eq!(charge.actor, "gateway");
    let refund = s
        .append_ledger(&LedgerEntry {
            request_id: Some("req-1".into()),
            ..LedgerEntry::new(
                "team-a",
                LedgerKind::Refund,
                1_500,
                "upstream failed",
                "alice",
            )
        })
        .await
        .expect("refund");
    let adj = s
        .append_ledger(&LedgerEntry::new(
            "team-a",
            LedgerKind::Adjustment,
            -250_000,
            "goodwill reversal",
            "alice",
        ))
        .await
        .expect("adjustment");
    s.append_ledger(&LedgerEntry::new(
        "team-b",
        LedgerKind::Topup,
        5,
        "other",
        "admin",
    ))
    .await
    .expect("other consumer");
    assert!(topup.id < charge.id && charge.id < refund.id && refund.id < adj.id);
    assert_eq!(
        s.credit_balance("team-a").await.expect("balance"),
        10_000_000 - 1_500 + 1_500 - 250_000
    );
    assert_eq!(
        s.credit_balances().await.expect("balances"),
        vec![("team-a".to_string(), 9_750_000), ("team-b".to_string(), 5)]
    );

    // Newest first, paged by id.
    let page1 = s.list_ledger("team-a", 2, None).await.expect("page");
    let ids: Vec<_> = page1.iter().map(|e| e.id).collect();
    assert_eq!(ids, [adj.id, refund.id]);
    let page2 = s
        .list_ledger("team-a", 2, Some(refund.id))
        .await
        .expect("page");
    let ids: Vec<_> = page2.iter().map(|e| e.id).collect();
    assert_eq!(ids, [charge.id, topup.id]);
    assert!(
        s.list_ledger("team-a", 2, Some(topup.id))
            .await
            .expect("page")
            .is_empty()
    );
    assert_eq!(page1[0].reason, "goodwill reversal");
    assert_eq!(page1[1].request_id.as_deref(), Some("req-1"));

    // Gateway charges in a batch.
    let batch: Vec<_> = (0..200)
        .map(|i| LedgerEntry::charge("team-a", format!("batch-{i}"), 10))
        .collect();
    assert_eq!(s.append_ledger_batch(&batch).await.expect("batch"), 200);
    assert_eq!(
        s.credit_balance("team-a").await.expect("balance"),
        9_750_000 - 2_000
    );
    assert_eq!(s.append_ledger_batch(&[]).await.expect("empty"), 0);
}

async fn ledger_charges_once_per_request(db: &TestDb) {
    let s = db.connect().await;
    s.append_ledger(&LedgerEntry::new(
        "c",
        LedgerKind::Topup,
        1_000_000,
        "",
        "admin",
    ))
    .await
    .expect("topup");
    let first = s
        .append_ledger(&LedgerEntry::charge("c", "req-9", 300))
        .await
        .expect("charge");
    // The same charge again (a retried flush) is not recorded twice.
    let again = s
        .append_ledger(&LedgerEntry::charge("c", "req-9", 300))
        .await
        .expect("charge again");
    assert_eq!(again.id, first.id);
    let batch = vec![
        LedgerEntry::charge("c", "req-9", 300),
        LedgerEntry::charge("c", "req-10", 100),
        LedgerEntry::charge("c", "req-10", 100),
        LedgerEntry::charge("c", "req-11", 50),
    ];
    assert_eq!(s.append_ledger_batch(&batch).await.expect("batch"), 2);
    assert_eq!(
        s.credit_balance("c").await.expect("balance"),
        1_000_000 - 300 - 100 - 50
    );
    // Several refunds or adjustments may name the same request.
    for _ in 0..2 {
        s.append_ledger(&LedgerEntry {
            request_id: Some("req-9".into()),
            ..LedgerEntry::new("c", LedgerKind::Refund, 100, "partial", "admin")
        })
        .await
        .expect("refund");
    }
    assert_eq!(
        s.credit_balance("c").await.expect("balance"),
        1_000_000 - 300 - 100 - 50 + 200
    );
    assert_eq!(s.list_ledger("c", 100, None).await.expect("list").len(), 6);
}

async fn ledger_rejects_wrong_signs(db: &TestDb) {
    let s = db.connect().await;
    let cases = [
        LedgerEntry::new("c", LedgerKind::Topup, 0, "", "admin"),
        LedgerEntry::new("c", LedgerKind::Topup, -5, "", "admin"),
        LedgerEntry::new("c", LedgerKind::Refund, -5, "", "admin"),
        LedgerEntry::new("c", LedgerKind::Charge, 5, "", "gateway"),
        LedgerEntry::new("c", LedgerKind::Adjustment, 0, "", "admin"),
        LedgerEntry::new("", LedgerKind::Topup, 5, "", "admin"),
        LedgerEntry::new("c", LedgerKind::Topup, 5, "", ""),
    ];
    for e in &cases {
        assert!(
            matches!(s.append_ledger(e).await, Err(StoreError::InvalidInput(_))),
            "{e:?}"
        );
    }
    let batch = vec![
        LedgerEntry::charge("c", "r1", 5),
        LedgerEntry::new("c", LedgerKind::Charge, 5, "", "gateway"),
    ];
    assert!(matches!(
        s.append_ledger_batch(&batch).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert_eq!(s.credit_balance("c").await.expect("balance"), 0);
    assert!(s.list_ledger("c", 10, None).await.expect("list").is_empty());
}

async fn alert_events_claim_once(db: &TestDb) {
    let s = db.connect().await;
    let ev = new_alert_event("alt_1", Some(80));
    assert!(s.claim_alert_event(&ev).await.expect("claim"));
    // The same crossing under another id, and the same id again, lose.
    assert!(
        !s.claim_alert_event(&new_alert_event("alt_1b", Some(80)))
            .await
            .expect("claim")
    );
    assert!(!s.claim_alert_event(&ev).await.expect("claim"));
    // Another threshold, channel, scope or period is another crossing.
    assert!(
        s.claim_alert_event(&new_alert_event("alt_2", Some(100)))
            .await
            .expect("claim")
    );
    let mut other = new_alert_event("alt_3", Some(80));
    other.alert = "audit".into();
    assert!(s.claim_alert_event(&other).await.expect("claim"));
    let mut other = new_alert_event("alt_4", Some(80));
    other.period_key = "2026-12".into();
    assert!(s.claim_alert_event(&other).await.expect("claim"));
    let mut other = new_alert_event("alt_5", Some(80));
    other.scope = "team:platform".into();
    assert!(s.claim_alert_event(&other).await.expect("claim"));

    // Without a threshold: still claimed only once (no NULL in the unique key).
    let mut dead = new_alert_event("alt_dead", None);
    dead.kind = "provider_key.dead".into();
    dead.scope = "provider:openai".into();
    dead.period_key = "openai#1:402".into();
    assert!(s.claim_alert_event(&dead).await.expect("claim"));
    let mut dup = dead.clone();
    dup.id = "alt_dead_2".into();
    assert!(!s.claim_alert_event(&dup).await.expect("claim"));

    let got = s
        .get_alert_event("alt_dead")
        .await
        .expect("get")
        .expect("some");
    assert_eq!(got.threshold_percent, None);
    assert_eq!(got.kind, "provider_key.dead");
    assert_eq!(got.status, AlertStatus::Pending);
    assert_eq!(got.attempts, 0);
    assert_eq!(got.payload, dead.payload);
    assert_eq!(got.created_at, dead.created_at);
    assert_eq!(got.lease_owner.as_deref(), Some("node-a"));
    assert_eq!(got.lease_until, dead.lease_until);
    assert_eq!(got.delivered_at, None);
    let first = s
        .get_alert_event("alt_1")
        .await
        .expect("get")
        .expect("some");
    assert_eq!(first.threshold_percent, Some(80));

    let mut bad = new_alert_event("alt_bad", Some(50));
    bad.payload = "not json".into();
    assert!(matches!(
        s.claim_alert_event(&bad).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert_eq!(s.list_alert_events(100).await.expect("list").len(), 6);
}

async fn alert_events_concurrent_claims_across_stores(db: &TestDb) {
    let a = db.connect().await;
    let b = db.connect().await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let mut ev = new_alert_event(&format!("alt_race_{i}"), Some(50));
            ev.lease_owner = format!("node-{i}");
            s.claim_alert_event(&ev).await
        }));
    }
    let mut won = 0;
    for t in tasks {
        if t.await.expect("join").expect("claim") {
            won += 1;
        }
    }
    assert_eq!(won, 1, "exactly one claimer wins");
    assert_eq!(a.list_alert_events(100).await.expect("list").len(), 1);
}

async fn alert_event_attempts_and_leases(db: &TestDb) {
    let s = db.connect().await;
    let ev = new_alert_event("alt_a", Some(50));
    assert!(s.claim_alert_event(&ev).await.expect("claim"));

    // The holder renews; another node cannot take a live lease.
    let soon = Utc::now() + chrono::Duration::seconds(60);
    assert!(
        s.lease_alert_event("alt_a", "node-a", soon)
            .await
            .expect("renew")
    );
    assert!(
        !s.lease_alert_event("alt_a", "node-b", soon)
            .await
            .expect("steal")
    );

    assert!(
        s.mark_alert_attempt("alt_a", false, Some("HTTP 500"))
            .await
            .expect("attempt")
    );
    let got = s
        .get_alert_event("alt_a")
        .await
        .expect("get")
        .expect("some");
    assert_eq!(got.attempts, 1);
    assert_eq!(got.status, AlertStatus::Pending);
    assert_eq!(got.last_error.as_deref(), Some("HTTP 500"));
    assert!(got.last_attempt_at.is_some());
    assert_eq!(
        s.pending_alert_events(10).await.expect("pending")[0].id,
        "alt_a"
    );

    // An expired lease can be taken over.
    let past = Utc::now() - chrono::Duration::seconds(1);
    assert!(
        s.lease_alert_event("alt_a", "node-a", past)
            .await
            .expect("expire")
    );
    assert!(
        s.lease_alert_event("alt_a", "node-b", soon)
            .await
            .expect("take over")
    );
    assert!(
        !s.lease_alert_event("alt_a", "node-a", soon)
            .await
            .expect("lost")
    );

    assert!(s.mark_alert_attempt("alt_a", true, None).await.expect("ok"));
    let got = s
        .get_alert_event("alt_a")
        .await
        .expect("get")
        .expect("some");
    assert_eq!(got.status, AlertStatus::Delivered);
    assert_eq!(got.attempts, 2);
    assert_eq!(got.last_error, None);
    assert!(got.delivered_at.is_some());
    // Done: no more attempts, leases or failure recorded on it.
    assert!(
        !s.mark_alert_attempt("alt_a", false, Some("late"))
            .await
            .expect("late")
    );
    assert!(
        !s.mark_alert_failed("alt_a", Some("late"))
            .await
            .expect("late")
    );
    assert!(
        !s.lease_alert_event("alt_a", "node-b", soon)
            .await
            .expect("lease")
    );
    assert!(
        s.pending_alert_events(10)
            .await
            .expect("pending")
            .is_empty()
    );

    // Failing: attempts recorded, then given up.
    let ev = new_alert_event("alt_f", Some(100));
    assert!(s.claim_alert_event(&ev).await.expect("claim"));
    for i in 0..3 {
        assert!(
            s.mark_alert_attempt("alt_f", false, Some(&format!("timeout {i}")))
                .await
                .expect("attempt")
        );
    }
    assert!(s.mark_alert_failed("alt_f", None).await.expect("fail"));
    let got = s
        .get_alert_event("alt_f")
        .await
        .expect("get")
        .expect("some");
    assert_eq!(got.status, AlertStatus::Failed);
    assert_eq!(got.attempts, 3);
    assert_eq!(got.last_error.as_deref(), Some("timeout 2"));
    assert_eq!(got.delivered_at, None);
    assert!(!s.mark_alert_failed("alt_f", None).await.expect("again"));
    assert!(
        !s.mark_alert_attempt("nope", true, None)
            .await
            .expect("unknown")
    );

    // Lists: newest first; pending oldest first.
    for (i, id) in ["alt_p1", "alt_p2"].iter().enumerate() {
        let mut ev = new_alert_event(id, Some(50));
        ev.scope = format!("consumer:p{i}");
        ev.created_at += chrono::Duration::milliseconds(10 * (i as i64 + 1));
        assert!(s.claim_alert_event(&ev).await.expect("claim"));
    }
    let ids: Vec<_> = s
        .list_alert_events(10)
        .await
        .expect("list")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids[..2], ["alt_p2", "alt_p1"]);
    assert_eq!(ids.len(), 4);
    assert_eq!(s.list_alert_events(1).await.expect("list").len(), 1);
    let pending: Vec<_> = s
        .pending_alert_events(10)
        .await
        .expect("pending")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(pending, ["alt_p1", "alt_p2"]);
}

async fn metering_writes_do_not_bump_the_revision(db: &TestDb) {
    let s = db.connect().await;
    s.upsert_team(&team("t"), Source::Api)
        .await
        .expect("upsert");
    let rev = s.revision().await.expect("revision");
    s.insert_calls(&[call("r1", "c", Utc::now())])
        .await
        .expect("calls");
    s.append_ledger(&LedgerEntry::new("c", LedgerKind::Topup, 5, "", "admin"))
        .await
        .expect("ledger");
    s.append_ledger_batch(&[LedgerEntry::charge("c", "r1", 1)])
        .await
        .expect("batch");
    let ev = new_alert_event("alt_r", Some(50));
    s.claim_alert_event(&ev).await.expect("claim");
    s.lease_alert_event("alt_r", "node-a", Utc::now())
        .await
        .expect("lease");
    s.mark_alert_attempt("alt_r", false, Some("x"))
        .await
        .expect("attempt");
    s.mark_alert_failed("alt_r", None).await.expect("failed");
    assert_eq!(s.revision().await.expect("revision"), rev);
}

// ---------------------------------------------------------------------------------
// Backend-independent

#[tokio::test]
async fn in_memory_sqlite_is_one_database() {
    let s = Store::connect("sqlite::memory:", SecretCipher::new([9; 32]))
        .await
        .expect("connect");
    s.upsert_team(&team("t"), Source::Api)
        .await
        .expect("upsert");
    // Several round trips, possibly on different pooled connections, see the same data.
    for _ in 0..5 {
        assert_eq!(s.list_teams().await.expect("list").len(), 1);
    }
    let other = Store::connect("sqlite::memory:", SecretCipher::new([9; 32]))
        .await
        .expect("connect");
    assert!(other.list_teams().await.expect("list").is_empty());
}

#[tokio::test]
async fn unsupported_url_is_rejected() {
    let err = Store::connect("mysql://localhost/x", SecretCipher::new([0; 32]))
        .await
        .expect_err("unsupported");
    assert!(matches!(err, StoreError::InvalidUrl(_)));
}

#[test]
fn master_key_file_is_created_0600_and_reused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let a = SecretCipher::load_or_create_with(&data, None).expect("create");
    let path = data.join("master.key");
    assert!(path.is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {:o}", mode & 0o777);
    }
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(text.trim().len(), 64);
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(&data).expect("dir").count(), 1);

    let b = SecretCipher::load_or_create_with(&data, None).expect("load");
    let sealed = a.encrypt(b"hello");
    assert_eq!(b.decrypt(&sealed).expect("same key"), b"hello");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        text,
        "not rewritten"
    );

    // A raw 32-byte key file is accepted too.
    let raw_dir = dir.path().join("raw");
    std::fs::create_dir_all(&raw_dir).expect("mkdir");
    std::fs::write(raw_dir.join("master.key"), [5u8; 32]).expect("write");
    let c = SecretCipher::load_or_create_with(&raw_dir, None).expect("raw");
    assert_eq!(
        SecretCipher::new([5u8; 32])
            .decrypt(&c.encrypt(b"x"))
            .expect("same"),
        b"x"
    );

    // A malformed one is an error, not a new key.
    let bad_dir = dir.path().join("bad");
    std::fs::create_dir_all(&bad_dir).expect("mkdir");
    std::fs::write(bad_dir.join("master.key"), "not a key").expect("write");
    assert!(matches!(
        SecretCipher::load_or_create_with(&bad_dir, None),
        Err(StoreError::MasterKey(_))
    ));
}

#[test]
fn master_key_env_overrides_the_file() {
    use base64::Engine;
    let dir = tempfile::tempdir().expect("tempdir");
    let from_file = SecretCipher::load_or_create_with(dir.path(), None).expect("file");

    let hexed = hex::encode([7u8; 32]);
    let env = SecretCipher::load_or_create_with(dir.path(), Some(&hexed)).expect("hex env");
    let sealed = SecretCipher::new([7u8; 32]).encrypt(b"k");
    assert_eq!(env.decrypt(&sealed).expect("env key used"), b"k");
    assert!(from_file.decrypt(&sealed).is_err());

    let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let env = SecretCipher::load_or_create_with(dir.path(), Some(&b64)).expect("b64 env");
    assert_eq!(env.decrypt(&sealed).expect("env key used"), b"k");

    // With the env set, no file is needed or created.
    let empty = dir.path().join("empty");
    SecretCipher::load_or_create_with(&empty, Some(&hexed)).expect("env");
    assert!(!empty.join("master.key").exists());

    assert!(matches!(
        SecretCipher::load_or_create_with(dir.path(), Some("too-short")),
        Err(StoreError::MasterKey(_))
    ));
}

/// `load_or_create` reads the real process environment: checked in a child process
/// (this test binary re-run on one test) so that no test mutates its own environment.
#[test]
fn master_key_env_is_read_from_the_environment() {
    const CHILD: &str = "TOLLGATE_STORE_TEST_CHILD_DIR";
    if let Ok(dir) = std::env::var(CHILD) {
        let c = SecretCipher::load_or_create(std::path::Path::new(&dir)).expect("env key");
        let sealed = SecretCipher::new([0xAB; 32]).encrypt(b"child");
        assert_eq!(c.decrypt(&sealed).expect("env key used"), b"child");
        assert!(!std::path::Path::new(&dir).join("master.key").exists());
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("exe");
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "master_key_env_is_read_from_the_environment",
            "--test-threads=1",
        ])
        .env(CHILD, dir.path())
        .env("TOLLGATE_MASTER_KEY", hex::encode([0xAB; 32]))
        .output()
        .expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}
