//! `pool recycle`: customers past their rule go back to the pool, whole or not at all.
use customer_pool::domain::synthetic::Rng;

use crate::common::fixtures::{claimed, sales_org, sales_teams};
use crate::common::kill::{intact, kill_after, pool, ITERATIONS};
use crate::common::TestEnv;

#[test]
fn recycle_returns_exactly_the_customers_past_their_rule() {
    sqlite_only!("moves dates below the app in the file (on a server a trigger keeps recycle_due_at, off for raw test SQL)");
    let mut env = sales_org();
    env.ok(&[
        "rules",
        "set",
        "--recycle-no-contact-days",
        "30",
        "--reclaim-cooldown-days",
        "7",
    ]);
    env.ok(&[
        "rules",
        "set",
        "--for",
        "stage=customer",
        "--recycle-no-contact-days",
        "60",
    ]);
    let ids: Vec<i64> = (1..=5)
        .map(|i| env.pooled(&format!("c{i}"), &format!("1380000000{i}")))
        .collect();
    let s: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    env.ok_as("lihua", &["claim", &s[0], &s[1], &s[2], &s[3], &s[4]]);
    env.ok(&["edit", &s[1], "--stage", "customer"]); // 60 days
    env.ok(&["edit", &s[2], "--stage", "loyal"]); // exempt
                                                  // A contact 20 days later postpones s[3] to day 50.
    env.exec(&format!(
        "UPDATE customers SET last_contact_at = unixepoch('2026-12-12T09:00:00Z') WHERE id = {}",
        ids[3]
    ));
    env.now = "2026-12-22T09:00:01Z".into(); // 30 days + 1 s after the claim
    let dry = env.json(&["recycle", "--dry-run"]);
    let got: Vec<i64> = dry
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, [ids[0], ids[4]]);
    assert_eq!(
        env.json_as("lihua", &["list", "--mine"])
            .as_array()
            .unwrap()
            .len(),
        5,
        "dry run changed nothing"
    );
    let done = env.json(&["recycle"]);
    assert_eq!(done.as_array().unwrap().len(), 2);
    assert_eq!(done[0]["reason"], "no_contact");
    assert_eq!(done[0]["owner"], "lihua");
    // Idempotent.
    assert!(env.json(&["recycle"]).as_array().unwrap().is_empty());
    assert_eq!(env.audit_count("recycle"), 2);
    // Cooldown: the previous owner must wait 7 days; someone else may claim at once.
    let err = env.fails_as("lihua", &["claim", &s[0]], 5);
    assert!(
        err.contains("re-claim cooldown until 2026-12-29 09:00"),
        "{err}"
    );
    env.ok_as("chen", &["claim", &s[0]]);
    env.now = "2026-12-29T09:00:02Z".into();
    env.ok_as("lihua", &["claim", &s[4]]);
    // Day 50 after claim: s[3] goes; day 60: the customer-stage one.
    env.now = "2027-01-11T09:00:01Z".into();
    let got: Vec<i64> = env
        .json(&["recycle", "--dry-run"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, [ids[3]]);
    env.now = "2027-01-21T09:00:01Z".into();
    let got: Vec<i64> = env
        .json(&["recycle", "--dry-run"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, [ids[0], ids[1], ids[3]]);
    env.fails_as("lihua", &["recycle"], 4);
}

#[test]
fn no_deal_rule_spares_customers_with_a_deal() {
    sqlite_only!("moves dates below the app in the file (on a server a trigger keeps recycle_due_at, off for raw test SQL)");
    let mut env = sales_org();
    env.ok(&["rules", "set", "--recycle-no-deal-days", "10"]);
    let a = env.pooled("甲", "13800000001");
    let b = env.pooled("乙", "13800000002");
    env.ok_as("lihua", &["claim", &a.to_string(), &b.to_string()]);
    env.exec(&format!(
        "UPDATE customers SET won_at = unixepoch('2026-11-25') WHERE id = {b}"
    ));
    env.now = "2026-12-03T00:00:00Z".into();
    let v = env.json(&["recycle"]);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["id"], a);
    assert_eq!(v[0]["reason"], "no_deal");
}

#[test]
fn a_logged_interaction_postpones_recycling_by_exactly_the_rule() {
    sqlite_only!("POOL_NOW dates a member's log (on a server only an admin's)");
    let mut env = sales_teams();
    env.ok(&["rules", "set", "--recycle-no-contact-days", "30"]);
    let id = claimed(&env, "lihua", "13800000001"); // claimed 2026-11-22T09:00:00Z
    env.now = "2026-12-02T09:00:00Z".into();
    env.ok_as("lihua", &["log", &id, "call", "十天后打了电话"]);
    env.now = "2026-12-22T09:00:01Z".into(); // 30 days after the claim: saved by the call
    assert!(env
        .json(&["recycle", "--dry-run"])
        .as_array()
        .unwrap()
        .is_empty());
    env.now = "2027-01-01T08:59:59Z".into(); // 1 s before 30 days after the call
    assert!(env
        .json(&["recycle", "--dry-run"])
        .as_array()
        .unwrap()
        .is_empty());
    env.now = "2027-01-01T09:00:00Z".into(); // exactly 30 days after the call
    let v = env.json(&["recycle"]);
    assert_eq!(v[0]["id"].to_string(), id);
}

#[test]
fn a_manager_recycles_only_the_teams_customers_and_tag_days_spare_the_tagged() {
    let env = sales_org();
    env.ok(&["rules", "set", "--recycle-no-contact-days", "30"]);
    env.ok(&[
        "rules",
        "set",
        "--for",
        "tag=vip",
        "--recycle-no-contact-days",
        "90",
    ]);
    let ids: Vec<String> = (1..=4)
        .map(|i| {
            env.pooled(&format!("c{i}"), &format!("1380000000{i}"))
                .to_string()
        })
        .collect();
    env.ok_as("lihua", &["claim", &ids[0], &ids[1]]);
    env.ok_as("wang", &["claim", &ids[2], &ids[3]]);
    env.ok_as("lihua", &["edit", &ids[0], "--tags", "vip"]);
    env.ok_as("wang", &["edit", &ids[2], "--tags", "vip,13912345678"]);
    // A dry run 40 days on (anyone may set the clock for a dry run, on a server too).
    let later = (chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
        + chrono::Duration::days(40))
    .to_rfc3339();
    let due = |who: &str| -> Vec<String> {
        let out = env
            .cmd_as(who)
            .env("POOL_NOW", &later)
            .args(["--format", "json", "recycle", "--dry-run"])
            .output()
            .expect("run pool");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].to_string())
            .collect()
    };
    assert_eq!(due("zhao"), [ids[1].clone()]);
    assert_eq!(due("qian"), [ids[3].clone()]);
    assert_eq!(due("admin"), [ids[1].clone(), ids[3].clone()]);
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
        let events = env.events("recycle");
        let audited = env.audit_count("recycle");
        assert_eq!(events, audited, "iteration {i}");
        let half = env.count(
            "customers WHERE owner_id IS NULL AND claimed_at IS NOT NULL AND deleted_at IS NULL",
        );
        assert_eq!(half, 0);
        intact(&env);
    }
}
