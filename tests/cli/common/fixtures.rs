//! Teams and customers the tests start from, and small readers of the output.
use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

use super::TestEnv;

pub fn sales_org() -> TestEnv {
    let env = TestEnv::new();
    env.user("zhao", "sales-east", "manager");
    env.user("lihua", "sales-east", "member");
    env.user("chen", "sales-east", "member");
    env.user("wang", "sales-north", "member");
    env.user("qian", "sales-north", "manager");
    env.user("lin", "marketing", "viewer");
    env
}

pub fn sales_teams() -> TestEnv {
    let env = TestEnv::new();
    env.user("zhao", "sales-east", "manager");
    env.user("lihua", "sales-east", "member");
    env.user("chen", "sales-east", "member");
    env.user("wang", "sales-north", "member");
    env
}

pub fn sales_with_viewer() -> TestEnv {
    let env = TestEnv::new();
    env.user("zhao", "sales-east", "manager");
    env.user("lihua", "sales-east", "member");
    env.user("wang", "sales-north", "member");
    env.user("lin", "marketing", "viewer");
    env
}

pub fn east_team() -> TestEnv {
    let env = TestEnv::new();
    env.user("zhao", "east", "manager");
    env.user("li", "east", "member");
    env.user("wang", "east", "member");
    env
}

/// Two teams: east (manager zhao, member lihua) and north (member wang, who owns a
/// customer), a viewer, and a pooled customer.
pub fn two_teams() -> (TestEnv, String, String) {
    let env = TestEnv::new();
    env.user("zhao", "east", "manager");
    env.user("lihua", "east", "member");
    env.user("wang", "north", "member");
    env.user("lin", "east", "viewer");
    let north = env.json_as(
        "wang",
        &[
            "add",
            "--name",
            "北方客户",
            "--phone",
            "13912345678",
            "--email",
            "secret@north.cn",
        ],
    )["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let pooled = env.pooled("公海客户", "13787654321").to_string();
    (env, north, pooled)
}

/// A pooled customer claimed by `who`; returns its id.
pub fn claimed(env: &TestEnv, who: &str, phone: &str) -> String {
    let id = env.pooled("客户", phone).to_string();
    env.ok_as(who, &["claim", &id]);
    id
}

/// A customer owned by the admin; returns its id.
pub fn admin_owned(env: &TestEnv, name: &str, phone: &str) -> String {
    let v = env.json(&["add", "--name", name, "--phone", phone]);
    v["id"].as_i64().expect("id").to_string()
}

pub fn add_pooled(env: &TestEnv, args: &[&str]) -> String {
    let mut a = vec!["add", "--pool"];
    a.extend(args);
    env.json(&a)["id"].to_string()
}

pub fn write(env: &TestEnv, name: &str, body: &str) -> String {
    let p = env.dir.path().join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

pub fn find<'a>(rows: &'a Value, key: &str, value: &str) -> &'a Value {
    rows.as_array()
        .expect("array")
        .iter()
        .find(|r| r[key] == value)
        .unwrap_or_else(|| panic!("no {key}={value} in {rows}"))
}

pub fn data(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .display()
        .to_string()
}

pub fn import(env: &TestEnv, args: &[&str]) -> Value {
    let mut a = vec!["import"];
    a.extend(args);
    a.extend(["--rejects", "rejects.csv", "--force"]);
    env.json(&a)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The cells of CSV text, by row.
pub fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("csv row").iter().map(String::from).collect())
        .collect()
}

/// On a server a member acts at the server's clock (only an admin's POOL_NOW dates
/// writes there), so a test whose members write and whose admin then reads "this week"
/// runs at the real time on PostgreSQL: the admin's clock is set to now. On SQLite the
/// test's fixed clock stays. Returns the clock the test now runs at.
pub fn at_members_clock(env: &mut TestEnv) -> chrono::DateTime<chrono::Utc> {
    if env.is_pg() {
        let now = chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now());
        env.now = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    }
    chrono::DateTime::parse_from_rfc3339(&env.now)
        .expect("the test clock is RFC 3339")
        .with_timezone(&chrono::Utc)
}
