//! Custom fields, level and industry in server mode: the same commands as on SQLite, with
//! the server deciding who may declare fields and whose customers may be changed. Runs
//! only when POOL_TEST_PG is set (`eval "$(.ci/pg-cluster start)"`).
use serde_json::Value;

use crate::common::pg::Server;

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn fields_level_and_industry_on_the_server() {
    let Some(s) = Server::new("pf", "fields") else {
        return;
    };
    s.init("hq");
    s.ok("admin", &["team", "add", "east"]);
    for (who, role) in [("li", "member"), ("wang", "member"), ("lin", "viewer")] {
        s.add_user(who, "east", role);
    }
    // Only an admin declares fields; everyone lists them.
    s.ok(
        "admin",
        &[
            "fields",
            "add",
            "行业",
            "--type",
            "choice",
            "--choices",
            "制造业,零售",
        ],
    );
    s.ok("admin", &["fields", "add", "预算", "--type", "number"]);
    s.fails("li", &["fields", "add", "x"], 4);
    let listed = s.json("lin", &["fields", "list"]);
    assert_eq!(listed[1]["name"], "预算");
    // Not even with psql: the server refuses a member's declaration.
    let out = s.psql(
        "li",
        "INSERT INTO custom_fields (pool_id, name, kind, position, created_at) VALUES (1, 'x', 'text', 9, 0)",
    );
    assert!(!out.status.success(), "a member declared a field with psql");

    for (name, phone) in [("甲", "13900000001"), ("乙", "13900000002")] {
        s.ok(
            "admin",
            &["add", "--name", name, "--phone", phone, "--pool"],
        );
    }
    s.ok("li", &["claim", "1", "2"]);
    s.ok(
        "li",
        &[
            "edit",
            "1",
            "--set",
            "行业=零售",
            "--set",
            "预算=1,500",
            "--level",
            "a",
            "--industry",
            "零售业",
        ],
    );
    s.ok("li", &["edit", "2", "--set", "预算=20"]);
    let shown = s.json("li", &["show", "1"]);
    assert_eq!(shown["custom.行业"], "零售");
    assert_eq!(shown["custom.预算"], "1500");
    assert_eq!(shown["level"], "A");
    assert_eq!(shown["industry"], "零售业");
    // Type errors and undeclared keys, as on SQLite.
    s.fails("li", &["edit", "1", "--set", "预算=很多"], 6);
    s.fails("li", &["edit", "1", "--set", "颜色=红"], 6);
    // Another member and a viewer may not change li's customer.
    s.fails("wang", &["edit", "1", "--set", "行业=制造业"], 4);
    s.fails("lin", &["edit", "1", "--level", "B"], 4);
    let out = s.psql("wang", "UPDATE customers SET level = 'C' WHERE id = 1");
    let after = s.json("li", &["show", "1"]);
    assert_eq!(after["level"], "A", "psql as wang: {out:?}");
    // --where with numbers, != and the first-class filters.
    assert_eq!(ids(&s.json("li", &["list", "--where", "预算>100"])), [1]);
    assert_eq!(ids(&s.json("li", &["list", "--where", "预算<=20"])), [2]);
    assert_eq!(ids(&s.json("li", &["list", "--where", "行业!=零售"])), [2]);
    assert_eq!(ids(&s.json("li", &["list", "--level", "A"])), [1]);
    assert_eq!(ids(&s.json("li", &["list", "--industry", "零售业"])), [1]);
    // The server audited the edits with level and the custom values.
    let log = s.json("admin", &["audit", "log", "--customer", "1"]);
    let text = log.to_string();
    assert!(text.contains("level") && text.contains("custom"), "{text}");
    // Recycle days per level: A keeps 60 days where the pool says 1.
    s.ok("admin", &["rules", "set", "--recycle-no-contact-days", "1"]);
    s.ok(
        "admin",
        &[
            "rules",
            "set",
            "--for",
            "level=A",
            "--recycle-no-contact-days",
            "60",
        ],
    );
    let later = (customer_pool::clock::now().unwrap() + chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let out = s
        .cmd("admin")
        .env("POOL_NOW", &later)
        .args(["recycle", "--dry-run", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let due: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ids(&due), [2], "{due}");
}
