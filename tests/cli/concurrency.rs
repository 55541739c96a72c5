//! Real OS processes racing on one database file: no double owners, no limit beaten,
//! no "database is locked" reaching a user.
use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use customer_pool::domain::synthetic::Rng;
use rusqlite::Connection;
use serde_json::Value;

use crate::common::files::{assert_no_raw_sql, read_only};
use crate::common::kill::ITERATIONS;
use crate::common::{files, kill, TestEnv};

/// `n` pooled customers, inserted directly (ids 1..=n).
fn pooled_customers(env: &TestEnv, n: i64) {
    env.exec(&format!(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n})
         INSERT INTO customers (id, name, pool_id, created_at, updated_at, pooled_at)
         SELECT i, 'c' || i, 1, 0, 0, 0 FROM s"
    ));
}

fn spawn(env: &TestEnv, user: &str, args: &[String]) -> Child {
    env.spawn_cmd_as(user)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pool")
}

struct Finished {
    code: i32,
    outcomes: Vec<Value>,
    stderr: String,
}

fn finish(child: Child) -> Finished {
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let outcomes = serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    Finished {
        code: out.status.code().unwrap_or(-1),
        outcomes,
        stderr,
    }
}

fn claimed(f: &Finished) -> Vec<i64> {
    f.outcomes
        .iter()
        .filter(|o| o["result"] == "claimed")
        .map(|o| o["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn claim_storm_8_processes_250_claims_each() {
    let env = TestEnv::new();
    pooled_customers(&env, 1000);
    let users: Vec<String> = (0..8).map(|i| format!("rep{i}")).collect();
    for u in &users {
        env.user(u, "sales", "member");
    }
    // Each process claims 250 ids; neighbours overlap by half, so every id is wanted twice.
    let children: Vec<Child> = users
        .iter()
        .enumerate()
        .map(|(k, u)| {
            let mut args: Vec<String> = vec!["claim".into(), "--format".into(), "json".into()];
            args.extend((0..250).map(|j| ((k * 125 + j) % 1000 + 1).to_string()));
            spawn(&env, u, &args)
        })
        .collect();
    let results: Vec<Finished> = children.into_iter().map(finish).collect();
    let mut won = Vec::new();
    for r in &results {
        assert!(r.code == 0 || r.code == 5, "exit {}: {}", r.code, r.stderr);
        assert!(
            !r.stderr.contains("locked") && !r.stderr.contains("busy"),
            "{}",
            r.stderr
        );
        assert_eq!(r.outcomes.len(), 250, "{}", r.stderr);
        for o in &r.outcomes {
            assert!(o["result"] == "claimed" || o["exit_code"] == 5, "{o}");
        }
        won.extend(claimed(r));
    }
    let unique: HashSet<i64> = won.iter().copied().collect();
    assert_eq!(unique.len(), won.len(), "a customer was claimed twice");
    let owned = env.count("customers WHERE owner_id IS NOT NULL");
    let audited = env.audit_count("claim");
    let events = env.events("claim");
    assert_eq!(won.len() as i64, owned);
    assert_eq!(owned, audited);
    assert_eq!(owned, events);
    assert_eq!(owned, 1000);
    let broken =
        env.count("audit_log a JOIN audit_log b ON b.seq = a.seq + 1 WHERE b.prev_hash <> a.hash");
    assert_eq!(broken, 0, "the audit chain forked");
}

#[test]
fn same_customer_race_has_exactly_one_winner_per_round() {
    let env = TestEnv::new();
    let rounds = 200;
    pooled_customers(&env, rounds);
    env.user("a", "sales", "member");
    env.user("b", "sales", "member");
    let holder = rusqlite::Connection::open(env.db()).unwrap();
    holder.busy_timeout(Duration::from_secs(30)).unwrap();
    for id in 1..=rounds {
        // The barrier: hold the write lock while both start, so both are waiting on
        // the same lock when it is released.
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let args = vec![
            "claim".to_string(),
            id.to_string(),
            "--format".into(),
            "json".into(),
        ];
        let ca = spawn(&env, "a", &args);
        let cb = spawn(&env, "b", &args);
        std::thread::sleep(Duration::from_millis(30));
        holder.execute_batch("COMMIT").unwrap();
        let (ra, rb) = (finish(ca), finish(cb));
        let mut codes = [ra.code, rb.code];
        codes.sort();
        assert_eq!(codes, [0, 5], "round {id}: {} / {}", ra.stderr, rb.stderr);
        let loser = if ra.code == 5 { &ra } else { &rb };
        assert!(
            loser.stderr.contains("already owned by"),
            "{}",
            loser.stderr
        );
    }
    assert_eq!(env.count("customers WHERE owner_id IS NOT NULL"), rounds);
    assert_eq!(env.audit_count("claim"), rounds);
}

#[test]
fn quota_race_never_beats_max_owned() {
    let env = TestEnv::new();
    pooled_customers(&env, 800);
    env.user("greedy", "sales", "member");
    env.ok(&["rules", "set", "--max-owned", "50"]);
    let children: Vec<Child> = (0..8)
        .map(|k| {
            let mut args: Vec<String> = vec!["claim".into(), "--format".into(), "json".into()];
            args.extend((0..100).map(|j| (k * 100 + j + 1).to_string()));
            spawn(&env, "greedy", &args)
        })
        .collect();
    let mut won = 0;
    for r in children.into_iter().map(finish) {
        assert!(r.code == 0 || r.code == 5, "{}", r.stderr);
        won += claimed(&r).len();
    }
    assert_eq!(won, 50);
    assert_eq!(env.count("customers WHERE owner_id IS NOT NULL"), 50);
}

#[test]
fn a_writer_holding_the_lock_makes_a_claim_wait_not_fail() {
    sqlite_only!("SQLite's write lock and busy timeout");
    let env = TestEnv::new();
    pooled_customers(&env, 1);
    env.user("li", "sales", "member");
    let holder = rusqlite::Connection::open(env.db()).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    let child = spawn(
        &env,
        "li",
        &["claim".into(), "1".into(), "--format".into(), "json".into()],
    );
    std::thread::sleep(Duration::from_secs(2));
    holder.execute_batch("COMMIT").unwrap();
    let r = finish(child);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(claimed(&r), [1]);
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[test]
fn a_lock_held_past_the_busy_timeout_is_exit_7_with_a_hint() {
    sqlite_only!("SQLite's write lock and busy timeout");
    let env = TestEnv::new();
    pooled_customers(&env, 1);
    env.user("li", "sales", "member");
    let holder = rusqlite::Connection::open(env.db()).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut cmd = env.cmd_as("li");
    let out = cmd
        .env("POOL_BUSY_TIMEOUT", "1")
        .args(["claim", "1"])
        .output()
        .unwrap();
    holder.execute_batch("ROLLBACK").unwrap();
    assert_eq!(out.status.code(), Some(7));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error: database is busy"), "{err}");
    assert!(
        err.contains("hint: another pool command is writing"),
        "{err}"
    );
    assert!(!err.contains("database is locked"), "{err}");
}

#[test]
fn eight_concurrent_writers_keep_one_chain() {
    sqlite_only!("spawns pool on the SQLite file path (server races: pg_server, pg_backend)");
    let env = TestEnv::new();
    let children: Vec<_> = (0..8)
        .map(|k| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("pool"))
                .env_clear()
                .env("POOL_DB", env.db())
                .env("POOL_USER", "admin")
                .env("NO_COLOR", "1")
                .args(["team", "add", &format!("team{k}")])
                .output()
        })
        .collect();
    // Spawned one after another above; now run 8 writers truly at once.
    drop(children);
    let handles: Vec<_> = (0..8)
        .map(|k| {
            let db = env.db();
            std::thread::spawn(move || {
                for j in 0..10 {
                    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("pool"))
                        .env_clear()
                        .env("POOL_DB", &db)
                        .env("POOL_USER", "admin")
                        .args([
                            "add",
                            "--name",
                            &format!("w{k}-{j}"),
                            "--phone",
                            &format!("1380{k:03}{j:04}"),
                            "--pool",
                        ])
                        .output()
                        .unwrap();
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let v = env.json(&["audit", "verify"]);
    assert_eq!(v["ok"], true);
    assert_eq!(env.audit_count("customer_add"), 80);
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
fn eight_processes_opening_an_older_database_upgrade_it_once() {
    sqlite_only!("upgrades an older SQLite file");
    let env = TestEnv::new();
    std::fs::remove_file(env.db()).unwrap();
    {
        let mut c = Connection::open(env.db()).unwrap();
        customer_pool::store::sqlite::migrate::MIGRATIONS
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
            files::pool(&env, "admin")
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
        customer_pool::store::sqlite::migrate::LATEST
    );
    assert!(Path::new(&aside).exists());
    env.ok(&["doctor"]);
}

#[test]
fn claim_storm_with_a_process_killed_50_times() {
    sqlite_only!("checks the SQLite file after each kill (server races: pg_server)");
    let env = TestEnv::new();
    env.exec(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 20000)
         INSERT INTO customers (id, name, pool_id, created_at, updated_at, pooled_at) SELECT i, 'c' || i, 1, 0, 0, 0 FROM s",
    );
    for k in 0..4 {
        env.user(&format!("rep{k}"), "sales", "member");
    }
    let mut rng = Rng::new(4);
    for i in 0..ITERATIONS {
        let base = i * 400;
        let mut children = Vec::new();
        for k in 0..4 {
            let ids: Vec<String> = (0..100)
                .map(|j| (base + k * 100 + j + 1).to_string())
                .collect();
            let mut args = vec!["claim"];
            args.extend(ids.iter().map(String::as_str));
            children.push(kill::pool(&env, &format!("rep{k}"), &args).spawn().unwrap());
        }
        std::thread::sleep(Duration::from_millis(rng.below(250)));
        let victim = rng.below(4) as usize;
        let _ = children[victim].kill();
        for mut c in children {
            let _ = c.wait();
        }
        let owned = env.count("customers WHERE owner_id IS NOT NULL");
        let events = env.events("claim");
        let audited = env.audit_count("claim");
        assert_eq!(owned, events, "iteration {i}");
        assert_eq!(owned, audited, "iteration {i}");
        kill::intact(&env);
    }
}
