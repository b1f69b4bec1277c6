//! The store's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names no supported engine or cannot be used.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),

    /// The database answered with an error, or could not be reached.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),

    /// Applying the schema migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// A unique constraint was violated (a user or key that already exists).
    #[error("already exists: {0}")]
    Conflict(String),

    /// A row that the operation needs does not exist.
    #[error("not found: {0}")]
    NotFound(String),

    /// A secret could not be decrypted: wrong master key or corrupted data.
    #[error("cannot decrypt {0}: wrong master key or corrupted data")]
    Decrypt(String),

    /// The master key (environment or file) is malformed.
    #[error("invalid master key: {0}")]
    MasterKey(String),

    /// A file-system operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A stored value could not be read back (corrupt JSON, timestamp out of range...).
    #[error("invalid stored data: {0}")]
    InvalidData(String),

    /// An argument was rejected before reaching the database.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// Password hashing failed.
    #[error("password hashing failed: {0}")]
    Password(String),

    /// A blocking task (password hashing) panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

impl StoreError {
    /// Whether this is a unique-constraint violation reported by the database.
    pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
        match e {
            sqlx::Error::Database(db) => db.is_unique_violation(),
            _ => false,
        }
    }
}
