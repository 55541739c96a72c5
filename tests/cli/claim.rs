//! `pool claim`: limits, caps, holds, cooldowns, one line per id.
use serde_json::Value;

use crate::common::fixtures::{sales_org, two_teams, write};

#[test]
fn claim_then_already_owned_names_the_owner() {
    let env = sales_org();
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
    let env = sales_org();
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
    let env = sales_org();
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
    sqlite_only!("POOL_NOW dates a member's claims (on a server only an admin's)");
    let mut env = sales_org();
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
    sqlite_only!("POOL_NOW dates a member's claims (on a server only an admin's)");
    let mut env = sales_org();
    env.ok(&["rules", "set", "--fresh-hold-hours", "24"]);
    let id = env.pooled("新客户", "13800000001").to_string();
    let err = env.fails_as("lihua", &["claim", &id], 5);
    assert!(
        err.contains("fresh in the pool until 2026-11-23 09:00"),
        "{err}"
    );
    env.ok_as("zhao", &["assign", &id, "--to", "chen"]);
    assert_eq!(env.owner_of(id.parse().unwrap()).as_deref(), Some("chen"));
    let id2 = env.pooled("新客户2", "13800000002").to_string();
    env.now = "2026-11-23T09:00:00Z".into();
    env.ok_as("lihua", &["claim", &id2]);
}

#[test]
fn claiming_reveals_contact_details_to_the_new_owner() {
    let env = sales_org();
    let id = env.pooled("客户", "13800138000").to_string();
    assert_eq!(env.json_as("lihua", &["show", &id])["phone"], "138****8000");
    env.ok_as("lihua", &["claim", &id]);
    assert_eq!(env.json_as("lihua", &["show", &id])["phone"], "13800138000");
    assert_eq!(env.json_as("chen", &["show", &id])["phone"], "138****8000");
    assert_eq!(env.json_as("zhao", &["show", &id])["phone"], "13800138000");
}

#[test]
fn copies_of_a_customer_in_cooldown_are_in_cooldown_too() {
    let (env, _, pooled) = two_teams();
    env.ok(&["rules", "set", "--reclaim-cooldown-days", "30"]);
    env.ok_as("lihua", &["claim", &pooled]);
    env.ok_as("lihua", &["release", &pooled, "--reason", "x"]);
    // A copy in the pool (imported with create), then claimed.
    let csv = write(&env, "dup.csv", "name,phone\n公海客户副本,13787654321\n");
    env.ok_as("lihua", &["import", &csv, "--on-duplicate", "create"]);
    let copy = env.newest_customer().to_string();
    let err = env.fails_as("lihua", &["claim", &copy], 5);
    assert!(err.contains("cooldown"), "{err}");
    // A lead of her own edited into the same phone.
    let mine =
        env.json_as("lihua", &["add", "--name", "新客户", "--company", "星河"])["id"].to_string();
    let err = env.fails_as("lihua", &["edit", &mine, "--phone", "13787654321"], 5);
    assert!(err.contains("cooldown"), "{err}");
    // Someone else may claim the copy.
    env.ok_as("wang", &["claim", &copy]);
}

/// Every claim refusal, with its exit code and hint.
#[test]
fn snap_claim_refusals() {
    sqlite_only!("POOL_NOW dates a member's claims: the cooldown message names the sim date (on a server only an admin's)");
    let mut env = sales_org();
    env.ok(&["pools", "add", "east", "--team", "sales-east"]);
    let ids: Vec<String> = (1..=6)
        .map(|i| {
            env.pooled(&format!("c{i}"), &format!("1380000000{i}"))
                .to_string()
        })
        .collect();
    env.ok_as("lihua", &["claim", &ids[0]]);
    insta::assert_snapshot!("already_owned", env.snap_as("wang", &["claim", &ids[0]]));
    insta::assert_snapshot!("unknown_id", env.snap_as("lihua", &["claim", "999"]));
    insta::assert_snapshot!("viewer", env.snap_as("lin", &["claim", &ids[1]]));
    insta::assert_snapshot!(
        "several_ids",
        env.snap_as("wang", &["claim", &ids[1], &ids[0], "999"])
    );
    env.ok(&["rules", "set", "--max-owned", "1"]);
    insta::assert_snapshot!("limit", env.snap_as("lihua", &["claim", &ids[2]]));
    env.ok(&["rules", "set", "--max-owned", "0", "--daily-claims", "1"]);
    insta::assert_snapshot!("daily_cap", env.snap_as("lihua", &["claim", &ids[2]]));
    env.ok(&[
        "rules",
        "set",
        "--daily-claims",
        "0",
        "--reclaim-cooldown-days",
        "7",
    ]);
    env.ok_as("lihua", &["release", &ids[0], "--reason", "不要了"]);
    insta::assert_snapshot!("cooldown", env.snap_as("lihua", &["claim", &ids[0]]));
    env.ok(&["rules", "set", "--fresh-hold-hours", "24"]);
    let fresh = env.pooled("新客户", "13800000009").to_string();
    insta::assert_snapshot!("fresh_hold", env.snap_as("chen", &["claim", &fresh]));
    let east = env.json(&[
        "add",
        "--name",
        "东区客户",
        "--phone",
        "13800000010",
        "--pool",
        "east",
    ])["id"]
        .to_string();
    env.now = "2026-11-24T09:00:00Z".into();
    insta::assert_snapshot!("pool_not_visible", env.snap_as("wang", &["claim", &east]));
    env.ok(&["rules", "set", "--max-locked", "1"]);
    env.ok_as("chen", &["claim", &ids[3]]);
    env.ok_as("chen", &["lock", &ids[3]]);
    insta::assert_snapshot!("locked", env.snap_as("wang", &["claim", &ids[3]]));
}
