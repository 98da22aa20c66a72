//! Rebuilds the store when a migration is added or changed: `sqlx::migrate!` embeds the
//! migration files at compile time, and cargo would otherwise not notice a new one
//! (an incremental build then ships a binary without it).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
