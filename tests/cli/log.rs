//! `pool log`: interactions by the owner or their manager.
use crate::common::fixtures::{claimed, sales_teams};

#[test]
fn log_updates_last_contact_and_can_plan_the_next_step() {
    sqlite_only!("POOL_NOW dates a member's log (on a server only an admin's)");
    let env = sales_teams();
    let id = claimed(&env, "lihua", "13800000001");
    let v = env.json_as(
        "lihua",
        &[
            "log",
            &id,
            "call",
            "聊了报价",
            "--next",
            "发合同",
            "--due",
            "tomorrow",
        ],
    );
    assert_eq!(v["customer"].to_string(), id);
    let fid = v["followup"].as_i64().unwrap();
    let c = env.json_as("lihua", &["show", &id]);
    assert_eq!(c["last_contact"], "2026-11-22T09:00:00Z");
    let f = env.json_as("lihua", &["followup", "list"]);
    assert_eq!(f[0]["id"], fid);
    assert_eq!(f[0]["due"], "2026-11-23");
    assert_eq!(f[0]["action"], "发合同");
    assert_eq!(f[0]["assignee"], "lihua");
    // --at in the past keeps the newer last contact; in the future is refused.
    env.ok_as(
        "lihua",
        &["log", &id, "visit", "上门拜访", "--at", "2026-11-20 14:30"],
    );
    assert_eq!(
        env.json_as("lihua", &["show", &id])["last_contact"],
        "2026-11-22T09:00:00Z"
    );
    env.fails_as("lihua", &["log", &id, "call", "x", "--at", "2026-11-25"], 6);
    env.fails_as("lihua", &["log", &id, "fax", "x"], 2);
    env.fails_as("lihua", &["log", &id, "call", "  "], 6);
}

#[test]
fn only_the_owner_or_their_manager_logs() {
    let env = sales_teams();
    let pooled = env.pooled("公海客户", "13800000009").to_string();
    let err = env.fails_as("lihua", &["log", &pooled, "call", "x"], 5);
    assert!(
        err.contains("in the pool 'public'") && err.contains("hint: claim it first: pool claim"),
        "{err}"
    );
    let id = claimed(&env, "lihua", "13800000001");
    env.fails_as("chen", &["log", &id, "call", "x"], 4);
    env.fails_as("wang", &["log", &id, "call", "x"], 4);
    env.ok_as("zhao", &["log", &id, "note", "经理备注"]);
    env.ok(&["log", &id, "note", "admin"]);
}

/// Refused interactions: not claimed yet, not the member's, a future time, an empty text.
#[test]
fn snap_log_refusals() {
    sqlite_only!("POOL_NOW sets a member's clock (on a server only an admin's)");
    let env = sales_teams();
    let pooled = env.pooled("公海客户", "13800000009").to_string();
    insta::assert_snapshot!(
        "pooled",
        env.snap_as("lihua", &["log", &pooled, "call", "x"])
    );
    let id = claimed(&env, "lihua", "13800000001");
    insta::assert_snapshot!("not_yours", env.snap_as("chen", &["log", &id, "call", "x"]));
    insta::assert_snapshot!(
        "future",
        env.snap_as("lihua", &["log", &id, "call", "x", "--at", "2026-11-25"])
    );
    insta::assert_snapshot!(
        "unknown_kind",
        env.snap_as("lihua", &["log", &id, "fax", "x"])
    );
    insta::assert_snapshot!("empty", env.snap_as("lihua", &["log", &id, "call", "  "]));
}
