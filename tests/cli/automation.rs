//! Automation per pool: what counts as contact, and follow-ups planned by rules on
//! claim, deal and silence.
use crate::common::fixtures::{claimed, sales_org};
use crate::common::TestEnv;

fn last_contact(env: &TestEnv, id: &str) -> Option<i64> {
    env.conn()
        .query_row(
            "SELECT last_contact_at FROM customers WHERE id = ?1",
            [id.parse::<i64>().unwrap()],
            |r| r.get(0),
        )
        .unwrap()
}

fn open_actions(env: &TestEnv, id: &str) -> Vec<(String, String, String)> {
    let c = env.conn();
    let mut s = c
        .prepare(
            "SELECT f.action, u.login, f.due FROM followups f JOIN users u ON u.id = f.assignee_id
              WHERE f.customer_id = ?1 AND f.status = 'open' ORDER BY f.id",
        )
        .unwrap();
    let rows = s
        .query_map([id.parse::<i64>().unwrap()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn a_one_character_note_does_not_reset_the_recycle_clock() {
    server_gap!("contact rules (min_contact_chars)");
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
    server_gap!("follow-up rules");
    let mut env = sales_org();
    env.now = "2026-12-01T09:00:00Z".into();
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
        [("首次联系".into(), "lihua".into(), "2026-12-02".into())]
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
    server_gap!("follow-up rules");
    let mut env = sales_org();
    env.now = "2026-12-01T09:00:00Z".into();
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
    // Day 27: due back on day 30 (Dec 31), inside the 5-day warning.
    env.now = "2026-12-28T09:00:00Z".into();
    env.ok(&["recycle"]);
    assert_eq!(
        open_actions(&env, &a),
        [("再次联系".into(), "lihua".into(), "2026-12-29".into())]
    );
    // b already had open work: nothing added. A second run adds nothing either.
    assert_eq!(open_actions(&env, &b).len(), 1);
    env.ok(&["recycle"]);
    assert_eq!(open_actions(&env, &a).len(), 1);
    assert_eq!(env.audit_count("followup_add"), 2);
}
