//! `pool backup`: a consistent, verified copy, or no file at all.
use std::process::{Child, Command, Stdio};

use crate::common::TestEnv;

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
    sqlite_only!("backup writes a SQLite file (a server is backed up with pg_dump)");
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
    sqlite_only!("backup writes a SQLite file (a server is backed up with pg_dump)");
    let env = TestEnv::new();
    env.exec(
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
fn a_failed_backup_leaves_no_file_and_no_audit_row() {
    sqlite_only!("backup writes a SQLite file (a server is backed up with pg_dump)");
    let env = TestEnv::new();
    env.pooled("a", "13800000001");
    let rows = |env: &TestEnv| -> i64 { env.audit_count("backup") };
    let missing = env.dir.path().join("no-such-folder/b.db");
    let err = env.fails_as("admin", &["backup", missing.to_str().unwrap()], 6);
    assert!(err.contains("does not exist"), "{err}");
    // A folder nobody may write into (root ignores permissions, so a file stands in
    // for the folder: creating anything beneath it fails for every user).
    std::fs::write(env.dir.path().join("plainfile"), "x").unwrap();
    let under_file = env.dir.path().join("plainfile/b.db");
    let out = env.run_as("admin", &["backup", under_file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(rows(&env), 0, "a failed backup was audited");
    let leftovers: Vec<String> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let ok = env.dir.path().join("ok.db");
    env.ok(&["backup", ok.to_str().unwrap()]);
    assert_eq!(rows(&env), 1);
    let after = env.last_audit("backup").after_json();
    assert!(after["audit_head"].as_str().unwrap().contains(':'));
}
