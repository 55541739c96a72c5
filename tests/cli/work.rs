//! Step 3: interactions, follow-ups, deals, agenda, the customer timeline.
use serde_json::Value;

use crate::common::TestEnv;

fn team() -> TestEnv {
    let env = TestEnv::new();
    env.user("zhao", "sales-east", "manager");
    env.user("lihua", "sales-east", "member");
    env.user("chen", "sales-east", "member");
    env.user("wang", "sales-north", "member");
    env
}

/// A customer claimed by lihua; returns its id as a string.
fn owned(env: &TestEnv, phone: &str) -> String {
    let id = env.pooled("客户", phone).to_string();
    env.ok_as("lihua", &["claim", &id]);
    id
}

#[test]
fn log_updates_last_contact_and_can_plan_the_next_step() {
    let env = team();
    let id = owned(&env, "13800000001");
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
    let env = team();
    let pooled = env.pooled("公海客户", "13800000009").to_string();
    let err = env.fails_as("lihua", &["log", &pooled, "call", "x"], 5);
    assert!(
        err.contains("in the pool 'public'") && err.contains("hint: claim it first: pool claim"),
        "{err}"
    );
    let id = owned(&env, "13800000001");
    env.fails_as("chen", &["log", &id, "call", "x"], 4);
    env.fails_as("wang", &["log", &id, "call", "x"], 4);
    env.ok_as("zhao", &["log", &id, "note", "经理备注"]);
    env.ok(&["log", &id, "note", "admin"]);
}

#[test]
fn a_logged_interaction_postpones_recycling_by_exactly_the_rule() {
    let mut env = team();
    env.ok(&["rules", "set", "--recycle-no-contact-days", "30"]);
    let id = owned(&env, "13800000001"); // claimed 2026-11-22T09:00:00Z
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
fn followups_add_list_done_cancel() {
    let mut env = team();
    let id = owned(&env, "13800000001");
    for (due, action) in [
        ("2026-11-20", "逾期的"),
        ("today", "今天的"),
        ("+3d", "三天后"),
        ("next monday", "下周一"),
        ("+20d", "很远"),
    ] {
        env.ok_as("lihua", &["followup", "add", &id, "--due", due, action]);
    }
    let actions = |args: &[&str]| -> Vec<String> {
        env.json_as("lihua", args)
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["action"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        actions(&["followup", "list"]),
        ["逾期的", "今天的", "下周一", "三天后", "很远"]
    );
    assert_eq!(actions(&["followup", "list", "--overdue"]), ["逾期的"]);
    assert_eq!(
        actions(&["followup", "list", "--due-within", "7d"]),
        ["逾期的", "今天的", "下周一", "三天后"]
    );
    env.fails_as(
        "lihua",
        &["followup", "add", &id, "--due", "someday", "x"],
        6,
    );
    env.fails_as(
        "lihua",
        &[
            "followup",
            "add",
            &id,
            "--due",
            "today",
            "x",
            "--assignee",
            "wang",
        ],
        4,
    );
    env.ok_as(
        "zhao",
        &[
            "followup",
            "add",
            &id,
            "--due",
            "today",
            "经理安排",
            "--assignee",
            "chen",
        ],
    );
    assert_eq!(actions_for(&env, "chen"), ["经理安排"]);
    let first = env.json_as("lihua", &["followup", "list"])[0]["id"].to_string();
    env.ok_as("lihua", &["followup", "done", &first, "--note", "已发"]);
    env.fails_as("lihua", &["followup", "done", &first], 5);
    env.fails_as("wang", &["followup", "cancel", &first], 4);
    let second = env.json_as("lihua", &["followup", "list"])[0]["id"].to_string();
    env.ok_as("lihua", &["followup", "cancel", &second]);
    let all = env.json_as("lihua", &["followup", "list", "--status", "all"]);
    let statuses: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["done", "cancelled", "open", "open", "open"]);
    env.fails_as("lihua", &["followup", "done", "999"], 3);
    let team = env.json_as("zhao", &["followup", "list", "--team", "sales-east"]);
    assert_eq!(team.as_array().unwrap().len(), 4);
    env.now = "2026-11-30T09:00:00Z".into();
    assert_eq!(
        env.json_as("lihua", &["followup", "list", "--overdue"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

fn actions_for(env: &TestEnv, user: &str) -> Vec<String> {
    env.json_as(user, &["followup", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["action"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn deals_are_exact_and_make_a_lead_a_customer() {
    let env = team();
    let id = owned(&env, "13800000001");
    let v = env.json_as(
        "lihua",
        &[
            "deal",
            "add",
            &id,
            "--amount",
            "12000.50",
            "--currency",
            "cny",
            "--product",
            "企业版",
        ],
    );
    assert_eq!(v["amount"], "12000.50");
    assert_eq!(v["currency"], "CNY");
    assert_eq!(v["stage"], "customer");
    let minor = env.query_i64("SELECT amount_minor FROM deals");
    assert_eq!(minor, 1_200_050);
    env.ok_as(
        "lihua",
        &["deal", "add", &id, "--amount", "0.10", "--on", "2026-11-01"],
    );
    assert_eq!(
        env.query_i64("SELECT sum(amount_minor) FROM deals"),
        1_200_060
    );
    env.fails_as("lihua", &["deal", "add", &id, "--amount", "1.005"], 6);
    env.fails_as("lihua", &["deal", "add", &id, "--amount", "12k"], 6);
    env.fails_as(
        "lihua",
        &["deal", "add", &id, "--amount", "1", "--currency", "yuan"],
        6,
    );
    assert_eq!(
        env.query_i64("SELECT count(*) FROM customers WHERE won_at IS NOT NULL"),
        1
    );
}

#[test]
fn churning_cancels_open_followups_after_confirmation() {
    let env = team();
    let id = owned(&env, "13800000001");
    env.ok_as("lihua", &["followup", "add", &id, "--due", "+3d", "回访"]);
    let err = env.fails_as("lihua", &["edit", &id, "--stage", "churned"], 2);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(env.json_as("lihua", &["show", &id])["stage"], "lead");
    env.ok_as("lihua", &["edit", &id, "--stage", "churned", "--yes"]);
    assert_eq!(
        env.query_i64("SELECT count(*) FROM followups WHERE status = 'cancelled'"),
        1
    );
    assert_eq!(env.json_as("lihua", &["show", &id])["stage"], "churned");
}

#[test]
fn agenda_lists_my_day_and_the_managers_team() {
    let env = team();
    env.ok(&[
        "rules",
        "set",
        "--recycle-no-contact-days",
        "30",
        "--warn-days",
        "5",
    ]);
    let a = owned(&env, "13800000001");
    let b = owned(&env, "13800000002");
    env.ok_as(
        "lihua",
        &["followup", "add", &a, "--due", "2026-11-20", "逾期"],
    );
    env.ok_as("lihua", &["followup", "add", &a, "--due", "today", "今天"]);
    env.ok_as("lihua", &["followup", "add", &b, "--due", "+2d", "后天"]);
    env.ok_as("lihua", &["followup", "add", &b, "--due", "+30d", "下个月"]);
    // b was claimed 27 days ago: due back in 3 days, inside warn_days.
    env.sql(&format!(
        "UPDATE customers SET claimed_at = claimed_at - 27 * 86400 WHERE id = {b}"
    ));
    let v = env.json_as("lihua", &["agenda"]);
    assert_eq!(v["overdue"][0]["action"], "逾期");
    assert_eq!(v["today"][0]["action"], "今天");
    assert_eq!(v["next_7_days"].as_array().unwrap().len(), 1);
    assert_eq!(v["recycle_soon"].as_array().unwrap().len(), 1);
    assert_eq!(v["recycle_soon"][0]["id"].to_string(), b);
    assert_eq!(v["recycle_soon"][0]["days_left"], 3);
    assert!(v.get("team_overdue").is_none());
    let m = env.json_as("zhao", &["agenda"]);
    assert_eq!(m["team_overdue"][0]["assignee"], "lihua");
    let silent: Vec<String> = m["team_silent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].to_string())
        .collect();
    assert_eq!(silent, std::slice::from_ref(&b));
    let table = env.ok_as("lihua", &["agenda"]);
    assert!(
        table.contains("Overdue (1)") && table.contains("About to be recycled (1)"),
        "{table}"
    );
    assert!(env
        .ok_as("chen", &["agenda"])
        .contains("Nothing due for chen"));
}

#[test]
fn show_is_a_timeline_newest_first_and_hidden_before_a_claim() {
    let mut env = team();
    let id = owned(&env, "13800000001");
    env.now = "2026-11-23T09:00:00Z".into();
    env.ok_as("lihua", &["log", &id, "call", "第一次电话"]);
    env.now = "2026-11-24T09:00:00Z".into();
    env.ok_as("lihua", &["followup", "add", &id, "--due", "+1d", "发资料"]);
    env.now = "2026-11-25T09:00:00Z".into();
    env.ok_as("lihua", &["deal", "add", &id, "--amount", "500"]);
    env.now = "2026-11-26T09:00:00Z".into();
    env.ok_as(
        "lihua",
        &["release", &id, "--reason", "转给别人", "--cancel-followups"],
    );
    let v = env.json(&["show", &id]);
    let what: Vec<&str> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    assert_eq!(
        what,
        ["release", "deal", "followup cancelled", "call", "claim"]
    );
    assert_eq!(v["timeline"][0]["detail"], "from lihua (转给别人)");
    assert_eq!(v["timeline"][1]["detail"], "500.00 CNY on 2026-11-25");
    // A member looking at the pooled customer sees only the owner changes until they claim it.
    let m = env.json_as("chen", &["show", &id]);
    assert_eq!(m["timeline"].as_array().unwrap().len(), 2);
    assert_eq!(m["timeline_hidden"], 3);
    env.ok_as("chen", &["claim", &id]);
    let m = env.json_as("chen", &["show", &id]);
    assert_eq!(m["timeline"].as_array().unwrap().len(), 6);
    let table = env.ok_as("chen", &["show", &id]);
    assert!(
        table.contains("Timeline (newest first)") && table.contains("第一次电话"),
        "{table}"
    );
}

#[test]
fn deleting_a_customer_never_orphans_its_history() {
    let env = team();
    let id = owned(&env, "13800000001");
    env.ok_as(
        "lihua",
        &["log", &id, "call", "x", "--next", "y", "--due", "+1d"],
    );
    env.ok_as("lihua", &["deal", "add", &id, "--amount", "1"]);
    env.ok(&["delete", &id, "--yes"]);
    let conn = env.sql("");
    let orphans: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(orphans, 0);
    for t in ["interactions", "followups", "deals"] {
        let n: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {t} WHERE customer_id = {id}"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "{t}");
    }
    // A hard delete is refused by the foreign keys.
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    assert!(conn
        .execute(&format!("DELETE FROM customers WHERE id = {id}"), [])
        .is_err());
    let _: Value = env.json(&["list"]);
}
