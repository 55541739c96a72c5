//! Step 2: claim, release, assign, transfer, lock, pools, rules, recycle.
use serde_json::Value;

use crate::common::TestEnv;

fn team() -> TestEnv {
    let env = TestEnv::new();
    env.user("zhao", "sales-east", "manager");
    env.user("lihua", "sales-east", "member");
    env.user("chen", "sales-east", "member");
    env.user("wang", "sales-north", "member");
    env.user("qian", "sales-north", "manager");
    env.user("lin", "marketing", "viewer");
    env
}

fn owner(env: &TestEnv, id: i64) -> Value {
    env.json(&["show", &id.to_string()])["owner"].clone()
}

#[test]
fn claim_then_already_owned_names_the_owner() {
    let env = team();
    let id = env.pooled("客户甲", "13800000001").to_string();
    let v = env.json_as("lihua", &["claim", &id]);
    assert_eq!(v[0]["ok"], true);
    assert_eq!(v[0]["result"], "claimed");
    let err = env.fails_as("wang", &["claim", &id], 5);
    assert!(
        err.contains(&format!("customer {id} is already owned by lihua")),
        "{err}"
    );
    // Claiming your own again is fine.
    assert_eq!(
        env.json_as("lihua", &["claim", &id])[0]["result"],
        "already yours"
    );
    env.fails_as("lin", &["claim", &id], 4);
    env.fails_as("lihua", &["claim", "999"], 3);
}

#[test]
fn several_ids_one_line_each_and_the_worst_exit_code() {
    let env = team();
    let a = env.pooled("甲", "13800000001");
    let b = env.pooled("乙", "13800000002");
    env.ok_as("wang", &["claim", &b.to_string()]);
    let out = env.run_as(
        "lihua",
        &[
            "claim",
            &a.to_string(),
            &b.to_string(),
            "999",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(5));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["exit_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [0, 5, 3]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 of 3 claimed, 2 refused"), "{err}");
    let table = env.run_as("lihua", &["claim", &b.to_string()]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("already owned by wang"));
}

#[test]
fn max_owned_counts_won_stages_only_when_asked() {
    let env = team();
    env.ok(&["rules", "set", "--max-owned", "2"]);
    let ids: Vec<String> = (1..=4)
        .map(|i| {
            env.pooled(&format!("c{i}"), &format!("1380000000{i}"))
                .to_string()
        })
        .collect();
    env.ok_as("lihua", &["claim", &ids[0], &ids[1]]);
    let err = env.fails_as("lihua", &["claim", &ids[2]], 5);
    assert!(
        err.contains("limit reached: lihua owns 2/2 customers in pool 'public'"),
        "{err}"
    );
    // A won customer does not count unless count_won is on.
    env.ok(&["edit", &ids[0], "--stage", "customer"]);
    env.ok_as("lihua", &["claim", &ids[2]]);
    env.ok(&["rules", "set", "--count-won", "true"]);
    env.fails_as("lihua", &["claim", &ids[3]], 5);
    // Assign respects the limit of the new owner too.
    env.fails_as("zhao", &["assign", &ids[3], "--to", "lihua"], 5);
}

#[test]
fn daily_claim_cap_resets_the_next_day() {
    let mut env = team();
    env.ok(&["rules", "set", "--daily-claims", "2"]);
    let ids: Vec<String> = (1..=3)
        .map(|i| {
            env.pooled(&format!("c{i}"), &format!("1380000000{i}"))
                .to_string()
        })
        .collect();
    env.ok_as("lihua", &["claim", &ids[0], &ids[1]]);
    let err = env.fails_as("lihua", &["claim", &ids[2]], 5);
    assert!(err.contains("daily claim cap reached: 2/2"), "{err}");
    env.now = "2026-11-23T00:00:01Z".into();
    env.ok_as("lihua", &["claim", &ids[2]]);
}

#[test]
fn fresh_hold_lets_managers_assign_but_not_members_claim() {
    let mut env = team();
    env.ok(&["rules", "set", "--fresh-hold-hours", "24"]);
    let id = env.pooled("新客户", "13800000001").to_string();
    let err = env.fails_as("lihua", &["claim", &id], 5);
    assert!(
        err.contains("fresh in the pool until 2026-11-23 09:00"),
        "{err}"
    );
    env.ok_as("zhao", &["assign", &id, "--to", "chen"]);
    assert_eq!(owner(&env, id.parse().unwrap()), "chen");
    let id2 = env.pooled("新客户2", "13800000002").to_string();
    env.now = "2026-11-23T09:00:00Z".into();
    env.ok_as("lihua", &["claim", &id2]);
}

#[test]
fn team_pools_are_visible_only_to_their_teams() {
    let env = team();
    env.ok(&["pools", "add", "east", "--team", "sales-east"]);
    let id = env.json(&[
        "add",
        "--name",
        "东区客户",
        "--phone",
        "13800000001",
        "--pool",
        "east",
    ])["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let err = env.fails_as("wang", &["claim", &id], 5);
    assert!(
        err.contains("pool 'east' is not visible to team 'sales-north'"),
        "{err}"
    );
    assert!(env
        .json_as("wang", &["list", "--in-pool"])
        .as_array()
        .unwrap()
        .is_empty());
    env.ok_as("lihua", &["claim", &id]);
    let pools = env.json(&["pools", "list"]);
    assert_eq!(pools[1]["name"], "east");
    assert_eq!(pools[1]["teams"], "sales-east");
    env.fails_as("zhao", &["pools", "add", "x", "--team", "sales-east"], 4);
    env.fails_as(
        "admin",
        &["pools", "add", "east", "--team", "sales-east"],
        5,
    );
}

#[test]
fn release_needs_a_reason_and_handles_follow_ups() {
    let env = team();
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
    let env = team();
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

#[test]
fn assign_and_transfer_stay_within_the_managers_team() {
    let env = team();
    let a = env.pooled("甲", "13800000001").to_string();
    let b = env.pooled("乙", "13800000002").to_string();
    env.fails_as("lihua", &["assign", &a, "--to", "chen"], 4);
    env.ok_as("zhao", &["assign", &a, &b, "--to", "lihua"]);
    env.fails_as("zhao", &["assign", &a, "--to", "wang"], 4);
    // Another team's manager cannot take them.
    env.fails_as("qian", &["assign", &a, "--to", "wang"], 4);
    env.ok_as("zhao", &["transfer", "--from", "lihua", "--to", "chen", &a]);
    assert_eq!(owner(&env, a.parse().unwrap()), "chen");
    // Idempotent for the same target; refused when --from does not own it.
    env.ok_as("zhao", &["transfer", "--from", "lihua", "--to", "chen", &a]);
    let err = env.fails_as(
        "zhao",
        &["transfer", "--from", "chen", "--to", "zhao", &b],
        5,
    );
    assert!(err.contains("is not owned by chen"), "{err}");
    let v = env.json_as(
        "zhao",
        &["transfer", "--from", "lihua", "--to", "chen", "--all"],
    );
    assert_eq!(v["transferred"], 1);
    assert_eq!(
        env.json_as("chen", &["list", "--mine"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let events = env
        .query_i64("SELECT count(*) FROM ownership_events WHERE event IN ('assign', 'transfer')");
    assert_eq!(events, 4);
}

#[test]
fn locks_are_limited_and_block_release_and_recycle() {
    let mut env = team();
    let a = env.pooled("甲", "13800000001").to_string();
    let b = env.pooled("乙", "13800000002").to_string();
    env.ok_as("lihua", &["claim", &a, &b]);
    let err = env.fails_as("lihua", &["lock", &a], 5);
    assert!(err.contains("locking is off"), "{err}");
    env.ok(&[
        "rules",
        "set",
        "--max-locked",
        "1",
        "--recycle-no-contact-days",
        "30",
    ]);
    env.ok_as("lihua", &["lock", &a]);
    let err = env.fails_as("lihua", &["lock", &b], 5);
    assert!(err.contains("lock limit reached: lihua has 1/1"), "{err}");
    let err = env.fails_as("lihua", &["release", &a, "--reason", "x"], 5);
    assert!(err.contains("is locked"), "{err}");
    env.now = "2027-01-30T00:00:00Z".into();
    let v = env.json(&["recycle"]);
    let ids: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].to_string())
        .collect();
    assert_eq!(ids, std::slice::from_ref(&b));
    env.ok_as("lihua", &["unlock", &a]);
    let v = env.json(&["recycle"]);
    assert_eq!(v.as_array().unwrap().len(), 1);
}

#[test]
fn recycle_returns_exactly_the_customers_past_their_rule() {
    let mut env = team();
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
    env.sql(&format!(
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
    assert_eq!(
        env.query_i64("SELECT count(*) FROM audit_log WHERE action = 'recycle'"),
        2
    );
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
    let mut env = team();
    env.ok(&["rules", "set", "--recycle-no-deal-days", "10"]);
    let a = env.pooled("甲", "13800000001");
    let b = env.pooled("乙", "13800000002");
    env.ok_as("lihua", &["claim", &a.to_string(), &b.to_string()]);
    env.sql(&format!(
        "UPDATE customers SET won_at = unixepoch('2026-11-25') WHERE id = {b}"
    ));
    env.now = "2026-12-03T00:00:00Z".into();
    let v = env.json(&["recycle"]);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["id"], a);
    assert_eq!(v[0]["reason"], "no_deal");
}

#[test]
fn rules_show_and_set() {
    let env = team();
    let v = env.json(&["rules", "show"]);
    assert_eq!(v["max_owned"], 0);
    assert_eq!(v["exempt_stages"], serde_json::json!(["loyal"]));
    env.ok(&[
        "rules",
        "set",
        "--max-owned",
        "50",
        "--exempt-stages",
        "loyal,customer",
        "--warn-days",
        "5",
    ]);
    env.ok(&[
        "rules",
        "set",
        "--for",
        "tag=VIP",
        "--recycle-no-contact-days",
        "90",
    ]);
    let v = env.json(&["rules", "show"]);
    assert_eq!(v["max_owned"], 50);
    assert_eq!(v["warn_days"], 5);
    assert_eq!(v["overrides"][0]["value"], "vip");
    assert_eq!(v["overrides"][0]["recycle_no_contact_days"], 90);
    env.ok(&["rules", "set", "--for", "tag=vip", "--remove"]);
    assert!(env.json(&["rules", "show"])["overrides"]
        .as_array()
        .unwrap()
        .is_empty());
    let table = env.ok_as("lihua", &["rules", "show"]);
    assert!(
        table.contains("max_owned") && table.contains("customers one user may own"),
        "{table}"
    );
    env.fails_as("zhao", &["rules", "set", "--max-owned", "1"], 4);
    env.fails_as("admin", &["rules", "set", "--max-owned=-1"], 6);
    env.fails_as(
        "admin",
        &[
            "rules",
            "set",
            "--for",
            "stage=nope",
            "--recycle-no-contact-days",
            "3",
        ],
        6,
    );
    env.fails_as("admin", &["rules", "set"], 2);
    env.fails_as("admin", &["rules", "show", "--pool", "nope"], 3);
}

#[test]
fn deactivating_a_user_returns_or_transfers_their_customers() {
    let env = team();
    let a = env.pooled("甲", "13800000001").to_string();
    let b = env.pooled("乙", "13800000002").to_string();
    env.ok_as("lihua", &["claim", &a]);
    env.ok_as("chen", &["claim", &b]);
    let v = env.json(&["user", "deactivate", "lihua"]);
    assert_eq!(v["customers_returned"], 1);
    assert_eq!(env.json(&["show", &a])["owner"], Value::Null);
    env.fails_as("lihua", &["list"], 4);
    let v = env.json(&["user", "deactivate", "chen", "--transfer-to", "zhao"]);
    assert_eq!(v["customers_transferred"], 1);
    assert_eq!(env.json(&["show", &b])["owner"], "zhao");
}

#[test]
fn claiming_reveals_contact_details_to_the_new_owner() {
    let env = team();
    let id = env.pooled("客户", "13800138000").to_string();
    assert_eq!(env.json_as("lihua", &["show", &id])["phone"], "138****8000");
    env.ok_as("lihua", &["claim", &id]);
    assert_eq!(env.json_as("lihua", &["show", &id])["phone"], "13800138000");
    assert_eq!(env.json_as("chen", &["show", &id])["phone"], "138****8000");
    assert_eq!(env.json_as("zhao", &["show", &id])["phone"], "13800138000");
}
