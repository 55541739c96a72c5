//! `pool add`: validation, normalisation, duplicate warnings, the rules on adding.
use crate::common::fixtures::{sales_with_viewer, two_teams, write};

#[test]
fn add_validates_and_normalises() {
    let env = sales_with_viewer();
    let v = env.json_as(
        "lihua",
        &[
            "add",
            "--name",
            " 张　三 ",
            "--company",
            "杭州云帆科技有限公司",
            "--phone",
            "１３８ ００１３ ８０００",
            "--email",
            "ZS@QQ.com",
            "--city",
            "杭州",
        ],
    );
    let id = v["id"].as_i64().unwrap();
    assert_eq!(v["owner"], "lihua");
    let c = env.json_as("lihua", &["show", &id.to_string()]);
    assert_eq!(c["name"], "张 三");
    assert_eq!(c["phone"], "138 0013 8000");
    assert_eq!(c["email"], "zs@qq.com");
    let key = env.customer_text(id, "phone_key").expect("a phone key");
    assert_eq!(key, "8613800138000");
}

#[test]
fn bad_input_exits_6_and_names_the_field() {
    let env = sales_with_viewer();
    let err = env.fails_as("lihua", &["add", "--name", "x", "--email", "wang@"], 6);
    assert!(err.contains("invalid email"), "{err}");
    let err = env.fails_as("lihua", &["add", "--name", "x", "--phone", "12ab"], 6);
    assert!(err.contains("invalid phone"), "{err}");
    // No terminal: nothing is prompted, a missing name and company is an error.
    let err = env.fails_as("lihua", &["add", "--phone", "13800138000"], 6);
    assert!(err.contains("invalid name"), "{err}");
    assert_eq!(env.count("customers"), 0);
}

#[test]
fn add_warns_on_a_likely_duplicate() {
    let env = sales_with_viewer();
    env.ok_as(
        "lihua",
        &["add", "--name", "张三", "--phone", "13800138000"],
    );
    let out = env.run_as(
        "lihua",
        &[
            "add",
            "--name",
            "张三丰",
            "--phone",
            "+86 138-0013-8000",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // The model's verdict and its why: the match probability and each field's weight.
    assert!(
        err.contains("looks like a duplicate of customer 1 (probability 0.9"),
        "{err}"
    );
    assert!(err.contains("same phone (+"), "{err}");
    assert!(
        err.contains("one character dropped, the rest sounds the same"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["possible_duplicates"], serde_json::json!([1]));
}

#[test]
fn add_warns_with_the_dedupe_matcher_not_only_exact_keys() {
    let env = sales_with_viewer();
    env.ok_as(
        "lihua",
        &[
            "add",
            "--name",
            "张伟",
            "--company",
            "杭州云帆科技有限公司",
            "--address",
            "浙江省杭州市西湖区文三路90号",
        ],
    );
    // No phone or e-mail: the name, the company without its suffix and the address match.
    let out = env.run_as(
        "lihua",
        &[
            "add",
            "--name",
            "张伟",
            "--company",
            "杭州云帆科技",
            "--address",
            "浙江省杭州市西湖区文三路90号",
            "--format",
            "json",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("looks like a duplicate of customer 1"),
        "{err}"
    );
    // Same name, different company and phone: a different person, no warning.
    let out = env.run_as(
        "lihua",
        &[
            "add",
            "--name",
            "张伟",
            "--company",
            "上海明远贸易",
            "--phone",
            "13900000000",
        ],
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("duplicate"));
}

#[test]
fn members_get_customers_only_within_the_rules() {
    let (env, _, pooled) = two_teams();
    env.ok(&[
        "rules",
        "set",
        "--max-owned",
        "2",
        "--reclaim-cooldown-days",
        "7",
    ]);
    env.ok(&["pools", "add", "east-only", "--team", "east"]);
    // max_owned on add: two are fine, the third is refused.
    let a1 = env.json_as("lihua", &["add", "--name", "a1", "--phone", "13600000011"])["id"]
        .as_i64()
        .unwrap()
        .to_string();
    env.ok_as("lihua", &["add", "--name", "a2", "--phone", "13600000012"]);
    env.fails_as(
        "lihua",
        &["add", "--name", "a3", "--phone", "13600000013"],
        5,
    );
    // …and on import for oneself (all or nothing): 1 owned + 2 rows > 2.
    env.ok_as("lihua", &["release", &a1, "--reason", "x"]);
    let csv = write(
        &env,
        "own.csv",
        "name,phone\nb1,13600000021\nb2,13600000022\n",
    );
    env.fails_as("lihua", &["import", &csv, "--owner", "lihua"], 5);
    assert_eq!(env.count("customers WHERE name LIKE 'b%'"), 0);
    // A lost customer cannot come back as a copy during its cooldown.
    env.ok_as("wang", &["claim", &pooled]);
    env.ok_as("wang", &["release", &pooled, "--reason", "不要了"]);
    let err = env.fails_as(
        "wang",
        &["add", "--name", "公海客户", "--phone", "13787654321"],
        5,
    );
    assert!(err.contains("cooldown"), "{err}");
    // Stages: a member cannot make a lead loyal (exempt from recycling) without a deal.
    let lead = env.json_as("wang", &["add", "--name", "w1", "--phone", "13600000031"])["id"]
        .as_i64()
        .unwrap()
        .to_string();
    env.fails_as("wang", &["edit", &lead, "--stage", "loyal"], 4);
    env.fails_as("wang", &["add", "--name", "w2", "--stage", "loyal"], 4);
    env.ok_as("wang", &["deal", "add", &lead, "--amount", "100"]);
    env.ok_as("wang", &["edit", &lead, "--stage", "loyal"]);
    // A pool the member's team cannot see is not theirs to add to.
    env.fails_as("wang", &["add", "--name", "w3", "--pool", "east-only"], 5);
    env.fails_as("wang", &["import", &csv, "--pool", "east-only"], 5);
}

/// Invalid input to `pool add`: the field named, exit 6.
#[test]
fn snap_add_refusals() {
    let env = sales_with_viewer();
    for (name, args) in [
        (
            "invalid_email",
            vec!["add", "--name", "x", "--email", "wang@"],
        ),
        (
            "invalid_phone",
            vec!["add", "--name", "x", "--phone", "12ab"],
        ),
        (
            "ten_digit_mobile",
            vec!["add", "--name", "李四", "--phone", "1380013800"],
        ),
        ("no_name", vec!["add", "--phone", "13800138000"]),
        (
            "won_stage_without_deal",
            vec!["add", "--name", "w2", "--stage", "loyal"],
        ),
    ] {
        insta::assert_snapshot!(name, env.snap_as("lihua", &args));
    }
    insta::assert_snapshot!("viewer", env.snap_as("lin", &["add", "--name", "x"]));
}
