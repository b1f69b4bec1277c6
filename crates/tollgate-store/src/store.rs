//! Connecting, migrations and the revision counter.

use std::path::{Path, PathBuf};
use std::time::Duration;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::cipher::SecretCipher;
use crate::error::StoreError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Which database engine a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::InvalidUrl(
                "expected a sqlite:// or postgres:// URL".to_string(),
            ))
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The persistence layer. Cheap to clone: the pool and the cipher are shared.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    /// On PostgreSQL, a small native pool beside `pool` for the batch writer: COPY is
    /// a protocol of its own that the Any driver does not speak
    /// ([`crate::batch`]).
    pub(crate) copy_pool: Option<PgPool>,
    pub(crate) backend: Backend,
    pub(crate) cipher: SecretCipher,
    /// The audit row the next write transaction records ([`Store::audited`]).
    pub(crate) audit: Option<crate::audit::PendingAudit>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to `database_url` and applies the schema migrations.
    ///
    /// - `sqlite://path/to/file.db` (relative or absolute; `sqlite:///abs/path.db`): the
    ///   parent directory and the file are created if missing; WAL journal mode is set.
    /// - `sqlite::memory:`: one private in-memory database for this `Store` (a pool of
    ///   a single connection, kept open), for tests and throw-away runs.
    /// - `postgres://user@host/db`: may carry `?options=-c%20search_path%3Dschema`
    ///   (the schema must exist); tables and the migrations table go to that schema.
    pub async fn connect(database_url: &str, cipher: SecretCipher) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(database_url)?;
        let mut copy_pool = None;
        let (pool, migrator) = match backend {
            Backend::Sqlite => {
                let target = SqliteTarget::parse(database_url)?;
                let pool = match &target {
                    SqliteTarget::Memory => {
                        let url = format!(
                            "sqlite:file:tollgate-mem-{}?mode=memory",
                            uuid::Uuid::new_v4().simple()
                        );
                        AnyPoolOptions::new()
                            .max_connections(1)
                            .min_connections(1)
                            .idle_timeout(None)
                            .max_lifetime(None)
                            .connect(&url)
                            .await?
                    }
                    SqliteTarget::File { url, path } => {
                        tracing::debug!(path = %path.display(), "opening SQLite database");
                        let pool = AnyPoolOptions::new()
                            .max_connections(5)
                            .connect(url)
                            .await?;
                        // Persistent per database file: readers no longer block the writer.
                        if let Err(e) = sqlx::query("PRAGMA journal_mode = WAL")
                            .fetch_all(&pool)
                            .await
                        {
                            tracing::warn!(error = %e, "could not switch SQLite to WAL mode");
                        }
                        pool
                    }
                };
                (pool, &SQLITE_MIGRATIONS)
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(database_url)
                    .await?;
                // Batches are written one at a time by each writer; two connections
                // leave room for a second writer (tests, `tollgate` tools) without
                // waiting.
                copy_pool = Some(
                    crate::batch::configure_copy_pool(PgPoolOptions::new())
                        .max_connections(2)
                        .acquire_timeout(Duration::from_secs(10))
                        .connect_lazy(database_url)?,
                );
                (pool, &POSTGRES_MIGRATIONS)
            }
        };
        migrator.run(&pool).await?;
        Ok(Store {
            pool,
            copy_pool,
            backend,
            cipher,
            audit: None,
        })
    }

    /// A round trip to the database (for readiness checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The change counter: bumped by every write, in the writing transaction.
    pub async fn revision(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT revision FROM store_revision WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(pool) = &self.copy_pool {
            pool.close().await;
        }
    }

    /// Starts a write transaction whose first statement bumps the revision. Doing the
    /// write first makes SQLite take its write lock at once (waiting on the busy
    /// timeout) rather than failing when a read lock must be upgraded mid-transaction.
    /// Callers that end up changing nothing roll back, which undoes the bump (and the
    /// audit row this handle carries, if any: see [`Store::audited`]).
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE store_revision SET revision = revision + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        self.write_audit(&mut tx).await?;
        Ok(tx)
    }
}

/// Decodes an `i64` column that may be NULL.
pub(crate) fn opt_i64(row: &AnyRow, col: &str) -> Result<Option<i64>, StoreError> {
    Ok(row.try_get::<Option<i64>, _>(col)?)
}

enum SqliteTarget {
    Memory,
    File { url: String, path: PathBuf },
}

/// Characters that must be escaped in the path of the URL handed to sqlx (which
/// percent-decodes it again).
const PATH_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

impl SqliteTarget {
    /// Resolves the file to an absolute path, creates its directory, and rebuilds the URL
    /// as `sqlite:///abs/path?mode=rwc&...` (a `sqlite://dir/file` URL would otherwise
    /// have `dir` parsed, and lower-cased, as a host name).
    fn parse(url: &str) -> Result<Self, StoreError> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let (db, params) = match rest.split_once('?') {
            Some((db, params)) => (db, Some(params)),
            None => (rest, None),
        };
        let mut pairs: Vec<(String, String)> = params
            .map(|p| {
                p.split('&')
                    .filter(|kv| !kv.is_empty())
                    .map(|kv| match kv.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (kv.to_string(), String::new()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mode = pairs
            .iter()
            .find(|(k, _)| k == "mode")
            .map(|(_, v)| v.as_str());
        if db.is_empty() || db == ":memory:" || mode == Some("memory") {
            return Ok(SqliteTarget::Memory);
        }
        if mode.is_none() {
            pairs.push(("mode".to_string(), "rwc".to_string()));
        }
        let creates = pairs.iter().any(|(k, v)| k == "mode" && v == "rwc");

        let decoded = percent_decode_str(db)
            .decode_utf8()
            .map_err(|_| StoreError::InvalidUrl("SQLite path is not valid UTF-8".to_string()))?;
        let path = absolute(Path::new(&*decoded))?;
        let file_name = path
            .file_name()
            .ok_or_else(|| StoreError::InvalidUrl(format!("no file name in {}", path.display())))?
            .to_owned();
        let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        if creates {
            std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        let path = dir.join(file_name);
        let path_str = path
            .to_str()
            .ok_or_else(|| StoreError::InvalidUrl("SQLite path is not valid UTF-8".to_string()))?;
        let query = pairs
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join("&");
        let url = format!(
            "sqlite://{}?{query}",
            utf8_percent_encode(path_str, PATH_ESCAPES)
        );
        Ok(SqliteTarget::File { url, path })
    }
}

fn absolute(p: &Path) -> Result<PathBuf, StoreError> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|source| StoreError::Io {
        path: PathBuf::from("."),
        source,
    })?;
    Ok(cwd.join(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls() {
        assert!(matches!(
            SqliteTarget::parse("sqlite::memory:"),
            Ok(SqliteTarget::Memory)
        ));
        assert!(matches!(
            SqliteTarget::parse("sqlite://?mode=memory"),
            Ok(SqliteTarget::Memory)
        ));
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("Sub Dir/x%y.db");
        let url = format!(
            "sqlite://{}",
            utf8_percent_encode(p.to_str().expect("utf8"), PATH_ESCAPES)
        );
        match SqliteTarget::parse(&url).expect("parses") {
            SqliteTarget::File { url, path } => {
                assert!(url.ends_with("?mode=rwc"), "{url}");
                assert!(url.contains("Sub%20Dir/x%25y.db"), "{url}");
                assert_eq!(path.file_name().and_then(|f| f.to_str()), Some("x%y.db"));
                assert!(dir.path().join("Sub Dir").is_dir());
            }
            SqliteTarget::Memory => panic!("not memory"),
        }
        match SqliteTarget::parse("sqlite:rel/dir/a.db?mode=ro").expect("parses") {
            SqliteTarget::File { url, path } => {
                assert!(url.ends_with("?mode=ro"), "{url}");
                assert!(path.is_absolute());
            }
            SqliteTarget::Memory => panic!("not memory"),
        }
        // `sqlite://dir/file` must not have `dir` parsed (and lower-cased) as a host.
        match SqliteTarget::parse("sqlite://Rel/Dir/a.db?mode=ro").expect("parses") {
            SqliteTarget::File { url, path } => {
                assert!(url.contains("/Rel/Dir/a.db?mode=ro"), "{url}");
                assert!(path.ends_with("Rel/Dir/a.db"));
            }
            SqliteTarget::Memory => panic!("not memory"),
        }
        assert!(Backend::from_url("mysql://x").is_err());
    }
}
