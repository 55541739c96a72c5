//! `pool assign` and `pool transfer`: a manager moves customers within their team.
use crate::common::fixtures::sales_org;

#[test]
fn assign_and_transfer_stay_within_the_managers_team() {
    let env = sales_org();
    let a = env.pooled("甲", "13800000001").to_string();
    let b = env.pooled("乙", "13800000002").to_string();
    env.fails_as("lihua", &["assign", &a, "--to", "chen"], 4);
    env.ok_as("zhao", &["assign", &a, &b, "--to", "lihua"]);
    env.fails_as("zhao", &["assign", &a, "--to", "wang"], 4);
    // Another team's manager cannot take them.
    env.fails_as("qian", &["assign", &a, "--to", "wang"], 4);
    env.ok_as("zhao", &["transfer", "--from", "lihua", "--to", "chen", &a]);
    assert_eq!(env.owner_of(a.parse().unwrap()).as_deref(), Some("chen"));
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
    let events = env.events("assign") + env.events("transfer");
    assert_eq!(events, 4);
}

/// Every assign and transfer refusal, with its exit code and hint.
#[test]
fn snap_assign_refusals() {
    let env = sales_org();
    let a = env.pooled("甲", "13800000001").to_string();
    let b = env.pooled("乙", "13800000002").to_string();
    insta::assert_snapshot!(
        "member_assigns",
        env.snap_as("lihua", &["assign", &a, "--to", "chen"])
    );
    insta::assert_snapshot!(
        "to_another_team",
        env.snap_as("zhao", &["assign", &a, "--to", "wang"])
    );
    insta::assert_snapshot!(
        "unknown_user",
        env.snap_as("zhao", &["assign", &a, "--to", "nobody"])
    );
    env.ok_as("zhao", &["assign", &a, &b, "--to", "lihua"]);
    insta::assert_snapshot!(
        "other_teams_manager",
        env.snap_as("qian", &["assign", &a, "--to", "wang"])
    );
    insta::assert_snapshot!(
        "transfer_not_owned",
        env.snap_as("zhao", &["transfer", "--from", "chen", "--to", "zhao", &b])
    );
    env.ok(&["rules", "set", "--max-owned", "2"]);
    let c = env.pooled("丙", "13800000003").to_string();
    insta::assert_snapshot!(
        "limit_of_new_owner",
        env.snap_as("zhao", &["assign", &c, "--to", "lihua"])
    );
}
