//! `pool contact`: a customer's contact people — who may change them, masking by role
//! and pool state, audited unmasked reads, search by their phone/e-mail, merge and undo,
//! forget, export, and `pool show` with contacts and deals.
use serde_json::Value;

use crate::common::fixtures::{claimed, sales_org};
use crate::common::TestEnv;

const PHONE: &str = "13900001111";
const EMAIL: &str = "li.na@qq.com";

/// Adds 李娜 (phone, e-mail, title) to a customer as `who`; her contact number.
fn add_lina(env: &TestEnv, who: &str, id: &str) -> String {
    let v = env.json_as(
        who,
        &[
            "contact",
            "add",
            id,
            "--name",
            "李娜",
            "--title",
            "采购经理",
            "--phone",
            PHONE,
            "--email",
            "Li.Na@QQ.com",
        ],
    );
    assert_eq!(v["result"], "added", "{v}");
    v["contact"].to_string()
}

fn phones(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|c| c["phone"].as_str().unwrap_or("").to_string())
        .collect()
}

fn found(env: &TestEnv, who: &str, q: &str) -> Vec<i64> {
    env.json_as(who, &["list", "--search", q])
        .as_array()
        .expect("array")
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn contacts_are_added_listed_edited_removed_and_every_change_is_audited() {
    let env = sales_org();
    let id = claimed(&env, "lihua", "13800000001");
    let n = add_lina(&env, "lihua", &id);
    // Checked like the customer's own: a bad phone or e-mail, or no name, is refused.
    env.fails_as(
        "lihua",
        &["contact", "add", &id, "--name", "王强", "--phone", "12"],
        6,
    );
    env.fails_as(
        "lihua",
        &["contact", "add", &id, "--name", "王强", "--email", "wang@"],
        6,
    );
    env.fails_as("lihua", &["contact", "add", &id, "--phone", PHONE], 6);
    let list = env.json_as("lihua", &["contact", "list", &id]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["name"], "李娜");
    assert_eq!(list[0]["title"], "采购经理");
    assert_eq!(list[0]["phone"], PHONE);
    // The e-mail is stored lower-cased, as the customer's.
    assert_eq!(list[0]["email"], EMAIL);
    let e = env.json_as(
        "lihua",
        &[
            "contact",
            "edit",
            &id,
            &n,
            "--phone",
            "13900002222",
            "--clear",
            "title",
        ],
    );
    assert_eq!(e["changed"], serde_json::json!(["title", "phone"]));
    let again = env.json_as(
        "lihua",
        &["contact", "edit", &id, &n, "--phone", "13900002222"],
    );
    assert_eq!(again["result"], "unchanged");
    env.fails_as("lihua", &["contact", "edit", &id, &n, "--clear", "name"], 6);
    env.fails_as("lihua", &["contact", "edit", &id, &n], 6);
    let list = env.json_as("lihua", &["contact", "list", &id]);
    assert_eq!(list[0]["title"], Value::Null);
    assert_eq!(list[0]["phone"], "13900002222");
    // A contact of another customer is not this customer's.
    let other = claimed(&env, "lihua", "13800000002");
    env.fails_as("lihua", &["contact", "edit", &other, &n, "--name", "x"], 3);
    // Without a terminal, removing needs --yes.
    env.fails_as("lihua", &["contact", "remove", &id, &n], 2);
    env.ok_as("lihua", &["contact", "remove", &id, &n, "--yes"]);
    assert_eq!(env.query_i64("SELECT count(*) FROM contacts"), 0);
    // Every change has its row, phones and e-mails masked in the append-only log.
    let rows: Vec<_> = env
        .audit_log()
        .into_iter()
        .filter(|r| r.action.starts_with("contact_"))
        .collect();
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["contact_add", "contact_edit", "contact_remove"]);
    for r in &rows {
        assert_eq!(r.entity_id, Some(id.parse().unwrap()));
        assert_eq!(r.actor, "lihua");
        let text = format!("{:?}{:?}", r.before, r.after);
        assert!(
            !text.contains(PHONE) && !text.contains("13900002222"),
            "{text}"
        );
        assert!(!text.contains(EMAIL), "{text}");
    }
    let add: Value = serde_json::from_str(rows[0].after.as_deref().unwrap()).unwrap();
    assert_eq!(add["phone"], "139****1111");
    assert_eq!(add["email"], "l***@qq.com");
    env.ok(&["audit", "verify"]);
}

#[test]
fn only_those_who_may_edit_the_customer_change_its_contacts() {
    let env = sales_org();
    let id = claimed(&env, "lihua", "13800000001");
    let args = ["contact", "add", &id, "--name", "张三"];
    // Another member, a manager of another team, a viewer: refused.
    env.fails_as("chen", &args, 4);
    env.fails_as("qian", &args, 4);
    env.fails_as("lin", &args, 4);
    // The owner's manager may.
    env.ok_as("zhao", &args);
    // A pooled customer: a member claims it first; a manager may.
    let pooled = env.pooled("公海客户", "13800000003").to_string();
    env.fails_as("lihua", &["contact", "add", &pooled, "--name", "x"], 4);
    env.ok_as("zhao", &["contact", "add", &pooled, "--name", "x"]);
    let n = env.json_as("zhao", &["contact", "list", &pooled])[0]["contact"].to_string();
    env.fails_as("lihua", &["contact", "remove", &pooled, &n, "--yes"], 4);
    env.fails_as("lin", &["contact", "remove", &pooled, &n, "--yes"], 4);
    assert_eq!(env.query_i64("SELECT count(*) FROM contacts"), 2);
    assert_eq!(env.audit_count("contact_add"), 2);
}

#[test]
fn contacts_are_masked_where_the_customers_own_phone_is() {
    let env = sales_org();
    let pooled = env.pooled("公海客户", "13800000003").to_string();
    add_lina(&env, "admin", &pooled);
    let masked = ["139****1111".to_string()];
    // Pooled: masked for members and viewers, whole for managers.
    assert_eq!(
        phones(&env.json_as("lihua", &["contact", "list", &pooled])),
        masked
    );
    assert_eq!(
        phones(&env.json_as("lin", &["contact", "list", &pooled])),
        masked
    );
    assert_eq!(
        phones(&env.json_as("zhao", &["contact", "list", &pooled])),
        [PHONE]
    );
    let shown = env.json_as("lihua", &["show", &pooled]);
    assert_eq!(shown["phone"], "138****0003");
    assert_eq!(shown["contacts"][0]["phone"], "139****1111");
    assert_eq!(shown["contacts"][0]["email"], "l***@qq.com");
    // Claimed by lihua: hers to see; another team's manager and the viewer still see it
    // masked, her own manager whole.
    env.ok_as("lihua", &["claim", &pooled]);
    assert_eq!(
        phones(&env.json_as("lihua", &["contact", "list", &pooled])),
        [PHONE]
    );
    assert_eq!(
        phones(&env.json_as("chen", &["contact", "list", &pooled])),
        masked
    );
    assert_eq!(
        phones(&env.json_as("qian", &["contact", "list", &pooled])),
        masked
    );
    assert_eq!(
        phones(&env.json_as("wang", &["contact", "list", &pooled])),
        masked
    );
    assert_eq!(
        phones(&env.json_as("lin", &["contact", "list", &pooled])),
        masked
    );
    assert_eq!(
        phones(&env.json_as("zhao", &["contact", "list", &pooled])),
        [PHONE]
    );
    let shown = env.json_as("qian", &["show", &pooled]);
    assert_eq!(shown["contacts"][0]["phone"], "139****1111");
    // Masked readers see no deals either (history a claim unlocks).
    assert!(shown.get("deals").is_none(), "{shown}");
}

#[test]
fn an_unmasked_read_of_someone_elses_contacts_is_audited_first() {
    let env = sales_org();
    // A customer with no phone of its own: only the contact reveals anything.
    let v = env.json(&["add", "--name", "无电话客户", "--pool"]);
    let id = v["id"].to_string();
    add_lina(&env, "admin", &id);
    let views = |who: &str| {
        env.audit_rows("view_unmasked")
            .into_iter()
            .filter(|r| r.actor == who)
            .count()
    };
    env.ok_as("lihua", &["contact", "list", &id]);
    env.ok_as("lihua", &["show", &id]);
    assert_eq!(views("lihua"), 0, "masked reads are not unmasked reads");
    env.ok_as("zhao", &["contact", "list", &id]);
    assert_eq!(views("zhao"), 1);
    env.ok_as("zhao", &["show", &id]);
    assert_eq!(views("zhao"), 2);
    let row = env.last_audit("view_unmasked");
    assert_eq!(row.entity_id, Some(id.parse().unwrap()));
    // The owner's own read reveals nothing new.
    env.ok_as("lihua", &["claim", &id]);
    env.ok_as("lihua", &["contact", "list", &id]);
    env.ok_as("lihua", &["show", &id]);
    assert_eq!(views("lihua"), 0);
}

#[test]
fn search_finds_a_customer_by_a_contacts_phone_or_email_under_the_masking_rule() {
    let env = sales_org();
    let pooled = env.pooled("公海客户", "13800000003");
    let other = env.pooled("别的客户", "13800000004");
    add_lina(&env, "admin", &pooled.to_string());
    env.ok(&[
        "contact",
        "add",
        &other.to_string(),
        "--name",
        "路人",
        "--phone",
        "13700005555",
    ]);
    // A member sees the pooled contact masked: only the whole number or address finds it.
    assert_eq!(found(&env, "lihua", PHONE), [pooled]);
    assert_eq!(found(&env, "lihua", "+86 139 0000 1111"), [pooled]);
    assert_eq!(found(&env, "lihua", "LI.NA@qq.com"), [pooled]);
    assert!(found(&env, "lihua", "0000111").is_empty());
    assert!(found(&env, "lihua", "li.na").is_empty());
    assert!(found(&env, "lin", "0000111").is_empty());
    // A manager sees pooled contacts: substrings match.
    assert_eq!(found(&env, "zhao", "0000111"), [pooled]);
    assert_eq!(found(&env, "zhao", "li.na"), [pooled]);
    // Once it is hers, substrings match for the owner too, not for another team.
    env.ok_as("lihua", &["claim", &pooled.to_string()]);
    assert_eq!(found(&env, "lihua", "0000111"), [pooled]);
    assert!(found(&env, "qian", "0000111").is_empty());
    assert_eq!(found(&env, "qian", PHONE), [pooled]);
    // The contact keys are indexed, so a whole-number search stays an index lookup.
    let idx = env.query_i64(if env.is_pg() {
        "SELECT count(*) FROM pg_indexes WHERE indexname IN ('contacts_phone_key', 'contacts_email_key')"
    } else {
        "SELECT count(*) FROM sqlite_schema WHERE name IN ('contacts_phone_key', 'contacts_email_key')"
    });
    assert_eq!(idx, 2);
}

#[test]
fn merge_moves_contacts_to_the_survivor_and_undo_moves_them_back() {
    let env = sales_org();
    let a = env.pooled("张伟", "13800000001").to_string();
    let b = env.pooled("张伟", "13800000002").to_string();
    env.ok(&["contact", "add", &a, "--name", "甲"]);
    add_lina(&env, "admin", &b);
    let m = env.json_as("zhao", &["merge", &a, &b]);
    assert_eq!(m["survivor"].to_string(), a);
    let on_a = env.json(&["contact", "list", &a]);
    let names: Vec<&str> = on_a
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["甲", "李娜"]);
    let merge: Value = serde_json::from_str(&env.last_audit("merge").after.unwrap()).unwrap();
    assert_eq!(merge["contacts_moved"], serde_json::json!([2]));
    env.ok_as("zhao", &["dedupe", "undo", &m["merge_id"].to_string()]);
    assert_eq!(
        env.json(&["contact", "list", &a]).as_array().unwrap().len(),
        1
    );
    let on_b = env.json(&["contact", "list", &b]);
    assert_eq!(on_b[0]["name"], "李娜");
    assert_eq!(on_b[0]["phone"], PHONE);
    env.ok(&["audit", "verify"]);
}

#[test]
fn forget_erases_the_contacts() {
    let env = sales_org();
    let id = env.pooled("张伟", "13800000001").to_string();
    add_lina(&env, "admin", &id);
    let done = env.json(&["forget", &id, "--yes"]);
    assert_eq!(done["contacts"], 1);
    assert_eq!(env.query_i64("SELECT count(*) FROM contacts"), 0);
    let after: Value = serde_json::from_str(&env.last_audit("forget").after.unwrap()).unwrap();
    assert_eq!(after["contacts"], 1);
    // Nothing of her is left in the file outside the audit log's masked copies. (A
    // server's heap keeps dead rows until VACUUM, pool's backend leaves that to
    // autovacuum: there, no live row and no audit row holds them.)
    if env.is_pg() {
        let left = env.query_i64(&format!(
            "SELECT (SELECT count(*) FROM customers c WHERE c::text LIKE '%{PHONE}%' OR c::text LIKE '%{EMAIL}%')
                  + (SELECT count(*) FROM audit_log a WHERE a::text LIKE '%{PHONE}%' OR a::text LIKE '%{EMAIL}%')"
        ));
        assert_eq!(left, 0);
        return;
    }
    let bytes = std::fs::read(env.db()).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains(PHONE) && !text.contains(EMAIL));
}

#[test]
fn export_json_includes_contacts_masked_like_the_customer() {
    let env = sales_org();
    let id = env.pooled("张伟", "13800000001").to_string();
    add_lina(&env, "admin", &id);
    let masked = env.json_as("zhao", &["export"]);
    assert_eq!(masked[0]["contacts"][0]["name"], "李娜");
    assert_eq!(masked[0]["contacts"][0]["phone"], "139****1111");
    let full = env.json_as("zhao", &["export", "--unmasked"]);
    assert_eq!(full[0]["contacts"][0]["phone"], PHONE);
    assert_eq!(full[0]["contacts"][0]["email"], EMAIL);
    let lines = env.ok_as("lin", &["export", "--format", "jsonl"]);
    let first: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(first["contacts"][0]["phone"], "139****1111");
    // CSV keeps one row per customer and the import's columns: no contacts.
    let csv = env.ok(&["export", "--unmasked"]);
    assert!(!csv.contains("李娜") && !csv.contains(PHONE), "{csv}");
}

#[test]
fn show_lists_the_newest_deals_and_totals_per_currency() {
    let env = sales_org();
    let id = claimed(&env, "lihua", "13800000001");
    for (amount, cur, on) in [
        ("1000", "CNY", "2026-11-01"),
        ("250.50", "USD", "2026-11-10"),
        ("2000", "CNY", "2026-11-15"),
        ("9999", "CNY", "2026-11-20"),
    ] {
        env.ok_as(
            "lihua",
            &[
                "deal",
                "add",
                &id,
                "--amount",
                amount,
                "--currency",
                cur,
                "--on",
                on,
            ],
        );
    }
    let void = env.json_as("lihua", &["deal", "list", "--customer", &id])[0]["id"].to_string();
    env.ok_as("zhao", &["deal", "void", &void, "--reason", "typo"]);
    let v = env.json_as("lihua", &["show", &id, "--deals", "2"]);
    let ons: Vec<&str> = v["deals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["on"].as_str().unwrap())
        .collect();
    assert_eq!(ons, ["2026-11-15", "2026-11-10"]);
    assert_eq!(v["deals_more"], 1);
    assert_eq!(
        v["deal_totals"],
        serde_json::json!({"CNY": "3000.00", "USD": "250.50"})
    );
    let table = env.ok_as("lihua", &["show", &id]);
    assert!(
        table.contains("Deal totals: 3000.00 CNY; 250.50 USD"),
        "{table}"
    );
}

#[test]
fn snap_show_with_contacts_and_deals_at_100_columns() {
    let env = sales_org();
    let id = claimed(&env, "lihua", "13800000001");
    add_lina(&env, "lihua", &id);
    env.ok_as(
        "lihua",
        &[
            "contact",
            "add",
            &id,
            "--name",
            "王强",
            "--title",
            "技术总监",
            "--email",
            "wq@factory.cn",
        ],
    );
    env.ok_as(
        "lihua",
        &[
            "deal",
            "add",
            &id,
            "--amount",
            "12000",
            "--on",
            "2026-11-20",
        ],
    );
    env.ok_as(
        "lihua",
        &[
            "deal",
            "add",
            &id,
            "--amount",
            "800",
            "--currency",
            "USD",
            "--on",
            "2026-11-21",
        ],
    );
    insta::assert_snapshot!(
        "show_with_contacts",
        at_test_clock(&env, env.snap_as("lihua", &["show", &id]))
    );
    insta::assert_snapshot!(
        "contact_list_masked",
        env.snap_as("chen", &["contact", "list", &id])
    );
}

/// On a server lihua's claim and deals are stamped with the server's clock (a member
/// cannot date her writes): there, today's times read as the test's clock, so the
/// snapshot checks everything else alike.
fn at_test_clock(env: &TestEnv, text: String) -> String {
    if !env.is_pg() {
        return text;
    }
    let today = chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
        .format("%Y-%m-%dT")
        .to_string();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find(&today) {
        out.push_str(&rest[..i]);
        let stamp = rest.get(i..i + 20).unwrap_or("");
        if stamp.ends_with('Z') {
            out.push_str(&env.now);
            rest = &rest[i + 20..];
        } else {
            out.push_str(&today);
            rest = &rest[i + today.len()..];
        }
    }
    out.push_str(rest);
    out
}

/// A phone or e-mail typed into a contact person's name or title is masked where the
/// contact's own phone is (hostile review of this session: it was shown as written).
#[test]
fn contacts_typed_into_a_contact_persons_name_or_title_are_masked() {
    let env = sales_org();
    let pooled = env.pooled("公海客户", "13800000003").to_string();
    let v = env.json_as(
        "admin",
        &[
            "contact",
            "add",
            &pooled,
            "--name",
            "王经理 13912345678",
            "--title",
            "采购 wang@163.com",
        ],
    );
    assert_eq!(v["result"], "added", "{v}");
    for who in ["lihua", "lin"] {
        let listed = env.json_as(who, &["contact", "list", &pooled]);
        assert_eq!(listed[0]["name"], "王经理 139****5678", "{who}: {listed}");
        assert_eq!(listed[0]["title"], "采购 w***@163.com", "{who}: {listed}");
        let shown = env.json_as(who, &["show", &pooled]);
        assert_eq!(shown["contacts"][0]["name"], "王经理 139****5678", "{who}");
    }
    let listed = env.json_as("zhao", &["contact", "list", &pooled]);
    assert_eq!(listed[0]["name"], "王经理 13912345678", "{listed}");
    assert_eq!(listed[0]["title"], "采购 wang@163.com", "{listed}");
}
