//! Step 1: adding, reading, listing, editing and deleting customers.
use crate::common::TestEnv;

fn team() -> TestEnv {
    let env = TestEnv::new();
    env.user("zhao", "sales-east", "manager");
    env.user("lihua", "sales-east", "member");
    env.user("wang", "sales-north", "member");
    env.user("lin", "marketing", "viewer");
    env
}

#[test]
fn add_validates_and_normalises() {
    let env = team();
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
    let key: String = rusqlite::Connection::open(env.db())
        .unwrap()
        .query_row("SELECT phone_key FROM customers WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(key, "8613800138000");
}

#[test]
fn bad_input_exits_6_and_names_the_field() {
    let env = team();
    let err = env.fails_as("lihua", &["add", "--name", "x", "--email", "wang@"], 6);
    assert!(err.contains("invalid email"), "{err}");
    let err = env.fails_as("lihua", &["add", "--name", "x", "--phone", "12ab"], 6);
    assert!(err.contains("invalid phone"), "{err}");
    // No terminal: nothing is prompted, a missing name and company is an error.
    let err = env.fails_as("lihua", &["add", "--phone", "13800138000"], 6);
    assert!(err.contains("invalid name"), "{err}");
    assert_eq!(env.query_i64("SELECT count(*) FROM customers"), 0);
}

#[test]
fn add_warns_on_a_likely_duplicate() {
    let env = team();
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
    assert!(err.contains("name one character off"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["possible_duplicates"], serde_json::json!([1]));
}

#[test]
fn viewers_read_only_and_managers_delete() {
    let env = team();
    env.fails_as("lin", &["add", "--name", "x"], 4);
    let id = env.pooled("李四", "13900139000").to_string();
    env.fails_as("lihua", &["delete", &id, "--yes"], 4);
    // Without a terminal and without --yes, delete refuses (usage error).
    let err = env.fails_as("zhao", &["delete", &id], 2);
    assert!(err.contains("--yes"), "{err}");
    env.ok_as("zhao", &["delete", &id, "--yes"]);
    env.fails_as("zhao", &["show", &id], 3);
    assert!(env.json(&["list"]).as_array().unwrap().is_empty());
    // Tombstone: the row is still there.
    assert_eq!(
        env.query_i64("SELECT count(*) FROM customers WHERE deleted_at IS NOT NULL"),
        1
    );
}

#[test]
fn pool_privacy_masks_contacts_for_members_and_viewers() {
    let env = team();
    let id = env.pooled("李四", "13900139000").to_string();
    let member = env.json_as("lihua", &["show", &id]);
    assert_eq!(member["phone"], "139****9000");
    let viewer = env.json_as("lin", &["list"]);
    assert_eq!(viewer[0]["phone"], "139****9000");
    let manager = env.json_as("zhao", &["show", &id]);
    assert_eq!(manager["phone"], "13900139000");
}

#[test]
fn edit_changes_only_what_is_given_and_checks_ownership() {
    let env = team();
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
fn list_filters() {
    let env = team();
    env.ok_as(
        "lihua",
        &[
            "add",
            "--name",
            "A",
            "--phone",
            "13800000001",
            "--city",
            "杭州",
            "--tags",
            "VIP",
            "--source",
            "展会",
        ],
    );
    env.ok(&[
        "add",
        "--name",
        "B",
        "--phone",
        "13800000002",
        "--city",
        "北京",
        "--stage",
        "customer",
        "--owner",
        "wang",
    ]);
    env.ok(&[
        "add",
        "--name",
        "C",
        "--company",
        "云帆科技",
        "--email",
        "c@yf.com",
        "--city",
        "杭州",
        "--pool",
    ]);
    let names = |args: &[&str]| -> Vec<String> {
        env.json_as("zhao", args)
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&["list"]), ["A", "B", "C"]);
    assert_eq!(names(&["list", "--in-pool"]), ["C"]);
    assert_eq!(
        names(&["list", "--in-pool", "public", "--city", "杭州"]),
        ["C"]
    );
    assert_eq!(names(&["list", "--city", "杭州"]), ["A", "C"]);
    assert_eq!(names(&["list", "--owner", "wang"]), ["B"]);
    assert_eq!(names(&["list", "--team", "sales-east"]), ["A"]);
    assert_eq!(names(&["list", "--stage", "customer"]), ["B"]);
    assert_eq!(names(&["list", "--tag", "vip"]), ["A"]);
    assert_eq!(names(&["list", "--source", "展会"]), ["A"]);
    assert_eq!(names(&["list", "--search", "云帆"]), ["C"]);
    // B is another team's: its phone matches zhao's search only as a whole number.
    assert_eq!(
        names(&["list", "--search", "0000002"]),
        Vec::<String>::new()
    );
    assert_eq!(names(&["list", "--search", "13800000002"]), ["B"]);
    assert_eq!(names(&["list", "--search", "0000001"]), ["A"]);
    assert_eq!(
        names(&["list", "--sort", "name", "--desc", "--limit", "2"]),
        ["C", "B"]
    );
    assert_eq!(env.json_as("lihua", &["list", "--mine"])[0]["name"], "A");
    env.fails_as("zhao", &["list", "--owner", "nobody"], 3);
    env.fails_as("zhao", &["list", "--in-pool", "nope"], 3);
    // CSV has a header and one line per customer.
    let csv = env.ok_as("zhao", &["list", "--format", "csv"]);
    assert_eq!(csv.lines().count(), 4);
    assert!(csv.starts_with("id,name,company,phone,email,city,stage,tags,owner,pool,last_contact"));
}

#[test]
fn no_contact_days_uses_the_clock() {
    let mut env = team();
    env.ok_as(
        "lihua",
        &["add", "--name", "老客户", "--phone", "13800000001"],
    );
    env.now = "2026-12-30T09:00:00Z".into();
    let v = env.json_as("zhao", &["list", "--no-contact-days", "30"]);
    assert_eq!(v.as_array().unwrap().len(), 1);
    let v = env.json_as("zhao", &["list", "--no-contact-days", "60"]);
    assert!(v.as_array().unwrap().is_empty());
}

#[test]
fn add_warns_with_the_dedupe_matcher_not_only_exact_keys() {
    let env = team();
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
