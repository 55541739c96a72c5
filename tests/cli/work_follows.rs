//! Work follows the customer: every change of owner moves or cancels the open
//! follow-ups, audited; `pool doctor` flags the ones nobody will do and `--fix` settles
//! them.
use crate::common::fixtures::{claimed, sales_org};
use crate::common::{failed_checks, TestEnv};

/// The open follow-ups of a customer as (action, assignee), by id.
fn open_of(env: &TestEnv, id: &str) -> Vec<(String, String)> {
    let id: i64 = id.parse().unwrap();
    env.rows(&format!(
        "SELECT f.action, u.login FROM followups f JOIN users u ON u.id = f.assignee_id
          WHERE f.customer_id = {id} AND f.status = 'open' ORDER BY f.id"
    ))
    .into_iter()
    .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
    .collect()
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

fn stray_check(env: &TestEnv) -> bool {
    let out = env
        .cmd()
        .args(["doctor", "--format", "json"])
        .output()
        .unwrap();
    failed_checks(&out)
        .iter()
        .any(|c| c.starts_with("open follow-ups nobody will do"))
}

#[test]
fn assign_and_transfer_move_the_open_followups_to_the_new_owner() {
    let env = sales_org();
    let id = claimed(&env, "lihua", "13800000001");
    env.ok_as("lihua", &["followup", "add", &id, "--due", "+2d", "发合同"]);
    env.ok_as("lihua", &["followup", "add", &id, "--due", "+3d", "报价"]);
    env.ok_as("lihua", &["followup", "done", "2"]);
    // zhao (east's manager) gives it to chen in the same team.
    env.ok_as("zhao", &["assign", &id, "--to", "chen"]);
    assert_eq!(open_of(&env, &id), [pair("发合同", "chen")]);
    let moved = env.last_audit("assign").after_json()["followups_moved"].clone();
    // chen's agenda has it; lihua's no longer does.
    let a = env.json_as("chen", &["agenda"]);
    assert_eq!(a["next_7_days"].as_array().unwrap().len(), 1);
    let a = env.json_as("lihua", &["agenda"]);
    assert!(a["next_7_days"].as_array().unwrap().is_empty());
    // An admin transfers everything of chen's to wang (another team).
    env.ok(&["transfer", "--from", "chen", "--to", "wang", "--all"]);
    assert_eq!(open_of(&env, &id), [pair("发合同", "wang")]);
    assert!(!stray_check(&env), "nothing left for doctor");
    assert_eq!(moved, serde_json::json!([1]));
}

#[test]
fn a_colleagues_followup_stays_unless_the_customer_leaves_the_team() {
    let env = sales_org();
    let id = claimed(&env, "lihua", "13800000002");
    // The manager plans a call for chen on lihua's customer: same team, kept by a
    // hand-over inside the team.
    env.ok_as(
        "zhao",
        &[
            "followup",
            "add",
            &id,
            "--due",
            "+1d",
            "陪同拜访",
            "--assignee",
            "chen",
        ],
    );
    env.ok_as("zhao", &["assign", &id, "--to", "zhao"]);
    assert_eq!(open_of(&env, &id), [pair("陪同拜访", "chen")]);
    // Across teams it moves.
    env.ok(&["assign", &id, "--to", "wang"]);
    assert_eq!(open_of(&env, &id), [pair("陪同拜访", "wang")]);
}

#[test]
fn deactivation_hands_work_to_the_heir_or_cancels_it() {
    let env = sales_org();
    let a = claimed(&env, "lihua", "13800000003");
    let b = claimed(&env, "chen", "13800000004");
    env.ok_as("lihua", &["followup", "add", &a, "--due", "+1d", "回电"]);
    // lihua also had work planned on chen's customer (a member may plan for the owner
    // or themselves; the manager planned this one for lihua).
    env.ok_as(
        "zhao",
        &[
            "followup",
            "add",
            &b,
            "--due",
            "+1d",
            "协助",
            "--assignee",
            "lihua",
        ],
    );
    env.ok(&["user", "deactivate", "lihua", "--transfer-to", "zhao"]);
    assert_eq!(open_of(&env, &a), [pair("回电", "zhao")]);
    // The follow-up on chen's customer goes to chen, its owner, audited.
    assert_eq!(open_of(&env, &b), [pair("协助", "chen")]);
    let moved = env.audit_rows("followup_move").pop();
    // Without an heir the customers go back to the pool and their work is cancelled.
    env.ok_as("chen", &["followup", "add", &b, "--due", "+2d", "寄样品"]);
    env.ok(&["user", "deactivate", "chen"]);
    assert!(open_of(&env, &b).is_empty());
    let row = env.last_audit("user_deactivate");
    assert_eq!(row.entity, "user");
    assert!(!stray_check(&env));
    let moved = moved.expect("a followup_move audit row");
    assert_eq!(
        moved.before.as_deref().map(|b| b.contains("lihua")),
        Some(true)
    );
}

#[test]
fn recycle_cancels_the_open_followups_with_the_reason() {
    let mut env = sales_org();
    env.ok(&["rules", "set", "--recycle-no-contact-days", "30"]);
    let id = claimed(&env, "lihua", "13800000005");
    env.ok_as(
        "lihua",
        &["followup", "add", &id, "--due", "+40d", "季度回访"],
    );
    env.now = "2027-01-30T09:00:00Z".into();
    env.ok(&["recycle"]);
    assert!(open_of(&env, &id).is_empty());
    let note = env.rows(&format!(
        "SELECT note FROM followups WHERE customer_id = {id}"
    ));
    assert_eq!(
        note,
        [[Some("cancelled on recycle: no_contact".to_string())]]
    );
    assert_eq!(
        env.last_audit("recycle").after_json()["followups_cancelled"],
        1
    );
}

#[test]
fn merge_moves_followups_to_the_survivors_owner_and_undo_gives_them_back() {
    let env = sales_org();
    let a = claimed(&env, "lihua", "13800000006");
    let b = claimed(&env, "lihua", "13800000007");
    // An admin had planned work on b for wang, of another team.
    env.ok(&[
        "followup",
        "add",
        &b,
        "--due",
        "+1d",
        "北方的事",
        "--assignee",
        "wang",
    ]);
    let m = env.json(&["merge", &a, &b]);
    assert_eq!(open_of(&env, &a), [pair("北方的事", "lihua")]);
    assert!(!stray_check(&env));
    env.ok(&["dedupe", "undo", &m["merge_id"].to_string()]);
    assert_eq!(open_of(&env, &b), [pair("北方的事", "wang")]);
}

#[test]
fn doctor_flags_followups_nobody_will_do_and_fix_settles_them() {
    sqlite_only!("doctor's SQLite checks");
    let env = sales_org();
    let a = claimed(&env, "lihua", "13800000008");
    let b = claimed(&env, "chen", "13800000009");
    env.ok_as("lihua", &["followup", "add", &a, "--due", "+1d", "甲"]);
    env.ok_as("chen", &["followup", "add", &b, "--due", "+1d", "乙"]);
    // Another tool changes owners behind pool's back: a to wang (another team), b to
    // the pool.
    env.exec(&format!(
        "UPDATE customers SET owner_id = (SELECT id FROM users WHERE login = 'wang') WHERE id = {a};
         UPDATE customers SET owner_id = NULL, claimed_at = NULL WHERE id = {b};"
    ));
    assert!(stray_check(&env));
    // Managers run doctor but may not repair; a viewer neither.
    env.fails_as("zhao", &["doctor", "--fix"], 4);
    env.fails_as("lin", &["doctor", "--fix"], 4);
    env.cmd().args(["doctor", "--fix"]).output().unwrap();
    assert_eq!(open_of(&env, &a), [pair("甲", "wang")]);
    assert!(open_of(&env, &b).is_empty());
    assert_eq!(env.audit_count("followup_move"), 1);
    assert_eq!(env.audit_count("followup_cancel"), 1);
    assert!(!stray_check(&env));
}
