//! Step 8: backup, restore, doctor.
use std::process::{Child, Command, Stdio};

use crate::common::{failed_checks, TestEnv};

fn spawn_claims(env: &TestEnv, user: &str, ids: std::ops::RangeInclusive<i64>) -> Child {
    let mut args = vec!["claim".to_string()];
    args.extend(ids.map(|i| i.to_string()));
    Command::new(assert_cmd::cargo::cargo_bin("pool"))
        .env_clear()
        .env("POOL_DB", env.db())
        .env("POOL_USER", user)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn backup_refuses_to_overwrite_and_verifies() {
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "200"]);
    let f = env.dir.path().join("b.db");
    let v = env.json(&["backup", f.to_str().unwrap()]);
    assert!(v["customers"].as_i64().unwrap() >= 190);
    let err = env.fails_as("admin", &["backup", f.to_str().unwrap()], 6);
    assert!(err.contains("--force"), "{err}");
    env.ok(&["backup", f.to_str().unwrap(), "--force"]);
    env.user("li", "sales", "member");
    env.fails_as(
        "li",
        &["backup", env.dir.path().join("c.db").to_str().unwrap()],
        4,
    );
    // The backup is a complete database on its own.
    let n: i64 = rusqlite::Connection::open(&f)
        .unwrap()
        .query_row("SELECT count(*) FROM customers", [], |r| r.get(0))
        .unwrap();
    assert_eq!(Some(n), v["customers"].as_i64());
    assert!(!env.dir.path().join("b.db-wal").exists());
}

#[test]
fn backup_while_eight_processes_claim_is_consistent() {
    let env = TestEnv::new();
    env.sql(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 2000)
         INSERT INTO customers (id, name, pool_id, created_at, updated_at, pooled_at) SELECT i, 'c' || i, 1, 0, 0, 0 FROM s",
    );
    for k in 0..8 {
        env.user(&format!("rep{k}"), "sales", "member");
    }
    let children: Vec<Child> = (0..8)
        .map(|k| spawn_claims(&env, &format!("rep{k}"), (k * 250 + 1)..=(k * 250 + 250)))
        .collect();
    let mut heads = Vec::new();
    for i in 0..3 {
        let f = env.dir.path().join(format!("during{i}.db"));
        let v = env.json(&["backup", f.to_str().unwrap()]);
        heads.push(v["audit_head"].as_str().unwrap().to_string());
        // The copy verifies on its own, and owned customers = claim rows in its audit log.
        let c = rusqlite::Connection::open(&f).unwrap();
        let owned: i64 = c
            .query_row(
                "SELECT count(*) FROM customers WHERE owner_id IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let claims: i64 = c
            .query_row(
                "SELECT count(*) FROM audit_log WHERE action = 'claim'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(owned, claims, "backup {i} is not one snapshot");
    }
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    env.ok(&["audit", "verify"]);
    assert_eq!(heads.len(), 3);
}

#[test]
fn restore_checks_the_file_keeps_the_old_one_and_works() {
    let env = TestEnv::new();
    env.ok(&[
        "add",
        "--name",
        "before",
        "--phone",
        "13800000001",
        "--pool",
    ]);
    let f = env.dir.path().join("good.db");
    env.ok(&["backup", f.to_str().unwrap()]);
    env.ok(&["add", "--name", "after", "--phone", "13800000002", "--pool"]);
    // Without a terminal, restore needs --yes.
    env.fails_as("admin", &["restore", f.to_str().unwrap()], 2);
    let v = env.json(&["restore", f.to_str().unwrap(), "--yes"]);
    let kept = v["previous_kept_at"].as_str().unwrap();
    // The replaced contents are kept aside, "after" included.
    let aside_names: Vec<String> = rusqlite::Connection::open(kept)
        .unwrap()
        .prepare("SELECT name FROM customers ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(aside_names, ["before", "after"]);
    let names: Vec<String> = env
        .json(&["list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["before"]);
    env.ok(&["audit", "verify"]);
    // A damaged file is refused before anything is touched.
    let bad = env.dir.path().join("bad.db");
    let mut bytes = std::fs::read(&f).unwrap();
    for b in bytes.iter_mut().skip(4096).take(4096) {
        *b ^= 0x5a;
    }
    std::fs::write(&bad, &bytes).unwrap();
    env.fails_as("admin", &["restore", bad.to_str().unwrap(), "--yes"], 8);
    env.fails_as("admin", &["restore", "/nonexistent.db", "--yes"], 3);
    assert_eq!(env.json(&["list"]).as_array().unwrap().len(), 1);
}

#[test]
fn doctor_passes_on_a_healthy_file_and_finds_problems() {
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "100"]);
    env.ok(&["doctor"]);
    // An inconsistent row: a pooled customer that is locked.
    env.sql("UPDATE customers SET locked = 1 WHERE id = (SELECT min(id) FROM customers WHERE owner_id IS NULL)");
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
    env.sql(
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
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "300"]);
    env.sql("PRAGMA wal_checkpoint(TRUNCATE)");
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
