//! The vidgate binary's library: configuration, the `Application` seam, key bootstrap, the
//! command line. `main.rs` only parses arguments and calls `cli::run`.

pub mod bootstrap;
pub mod cli;
pub mod config;
mod conn_guard;
pub mod provider_select;
pub mod serve;
pub mod startup;
pub mod store_select;
pub mod telemetry;
mod wiring;
