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

impl StoreError {
    /// The database cannot be reached or cannot take writes right now (down, restarting, out
    /// of connections, disk full, locked): trying again later may work. Not a bug, and not
    /// the caller's fault.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(e) = self else { return false };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => true,
            sqlx::Error::Database(d) => {
                let code = d.code().unwrap_or_default();
                // SQLite primary codes: BUSY 5, LOCKED 6, IOERR 10 (and its extended codes),
                // FULL 13, CANTOPEN 14, READONLY 8.
                let sqlite = code.parse::<i64>().ok().map(|c| c & 0xFF);
                matches!(sqlite, Some(5 | 6 | 8 | 10 | 13 | 14))
                    // PostgreSQL: connection exceptions, shutdown/startup, insufficient
                    // resources (disk full, out of memory, too many connections).
                    || code.starts_with("08")
                    || code.starts_with("57P")
                    || code.starts_with("53")
            }
            _ => false,
        }
    }

    /// PostgreSQL broke a lock cycle or a serialization conflict by failing this statement
    /// (`deadlock_detected` 40P01, `serialization_failure` 40001): its transaction kept
    /// nothing, and the same work run again commits once the other writer is done.
    pub fn is_lock_conflict(&self) -> bool {
        let StoreError::Database(sqlx::Error::Database(d)) = self else { return false };
        matches!(d.code().as_deref(), Some(DEADLOCK_DETECTED | SERIALIZATION_FAILURE))
    }
}

/// PostgreSQL's SQLSTATE for a transaction chosen to break a deadlock.
const DEADLOCK_DETECTED: &str = "40P01";
/// PostgreSQL's SQLSTATE for a transaction that could not be serialized.
const SERIALIZATION_FAILURE: &str = "40001";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_unavailable_and_bugs_are_not() {
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_unavailable());
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(StoreError::Database(sqlx::Error::Io(io)).is_unavailable());
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!StoreError::Corrupt("x".into()).is_unavailable());
        assert!(!StoreError::Conflict("x".into()).is_unavailable());
    }
}
