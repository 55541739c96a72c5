//! Step 10: no command, user or race can destroy the shared database.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

use crate::common::TestEnv;

fn pool(env: &TestEnv, user: &str) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("pool"));
    c.env_clear()
        .env("HOME", env.dir.path())
        .env("POOL_DB", env.db())
        .env("POOL_USER", user)
        .env("NO_COLOR", "1")
        .current_dir(env.dir.path())
        .stdin(Stdio::null());
    c
}

fn read_only(p: &Path) -> Connection {
    let c = Connection::open_with_flags(p, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(30)).unwrap();
    c
}

/// Raw SQL or SQLite internals have no place in a message to a user.
fn assert_no_raw_sql(stderr: &str) {
    for needle in [
        "CREATE TABLE",
        "already exists",
        "SQLITE_",
        "sqlite_master",
        "no such table",
    ] {
        assert!(!stderr.contains(needle), "raw SQL in: {stderr}");
    }
}

#[test]
fn thirty_restores_racing_list_and_add_lose_nothing_and_create_nothing() {
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

#[test]
fn restore_waits_for_a_writer_and_gives_up_cleanly() {
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

/// A digest of every byte of the database's files, to prove a refused command touched
/// nothing.
fn snapshot(db: &Path) -> Vec<(String, u64, String)> {
    use sha2::Digest;
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| {
            let p = format!("{}{s}", db.display());
            std::fs::read(&p)
                .ok()
                .map(|b| (p, b.len() as u64, format!("{:x}", sha2::Sha256::digest(&b))))
        })
        .collect()
}

#[test]
fn every_output_option_pointed_at_the_database_is_refused() {
    let env = TestEnv::new();
    env.pooled("a", "13800000001");
    env.user("viewer1", "ops", "viewer");
    env.user("member1", "ops", "member");
    let dir = env.dir.path();
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "name,phone\nx,not-a-phone\n").unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::os::unix::fs::symlink(env.db(), dir.join("link.db")).unwrap();
    // (A hard link to the database makes pool refuse the database itself: see
    // a_database_with_two_names_is_refused…; outfile's unit tests cover links as targets.)
    let other = dir.join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .unwrap();
    // Another process with the database open keeps -wal and -shm in place (and nothing
    // is checkpointed behind the test's back). It must be another process: this one
    // reads the files, and closing any descriptor of a file drops the POSIX locks the
    // process holds on it.
    let mut holder = pool(&env, "admin")
        .args(["import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    std::os::unix::fs::symlink(format!("{}-wal", env.db().display()), dir.join("wal-link"))
        .unwrap();
    let other_bytes = std::fs::read(&other).unwrap();
    let targets: Vec<PathBuf> = vec![
        env.db(),
        dir.join("link.db"),
        dir.join("sub/../pool.db"),
        PathBuf::from(format!("{}-wal", env.db().display())),
        PathBuf::from(format!("{}-shm", env.db().display())),
        PathBuf::from(format!("{}-journal", env.db().display())),
        dir.join("wal-link"),
        other.clone(),
    ];
    let before = snapshot(&env.db());
    assert!(before.len() == 3, "expected the db, -wal and -shm");
    for t in &targets {
        let t = t.to_str().unwrap();
        let runs: Vec<(&str, Vec<&str>)> = vec![
            ("viewer1", vec!["export", "-o", t]),
            ("viewer1", vec!["export", "-o", t, "--force"]),
            ("admin", vec!["export", "-o", t, "--force", "--unmasked"]),
            (
                "member1",
                vec!["import", bad.to_str().unwrap(), "--dry-run", "--rejects", t],
            ),
            (
                "member1",
                vec!["import", bad.to_str().unwrap(), "--rejects", t, "--force"],
            ),
            ("admin", vec!["backup", t]),
            ("admin", vec!["backup", t, "--force"]),
        ];
        for (user, args) in runs {
            let out = pool(&env, user).args(&args).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(6), "pool {args:?} as {user}: {err}");
            assert!(err.contains("error:"), "{err}");
            assert_eq!(
                snapshot(&env.db()),
                before,
                "pool {args:?} changed the database"
            );
        }
    }
    assert_eq!(std::fs::read(&other).unwrap(), other_bytes);
    assert!(!Path::new(&format!("{}-journal", env.db().display())).exists());

    // stdout appended to the database (`pool export >> pool.db`) is refused as well.
    for args in [vec!["export"], vec!["list"]] {
        let append = std::fs::OpenOptions::new()
            .append(true)
            .open(env.db())
            .unwrap();
        let out = pool(&env, "viewer1")
            .args(&args)
            .stdout(Stdio::from(append))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(6), "{args:?}");
        assert_eq!(snapshot(&env.db()), before, "{args:?} via stdout");
    }
    holder.kill().unwrap();
    let _ = holder.wait();
    env.ok(&["doctor"]);
}

#[test]
fn existing_files_need_force_and_default_rejects_never_overwrite() {
    let env = TestEnv::new();
    let dir = env.dir.path();
    let mine = dir.join("notes.txt");
    std::fs::write(&mine, "my own notes").unwrap();
    let m = mine.to_str().unwrap();
    env.fails_as("admin", &["export", "-o", m], 6);
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "my own notes");
    env.fails_as("admin", &["backup", m], 6);
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "my own notes");
    env.ok(&["export", "-o", m, "--force"]);
    assert!(std::fs::read_to_string(&mine).unwrap().starts_with("id,"));
    // A dangling link is not followed to create its target.
    std::os::unix::fs::symlink(dir.join("elsewhere.csv"), dir.join("dangling.csv")).unwrap();
    env.fails_as(
        "admin",
        &["export", "-o", dir.join("dangling.csv").to_str().unwrap()],
        6,
    );
    assert!(!dir.join("elsewhere.csv").exists());
    // The default rejects file of a re-run takes a new name instead of overwriting.
    let bad = dir.join("leads.csv");
    std::fs::write(&bad, "name,phone\nx,not-a-phone\n").unwrap();
    std::fs::write(dir.join("leads.csv.rejects.csv"), "someone else's file").unwrap();
    let v = env.json(&["import", bad.to_str().unwrap()]);
    assert_eq!(
        v["rejects_file"].as_str().unwrap(),
        dir.join("leads.csv.rejects-2.csv").to_str().unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("leads.csv.rejects.csv")).unwrap(),
        "someone else's file"
    );
    // --rejects with nothing rejected leaves no empty file behind.
    let good = dir.join("good.csv");
    std::fs::write(&good, "name,phone\ny,13800000009\n").unwrap();
    let r = dir.join("r.csv");
    env.ok(&[
        "import",
        good.to_str().unwrap(),
        "--rejects",
        r.to_str().unwrap(),
    ]);
    assert!(!r.exists());
    // A previous backup may be replaced with --force; a database in use may not.
    let b = dir.join("b.db");
    env.ok(&["backup", b.to_str().unwrap()]);
    env.fails_as("admin", &["backup", b.to_str().unwrap()], 6);
    env.ok(&["backup", b.to_str().unwrap(), "--force"]);
    let busy = Connection::open(&b).unwrap();
    busy.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS x(y);")
        .unwrap();
    env.fails_as("admin", &["backup", b.to_str().unwrap(), "--force"], 6);
    drop(busy);
}

#[test]
fn a_failed_backup_leaves_no_file_and_no_audit_row() {
    let env = TestEnv::new();
    env.pooled("a", "13800000001");
    let rows = |env: &TestEnv| -> i64 {
        read_only(&env.db())
            .query_row(
                "SELECT count(*) FROM audit_log WHERE action = 'backup'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
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
    let after: serde_json::Value = serde_json::from_str(
        &read_only(&env.db())
            .query_row(
                "SELECT after FROM audit_log WHERE action = 'backup'",
                [],
                |r| r.get::<_, String>(0),
            )
            .unwrap(),
    )
    .unwrap();
    assert!(after["audit_head"].as_str().unwrap().contains(':'));
}

#[test]
fn five_concurrent_first_uses_make_one_database_and_one_admin() {
    for round in 0..8 {
        let dir = tempfile::TempDir::new().unwrap();
        let db = dir.path().join("new/pool.db");
        // The OS account five times, then five processes asking to act as users that
        // do not exist yet: one database and one admin (the OS account) either way.
        for same in [true, false] {
            let _ = std::fs::remove_dir_all(dir.path().join("new"));
            let children: Vec<_> = (0..5)
                .map(|k| {
                    let mut c = Command::new(assert_cmd::cargo::cargo_bin("pool"));
                    c.env_clear();
                    if !same {
                        c.env("POOL_USER", format!("u{k}"));
                    }
                    c.env("HOME", dir.path())
                        .env("POOL_DB", &db)
                        .args(["list", "--format", "json"])
                        .stdin(Stdio::null())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap()
                })
                .collect();
            let mut ok = 0;
            for c in children {
                let out = c.wait_with_output().unwrap();
                let err = String::from_utf8_lossy(&out.stderr).into_owned();
                assert_no_raw_sql(&err);
                match out.status.code() {
                    Some(0) => ok += 1,
                    // The OS account became the admin; u1…u5 are nobody yet.
                    Some(4) if !same => assert!(err.contains("unknown user 'u"), "{err}"),
                    Some(7) => assert!(err.contains("busy"), "{err}"),
                    code => panic!("round {round}: exit {code:?}: {err}"),
                }
            }
            let c = read_only(&db);
            let admins: i64 = c
                .query_row("SELECT count(*) FROM users WHERE role = 'admin'", [], |r| {
                    r.get(0)
                })
                .unwrap();
            let boots: i64 = c
                .query_row(
                    "SELECT count(*) FROM audit_log WHERE action = 'bootstrap'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!((admins, boots), (1, 1), "round {round} same={same}");
            if same {
                assert_eq!(ok, 5, "round {round}: the same user must get in every time");
            }
        }
    }
}

#[test]
fn a_stray_wal_without_its_database_is_not_turned_into_a_new_one() {
    let env = TestEnv::new();
    env.pooled("a", "13800000001");
    let wal_of_live = {
        // Keep a -wal with frames in it: write while a reader pins the log.
        let holder = Connection::open(env.db()).unwrap();
        holder
            .execute_batch("BEGIN; SELECT count(*) FROM customers;")
            .unwrap();
        env.pooled("b", "13800000002");
        let bytes = std::fs::read(format!("{}-wal", env.db().display())).unwrap();
        holder.execute_batch("COMMIT").unwrap();
        bytes
    };
    assert!(!wal_of_live.is_empty());
    let fresh = env.dir.path().join("gone.db");
    std::fs::write(format!("{}-wal", fresh.display()), &wal_of_live).unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("pool"))
        .env_clear()
        .env("HOME", env.dir.path())
        .env("POOL_DB", &fresh)
        .env("POOL_USER", "admin")
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(8));
    assert!(String::from_utf8_lossy(&out.stderr).contains("write-ahead log"));
    assert!(!fresh.exists());
}

#[test]
fn a_database_with_two_names_is_refused_before_it_is_corrupted() {
    let env = TestEnv::new();
    env.pooled("a", "13800000001");
    let link = env.dir.path().join("second-name.db");
    std::fs::hard_link(env.db(), &link).unwrap();
    let before = snapshot(&env.db());
    for db in [env.db(), link.clone()] {
        let out = pool(&env, "admin")
            .env("POOL_DB", &db)
            .args(["add", "--name", "x", "--pool"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(8));
        assert!(String::from_utf8_lossy(&out.stderr).contains("hard links"));
    }
    assert_eq!(snapshot(&env.db()), before);
    std::fs::remove_file(&link).unwrap();
    env.ok(&["doctor"]);
}

/// A copy of a backup with `sql` run on it (the schema's triggers make some changes
/// impossible through pool, not through sqlite3).
fn crafted(env: &TestEnv, from: &Path, name: &str, sql: &str) -> PathBuf {
    let p = env.dir.path().join(name);
    std::fs::copy(from, &p).unwrap();
    Connection::open(&p).unwrap().execute_batch(sql).unwrap();
    p
}

#[test]
fn restore_takes_only_files_with_exactly_pools_schema() {
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
fn an_empty_database_file_is_not_silently_a_new_database() {
    let env = TestEnv::new();
    env.pooled("a", "13800000001");
    // What `pool export > pool.db` does: the shell empties the file first.
    std::fs::write(env.db(), b"").unwrap();
    for f in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{f}", env.db().display()));
    }
    let err = env.fails_as("admin", &["list"], 8);
    assert!(err.contains("empty file"), "{err}");
    assert_eq!(std::fs::metadata(env.db()).unwrap().len(), 0);
    // An explicit init may start over there.
    env.os_ok(&["init"]);
    assert!(std::fs::metadata(env.db()).unwrap().len() > 0);
}

#[test]
fn output_on_stderr_into_the_database_is_refused_too() {
    let env = TestEnv::new();
    let before = snapshot(&env.db());
    let append = std::fs::OpenOptions::new()
        .append(true)
        .open(env.db())
        .unwrap();
    let out = pool(&env, "nobody-at-all")
        .arg("list")
        .stderr(Stdio::from(append))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    let append = std::fs::OpenOptions::new()
        .append(true)
        .open(env.db())
        .unwrap();
    let out = pool(&env, "admin")
        .args(["completions", "bash"])
        .stdout(Stdio::from(append))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert_eq!(snapshot(&env.db()), before);
}

#[test]
fn eight_processes_opening_an_older_database_upgrade_it_once() {
    let env = TestEnv::new();
    std::fs::remove_file(env.db()).unwrap();
    {
        let mut c = Connection::open(env.db()).unwrap();
        customer_pool::store::migrate::MIGRATIONS
            .to_version(&mut c, 5)
            .unwrap();
        c.execute_batch(
            "INSERT INTO teams (name, created_at) VALUES ('default', 0);
             INSERT INTO users (login, team_id, role, created_at) VALUES ('admin', 1, 'admin', 0);",
        )
        .unwrap();
        c.execute(
            "INSERT INTO users (login, team_id, role, created_at) VALUES (?1, 1, 'admin', 0)",
            [TestEnv::os_account()],
        )
        .unwrap();
    }
    let children: Vec<_> = (0..8)
        .map(|_| {
            pool(&env, "admin")
                .args(["list", "--limit", "1"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || out.status.code() == Some(7),
            "{:?}: {err}",
            out.status.code()
        );
        assert_no_raw_sql(&err);
    }
    let aside = format!(
        "{}.before-v{}-upgrade",
        env.db().display(),
        customer_pool::store::migrate::LATEST
    );
    assert!(Path::new(&aside).exists());
    env.ok(&["doctor"]);
}
