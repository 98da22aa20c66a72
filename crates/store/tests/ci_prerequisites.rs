//! Under `CI`, a test whose prerequisite is missing fails instead of passing without having
//! run; on a developer's machine it says it skipped. Proven on a child run of this binary's
//! own probe, with and without `CI`, and with no PostgreSQL named.

use std::process::Command;

use vidgate_store::postgres::testing::test_url;

/// The probe: reads the test database's URL as every PostgreSQL test does. Ignored, so it
/// runs only when the test below asks for it.
#[test]
#[ignore = "run by a_missing_prerequisite_fails_under_ci_and_skips_elsewhere"]
fn probe_reads_the_test_database_url() {
    let _ = test_url();
}

fn probe(ci: Option<&str>) -> std::process::Output {
    let mut child = Command::new(std::env::current_exe().expect("this test binary"));
    child
        .args(["--ignored", "--exact", "probe_reads_the_test_database_url", "--nocapture"])
        .env_remove("VIDGATE_TEST_PG_URL")
        .env_remove("CI");
    if let Some(v) = ci {
        child.env("CI", v);
    }
    child.output().expect("the probe runs")
}

#[test]
fn a_missing_prerequisite_fails_under_ci_and_skips_elsewhere() {
    let under_ci = probe(Some("1"));
    let said = String::from_utf8_lossy(&under_ci.stderr).to_string()
        + &String::from_utf8_lossy(&under_ci.stdout);
    assert!(!under_ci.status.success(), "under CI the probe must fail: {said}");
    assert!(said.contains("CI is set: it must run, not be skipped"), "{said}");
    let elsewhere = probe(None);
    let said = String::from_utf8_lossy(&elsewhere.stderr).to_string();
    assert!(elsewhere.status.success(), "without CI it skips: {said}");
    assert!(said.contains("skipped: a PostgreSQL server named by VIDGATE_TEST_PG_URL"), "{said}");
}
