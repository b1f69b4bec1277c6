//! Test support (feature `testing`): a database per test on SQLite and PostgreSQL,
//! and [`backend_suite!`](crate::backend_suite) to run one behaviour suite on both.
//! Shared by this crate's tests and every crate whose tests need a real store.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use sqlx::Connection;

use crate::{Backend, SecretCipher, Store};

/// The PostgreSQL server the tests use (trust auth, database `test`).
pub const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database for one test: a SQLite file in a temp dir, or a fresh PostgreSQL
/// schema dropped when the value is dropped. PostgreSQL being unreachable panics: a
/// failure, not a skip.
pub struct TestDb {
    pub backend: Backend,
    /// What the Store connects with.
    pub url: String,
    /// What a raw pool (for peeking at columns) connects with.
    pub raw_url: String,
    pub key: [u8; 32],
    schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        // A directory that does not exist yet: connect must create it.
        let path = dir.path().join("nested").join("tollgate.db");
        let url = format!("sqlite://{}", path.display());
        TestDb {
            backend: Backend::Sqlite,
            raw_url: format!("{url}?mode=rw"),
            url,
            key: [1u8; 32],
            schema: None,
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> TestDb {
        let schema = format!("tg_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(PG_URL)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL must be reachable at {PG_URL}: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .expect("create schema");
        conn.close().await.expect("close");
        let url = format!("{PG_URL}?options=-c%20search_path%3D{schema}");
        TestDb {
            backend: Backend::Postgres,
            raw_url: url.clone(),
            url,
            key: [2u8; 32],
            schema: Some(schema),
            _dir: None,
        }
    }

    /// The temp dir of a SQLite database.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self._dir.as_ref().map(|d| d.path())
    }

    pub fn cipher(&self) -> SecretCipher {
        SecretCipher::new(self.key)
    }

    pub async fn connect(&self) -> Store {
        let store = Store::connect(&self.url, self.cipher())
            .await
            .expect("connect");
        assert_eq!(store.backend(), self.backend);
        store
    }

    pub async fn raw(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&self.raw_url)
            .await
            .expect("raw connect")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else {
            return;
        };
        // Drop is synchronous; run the cleanup on a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(PG_URL).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {schema} CASCADE"
                    )))
                    .execute(&mut conn)
                    .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// Runs every listed behaviour once per backend: `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! backend_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::testing::TestDb::sqlite().await;
                    super::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::testing::TestDb::postgres().await;
                    super::$name(&db).await;
                }
            )*
        }
    };
}

/// Every time-series statement on PostgreSQL, with `$1` the dimension and `$2`, `$3`
/// the bucket range.
pub fn postgres_series_statements() -> Vec<&'static str> {
    crate::rollups::series_statements(crate::Backend::Postgres)
}
