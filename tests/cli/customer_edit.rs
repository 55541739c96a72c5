//! `pool edit`: only what is given changes; stages and ownership are checked.
use crate::common::fixtures::{claimed, sales_teams, sales_with_viewer};

#[test]
fn edit_changes_only_what_is_given_and_checks_ownership() {
    let env = sales_with_viewer();
    let id = env.json_as(
        "lihua",
        &[
            "add",
            "--name",
            "赵六",
            "--phone",
            "13700137000",
            "--tags",
            "VIP、制造业",
        ],
    )["id"]
        .as_i64()
        .unwrap()
        .to_string();
    // A won stage needs a deal (or a manager): refused before anything changes.
    env.fails_as(
        "lihua",
        &["edit", &id, "--email", "zl@163.com", "--stage", "customer"],
        4,
    );
    env.ok_as("lihua", &["deal", "add", &id, "--amount", "10"]);
    env.ok_as(
        "lihua",
        &[
            "edit",
            &id,
            "--email",
            "zl@163.com",
            "--stage",
            "customer",
            "--clear",
            "tags",
        ],
    );
    let c = env.json_as("lihua", &["show", &id]);
    assert_eq!(c["email"], "zl@163.com");
    assert_eq!(c["phone"], "13700137000");
    assert_eq!(c["stage"], "customer");
    assert_eq!(c["tags"], "");
    // Someone else's customer: a member of another team may not edit it; its manager may.
    env.fails_as("wang", &["edit", &id, "--city", "北京"], 4);
    env.ok_as("zhao", &["edit", &id, "--city", "北京"]);
    env.fails_as("lihua", &["edit", &id, "--email", "nope"], 6);
    env.fails_as("lihua", &["edit", &id], 2);
    env.fails_as("lihua", &["edit", "999", "--city", "x"], 3);
}

#[test]
fn churning_cancels_open_followups_after_confirmation() {
    let env = sales_teams();
    let id = claimed(&env, "lihua", "13800000001");
    env.ok_as("lihua", &["followup", "add", &id, "--due", "+3d", "回访"]);
    let err = env.fails_as("lihua", &["edit", &id, "--stage", "churned"], 2);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(env.json_as("lihua", &["show", &id])["stage"], "lead");
    env.ok_as("lihua", &["edit", &id, "--stage", "churned", "--yes"]);
    assert_eq!(env.count("followups WHERE status = 'cancelled'"), 1);
    assert_eq!(env.json_as("lihua", &["show", &id])["stage"], "churned");
}
