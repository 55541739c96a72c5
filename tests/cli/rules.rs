//! `pool rules show` / `pool rules set`.
use crate::common::fixtures::sales_org;
use crate::common::TestEnv;

#[test]
fn rules_show_and_set() {
    let env = sales_org();
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
fn absurd_rule_values_are_refused_with_the_allowed_range() {
    let env = TestEnv::new();
    let before = env.json(&["rules", "show"]);
    for (flag, value) in [
        ("--fresh-hold-hours", "4294967295"),
        ("--reclaim-cooldown-days", "4294967295"),
        ("--recycle-no-contact-days", "99999"),
        ("--warn-days", "100000"),
        ("--max-owned", "-3"),
    ] {
        let arg = format!("{flag}={value}");
        let err = env.fails_as("admin", &["rules", "set", &arg], 6);
        assert!(err.contains(&format!("invalid {flag}")), "{err}");
        assert!(err.contains("hint: use 0 to"), "{err}");
    }
    assert_eq!(env.json(&["rules", "show"]), before);
    env.ok(&[
        "rules",
        "set",
        "--fresh-hold-hours",
        "48",
        "--reclaim-cooldown-days",
        "30",
    ]);
}

/// Refused rule changes: out of range, unknown override, not an admin.
#[test]
fn snap_rules_refusals() {
    let env = sales_org();
    insta::assert_snapshot!(
        "out_of_range",
        env.snap(&["rules", "set", "--warn-days=100000"])
    );
    insta::assert_snapshot!("negative", env.snap(&["rules", "set", "--max-owned=-1"]));
    insta::assert_snapshot!(
        "unknown_stage",
        env.snap(&[
            "rules",
            "set",
            "--for",
            "stage=nope",
            "--recycle-no-contact-days",
            "3"
        ])
    );
    insta::assert_snapshot!("nothing_to_set", env.snap(&["rules", "set"]));
    insta::assert_snapshot!(
        "manager",
        env.snap_as("zhao", &["rules", "set", "--max-owned", "1"])
    );
    insta::assert_snapshot!(
        "unknown_pool",
        env.snap(&["rules", "show", "--pool", "nope"])
    );
}
