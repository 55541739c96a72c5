//! The database file itself: versions, upgrades, damage, busy timeouts, and no command
//! writing over it.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rusqlite::Connection;

use crate::common::files::{pool, snapshot};
use crate::common::fixtures::stderr;
use crate::common::TestEnv;

#[test]
fn newer_database_is_refused_with_a_clear_message() {
    sqlite_only!("the database is a SQLite file");
    let env = TestEnv::new();
    env.exec("PRAGMA user_version = 99");
    let err = env.fails_as("admin", &["list"], 1);
    assert!(err.contains("newer than this pool binary"), "{err}");
    assert!(err.contains("hint: upgrade pool"), "{err}");
}

#[test]
fn connections_use_wal_and_foreign_keys() {
    sqlite_only!("the database is a SQLite file");
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
fn an_older_database_is_backed_up_then_upgraded() {
    sqlite_only!("the database is a SQLite file");
    let env = TestEnv::new();
    std::fs::remove_file(env.db()).unwrap();
    {
        let mut c = rusqlite::Connection::open(env.db()).unwrap();
        customer_pool::store::sqlite::migrate::MIGRATIONS
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
    let latest = customer_pool::store::sqlite::migrate::LATEST;
    let version = env.user_version();
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

// ------------------------------------------------------------------ item 14

#[test]
fn busy_timeout_out_of_range_or_malformed_is_a_clear_error() {
    sqlite_only!("the database is a SQLite file");
    let env = TestEnv::new();
    for bad in ["2147484", "abc", "-1", "1.5", ""] {
        let out = env
            .cmd()
            .env("POOL_BUSY_TIMEOUT", bad)
            .args(["list"])
            .output()
            .expect("run");
        assert_eq!(
            out.status.code(),
            Some(6),
            "POOL_BUSY_TIMEOUT={bad:?}: {}",
            stderr(&out)
        );
        let err = stderr(&out);
        assert!(err.contains("invalid POOL_BUSY_TIMEOUT"), "{err}");
        assert!(err.contains("hint: set it to whole seconds"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = env
        .cmd()
        .env("POOL_BUSY_TIMEOUT", "5")
        .args(["list"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_malformed_database_is_an_integrity_failure_everywhere() {
    sqlite_only!("the database is a SQLite file");
    let env = TestEnv::new();
    for i in 0..200 {
        env.pooled(&format!("客户{i}"), &format!("139{:08}", i));
    }
    // Garbage over every page but the first (the schema stays readable).
    let db = env.db();
    let len = std::fs::metadata(&db).expect("db").len() as usize;
    assert!(len > 8192, "{len}");
    let mut bytes = std::fs::read(&db).expect("read db");
    for b in &mut bytes[4096..] {
        *b = 0xA5;
    }
    std::fs::write(&db, &bytes).expect("write db");
    for args in [
        vec!["list"],
        vec!["show", "150"],
        vec!["export", "--format", "jsonl"],
    ] {
        let err = env.fails_as("admin", &args, 8);
        assert!(err.contains("integrity failure"), "{args:?}: {err}");
        assert!(err.contains("hint: run pool doctor"), "{args:?}: {err}");
    }
}

#[test]
fn an_empty_database_file_is_not_silently_a_new_database() {
    sqlite_only!("the database is a SQLite file");
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
fn a_stray_wal_without_its_database_is_not_turned_into_a_new_one() {
    sqlite_only!("the database is a SQLite file");
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
    sqlite_only!("the database is a SQLite file");
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

#[test]
fn every_output_option_pointed_at_the_database_is_refused() {
    sqlite_only!("the database is a SQLite file");
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
fn output_on_stderr_into_the_database_is_refused_too() {
    sqlite_only!("the database is a SQLite file");
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

/// The environment and the file refused: a malformed busy timeout, a newer database.
#[test]
fn snap_database_refusals() {
    sqlite_only!("the database is a SQLite file");
    let env = TestEnv::new();
    let out = env
        .cmd()
        .env("POOL_BUSY_TIMEOUT", "abc")
        .arg("list")
        .output()
        .expect("run pool");
    insta::assert_snapshot!("busy_timeout", env.snap_output(&out));
    env.exec("PRAGMA user_version = 99");
    insta::assert_snapshot!("newer_database", env.snap(&["list"]));
}
