//! Tags keep the spelling people typed and are matched case-insensitively everywhere:
//! list filters, import merges, merges, and the recycle days per tag.
use crate::common::fixtures::{claimed, sales_teams};
use crate::common::TestEnv;

fn add(env: &TestEnv, name: &str, phone: &str, tags: &str) -> String {
    env.json(&["add", "--name", name, "--phone", phone, "--tags", tags])["id"]
        .as_i64()
        .expect("id")
        .to_string()
}

fn names(env: &TestEnv, args: &[&str]) -> Vec<String> {
    let mut all = vec!["list"];
    all.extend_from_slice(args);
    env.json(&all)
        .as_array()
        .expect("array")
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_string())
        .collect()
}

#[test]
fn tags_keep_their_spelling_and_match_in_any_case() {
    let env = TestEnv::new();
    let a = add(&env, "甲", "13800000001", "VIP、Big Client, vip");
    add(&env, "乙", "13800000002", "vip客户");
    // The first spelling stays; a repeat in another case is the same tag.
    assert_eq!(env.json(&["show", &a])["tags"], "VIP,Big Client");
    assert_eq!(names(&env, &["--tag", "vip"]), ["甲"]);
    assert_eq!(names(&env, &["--tag", "VIP"]), ["甲"]);
    assert_eq!(names(&env, &["--tag", "big CLIENT"]), ["甲"]);
    assert_eq!(names(&env, &["--tag", "ＶＩＰ客户"]), ["乙"]);
    assert!(names(&env, &["--tag", "big"]).is_empty());
    // Editing to another spelling of the same tags is a change people see.
    env.ok(&["edit", &a, "--tags", "Vip,big client"]);
    assert_eq!(env.json(&["show", &a])["tags"], "Vip,big client");
    assert_eq!(names(&env, &["--tag", "VIP"]), ["甲"]);
    assert_eq!(
        env.count(&format!("customer_tags WHERE customer_id = {a}")),
        2
    );
}

#[test]
fn an_import_merge_adds_only_tags_it_does_not_have_in_any_case() {
    let env = TestEnv::new();
    let a = env.json(&[
        "add",
        "--name",
        "张伟",
        "--company",
        "杭州云帆科技有限公司",
        "--phone",
        "13800138001",
        "--email",
        "zw@yunfan.cn",
        "--tags",
        "VIP",
    ])["id"]
        .to_string();
    let csv = env.dir.path().join("more.csv");
    std::fs::write(
        &csv,
        "姓名,公司,电话,邮箱,标签\n张伟,杭州云帆科技有限公司,13800138001,zw@yunfan.cn,\"vip,Expo 2026\"\n",
    )
    .expect("write csv");
    env.ok(&[
        "import",
        csv.to_str().expect("path"),
        "--on-duplicate",
        "merge",
    ]);
    assert_eq!(env.json(&["show", &a])["tags"], "VIP,Expo 2026");
    assert_eq!(names(&env, &["--tag", "expo 2026"]), ["张伟"]);
}

#[test]
fn recycle_days_for_a_tag_apply_whatever_its_case() {
    let mut env = sales_teams();
    env.ok(&["rules", "set", "--recycle-no-contact-days", "10"]);
    env.ok(&[
        "rules",
        "set",
        "--for",
        "tag=Vip",
        "--recycle-no-contact-days",
        "60",
    ]);
    let vip = claimed(&env, "lihua", "13800000001"); // claimed 2026-11-22T09:00:00Z
    let plain = claimed(&env, "lihua", "13800000002");
    env.ok_as("lihua", &["edit", &vip, "--tags", "VIP"]);
    env.now = "2026-12-10T00:00:00Z".into();
    let due = env.json(&["recycle", "--dry-run"]);
    let ids: Vec<String> = due
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["id"].to_string())
        .collect();
    assert_eq!(ids, [plain], "the VIP customer keeps its 60 days");
    // The stored recycle date (what stale, owners and the agenda read) agrees.
    let claimed = env.query_i64(&format!(
        "SELECT claimed_at FROM customers WHERE id = {vip}"
    ));
    assert_eq!(
        env.query_i64(&format!(
            "SELECT recycle_due_at FROM customers WHERE id = {vip}"
        )),
        claimed + 60 * 86_400
    );
}
