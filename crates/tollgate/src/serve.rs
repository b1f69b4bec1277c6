//! `tollgate serve`: wiring and lifecycle.
//!
//! Start: config → store (migrations) → apply the file's resources → first admin user
//! → snapshot → listeners. Stop (Ctrl-C / SIGTERM): both listeners stop accepting,
//! in-flight requests and streams finish (up to a drain limit), then the process exits.
//! The listeners time out slow clients; see [`crate::listener`] for the limits and the
//! environment variables that change them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tollgate_admin::AdminState;
use tollgate_alerts::Alerter;
use tollgate_config::{CacheBackend, Config};
use tollgate_core::live::Live;
use tollgate_gateway::GatewayState;
use tollgate_gateway::metering::Metering;
use tollgate_limits::{FailurePolicy, Limiter};
use tollgate_store::Journal;
use tollgate_store::{SecretCipher, Store};

use crate::apply;
use crate::listener::{self, ListenLimits};

/// Says which providers the environment offered (and which variables were unusable),
/// so that a first start tells what can be called right away.
fn print_env_providers(env: &tollgate_config::EnvProviders) {
    for p in &env.providers {
        let models: Vec<&str> = env
            .models
            .iter()
            .filter(|m| m.targets.iter().any(|t| t.provider == p.name))
            .map(|m| m.name.as_str())
            .collect();
        println!(
            "provider `{}` from the environment, models: {}",
            p.name,
            models.join(", ")
        );
    }
    for why in &env.skipped {
        eprintln!("tollgate: not offering {why}");
    }
}

/// How long in-flight requests may take to finish after a stop signal.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);
/// How often a node looks for changes made through other nodes.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// How long a stop waits for the journal to reach the database.
const JOURNAL_FLUSH_LIMIT: Duration = Duration::from_secs(10);

pub async fn run(config_path: Option<PathBuf>) -> anyhow::Result<()> {
    let (config, from_env) = match &config_path {
        Some(p) => (
            tollgate_config::load_file(p).map_err(|e| anyhow::anyhow!("invalid config:\n{e}"))?,
            None,
        ),
        None => {
            // Embedded defaults: the vendors' usual variables stand in for a config file.
            let mut config = Config::default();
            let env = tollgate_config::providers_from_env(|k| std::env::var(k).ok());
            config.providers.extend(env.providers.iter().cloned());
            config.models.extend(env.models.iter().cloned());
            (config, Some(env))
        }
    };
    let data_dir = data_dir();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let database = sqlite_in_place(&config.storage.database)?;
    let cipher = SecretCipher::load_or_create(&data_dir).context("loading the master key")?;
    let store = Store::connect(&database, cipher)
        .await
        .context("opening the database")?;
    apply::apply(&store, &config).await?;
    let initial_password = bootstrap_admin(&store).await?;

    let metering = Arc::new(start_metering(&config, &store, &data_dir).await?);
    // Budgets and credits are seeded from the database: first write what the last run
    // left in the journal's log, so that nothing it recorded goes uncounted.
    metering.journal.flush_to_database().await;

    let live = Live::new();
    tollgate_admin::snapshot::refresh(&store, &live, &metering).await?;
    live.set_db_ok(true);
    let poller = tollgate_admin::snapshot::spawn_poller(
        store.clone(),
        live.clone(),
        metering.clone(),
        POLL_EVERY,
    );
    let retention = spawn_retention(store.clone(), &config.storage.retention);

    let gateway_listener = bind(config.server.listen).await?;
    let admin_listener = bind(config.server.admin_listen).await?;
    let gateway_addr = gateway_listener.local_addr()?;
    let admin_addr = admin_listener.local_addr()?;

    let cache = open_cache(&config)?;
    // One routing state (breakers, key pools, latency) for the life of the process:
    // the gateway routes with it, the admin API shows it.
    let routing = Arc::new(tollgate_routing::Routing::system());
    let gateway = tollgate_gateway::router(
        GatewayState::new(
            live.clone(),
            config.server.max_body_bytes,
            Some(metering.clone()),
        )
        .with_routing(routing.clone())
        .with_cache(cache)
        .with_log_bodies_max_bytes(config.storage.log_bodies_max_bytes),
    );
    let admin = tollgate_admin::router(AdminState {
        store: store.clone(),
        live: live.clone(),
        admin_token: config.server.admin_token.as_deref().map(Arc::from),
        metrics: tollgate_telemetry::metrics_handle(),
        metering: metering.clone(),
        routing,
        gateway_url: tollgate_admin::GatewayUrl {
            configured: config.server.public_url.as_deref().map(Arc::from),
            listen: Some(gateway_addr),
        },
    });

    println!("tollgate gateway listening on http://{gateway_addr}");
    println!("tollgate admin listening on http://{admin_addr}");
    println!("console and admin API: http://{admin_addr}/  (API under /admin/v1/)");
    if let Some(env) = &from_env {
        print_env_providers(env);
    }
    if let Some(pw) = initial_password {
        println!("first start: created console user `admin` with password: {pw}");
    }

    let stop = CancellationToken::new();
    // Slow clients are cut on both listeners (see `listener`).
    let limits = ListenLimits::from_env();
    let g = tokio::spawn(listener::serve(
        gateway_listener,
        gateway,
        stop.clone(),
        limits,
    ));
    let a = tokio::spawn(listener::serve(admin_listener, admin, stop.clone(), limits));
    let reloader = tokio::spawn(reload_on_sighup(
        config_path.clone(),
        store.clone(),
        live.clone(),
        metering.clone(),
    ));
    shutdown_signal().await;
    reloader.abort();
    tracing::info!("stop requested: draining in-flight requests");
    stop.cancel();
    let drained = tokio::time::timeout(DRAIN_LIMIT, async {
        let _ = g.await;
        let _ = a.await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!("drain limit reached; exiting with requests still in flight");
    }
    poller.abort();
    retention.abort();
    // Whatever does not reach the database in time stays in the journal's log and is
    // written at the next start.
    if tokio::time::timeout(JOURNAL_FLUSH_LIMIT, metering.journal.flush_to_database())
        .await
        .is_err()
    {
        tracing::warn!(
            "journal not fully written to the database; the rest follows at the next start"
        );
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// How often expired call records and rollups are deleted (`storage.retention`).
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Deletes expired call records and rollups: shortly after the start, then hourly.
/// Each pass deletes in bounded chunks (see `Store::expire`); a failed pass is logged
/// and retried at the next tick. Every node may run it: deletes are idempotent.
fn spawn_retention(
    store: Store,
    config: &tollgate_config::RetentionConfig,
) -> tokio::task::JoinHandle<()> {
    let retention = tollgate_store::Retention {
        calls_days: config.calls_days,
        rollups_days: config.rollups_days,
    };
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let mut tick = tokio::time::interval(RETENTION_EVERY);
        loop {
            tick.tick().await;
            match store.expire(chrono::Utc::now(), retention).await {
                Ok(e) => tracing::info!(
                    calls = e.calls,
                    minute_rows = e.minute_rows,
                    hour_rows = e.hour_rows,
                    day_rows = e.day_rows,
                    "retention pass"
                ),
                Err(e) => tracing::warn!(error = %e, "retention pass failed"),
            }
        }
    })
}

/// Limits and budgets (in-process, or shared through Redis when `storage.redis` is
/// set), the call journal and webhook alerts.
async fn start_metering(
    config: &Config,
    store: &Store,
    data_dir: &Path,
) -> anyhow::Result<Metering> {
    let limiter = match &config.storage.redis {
        Some(url) => {
            let policy = if config.storage.redis_fail_open {
                FailurePolicy::Open
            } else {
                FailurePolicy::Closed
            };
            Limiter::redis(url, &config.storage.redis_prefix, policy)
                .await
                .with_context(|| "connecting to Redis (storage.redis)")?
        }
        None => Limiter::local(),
    };
    Ok(Metering {
        limiter,
        store: store.clone(),
        journal: Journal::open(store.clone(), data_dir.join("journal"))
            .await
            .context("opening the call journal")?,
        // The stored channels (the config file's among them, applied just before), so
        // the pending deliveries resumed at once find theirs; every snapshot reload
        // sets them again.
        alerter: Alerter::start(
            store.clone(),
            store
                .list_alerts()
                .await
                .context("reading the alert channels")?
                .into_iter()
                .map(|s| s.spec)
                .collect(),
        ),
    })
}

/// The response cache of `storage.cache` (used by models that declare a `cache`).
fn open_cache(config: &Config) -> anyhow::Result<Option<Arc<tollgate_cache::Cache>>> {
    let backend = match &config.storage.cache {
        CacheBackend::Memory => "memory".to_string(),
        CacheBackend::Redis => "redis".to_string(),
        CacheBackend::Memcached(url) => url.clone(),
    };
    let opts = tollgate_cache::CacheOptions {
        redis_prefix: config.storage.redis_prefix.clone(),
        ..tollgate_cache::CacheOptions::default()
    };
    let cache =
        tollgate_cache::Cache::from_config_with(&backend, config.storage.redis.as_deref(), opts)
            .with_context(|| format!("opening the response cache ({backend})"))?;
    Ok(Some(Arc::new(cache)))
}

/// `TOLLGATE_DATA_DIR`, or `./tollgate-data`: the SQLite default and the master key.
fn data_dir() -> PathBuf {
    std::env::var_os("TOLLGATE_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("tollgate-data"))
}

/// The file of a SQLite URL (`sqlite://PATH[?options]`); None for other databases.
pub(crate) fn sqlite_file(url: &str) -> Option<&Path> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(Path::new(path.split('?').next().unwrap_or(path)))
}

/// Creates the parent directory of a SQLite file so the first start just works.
fn sqlite_in_place(url: &str) -> anyhow::Result<String> {
    if let Some(parent) = sqlite_file(url)
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(url.to_string())
}

/// Creates the first console user on an empty database; returns the password when it
/// was generated (so it can be printed once).
async fn bootstrap_admin(store: &Store) -> anyhow::Result<Option<String>> {
    if store.user_count().await? > 0 {
        return Ok(None);
    }
    let (password, generated) = match std::env::var("TOLLGATE_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (random_password(), true),
    };
    store.create_user("admin", &password, "admin").await?;
    if !generated {
        println!(
            "first start: created console user `admin` with the password from TOLLGATE_ADMIN_PASSWORD"
        );
    }
    Ok(generated.then_some(password))
}

fn random_password() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 18];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// `kill -HUP`: re-reads the config file and applies its resources. Listener
/// addresses and storage settings need a restart; everything else is live at once.
async fn reload_on_sighup(
    path: Option<PathBuf>,
    store: Store,
    live: Arc<Live>,
    metering: Arc<Metering>,
) {
    #[cfg(unix)]
    {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            let Some(path) = &path else {
                tracing::info!("SIGHUP: no config file to reload");
                continue;
            };
            match tollgate_config::load_file(path) {
                Err(e) => tracing::error!("SIGHUP: config not reloaded, it has errors:\n{e}"),
                Ok(config) => match apply::apply(&store, &config).await {
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "SIGHUP: applying the config failed")
                    }
                    Ok(()) => {
                        match tollgate_admin::snapshot::refresh(&store, &live, &metering).await {
                            Ok(()) => tracing::info!("SIGHUP: config reloaded"),
                            Err(e) => tracing::error!(error = %e, "SIGHUP: snapshot reload failed"),
                        }
                    }
                },
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, store, live, metering);
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
