//! Whether a database's schema matches this binary's migrations.

use sqlx::migrate::Migrator;

/// The `_sqlx_migrations` versions applied, in order.
pub(crate) const APPLIED: &str =
    "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";

/// Every migration this binary knows is applied, and none it does not know.
pub(crate) fn current(migrator: &Migrator, applied: &[i64]) -> bool {
    migrator.iter().map(|m| m.version).eq(applied.iter().copied())
}
