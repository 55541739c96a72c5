//! `pool lock` / `pool unlock`: a limited number of customers kept from release and recycling.
use crate::common::fixtures::sales_org;

#[test]
fn locks_are_limited_and_block_release_and_recycle() {
    let mut env = sales_org();
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

/// Every lock refusal, with its exit code and hint.
#[test]
fn snap_lock_refusals() {
    let env = sales_org();
    let a = env.pooled("甲", "13800000001").to_string();
    let b = env.pooled("乙", "13800000002").to_string();
    let c = env.pooled("丙", "13800000003").to_string();
    env.ok_as("lihua", &["claim", &a, &b]);
    insta::assert_snapshot!("locking_off", env.snap_as("lihua", &["lock", &a]));
    env.ok(&["rules", "set", "--max-locked", "1"]);
    insta::assert_snapshot!("pooled", env.snap_as("lihua", &["lock", &c]));
    insta::assert_snapshot!("not_yours", env.snap_as("chen", &["lock", &a]));
    env.ok_as("lihua", &["lock", &a]);
    insta::assert_snapshot!("lock_limit", env.snap_as("lihua", &["lock", &b]));
    insta::assert_snapshot!("viewer", env.snap_as("lin", &["lock", &b]));
}
