//! `pool demo`: deterministic for a seed.
use crate::common::TestEnv;

#[test]
fn demo_is_deterministic_for_a_seed() {
    let a = TestEnv::new();
    let b = TestEnv::new();
    a.ok(&["demo", "--customers", "500", "--seed", "7"]);
    b.ok(&["demo", "--customers", "500", "--seed", "7"]);
    let q = ["list", "--limit", "0", "--sort", "id"];
    assert_eq!(a.json(&q), b.json(&q));
    let n = a.json(&["list", "--limit", "0"]).as_array().unwrap().len();
    assert!(n >= 490, "{n}");
    let pooled = a
        .json(&["list", "--in-pool", "--limit", "0"])
        .as_array()
        .unwrap()
        .len();
    assert!(pooled > 100 && pooled < n, "{pooled} of {n}");
}
