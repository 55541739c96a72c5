//! Step 8: SIGKILL at random moments, 50 times per operation. Afterwards the file is
//! intact, every operation is all-or-nothing, and the audit chain verifies.
use std::process::{Command, Stdio};
use std::time::Duration;

use customer_pool::domain::synthetic::Rng;

use crate::common::TestEnv;

const ITERATIONS: usize = 50;

fn pool(env: &TestEnv, user: &str, args: &[&str]) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("pool"));
    c.env_clear()
        .env("POOL_DB", env.db())
        .env("POOL_USER", user)
        .env("POOL_NOW", &env.now)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Runs the command and kills it after `ms` milliseconds (if it is still running).
fn kill_after(mut cmd: Command, ms: u64) -> bool {
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(ms));
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    killed
}

fn intact(env: &TestEnv) {
    let ok: String = env
        .sql("")
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    assert_eq!(
        env.query_i64("SELECT count(*) FROM pragma_foreign_key_check"),
        0
    );
    let out = pool(env, "admin", &["audit", "verify"]).output().unwrap();
    assert!(out.status.success(), "audit chain broken");
}

/// 20,000 leads with phones unique to iteration `i`; `extra` is appended to each row
/// (with a leading comma: tag and notes columns, which the header then names).
fn write_leads(path: &std::path::Path, i: usize, extra: &str) {
    let mut text = String::from(if extra.is_empty() {
        "姓名,手机,城市\n"
    } else {
        "姓名,手机,城市,标签,备注\n"
    });
    for j in 0..20_000u64 {
        text.push_str(&format!(
            "客户{i}-{j},1{:010},杭州{extra}\n",
            3_000_000_000u64 + i as u64 * 100_000 + j
        ));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn import_killed_50_times_is_all_or_nothing() {
    let env = TestEnv::new();
    let mut rng = Rng::new(1);
    let mut killed = 0;
    for i in 0..ITERATIONS {
        let f = env.dir.path().join("leads.csv");
        write_leads(&f, i, "");
        let before = env.query_i64("SELECT count(*) FROM customers");
        let imports = env.query_i64("SELECT count(*) FROM audit_log WHERE action = 'import'");
        killed += usize::from(kill_after(
            pool(&env, "admin", &["import", f.to_str().unwrap(), "-q"]),
            // About the run time of this import (debug build): kills land anywhere in it.
            rng.below(500),
        ));
        let after = env.query_i64("SELECT count(*) FROM customers");
        let imports_after = env.query_i64("SELECT count(*) FROM audit_log WHERE action = 'import'");
        match imports_after - imports {
            0 => assert_eq!(after, before, "iteration {i}: a killed import left rows"),
            1 => assert_eq!(
                after,
                before + 20_000,
                "iteration {i}: a finished import is partial"
            ),
            n => panic!("{n} import rows"),
        }
        intact(&env);
    }
    assert!(
        killed >= ITERATIONS / 2,
        "only {killed} runs were killed mid-way"
    );
}

/// The bulk path (a file large next to the table) drops every customer index for its
/// load and builds them at the end: a kill at any moment, the index builds included,
/// leaves the rows and every index as they were.
#[test]
fn bulk_import_killed_mid_way_keeps_rows_and_indexes() {
    // One customer already in: a file of 20,000 rows is large next to the table.
    let seeded = || {
        let env = TestEnv::new();
        env.ok(&[
            "add",
            "--name",
            "老客户",
            "--phone",
            "13900000000",
            "--pool",
        ]);
        env
    };
    let mut env = seeded();
    let indexes = env.customer_indexes();
    assert!(indexes.len() >= 10, "{indexes:?}");
    let mut rng = Rng::new(3);
    let mut killed = 0;
    let iterations = ITERATIONS / 2;
    let note = format!(
        ",VIP,{}",
        "展会上交换了名片，对年底的批量采购感兴趣，下周再联系".repeat(2)
    );
    for i in 0..iterations {
        let f = env.dir.path().join("bulk.csv");
        write_leads(&f, i, &note);
        let before = env.query_i64("SELECT count(*) FROM customers");
        let tags_before = env.query_i64("SELECT count(*) FROM customer_tags");
        let imports = env.query_i64("SELECT count(*) FROM audit_log WHERE action = 'import'");
        killed += usize::from(kill_after(
            pool(&env, "admin", &["import", f.to_str().unwrap(), "-q"]),
            rng.below(1100),
        ));
        let after = env.query_i64("SELECT count(*) FROM customers");
        let imports_after = env.query_i64("SELECT count(*) FROM audit_log WHERE action = 'import'");
        assert_eq!(env.customer_indexes(), indexes, "iteration {i}");
        intact(&env);
        match imports_after - imports {
            0 => {
                assert_eq!(after, before, "iteration {i}: a killed import left rows");
                assert_eq!(
                    env.query_i64("SELECT count(*) FROM customer_tags"),
                    tags_before
                );
            }
            1 => {
                assert_eq!(after, before + 20_000, "iteration {i}: partial import");
                // The next file must again be large next to the table: start over.
                env = seeded();
            }
            n => panic!("{n} import rows"),
        }
    }
    assert!(
        killed >= iterations / 2,
        "only {killed} runs were killed mid-way"
    );
}

#[test]
fn dedupe_apply_killed_50_times_keeps_whole_merges() {
    let mut rng = Rng::new(2);
    let mut env = TestEnv::new();
    for i in 0..ITERATIONS {
        if i % 10 == 0 {
            env = TestEnv::new();
            env.ok(&["demo", "--customers", "1500", "--seed", &i.to_string()]);
        }
        kill_after(
            pool(
                &env,
                "admin",
                &["dedupe", "--apply", "-q", "--format", "json"],
            ),
            rng.below(400),
        );
        crate::dedupe::assert_merges_whole(&env);
        intact(&env);
    }
}

#[test]
fn recycle_killed_50_times_moves_whole_customers() {
    let mut rng = Rng::new(3);
    let mut env = TestEnv::new();
    for i in 0..ITERATIONS {
        if i % 10 == 0 {
            env = TestEnv::new();
            env.ok(&["demo", "--customers", "3000", "--seed", &i.to_string()]);
            env.now = "2027-06-01T00:00:00Z".into();
        }
        kill_after(
            pool(&env, "admin", &["recycle", "-q", "--format", "json"]),
            rng.below(300),
        );
        // Each recycled customer has its event and its audit row; none is half-moved.
        let events = env.query_i64("SELECT count(*) FROM ownership_events WHERE event = 'recycle'");
        let audited = env.query_i64("SELECT count(*) FROM audit_log WHERE action = 'recycle'");
        assert_eq!(events, audited, "iteration {i}");
        let half = env.query_i64(
            "SELECT count(*) FROM customers WHERE owner_id IS NULL AND claimed_at IS NOT NULL AND deleted_at IS NULL",
        );
        assert_eq!(half, 0);
        intact(&env);
    }
}

#[test]
fn claim_storm_with_a_process_killed_50_times() {
    let env = TestEnv::new();
    env.sql(
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
            children.push(pool(&env, &format!("rep{k}"), &args).spawn().unwrap());
        }
        std::thread::sleep(Duration::from_millis(rng.below(250)));
        let victim = rng.below(4) as usize;
        let _ = children[victim].kill();
        for mut c in children {
            let _ = c.wait();
        }
        let owned = env.query_i64("SELECT count(*) FROM customers WHERE owner_id IS NOT NULL");
        let events = env.query_i64("SELECT count(*) FROM ownership_events WHERE event = 'claim'");
        let audited = env.query_i64("SELECT count(*) FROM audit_log WHERE action = 'claim'");
        assert_eq!(owned, events, "iteration {i}");
        assert_eq!(owned, audited, "iteration {i}");
        intact(&env);
    }
}
