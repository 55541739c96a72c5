//! `pool release`: a reason, open follow-ups, the pool it goes back to.
use serde_json::Value;

use crate::common::fixtures::sales_org;

#[test]
fn release_needs_a_reason_and_handles_follow_ups() {
    let env = sales_org();
    let id = env.pooled("客户", "13800000001");
    let ids = id.to_string();
    env.ok_as("lihua", &["claim", &ids]);
    env.fails_as("lihua", &["release", &ids], 2);
    env.fails_as("wang", &["release", &ids, "--reason", "x"], 4);
    env.sql(&format!(
        "INSERT INTO followups (customer_id, assignee_id, due, action, created_at) VALUES ({id}, 3, '2026-12-01', '发合同', 0)"
    ));
    let err = env.fails_as("lihua", &["release", &ids, "--reason", "不感兴趣"], 5);
    assert!(
        err.contains("1 open follow-up(s); pass --cancel-followups"),
        "{err}"
    );
    env.ok_as(
        "lihua",
        &[
            "release",
            &ids,
            "--reason",
            "不感兴趣",
            "--cancel-followups",
        ],
    );
    assert_eq!(
        env.query_i64("SELECT count(*) FROM followups WHERE status = 'cancelled'"),
        1
    );
    let c = env.json(&["show", &ids]);
    assert_eq!(c["owner"], Value::Null);
    assert_eq!(c["previous_owner"], "lihua");
    let reason: String = env
        .sql("")
        .query_row(
            "SELECT reason FROM ownership_events WHERE event = 'release'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(reason, "不感兴趣");
    env.fails_as("lihua", &["release", &ids, "--reason", "again"], 5);
}

#[test]
fn release_to_another_pool() {
    let env = sales_org();
    env.ok(&["pools", "add", "east", "--team", "sales-east"]);
    let id = env.pooled("客户", "13800000001").to_string();
    env.ok_as("lihua", &["claim", &id]);
    env.fails_as(
        "lihua",
        &["release", &id, "--reason", "x", "--to-pool", "nope"],
        3,
    );
    // A member releases into the customer's own pool (another pool would shed its
    // rules: a cooldown, limits); their manager may move it.
    env.fails_as(
        "lihua",
        &["release", &id, "--reason", "东区跟", "--to-pool", "east"],
        4,
    );
    env.ok_as(
        "zhao",
        &["release", &id, "--reason", "东区跟", "--to-pool", "east"],
    );
    assert_eq!(env.json(&["show", &id])["pool"], "east");
}
