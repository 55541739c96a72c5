//! `--help` and `completions`: complete, and never touching the database.
use predicates::prelude::*;

use crate::common::TestEnv;

#[test]
fn help_and_completions_never_touch_the_database() {
    let env = TestEnv::new();
    std::fs::remove_file(env.db()).unwrap();
    env.cmd()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes"));
    env.cmd()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("_pool"));
    env.cmd()
        .args(["list", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--in-pool"));
    assert!(!env.db().exists());
}
