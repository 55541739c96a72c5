//! Step 1: the store, the embedded default, identity and roles, output conventions.
use std::io::{BufRead, BufReader};
use std::process::Stdio;

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

#[test]
fn without_user_or_logname_the_os_account_acts() {
    // Cron jobs and containers often have no USER: the uid still has a name.
    let env = TestEnv::new();
    let out = env.os_ok(&["user", "list", "--format", "json"]);
    assert!(out.contains(&TestEnv::os_account()));
}

#[test]
fn deactivated_actor_is_refused() {
    let env = TestEnv::new();
    env.user("lihua", "sales-east", "member");
    env.ok(&["user", "deactivate", "lihua"]);
    let err = env.fails_as("lihua", &["list"], 4);
    assert!(err.contains("deactivated"), "{err}");
    env.ok(&["user", "set-role", "lihua", "--active"]);
    env.ok_as("lihua", &["list"]);
}

#[test]
fn newer_database_is_refused_with_a_clear_message() {
    let env = TestEnv::new();
    env.sql("PRAGMA user_version = 99");
    let err = env.fails_as("admin", &["list"], 1);
    assert!(err.contains("newer than this pool binary"), "{err}");
    assert!(err.contains("hint: upgrade pool"), "{err}");
}

#[test]
fn connections_use_wal_and_foreign_keys() {
    let env = TestEnv::new();
    let mode: String = rusqlite::Connection::open(env.db())
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // A follow-up for a customer that does not exist is refused by the foreign key.
    let store = customer_pool::store::Store::open(&env.db()).unwrap();
    let fk: i64 = store
        .conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    let err = store.conn.execute(
        "INSERT INTO interactions (customer_id, user_id, kind, summary, at, created_at) VALUES (999, 1, 'call', 'x', 0, 0)",
        [],
    );
    assert!(err.is_err());
}

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

#[test]
fn teams_and_users_are_managed_by_admins_only() {
    let env = TestEnv::new();
    env.ok(&["team", "add", "sales-east"]);
    env.fails_as("admin", &["team", "add", "sales-east"], 5);
    env.user("lihua", "sales-east", "member");
    env.user("zhao", "sales-east", "manager");
    env.fails_as("lihua", &["team", "add", "x"], 4);
    env.fails_as("zhao", &["user", "add", "x"], 4);
    env.fails_as("admin", &["user", "add", "bad name"], 6);
    env.ok(&["user", "set-role", "lihua", "manager"]);
    let users = env.json(&["user", "list", "--team", "sales-east"]);
    let roles: Vec<(&str, &str)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["login"].as_str().unwrap(), u["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, [("lihua", "manager"), ("zhao", "manager")]);
    let teams = env.json(&["team", "list"]);
    assert_eq!(teams.as_array().unwrap().len(), 2);
    // The last admin cannot demote themselves (`admin` steps down first; the OS
    // account, the first admin, is then the last).
    env.ok(&["user", "set-role", "admin", "member"]);
    let os = TestEnv::os_account();
    let out = env
        .cmd_os()
        .args(["user", "set-role", &os, "member"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
}

#[test]
fn every_mutation_writes_an_audit_row() {
    let env = TestEnv::new();
    let before = env.query_i64("SELECT count(*) FROM audit_log");
    env.user("lihua", "sales", "member");
    let id = env.json_as(
        "lihua",
        &["add", "--name", "王五", "--phone", "13900139000"],
    )["id"]
        .as_i64()
        .unwrap();
    env.ok_as("lihua", &["edit", &id.to_string(), "--city", "上海"]);
    env.ok(&["delete", &id.to_string(), "--yes"]);
    let actions: Vec<String> = {
        let c = rusqlite::Connection::open(env.db()).unwrap();
        let mut s = c
            .prepare("SELECT action FROM audit_log WHERE seq > ?1 ORDER BY seq")
            .unwrap();
        s.query_map([before], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    assert_eq!(
        actions,
        [
            "user_add",
            "customer_add",
            "customer_edit",
            "customer_delete"
        ]
    );
    // Personal data in audit payloads is masked.
    let leaked = env.query_i64("SELECT count(*) FROM audit_log WHERE after LIKE '%13900139000%'");
    assert_eq!(leaked, 0);
    // The chain links.
    let broken = env.query_i64(
        "SELECT count(*) FROM audit_log a JOIN audit_log b ON b.seq = a.seq + 1 WHERE b.prev_hash <> a.hash",
    );
    assert_eq!(broken, 0);
}

#[test]
fn broken_pipe_exits_quietly_with_0() {
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "3000"]);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pool"))
        .env_clear()
        .env("HOME", env.dir.path())
        .env("POOL_DB", env.db())
        .env("POOL_USER", "admin")
        .env("NO_COLOR", "1")
        .args(["list", "--limit", "0", "--format", "csv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).unwrap();
    // The reader is gone now: the next writes hit EPIPE.
    let out = child.wait_with_output().unwrap();
    assert!(first.starts_with("id,name"), "{first}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn pool_now_must_be_a_valid_time() {
    let env = TestEnv::new();
    env.cmd()
        .env("POOL_NOW", "yesterday-ish")
        .arg("list")
        .assert()
        .code(6);
}

#[test]
fn demo_is_deterministic_for_a_seed() {
    let a = TestEnv::new();
    let b = TestEnv::new();
    a.ok(&["demo", "--customers", "500", "--seed", "7"]);
    b.ok(&["demo", "--customers", "500", "--seed", "7"]);
    let q = ["list", "--limit", "0", "--sort", "id"];
    assert_eq!(a.json(&q), b.json(&q));
    let n = a.json(&["list", "--limit", "0"]).as_array().unwrap().len();
    assert!(n >= 490, "{n}");
    let pooled = a
        .json(&["list", "--in-pool", "--limit", "0"])
        .as_array()
        .unwrap()
        .len();
    assert!(pooled > 100 && pooled < n, "{pooled} of {n}");
}

#[test]
fn pooled_city_lookup_uses_an_index() {
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "2000"]);
    let store = customer_pool::store::Store::open(&env.db()).unwrap();
    let f = customer_pool::store::customers::ListFilter {
        in_pool: Some(None),
        city: Some("杭州".into()),
        limit: Some(20),
        ..Default::default()
    };
    let plan = customer_pool::store::customers::explain(&store.conn, &f)
        .unwrap()
        .join("\n");
    assert!(
        plan.contains("USING INDEX customers_city (city=? AND owner_id=?)"),
        "{plan}"
    );
    let f = customer_pool::store::customers::ListFilter {
        owner_id: Some(2),
        ..Default::default()
    };
    let plan = customer_pool::store::customers::explain(&store.conn, &f)
        .unwrap()
        .join("\n");
    assert!(plan.contains("USING INDEX customers_owner"), "{plan}");
}

#[test]
fn an_older_database_is_backed_up_then_upgraded() {
    let env = TestEnv::new();
    std::fs::remove_file(env.db()).unwrap();
    {
        let mut c = rusqlite::Connection::open(env.db()).unwrap();
        customer_pool::store::migrate::MIGRATIONS
            .to_version(&mut c, 1)
            .unwrap();
        c.execute_batch(
            "INSERT INTO teams (name, created_at) VALUES ('default', 0);
             INSERT INTO users (login, team_id, role, created_at) VALUES ('admin', 1, 'admin', 0);
             INSERT INTO customers (name, pool_id, created_at, updated_at, pooled_at) VALUES ('旧客户', 1, 0, 0, 0);",
        )
        .unwrap();
        c.execute(
            "INSERT INTO users (login, team_id, role, created_at) VALUES (?1, 1, 'admin', 0)",
            [TestEnv::os_account()],
        )
        .unwrap();
    }
    let v = env.json(&["list"]);
    assert_eq!(v[0]["name"], "旧客户");
    let latest = customer_pool::store::migrate::LATEST;
    let version: i64 = env
        .sql("")
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, latest);
    let aside = format!("{}.before-v{latest}-upgrade", env.db().display());
    let old = rusqlite::Connection::open(&aside).unwrap();
    let old_version: i64 = old
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(old_version, 1);
    let n: i64 = old
        .query_row("SELECT count(*) FROM customers", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}
