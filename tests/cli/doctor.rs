//! `pool doctor`: a healthy file passes; changes behind pool's back are found.
use rusqlite::Connection;

use crate::common::fixtures::two_teams;
use crate::common::{failed_checks, TestEnv};

/// The names of the checks `pool doctor --format json` failed.
fn doctor_failures(env: &TestEnv) -> Vec<String> {
    crate::common::failed_checks(&env.run_as("admin", &["doctor", "--format", "json"]))
}

#[test]
fn doctor_passes_on_a_healthy_file_and_finds_problems() {
    sqlite_only!("doctor's SQLite file checks");
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "100"]);
    env.ok(&["doctor"]);
    // An inconsistent row: a pooled customer that is locked.
    env.exec("UPDATE customers SET locked = 1 WHERE id = (SELECT min(id) FROM customers WHERE owner_id IS NULL)");
    let out = env.run_as("admin", &["doctor", "--format", "json"]);
    assert_eq!(out.status.code(), Some(8));
    let bad = failed_checks(&out);
    assert_eq!(
        bad,
        ["pooled customers that are locked or have a claim time"]
    );
    env.user("li", "sales", "member");
    env.fails_as("li", &["doctor"], 4);
}

/// A stored recycle date that a program forced past the trigger is found.
#[test]
fn doctor_finds_a_recycle_date_that_disagrees_with_the_rules() {
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "200"]);
    env.ok(&["doctor"]);
    sqlite_only!("drops a trigger of the SQLite schema (pg_gaps breaks the server's)");
    env.exec(
        "DROP TRIGGER customers_recycle_due;
         UPDATE customers SET recycle_due_at = 1 WHERE id = (SELECT min(id) FROM customers WHERE recycle_due_at IS NOT NULL);",
    );
    let out = env.run_as("admin", &["doctor", "--format", "json"]);
    assert_eq!(out.status.code(), Some(8));
    let bad = failed_checks(&out);
    assert_eq!(bad, ["schema", "recycle dates"]);
}

#[test]
fn doctor_on_a_file_with_a_flipped_byte_exits_8() {
    sqlite_only!("doctor's SQLite file checks");
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "300"]);
    env.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    let clean = std::fs::read(env.db()).unwrap();
    let pages = clean.len() / 4096;
    // One flipped byte in a page header, on pages spread over the file: the b-tree
    // structure (and the audit chain) no longer adds up. (A flip inside a non-indexed
    // text value is invisible to SQLite, which keeps no page checksums.)
    for page in [2, pages / 3, pages / 2, pages - 2] {
        let mut bytes = clean.clone();
        bytes[page * 4096] ^= 0xff;
        std::fs::write(env.db(), &bytes).unwrap();
        let out = env.run_as("admin", &["doctor"]);
        assert_eq!(
            out.status.code(),
            Some(8),
            "page {page}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The unflipped file is healthy again (edits inside audit rows: see tests/cli/audit.rs).
    std::fs::write(env.db(), &clean).unwrap();
    env.ok(&["doctor"]);
}

#[test]
fn doctor_sees_changes_made_behind_pools_back() {
    sqlite_only!("doctor's SQLite file checks (the server's: pg_gaps)");
    let (env, north, pooled) = two_teams();
    assert!(doctor_failures(&env).is_empty());
    let c = Connection::open(env.db()).unwrap();
    // An owner changed with sqlite3: the ownership events say otherwise.
    c.execute(
        "UPDATE customers SET owner_id = (SELECT id FROM users WHERE login = 'lihua'), claimed_at = 1 WHERE id = ?1",
        [&pooled],
    )
    .unwrap();
    assert_eq!(
        doctor_failures(&env),
        ["owners that differ from the last ownership event"]
    );
    // A raw phone that no longer matches its key.
    c.execute(
        "UPDATE customers SET phone = '13000000000' WHERE id = ?1",
        [&north],
    )
    .unwrap();
    assert!(doctor_failures(&env).contains(&"match keys".to_string()));
    // The append-only triggers dropped.
    c.execute_batch("DROP TRIGGER audit_no_delete;").unwrap();
    assert!(doctor_failures(&env).contains(&"schema".to_string()));
}
