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
    env.exec(&format!(
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
    assert_eq!(env.count("followups WHERE status = 'cancelled'"), 1);
    let c = env.json(&["show", &ids]);
    assert_eq!(c["owner"], Value::Null);
    assert_eq!(c["previous_owner"], "lihua");
    let reason = env.ownership_events("release")[0]
        .reason
        .clone()
        .expect("a reason");
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

/// Every release refusal, with its exit code and hint.
#[test]
fn snap_release_refusals() {
    let env = sales_org();
    env.ok(&["pools", "add", "east", "--team", "sales-east"]);
    let a = env.pooled("甲", "13800000001").to_string();
    let b = env.pooled("乙", "13800000002").to_string();
    env.ok_as("lihua", &["claim", &a]);
    // clap's usage line repeats the flags given: `--as` only where the harness passes it
    // (SQLite; a server knows the user by the login).
    insta::assert_snapshot!(
        "no_reason",
        env.snap_as("lihua", &["release", &a])
            .replace(" --as <USER>", "")
    );
    insta::assert_snapshot!(
        "not_yours",
        env.snap_as("wang", &["release", &a, "--reason", "x"])
    );
    insta::assert_snapshot!(
        "already_pooled",
        env.snap_as("lihua", &["release", &b, "--reason", "x"])
    );
    insta::assert_snapshot!(
        "member_into_other_pool",
        env.snap_as(
            "lihua",
            &["release", &a, "--reason", "x", "--to-pool", "east"]
        )
    );
    insta::assert_snapshot!(
        "unknown_pool",
        env.snap_as(
            "lihua",
            &["release", &a, "--reason", "x", "--to-pool", "nope"]
        )
    );
    env.ok_as("lihua", &["followup", "add", &a, "--due", "+3d", "回访"]);
    insta::assert_snapshot!(
        "open_followups",
        env.snap_as("lihua", &["release", &a, "--reason", "x"])
    );
    env.ok(&["rules", "set", "--max-locked", "1"]);
    env.ok_as("lihua", &["lock", &a]);
    insta::assert_snapshot!(
        "locked",
        env.snap_as(
            "lihua",
            &["release", &a, "--reason", "x", "--cancel-followups"]
        )
    );
}

/// A release reason is free text: a phone or e-mail typed into it is masked in `pool
/// show` for whoever sees the customer's contacts masked (hostile review, session 12).
#[test]
fn a_contact_typed_into_a_release_reason_is_masked_for_masked_readers() {
    let env = sales_org();
    let id = env.pooled("客户", "13800000001").to_string();
    env.ok_as("wang", &["claim", &id]);
    env.ok_as(
        "wang",
        &[
            "release",
            &id,
            "--reason",
            "客户新手机 13911223344 邮箱 boss@west.cn",
        ],
    );
    let detail = |who: &str| -> String {
        let v = env.json_as(who, &["show", &id]);
        v["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["what"] == "release")
            .map(|e| e["detail"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    for who in ["lin", "lihua"] {
        let d = detail(who);
        assert!(
            d.contains("139****3344") && d.contains("b***@west.cn"),
            "{who}: {d}"
        );
        assert!(
            !d.contains("13911223344") && !d.contains("boss@"),
            "{who}: {d}"
        );
    }
    // Whoever sees the contacts sees the reason as written.
    assert!(detail("admin").contains("13911223344 邮箱 boss@west.cn"));
}
