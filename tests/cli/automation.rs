//! Automation per pool: what counts as contact, and follow-ups planned by rules on
//! claim, deal and silence.
use crate::common::fixtures::{claimed, sales_org};
use crate::common::TestEnv;

fn last_contact(env: &TestEnv, id: &str) -> Option<i64> {
    let id: i64 = id.parse().unwrap();
    let rows = env.rows(&format!(
        "SELECT last_contact_at FROM customers WHERE id = {id}"
    ));
    rows[0][0].as_ref().map(|v| v.parse().unwrap())
}

fn open_actions(env: &TestEnv, id: &str) -> Vec<(String, String, String)> {
    let id: i64 = id.parse().unwrap();
    env.rows(&format!(
        "SELECT f.action, u.login, f.due FROM followups f JOIN users u ON u.id = f.assignee_id
          WHERE f.customer_id = {id} AND f.status = 'open' ORDER BY f.id"
    ))
    .into_iter()
    .map(|r| {
        let mut r = r.into_iter().map(Option::unwrap_or_default);
        (r.next().unwrap(), r.next().unwrap(), r.next().unwrap())
    })
    .collect()
}

/// When the test starts: `at` on SQLite; on a server now, since there only an admin
/// sets the clock and members act at the server's time.
fn start(env: &mut TestEnv, at: &str) -> chrono::DateTime<chrono::Utc> {
    let t = if env.is_pg() {
        customer_pool::clock::now().expect("the clock")
    } else {
        at.parse().expect("a time")
    };
    env.now = stamp(t);
    t
}

fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The day `n` days after `t`, as pool prints it.
fn plus_days(t: chrono::DateTime<chrono::Utc>, n: i64) -> String {
    (t + chrono::Duration::days(n)).date_naive().to_string()
}

#[test]
fn a_one_character_note_does_not_reset_the_recycle_clock() {
    let env = sales_org();
    let id = claimed(&env, "lihua", "13800000011");
    assert_eq!(last_contact(&env, &id), None);
    // A note is not contact by default, however long; a call of "." is too short.
    env.ok_as("lihua", &["log", &id, "note", "内部备注：下周再说"]);
    let out = env.run_as("lihua", &["log", &id, "call", "."]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not counted as contact"));
    assert_eq!(last_contact(&env, &id), None);
    let v = env.json_as("lihua", &["log", &id, "call", "未接"]);
    assert_eq!(v["counts_as_contact"], true);
    assert!(last_contact(&env, &id).is_some());
    // The admin decides otherwise for the pool: notes count, any length.
    env.ok(&[
        "rules",
        "set",
        "--contact-kinds",
        "call,note",
        "--min-contact-chars",
        "0",
    ]);
    let v = env.json_as("lihua", &["log", &id, "note", "x"]);
    assert_eq!(v["counts_as_contact"], true);
    let v = env.json_as("lihua", &["log", &id, "visit", "上门拜访了"]);
    assert_eq!(v["counts_as_contact"], false);
    let shown = env.json(&["rules", "show"]);
    assert_eq!(shown["contact_kinds"], serde_json::json!(["call", "note"]));
    env.fails_as("admin", &["rules", "set", "--contact-kinds", "fax"], 6);
    env.fails_as("zhao", &["rules", "set", "--min-contact-chars", "5"], 4);
}

#[test]
fn followup_rules_plan_work_on_claim_assign_and_deal() {
    let mut env = sales_org();
    let day = start(&mut env, "2026-12-01T09:00:00Z");
    env.ok(&[
        "rules",
        "set",
        "--on",
        "claim",
        "--plan",
        "首次联系",
        "--due-in",
        "1",
    ]);
    env.ok(&[
        "rules", "set", "--on", "deal", "--plan", "回访", "--due-in", "30",
    ]);
    let shown = env.ok(&["rules", "show"]);
    assert!(shown.contains("首次联系 in 1 day(s)"), "{shown}");
    let a = env.pooled("甲", "13800000012").to_string();
    env.ok_as("lihua", &["claim", &a]);
    assert_eq!(
        open_actions(&env, &a),
        [("首次联系".into(), "lihua".into(), plus_days(day, 1))]
    );
    // The manager assigns from the pool: the rule plans for the new owner.
    let b = env.pooled("乙", "13800000013").to_string();
    env.ok_as("zhao", &["assign", &b, "--to", "chen"]);
    assert_eq!(open_actions(&env, &b)[0].1, "chen");
    // A deal plans the return visit.
    env.ok_as("lihua", &["deal", "add", &a, "--amount", "1000"]);
    let acts: Vec<String> = open_actions(&env, &a).into_iter().map(|f| f.0).collect();
    assert_eq!(acts, ["首次联系", "回访"]);
    let row = env.last_audit("followup_add");
    assert_eq!(row.after_json()["rule"], "deal");
    // Removed, nothing more is planned.
    env.ok(&["rules", "set", "--on", "claim", "--remove"]);
    let c = env.pooled("丙", "13800000014").to_string();
    env.ok_as("lihua", &["claim", &c]);
    assert!(open_actions(&env, &c).is_empty());
}

#[test]
fn a_silent_customer_gets_a_followup_before_it_is_recycled() {
    let mut env = sales_org();
    let day = start(&mut env, "2026-12-01T09:00:00Z");
    env.ok(&[
        "rules",
        "set",
        "--recycle-no-contact-days",
        "30",
        "--warn-days",
        "5",
        "--on",
        "silent",
        "--plan",
        "再次联系",
        "--due-in",
        "2",
    ]);
    let a = env.pooled("甲", "13800000015").to_string();
    let b = env.pooled("乙", "13800000016").to_string();
    env.ok_as("lihua", &["claim", &a, &b]);
    env.ok_as(
        "lihua",
        &["followup", "add", &b, "--due", "+40d", "已有计划"],
    );
    // Day 27: due back on day 30, inside the 5-day warning.
    env.now = stamp(day + chrono::Duration::days(27));
    env.ok(&["recycle"]);
    assert_eq!(
        open_actions(&env, &a),
        [("再次联系".into(), "lihua".into(), plus_days(day, 28))]
    );
    // b already had open work: nothing added. A second run adds nothing either.
    assert_eq!(open_actions(&env, &b).len(), 1);
    env.ok(&["recycle"]);
    assert_eq!(open_actions(&env, &a).len(), 1);
    assert_eq!(env.audit_count("followup_add"), 2);
}
