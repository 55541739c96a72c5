//! `pool allocate` and `pool import --allocate` (自动分配): fair, within limits, never
//! twice, even with runs racing.
use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use crate::common::fixtures::sales_org;
use crate::common::TestEnv;

/// n new pooled leads, inserted directly (fast; ids 1..=n).
fn leads(env: &TestEnv, n: i64) {
    env.exec(&format!(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n})
         INSERT INTO customers (name, pool_id, created_at, updated_at, pooled_at)
         SELECT 'lead' || i, 1, 0, 0, 0 FROM s"
    ));
}

/// Owned customers per owner login.
fn owned(env: &TestEnv) -> BTreeMap<String, i64> {
    env.rows(
        "SELECT u.login, count(*) FROM customers c JOIN users u ON u.id = c.owner_id
          GROUP BY u.login",
    )
    .into_iter()
    .map(|r| {
        let n = r[1].as_deref().unwrap().parse().unwrap();
        (r[0].clone().unwrap(), n)
    })
    .collect()
}

fn logins(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["to"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn round_robin_goes_on_where_the_last_run_stopped() {
    let env = sales_org();
    leads(&env, 7);
    env.ok(&[
        "rules",
        "set",
        "--allocate",
        "round_robin",
        "--allocate-to",
        "users:chen,lihua,zhao",
    ]);
    // The dry run changes nothing.
    let dry = env.json(&["allocate", "--dry-run", "--limit", "2"]);
    assert_eq!(logins(&dry).len(), 2);
    assert!(owned(&env).is_empty());
    // Users in id order: zhao, lihua, chen (added in that order).
    let first = env.json_as("zhao", &["allocate", "--limit", "2"]);
    assert_eq!(logins(&first), ["zhao", "lihua"]);
    let second = env.json_as("zhao", &["allocate", "--limit", "4"]);
    assert_eq!(logins(&second), ["chen", "zhao", "lihua", "chen"]);
    let rest = env.json_as("zhao", &["allocate"]);
    assert_eq!(logins(&rest), ["zhao"]);
    assert!(logins(&env.json(&["allocate"])).is_empty(), "all dealt");
    // One event and one audit row per lead; reports see them as assignments.
    assert_eq!(env.audit_count("allocate"), 7);
    assert_eq!(env.events("assign"), 7);
}

#[test]
fn least_loaded_fills_the_emptiest_within_max_owned_and_skips_the_inactive() {
    let env = sales_org();
    leads(&env, 20);
    env.user("ma", "sales-east", "member");
    env.ok(&[
        "rules",
        "set",
        "--max-owned",
        "5",
        "--allocate",
        "least_loaded",
        "--allocate-to",
        "team:sales-east",
    ]);
    // lihua already owns 3 (customers 1-3, claimed by hand).
    env.ok_as("lihua", &["claim", "1", "2", "3"]);
    env.ok(&["user", "deactivate", "ma"]);
    let got = env.json_as("zhao", &["allocate"]);
    // zhao, chen: 5 each; lihua 2 more; ma nothing; the rest stays in the pool.
    assert_eq!(logins(&got).len(), 12);
    let o = owned(&env);
    assert_eq!(o.get("zhao"), Some(&5));
    assert_eq!(o.get("chen"), Some(&5));
    assert_eq!(o.get("lihua"), Some(&5));
    assert_eq!(o.get("ma"), None);
}

#[test]
fn who_may_allocate() {
    let env = sales_org();
    leads(&env, 3);
    env.ok(&[
        "rules",
        "set",
        "--allocate",
        "round_robin",
        "--allocate-to",
        "team:sales-east",
    ]);
    env.fails_as("lihua", &["allocate"], 4);
    env.fails_as("lin", &["allocate"], 4);
    // qian manages sales-north: not their team's pool to deal out.
    env.fails_as("qian", &["allocate"], 4);
    assert!(owned(&env).is_empty());
    // A pool that does not allocate, named: a hint.
    env.ok(&["pools", "add", "vip", "--team", "sales-east"]);
    let err = env.fails_as("zhao", &["allocate", "--pool", "vip"], 6);
    assert!(err.contains("--allocate round_robin"), "{err}");
    env.fails_as(
        "admin",
        &["rules", "set", "--pool", "vip", "--allocate", "round_robin"],
        6,
    );
    env.fails_as(
        "admin",
        &["rules", "set", "--allocate-to", "users:nobody"],
        3,
    );
}

#[test]
fn import_allocate_deals_only_the_imported_leads() {
    let env = sales_org();
    leads(&env, 2); // older leads stay in the pool
    env.ok(&[
        "rules",
        "set",
        "--allocate",
        "round_robin",
        "--allocate-to",
        "users:lihua,chen",
    ]);
    let csv = env.dir.path().join("expo.csv");
    let mut text = String::from("name,phone\n");
    for i in 0..6 {
        text.push_str(&format!("展会客户{i},1390000000{i}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    env.fails_as("lihua", &["import", csv.to_str().unwrap(), "--allocate"], 4);
    let v = env.json_as("zhao", &["import", csv.to_str().unwrap(), "--allocate"]);
    assert_eq!(v["imported"], 6);
    assert_eq!(
        logins(&v["allocated"]),
        ["lihua", "chen", "lihua", "chen", "lihua", "chen"]
    );
    assert_eq!(
        env.query_i64("SELECT count(*) FROM customers WHERE owner_id IS NULL"),
        2
    );
}

#[test]
fn racing_allocate_runs_never_deal_a_lead_twice() {
    let env = sales_org();
    leads(&env, 300);
    env.ok(&[
        "rules",
        "set",
        "--max-owned",
        "60",
        "--allocate",
        "least_loaded",
        "--allocate-to",
        "team:sales-east",
    ]);
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(assert_cmd::cargo::cargo_bin("pool"))
                .env_clear()
                .envs(env.envs("zhao"))
                .args(["allocate", "--format", "json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut dealt = Vec::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        dealt.extend(
            v.as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_i64().unwrap()),
        );
    }
    dealt.sort_unstable();
    let n = dealt.len();
    dealt.dedup();
    assert_eq!(dealt.len(), n, "a lead was dealt twice");
    // Three people, 60 each: exactly 180, evenly.
    assert_eq!(n, 180);
    let o = owned(&env);
    assert_eq!(o.values().copied().collect::<Vec<_>>(), [60, 60, 60]);
    assert_eq!(env.audit_count("allocate"), 180);
    assert_eq!(
        env.query_i64("SELECT count(*) FROM ownership_events WHERE event = 'assign'"),
        180
    );
}
