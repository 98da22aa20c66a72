//! Black-box tests of the whole gateway: the real app on port 0, a fresh SQLite database per
//! test, the sandbox provider, a manual clock, and workers driven by hand.

#![allow(clippy::unwrap_used)] // a test: a panic is how it reports failure

mod accounting;
mod admin;
mod books;
mod cancel;
mod catalog;
mod cli;
mod crash;
mod create;
mod dashboard;
mod deleted_video;
mod egress;
mod fal;
mod forged_events;
mod form_limits;
mod frames;
mod free_video;
mod helpers;
mod inputs;
mod keys;
mod limits;
mod listing;
mod media;
mod mirror;
mod models;
mod openai;
mod openapi;
mod ops;
mod outage;
mod pg_outage;
mod process;
mod progression;
mod reconcile;
mod render_bounds;
mod replicas;
mod s3;
mod secrets;
mod shared_limits;
mod slow_clients;
mod status_answers;
mod store_select;
mod stream;
mod stream_guard;
mod tenant_media;
mod tencent;
mod upstream;
mod usage_data;
mod video;
mod webhooks;
