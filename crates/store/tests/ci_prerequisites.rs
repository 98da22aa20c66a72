//! Under `CI`, a test whose prerequisite is missing fails instead of passing without having
//! run; on a developer's machine it says it skipped. `.ci/run` sets `CI`.

use vidgate_store::postgres::testing::when_missing;

#[test]
fn a_missing_prerequisite_fails_under_ci_and_skips_elsewhere() {
    let err = when_missing("a PostgreSQL server", true).expect_err("under CI it fails");
    assert!(err.contains("CI is set: it must run, not be skipped"), "{err}");
    assert!(when_missing("a PostgreSQL server", false).is_ok(), "without CI it skips");
    let ci_script = include_str!("../../../.ci/run");
    assert!(ci_script.contains("export CI="), "CI exports CI for the tests it runs");
}
