//! Store errors keep their meaning (`Conflict`, `Corrupt`) and their source, so the HTTP edge
//! can map them and a 500's log line says what really failed.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (a key name already taken, …).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A stored value could not be read back (bad JSON, unknown state name).
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    pub fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}
