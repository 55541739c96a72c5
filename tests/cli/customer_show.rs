//! `pool show`: masking by role and team, the timeline.
use crate::common::fixtures::{claimed, sales_teams, sales_with_viewer, two_teams};

#[test]
fn pool_privacy_masks_contacts_for_members_and_viewers() {
    let env = sales_with_viewer();
    let id = env.pooled("李四", "13900139000").to_string();
    let member = env.json_as("lihua", &["show", &id]);
    assert_eq!(member["phone"], "139****9000");
    let viewer = env.json_as("lin", &["list"]);
    assert_eq!(viewer[0]["phone"], "139****9000");
    let manager = env.json_as("zhao", &["show", &id]);
    assert_eq!(manager["phone"], "13900139000");
}

#[test]
fn show_is_a_timeline_newest_first_and_hidden_before_a_claim() {
    sqlite_only!("POOL_NOW dates a member's release (on a server only an admin's)");
    let mut env = sales_teams();
    let id = claimed(&env, "lihua", "13800000001");
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
fn a_manager_sees_other_teams_customers_masked_everywhere() {
    let (env, north, pooled) = two_teams();
    let shown = env.json_as("zhao", &["show", &north]);
    assert_eq!(shown["phone"], "139****5678", "{shown}");
    let listed = env.ok_as("zhao", &["list", "--format", "csv"]);
    assert!(!listed.contains("13912345678"), "{listed}");
    let exported = env.ok_as("zhao", &["export", "--unmasked"]);
    assert!(!exported.contains("13912345678"), "{exported}");
    assert!(!exported.contains("secret@north.cn"), "{exported}");
    // Pooled customers are the manager's to see (and to assign).
    assert!(exported.contains("13787654321"), "{exported}");
    assert_eq!(
        env.json_as("zhao", &["show", &pooled])["phone"],
        "13787654321"
    );
    // A full copy of everything is an admin's.
    let b = env.dir.path().join("b.db");
    env.fails_as("zhao", &["backup", b.to_str().unwrap()], 4);
    assert!(!b.exists());
}
