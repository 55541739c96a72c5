//! `pool init` and first use: where the database lives, who becomes its admin.
use assert_cmd::Command;
use predicates::prelude::*;

use crate::common::TestEnv;

#[test]
fn default_database_lives_in_the_os_data_dir() {
    let home = tempfile::TempDir::new().unwrap();
    let os = TestEnv::os_account();
    Command::cargo_bin("pool")
        .unwrap()
        .env_clear()
        .env("HOME", home.path())
        .env("USER", "alice")
        .env("NO_COLOR", "1")
        .args(["list", "--format", "json"])
        .assert()
        .success()
        .stdout("[]\n")
        .stderr(predicate::str::contains(format!("'{os}' is its admin")))
        .stderr(predicate::str::contains("alice").not());
    assert!(home.path().join(".local/share/pool/pool.db").exists());
}

#[test]
fn first_os_account_becomes_admin_of_team_default() {
    sqlite_only!("the OS account becomes a file's first admin (a server's first admin is named by init --server)");
    let env = TestEnv::new();
    let os = TestEnv::os_account();
    let users = env.json(&["user", "list"]);
    let first = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login"] == os.as_str())
        .unwrap_or_else(|| panic!("{os} not in {users}"));
    assert_eq!(first["role"], "admin");
    assert_eq!(first["team"], "default");
    // Only the first: acting as an unknown name is refused.
    let err = env.fails_as("mallory", &["list"], 4);
    assert!(err.contains("unknown user 'mallory'"), "{err}");
    assert!(
        err.contains("hint: an admin can add the user: pool user add mallory"),
        "{err}"
    );
}
