//! Contact people in server mode (migration 6): the binary as each user, and `psql` as a
//! member, who must get no further than with `pool` — contact phones of a customer that
//! is not theirs come back masked, the base table's contact columns are not readable,
//! and writes to another's customer are refused by the server. Runs only when
//! POOL_TEST_PG holds a superuser's libpq connection info (`.ci/pg-cluster start`).
use serde_json::Value;

use crate::common::pg::Server;

const PHONE: &str = "13900001111";

/// Owner prepares, admin adds team east with members li and wang and manager zhao.
fn org(s: &Server) {
    s.init("hq");
    s.ok("admin", &["team", "add", "east"]);
    for (who, role) in [("li", "member"), ("wang", "member"), ("zhao", "manager")] {
        s.add_user(who, "east", role);
    }
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn a_member_with_psql_sees_pooled_contacts_masked_and_cannot_write_them() {
    let Some(s) = Server::new("pk", "psql") else {
        return;
    };
    org(&s);
    s.ok(
        "admin",
        &[
            "add",
            "--name",
            "公海客户",
            "--phone",
            "13800000001",
            "--pool",
        ],
    );
    s.ok(
        "admin",
        &[
            "contact",
            "add",
            "1",
            "--name",
            "李娜",
            "--title",
            "采购经理",
            "--phone",
            PHONE,
            "--email",
            "li.na@qq.com",
        ],
    );
    // Through the masked view: pooled, so masked for a member, whole for the manager.
    assert_eq!(
        s.sql("li", "SELECT name, phone, email, phone_key FROM contacts_v"),
        "李娜|139****1111|l***@qq.com|"
    );
    assert_eq!(s.sql("zhao", "SELECT phone FROM contacts_v"), PHONE);
    // The table's contact columns are not the member's to read, in any clause.
    s.refused("li", "SELECT phone FROM contacts", "42501");
    s.refused(
        "li",
        "SELECT id FROM contacts WHERE email LIKE 'li%'",
        "42501",
    );
    // Names and titles too come through the view only (server migration 25: a phone
    // typed into a name is masked there).
    s.refused("li", "SELECT name FROM contacts", "42501");
    assert_eq!(s.sql("li", "SELECT name FROM contacts_v"), "李娜");
    // Writes on a customer that is not theirs: refused by the server's guard.
    s.refused(
        "li",
        "INSERT INTO contacts (customer_id, name, created_at, updated_at) VALUES (1, 'x', 0, 0)",
        "PT403",
    );
    s.refused("li", "UPDATE contacts SET name = 'x'", "PT403");
    s.refused("li", "DELETE FROM contacts", "PT403");
    // Through the binary: the same masking.
    let list = s.json("li", &["contact", "list", "1"]);
    assert_eq!(list[0]["phone"], "139****1111");
    s.fails("li", &["contact", "add", "1", "--name", "x"], 4);
    // Once li owns it: hers to read and change; wang (same team, member) sees it masked.
    s.ok("li", &["claim", "1"]);
    assert_eq!(s.sql("li", "SELECT phone FROM contacts_v"), PHONE);
    assert_eq!(s.sql("wang", "SELECT phone FROM contacts_v"), "139****1111");
    s.refused("wang", "UPDATE contacts SET name = 'x'", "PT403");
    // The server stamps who and when, whatever the client writes.
    s.sql(
        "li",
        "INSERT INTO contacts (customer_id, name, created_by, created_at, updated_at) VALUES (1, '王强', NULL, 1, 1)",
    );
    let by = s.sql(
        "li",
        "SELECT u.login FROM contacts_v k JOIN users u ON u.id = k.created_by WHERE k.name = '王强'",
    );
    assert_eq!(by, s.role("li"));
    // Every change was audited by the server, phones masked.
    let log = s.json("admin", &["audit", "log", "--customer", "1"]);
    let rows: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "contact_add")
        .collect();
    assert_eq!(rows.len(), 2, "{log}");
    assert!(!log.to_string().contains(PHONE), "{log}");
    s.ok("admin", &["audit", "verify"]);
}

#[test]
fn contacts_through_the_binary_on_the_server() {
    let Some(s) = Server::new("pk", "cli") else {
        return;
    };
    org(&s);
    s.ok(
        "admin",
        &["add", "--name", "客户", "--phone", "13800000001", "--pool"],
    );
    s.ok("li", &["claim", "1"]);
    let added = s.json(
        "li",
        &["contact", "add", "1", "--name", "李娜", "--phone", PHONE],
    );
    let n = added["contact"].to_string();
    s.fails(
        "li",
        &["contact", "add", "1", "--name", "x", "--phone", "12"],
        6,
    );
    let e = s.json(
        "li",
        &[
            "contact",
            "edit",
            "1",
            &n,
            "--title",
            "采购经理",
            "--email",
            "Li.Na@QQ.com",
        ],
    );
    assert_eq!(e["changed"], serde_json::json!(["title", "email"]));
    // Search by the contact's phone: substrings for the owner, not for wang; a whole
    // number for wang exactly as the main contact's (the server hides masked keys).
    assert_eq!(ids(&s.json("li", &["list", "--search", "0000111"])), [1]);
    assert!(ids(&s.json("wang", &["list", "--search", "0000111"])).is_empty());
    assert_eq!(
        ids(&s.json("wang", &["list", "--search", PHONE])),
        ids(&s.json("wang", &["list", "--search", "13800000001"]))
    );
    // show lists contacts and deals; revenue counts the deal.
    s.ok(
        "li",
        &["deal", "add", "1", "--amount", "100", "--on", "2026-01-05"],
    );
    let shown = s.json("li", &["show", "1"]);
    assert_eq!(shown["contacts"][0]["email"], "li.na@qq.com");
    assert_eq!(shown["deals"][0]["amount"], "100.00");
    let masked = s.json("wang", &["show", "1"]);
    assert_eq!(masked["contacts"][0]["phone"], "139****1111");
    let r = s.json(
        "li",
        &[
            "report",
            "revenue",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-31",
        ],
    );
    assert_eq!(r["rows"][0]["amount"], "100.00", "{r}");
    let r = s.json(
        "zhao",
        &[
            "report",
            "revenue",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-31",
        ],
    );
    assert_eq!(r["totals"][0]["amount"], "100.00", "{r}");
    // Export carries them, masked unless asked for.
    let ex = s.json("admin", &["export"]);
    assert_eq!(ex[0]["contacts"][0]["phone"], "139****1111");
    let ex = s.json("admin", &["export", "--unmasked"]);
    assert_eq!(ex[0]["contacts"][0]["phone"], PHONE);
    s.ok("li", &["contact", "remove", "1", &n, "--yes"]);
    assert!(s
        .json("li", &["contact", "list", "1"])
        .as_array()
        .unwrap()
        .is_empty());
    let log = s.json("admin", &["audit", "log", "--customer", "1"]);
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for a in ["contact_add", "contact_edit", "contact_remove"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    s.ok("admin", &["audit", "verify"]);
}
