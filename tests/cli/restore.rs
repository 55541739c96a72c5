//! `pool restore`: only pool's own schema, the old file kept, nothing lost to racing writers.
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::common::files::{assert_no_raw_sql, crafted, pool, read_only, snapshot};
use crate::common::TestEnv;

#[test]
fn restore_checks_the_file_keeps_the_old_one_and_works() {
    sqlite_only!("restore reads a SQLite backup file (a server is restored with pg_restore)");
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
fn restore_waits_for_a_writer_and_gives_up_cleanly() {
    sqlite_only!("restore reads a SQLite backup file (a server is restored with pg_restore)");
    let env = TestEnv::new();
    env.pooled("keep", "13800000001");
    let f = env.dir.path().join("good.db");
    env.ok(&["backup", f.to_str().unwrap()]);
    env.pooled("later", "13800000002");
    let before = env.json(&["list"]).as_array().unwrap().len();
    // Another process in the middle of a write transaction.
    let writer = Connection::open(env.db()).unwrap();
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    let out = pool(&env, "admin")
        .env("POOL_BUSY_TIMEOUT", "1")
        .args(["restore", f.to_str().unwrap(), "--yes"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    writer.execute_batch("ROLLBACK").unwrap();
    drop(writer);
    assert_eq!(env.json(&["list"]).as_array().unwrap().len(), before);
    // No temporary copy left behind by the failed attempt.
    let leftovers: Vec<String> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("restoring") || n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    env.ok(&["restore", f.to_str().unwrap(), "--yes"]);
    assert_eq!(env.json(&["list"]).as_array().unwrap().len(), 1);
}

#[test]
fn restore_takes_only_files_with_exactly_pools_schema() {
    sqlite_only!("restore reads a SQLite backup file (a server is restored with pg_restore)");
    let env = TestEnv::new();
    env.pooled("a", "13800000001");
    let good = env.dir.path().join("good.db");
    env.ok(&["backup", good.to_str().unwrap()]);
    let before = snapshot(&env.db());
    let planted = crafted(
        &env,
        &good,
        "planted.db",
        "CREATE TRIGGER zz AFTER INSERT ON audit_log WHEN NEW.action <> 'restore'
         BEGIN UPDATE customers SET name = 'pwned', phone = NULL; END;",
    );
    let dropped = crafted(&env, &good, "dropped.db", "DROP TRIGGER audit_no_update;");
    let tiny = env.dir.path().join("tiny.db");
    Connection::open(&tiny)
        .unwrap()
        .execute_batch(
            "CREATE TABLE audit_log(seq INTEGER PRIMARY KEY, at, actor, action, entity, entity_id, before, after, prev_hash, hash);
             CREATE TABLE customers(id INTEGER PRIMARY KEY); PRAGMA user_version = 6;",
        )
        .unwrap();
    let foreign = env.dir.path().join("foreign.db");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE teams(x); CREATE TABLE audit_log(seq INTEGER PRIMARY KEY, at, actor, action, entity, entity_id, before, after, prev_hash, hash);")
        .unwrap();
    for f in [&planted, &dropped, &tiny, &foreign] {
        let out = pool(&env, "admin")
            .args(["restore", f.to_str().unwrap(), "--yes"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(8), "{}: {err}", f.display());
        assert_no_raw_sql(&err);
        assert!(!err.contains("SELECT") && err.len() < 1000, "{err}");
        assert_eq!(
            snapshot(&env.db()),
            before,
            "{} changed the database",
            f.display()
        );
    }
    // doctor names a planted trigger in the live database.
    Connection::open(env.db())
        .unwrap()
        .execute_batch("CREATE TRIGGER zz AFTER INSERT ON audit_log BEGIN SELECT 1; END;")
        .unwrap();
    let out = env.run_as("admin", &["doctor"]);
    assert_eq!(out.status.code(), Some(8));
    assert!(String::from_utf8_lossy(&out.stdout).contains("trigger zz"));
}

#[test]
fn thirty_restores_racing_list_and_add_lose_nothing_and_create_nothing() {
    sqlite_only!("restore reads a SQLite backup file (a server is restored with pg_restore)");
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "2000", "--seed", "7"]);
    env.user("racer", "sales-race", "member");
    let backup = env.dir.path().join("bk.db");
    env.ok(&["backup", backup.to_str().unwrap()]);
    let backup_customers: BTreeSet<(i64, String)> = read_only(&backup)
        .prepare("SELECT id, name FROM customers")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(backup_customers.len() >= 2000);

    // Racers: one process after another, as long as the restores go on.
    let stop = Arc::new(AtomicBool::new(false));
    let results: Arc<Mutex<Vec<(String, Output)>>> = Arc::default();
    let racers: Vec<_> = (0..3)
        .map(|k| {
            let (stop, results) = (Arc::clone(&stop), Arc::clone(&results));
            let db = env.db();
            let home = env.dir.path().to_path_buf();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let name = format!("race-{k}-{n}");
                    let args: Vec<&str> = if k == 0 {
                        vec!["list", "--limit", "1", "--format", "json"]
                    } else {
                        vec!["add", "--name", &name, "--pool", "--format", "json"]
                    };
                    let out = Command::new(assert_cmd::cargo::cargo_bin("pool"))
                        .env_clear()
                        .env("HOME", &home)
                        .env("POOL_DB", &db)
                        .env("POOL_USER", "racer")
                        .args(&args)
                        .stdin(Stdio::null())
                        .output()
                        .unwrap();
                    results.lock().unwrap().push((args.join(" "), out));
                }
            })
        })
        .collect();

    let mut asides = Vec::new();
    for i in 0..30 {
        let out = pool(&env, "admin")
            .args([
                "restore",
                backup.to_str().unwrap(),
                "--yes",
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "restore {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let kept = PathBuf::from(v["previous_kept_at"].as_str().unwrap());
        assert!(read_only(&kept)
            .query_row("SELECT count(*) FROM customers", [], |r| r.get::<_, i64>(0))
            .is_ok());
        asides.push(kept);
        // One snapshot of the live database, while the racers go on.
        let c = read_only(&env.db());
        c.execute_batch("BEGIN").unwrap();
        let restore_seq: i64 = c
            .query_row(
                "SELECT max(seq) FROM audit_log WHERE action = 'restore'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let others: BTreeSet<(i64, String)> = c
            .prepare("SELECT id, name FROM customers WHERE name NOT LIKE 'race-%'")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            others, backup_customers,
            "restore {i}: not the backup's customers"
        );
        let racing: BTreeSet<i64> = c
            .prepare("SELECT id FROM customers WHERE name LIKE 'race-%'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let added_after: BTreeSet<i64> = c
            .prepare("SELECT entity_id FROM audit_log WHERE action = 'customer_add' AND seq > ?1")
            .unwrap()
            .query_map([restore_seq], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            racing, added_after,
            "restore {i}: the adds in the database are not exactly those committed after it"
        );
        let admins: Vec<String> = c
            .prepare("SELECT login FROM users WHERE role = 'admin' ORDER BY login")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let mut expected = vec!["admin".to_string(), TestEnv::os_account()];
        expected.sort();
        assert_eq!(admins, expected, "restore {i}");
        c.execute_batch("COMMIT").unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in racers {
        r.join().unwrap();
    }
    let results = results.lock().unwrap();
    let adds = results.iter().filter(|(a, _)| a.starts_with("add")).count();
    assert!(adds > 10, "the racers barely ran ({adds} adds)");
    for (args, out) in results.iter() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || out.status.code() == Some(7),
            "pool {args}: {} {err}",
            out.status
        );
        assert!(!err.contains("new database"), "pool {args}: {err}");
        assert_no_raw_sql(&err);
    }
    // Nothing that committed is lost: every add that reported success is in the live
    // database or in the copy kept aside by the restore that replaced it (the aside is
    // taken under the live database's write lock, so no commit falls between the two).
    let mut kept_names = BTreeSet::new();
    for p in asides.iter().chain([&env.db()]) {
        let c = read_only(p);
        let mut stmt = c
            .prepare("SELECT name FROM customers WHERE name LIKE 'race-%'")
            .unwrap();
        for n in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
            kept_names.insert(n.unwrap());
        }
    }
    for (args, out) in results
        .iter()
        .filter(|(a, o)| a.starts_with("add") && o.status.success())
    {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let name = v["name"].as_str().unwrap_or_else(|| panic!("{args}: {v}"));
        assert!(kept_names.contains(name), "{name} committed, then vanished");
    }
    env.ok(&["doctor"]);
    env.ok(&["audit", "verify"]);
}
