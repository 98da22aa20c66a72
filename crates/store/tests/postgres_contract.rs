//! The store contract on PostgreSQL, each test in its own schema of the database named by
//! `VIDGATE_TEST_PG_URL` (`.ci/run` always sets it; without it these tests are skipped, or
//! fail when `CI` is set).

#![allow(clippy::unwrap_used)] // a test: a panic is how it reports failure

use vidgate_store::postgres::testing::TestPgStore;
use vidgate_store::store_contract_tests;

store_contract_tests!(TestPgStore::create());
