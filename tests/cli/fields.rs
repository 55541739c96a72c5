//! Custom fields declared per pool (`pool fields`), `--set/--unset`, `--where`, and
//! level and industry as first-class fields.
use serde_json::Value;

use crate::common::fixtures::{claimed, sales_org};
use crate::common::TestEnv;

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect()
}

/// A database with the fields 行业 (choice), 预算 (number), 签约日期 (date) and 备忘
/// (text) in the public pool.
fn declared() -> TestEnv {
    let env = sales_org();
    env.ok(&[
        "fields",
        "add",
        "行业",
        "--type",
        "choice",
        "--choices",
        "制造业,零售,互联网",
    ]);
    env.ok(&["fields", "add", "预算", "--type", "number"]);
    env.ok(&["fields", "add", "签约日期", "--type", "date"]);
    env.ok(&["fields", "add", "备忘", "--type", "text"]);
    env
}

#[test]
fn fields_are_declared_listed_and_removed_by_admins_with_audit_rows() {
    let env = declared();
    let v = env.json_as("lihua", &["fields", "list"]);
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["行业", "预算", "签约日期", "备忘"]);
    assert_eq!(v[0]["type"], "choice");
    assert_eq!(v[0]["choices"], "制造业,零售,互联网");
    // Only admins change the template.
    env.fails_as("zhao", &["fields", "add", "x"], 4);
    env.fails_as("lihua", &["fields", "remove", "备忘"], 4);
    // Twice is a conflict; a reserved name and a bad type are invalid.
    env.fails_as("admin", &["fields", "add", "预算", "--type", "text"], 5);
    env.fails_as("admin", &["fields", "add", "city"], 6);
    env.fails_as("admin", &["fields", "add", "x", "--type", "choice"], 6);
    env.fails_as("admin", &["fields", "add", "a=b"], 6);
    assert_eq!(env.audit_count("field_add"), 4);
    env.ok(&["fields", "remove", "备忘"]);
    assert_eq!(env.audit_count("field_remove"), 1);
    let row = env.last_audit("field_remove");
    assert!(row.before.unwrap().contains("备忘"));
    env.fails_as("admin", &["fields", "remove", "备忘"], 6);
    // A team pool's fields are read only by teams that see it.
    env.ok(&["pools", "add", "north-pool", "--team", "sales-north"]);
    env.ok(&["fields", "add", "区域", "--pool", "north-pool"]);
    assert_eq!(
        env.json_as("wang", &["fields", "list", "--pool", "north-pool"])[0]["name"],
        "区域"
    );
    env.fails_as("lihua", &["fields", "list", "--pool", "north-pool"], 5);
}

#[test]
fn set_checks_the_declared_type_and_stores_the_canonical_form() {
    let env = declared();
    let id = claimed(&env, "lihua", "13800000001");
    env.ok_as(
        "lihua",
        &[
            "edit",
            &id,
            "--set",
            "行业=零售",
            "--set",
            "预算=1,200,000",
            "--set",
            "签约日期=12月8日",
            "--set",
            "备忘=展会上认识",
        ],
    );
    let v = env.json_as("lihua", &["show", &id]);
    assert_eq!(v["custom.行业"], "零售");
    assert_eq!(v["custom.预算"], "1200000");
    assert_eq!(v["custom.签约日期"], "2026-12-08");
    assert_eq!(v["custom.备忘"], "展会上认识");
    // Declared order in `show`.
    let keys: Vec<&String> = v
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("custom."))
        .collect();
    assert_eq!(
        keys,
        [
            "custom.行业",
            "custom.预算",
            "custom.签约日期",
            "custom.备忘"
        ]
    );
    // Choices ignore case and keep the declared spelling.
    env.ok(&[
        "fields",
        "add",
        "类型",
        "--type",
        "choice",
        "--choices",
        "SaaS,硬件",
    ]);
    env.ok_as("lihua", &["edit", &id, "--set", "类型=saas"]);
    assert_eq!(env.json_as("lihua", &["show", &id])["custom.类型"], "SaaS");
    // Type errors: exit 6, nothing written.
    let before = env.audit_count("customer_edit");
    let e = env.fails_as("lihua", &["edit", &id, "--set", "预算=很多"], 6);
    assert!(e.contains("not a number"), "{e}");
    let e = env.fails_as("lihua", &["edit", &id, "--set", "行业=汽车"], 6);
    assert!(e.contains("制造业, 零售, 互联网"), "{e}");
    env.fails_as("lihua", &["edit", &id, "--set", "签约日期=someday"], 6);
    env.fails_as("lihua", &["edit", &id, "--set", "novalue"], 6);
    // An undeclared key is refused with the way to declare it.
    let e = env.fails_as("lihua", &["edit", &id, "--set", "颜色=红"], 6);
    assert!(e.contains("pool fields add 颜色"), "{e}");
    assert_eq!(env.audit_count("customer_edit"), before);
    // --unset removes; unchanged edits write nothing.
    env.ok_as("lihua", &["edit", &id, "--unset", "备忘"]);
    assert_eq!(
        env.json_as("lihua", &["show", &id])["custom.备忘"],
        Value::Null
    );
    env.ok_as("lihua", &["edit", &id, "--set", "行业=零售"]);
    assert_eq!(env.audit_count("customer_edit"), before + 1);
}

#[test]
fn edits_are_audited_with_before_and_after() {
    let env = declared();
    let id = claimed(&env, "lihua", "13800000001");
    env.ok_as("lihua", &["edit", &id, "--set", "预算=100"]);
    env.ok_as(
        "lihua",
        &[
            "edit",
            &id,
            "--set",
            "预算=250",
            "--level",
            "a",
            "--industry",
            "制造业",
        ],
    );
    let row = env.last_audit("customer_edit");
    let before: Value = serde_json::from_str(&row.before.unwrap()).unwrap();
    let after: Value = serde_json::from_str(&row.after.unwrap()).unwrap();
    assert_eq!(before["custom.预算"], "100");
    assert_eq!(after["custom.预算"], "250");
    assert_eq!(before["level"], Value::Null);
    assert_eq!(after["level"], "A");
    assert_eq!(after["industry"], "制造业");
    assert_eq!(row.actor, "lihua");
}

#[test]
fn only_those_who_may_edit_a_customer_set_its_fields() {
    let env = declared();
    let id = claimed(&env, "lihua", "13800000001");
    // Another member (same team or not) and a viewer may not.
    env.fails_as("chen", &["edit", &id, "--set", "行业=零售"], 4);
    env.fails_as("wang", &["edit", &id, "--level", "A"], 4);
    env.fails_as("lin", &["edit", &id, "--set", "行业=零售"], 4);
    // The team's manager may.
    env.ok_as("zhao", &["edit", &id, "--set", "行业=零售"]);
    assert_eq!(env.json_as("lihua", &["show", &id])["custom.行业"], "零售");
    // A member adds with fields too, checked the same way.
    let v = env.json_as(
        "lihua",
        &[
            "add",
            "--name",
            "新客户",
            "--phone",
            "13900000009",
            "--set",
            "预算=5",
            "--level",
            "B",
        ],
    );
    let new_id = v["id"].as_i64().unwrap().to_string();
    let shown = env.json_as("lihua", &["show", &new_id]);
    assert_eq!(shown["custom.预算"], "5");
    assert_eq!(shown["level"], "B");
    env.fails_as(
        "lihua",
        &[
            "add",
            "--name",
            "x",
            "--phone",
            "13900000008",
            "--set",
            "颜色=红",
        ],
        6,
    );
    env.fails_as(
        "lihua",
        &[
            "add",
            "--name",
            "x",
            "--phone",
            "13900000008",
            "--level",
            "D",
        ],
        6,
    );
}

#[test]
fn where_filters_with_each_operator() {
    let env = declared();
    let a = env.pooled("甲", "13800000001").to_string();
    let b = env.pooled("乙", "13800000002").to_string();
    let c = env.pooled("丙", "13800000003").to_string();
    env.ok(&[
        "edit",
        &a,
        "--set",
        "行业=零售",
        "--set",
        "预算=100",
        "--set",
        "签约日期=2026-12-01",
        "--set",
        "备忘=杭州展会",
    ]);
    env.ok(&[
        "edit",
        &b,
        "--set",
        "行业=制造业",
        "--set",
        "预算=2,000",
        "--set",
        "签约日期=2027-01-15",
        "--set",
        "备忘=老客户介绍",
    ]);
    let (a, b, c): (i64, i64, i64) = (a.parse().unwrap(), b.parse().unwrap(), c.parse().unwrap());
    let q = |w: &[&str]| {
        let mut args = vec!["list"];
        for x in w {
            args.extend(["--where", x]);
        }
        ids(&env.json_as("lihua", &args))
    };
    assert_eq!(q(&["行业=零售"]), [a]);
    // != also matches customers without the field.
    assert_eq!(q(&["行业!=零售"]), [b, c]);
    // Numbers compare as numbers (100 < 2000, though "100" > "2,000" as text).
    assert_eq!(q(&["预算>100"]), [b]);
    assert_eq!(q(&["预算>=100"]), [a, b]);
    assert_eq!(q(&["预算<2000"]), [a]);
    assert_eq!(q(&["预算<=2,000"]), [a, b]);
    // Dates as people type them.
    assert_eq!(q(&["签约日期<2027-01-01"]), [a]);
    assert_eq!(q(&["签约日期>=12月1日"]), [a, b]);
    // Contains on text; conditions combine.
    assert_eq!(q(&["备忘~展会"]), [a]);
    assert_eq!(q(&["备忘~客户", "预算>1000"]), [b]);
    // Wrong operator for the type, bad values, unknown fields: exit 6.
    env.fails_as("lihua", &["list", "--where", "行业>零售"], 6);
    env.fails_as("lihua", &["list", "--where", "预算~1"], 6);
    env.fails_as("lihua", &["list", "--where", "预算>很多"], 6);
    env.fails_as("lihua", &["list", "--where", "行业=汽车"], 6);
    let e = env.fails_as("lihua", &["list", "--where", "颜色=红"], 6);
    assert!(e.contains("pool fields"), "{e}");
    env.fails_as("lihua", &["list", "--where", "行业"], 6);
    // A member sees pooled contacts masked, in custom text too: a filter compares what
    // they see, so it cannot probe a masked phone digit by digit. A manager sees it whole.
    env.ok(&["edit", &c.to_string(), "--set", "备忘=联系 13912345678"]);
    assert!(q(&["备忘~1391234"]).is_empty());
    // (what the member sees, 139****5678, still matches)
    assert_eq!(q(&["备忘~5678"]), [c]);
    assert!(q(&["备忘~2345"]).is_empty());
    assert_eq!(q(&["备忘~联系"]), [c]);
    let as_zhao = ids(&env.json_as("zhao", &["list", "--where", "备忘~1391234"]));
    assert_eq!(as_zhao, [c]);
    // Export shares the filters.
    let out = env.ok(&["export", "--where", "行业=制造业"]);
    let rows = crate::common::fixtures::csv_rows(&out);
    assert_eq!(rows.len(), 2, "{out}");
    assert!(rows[0].contains(&"custom.行业".to_string()));
}

#[test]
fn where_on_an_imported_column_compares_as_text_and_import_keeps_it() {
    let env = declared();
    let f = crate::common::fixtures::write(
        &env,
        "leads.csv",
        "姓名,手机,展位,客户级别,所属行业\n张三,13800000001,A12,a,制造业\n李四,13800000002,B3,C,零售\n",
    );
    env.ok(&["import", &f]);
    let v = env.json(&["list", "--where", "展位=A12"]);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["level"], "A");
    assert_eq!(v[0]["industry"], "制造业");
    let id = v[0]["id"].as_i64().unwrap().to_string();
    // The imported value stays as it is when a declared field is set beside it.
    env.ok(&["edit", &id, "--set", "行业=零售"]);
    let shown = env.json(&["show", &id]);
    assert_eq!(shown["custom.展位"], "A12");
    assert_eq!(shown["custom.行业"], "零售");
    // And can be removed with --unset.
    env.ok(&["edit", &id, "--unset", "展位"]);
    assert_eq!(env.json(&["show", &id])["custom.展位"], Value::Null);
    assert_eq!(env.json(&["list", "--level", "C"])[0]["industry"], "零售");
    assert_eq!(
        ids(&env.json(&["list", "--industry", "制造业"])),
        [id.parse::<i64>().unwrap()]
    );
    env.fails_as("admin", &["list", "--level", "X"], 6);
}

#[test]
fn export_then_import_keeps_fields_level_and_industry() {
    let env = declared();
    let id = env.pooled("甲", "13800000001").to_string();
    env.ok(&[
        "edit",
        &id,
        "--set",
        "行业=零售",
        "--set",
        "预算=12.5",
        "--level",
        "B",
        "--industry",
        "零售业",
    ]);
    let file = env.dir.path().join("out.csv");
    env.ok(&["export", "--unmasked", "-o", file.to_str().unwrap()]);
    let other = TestEnv::new();
    other.ok(&["import", file.to_str().unwrap()]);
    let v = other.json(&["list"]);
    let nid = v[0]["id"].as_i64().unwrap().to_string();
    let shown = other.json(&["show", &nid]);
    assert_eq!(shown["level"], "B");
    assert_eq!(shown["industry"], "零售业");
    assert_eq!(shown["custom.行业"], "零售");
    assert_eq!(shown["custom.预算"], "12.5");
}

#[test]
fn list_shows_custom_fields_named_in_columns() {
    let env = declared();
    let id = env.pooled("甲", "13800000001").to_string();
    env.ok(&["edit", &id, "--set", "行业=零售", "--level", "A"]);
    let v = env.json_as("lihua", &["list", "--columns", "id,name,level,行业"]);
    assert_eq!(v[0]["行业"], "零售");
    assert_eq!(v[0]["level"], "A");
    let table = env.ok_as("lihua", &["list", "--columns", "id,level,行业"]);
    assert!(table.contains("行业") && table.contains("零售"), "{table}");
}

#[test]
fn recycle_days_per_level_are_honoured() {
    sqlite_only!("reads the SQLite file directly");
    let mut env = sales_org();
    env.ok(&["rules", "set", "--recycle-no-contact-days", "30"]);
    env.ok(&[
        "rules",
        "set",
        "--for",
        "level=A",
        "--recycle-no-contact-days",
        "60",
    ]);
    env.ok(&[
        "rules",
        "set",
        "--for",
        "level=c",
        "--recycle-no-contact-days",
        "7",
    ]);
    let shown = env.json(&["rules", "show"]);
    let overrides = shown["overrides"].as_array().unwrap();
    assert!(
        overrides.iter().any(|o| o["scope"] == "level"
            && o["value"] == "C"
            && o["recycle_no_contact_days"] == 7),
        "{shown}"
    );
    env.fails_as(
        "admin",
        &[
            "rules",
            "set",
            "--for",
            "level=Z",
            "--recycle-no-contact-days",
            "7",
        ],
        6,
    );
    let a = claimed(&env, "lihua", "13800000001");
    let b = claimed(&env, "lihua", "13800000002");
    let c = claimed(&env, "lihua", "13800000003");
    env.ok_as("lihua", &["edit", &a, "--level", "A"]);
    env.ok_as("lihua", &["edit", &c, "--level", "C"]);
    let due = |env: &TestEnv| {
        let v = env.json(&["recycle", "--dry-run"]);
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    env.now = "2026-12-01T09:00:00Z".into(); // 9 days after the claim
    assert_eq!(due(&env), std::slice::from_ref(&c));
    env.now = "2026-12-23T09:00:00Z".into(); // 31 days
    assert_eq!(due(&env), [b.clone(), c.clone()]);
    env.now = "2027-01-22T09:00:00Z".into(); // 61 days
    assert_eq!(due(&env), [a.clone(), b.clone(), c.clone()]);
    // The stored recycle date (report stale, agenda) follows a level change.
    env.now = "2026-11-22T09:00:00Z".into();
    let stored = |id: &str| {
        env.conn()
            .query_row(
                &format!("SELECT recycle_due_at - claimed_at FROM customers WHERE id = {id}"),
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
    };
    assert_eq!(stored(&a), 60 * 86_400);
    assert_eq!(stored(&c), 7 * 86_400);
    env.ok_as("lihua", &["edit", &a, "--clear", "level"]);
    assert_eq!(stored(&a), 30 * 86_400);
    // report stale warns by the level's days (warn_days 3 by default).
    env.now = "2026-11-27T09:00:00Z".into(); // C due in 2 days
    let stale = env.json_as("zhao", &["report", "stale"]);
    assert!(
        stale.to_string().contains(&format!("\"id\":{c}")),
        "{stale}"
    );
    assert!(
        !stale.to_string().contains(&format!("\"id\":{b}")),
        "{stale}"
    );
}

#[test]
fn snap_show_with_custom_fields_at_100_columns() {
    let env = declared();
    let id = claimed(&env, "lihua", "13800000001");
    env.ok_as(
        "lihua",
        &[
            "edit",
            &id,
            "--set",
            "行业=互联网",
            "--set",
            "预算=50000",
            "--set",
            "签约日期=2026-12-08",
            "--level",
            "A",
            "--industry",
            "互联网",
        ],
    );
    // The claim and edit times are the member's: a server stamps them with its own clock
    // (POOL_NOW binds admins only there), so the snapshot shows where a time goes.
    insta::assert_snapshot!(without_times(&env.snap_as("lihua", &["show", &id])));
}

/// Every `YYYY-MM-DDTHH:MM:SSZ` as `[TIME]` (same width, so the layout is kept).
fn without_times(text: &str) -> String {
    let shape = |w: &[u8]| {
        w.len() == 20
            && w.iter().enumerate().all(|(i, b)| match i {
                4 | 7 => *b == b'-',
                10 => *b == b'T',
                13 | 16 => *b == b':',
                19 => *b == b'Z',
                _ => b.is_ascii_digit(),
            })
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if i + 20 <= bytes.len() && shape(&bytes[i..i + 20]) {
            out.push_str(&format!("{:<20}", "[TIME]"));
            i += 20;
        } else {
            let ch = text[i..].chars().next().expect("a char");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

#[test]
fn level_and_industry_filters_use_their_indexes() {
    sqlite_only!(
        "the SQLite store's query plan (EXPLAIN QUERY PLAN on the file; the server plans its own)"
    );
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "2000"]);
    env.exec("UPDATE customers SET level = 'A', industry = '制造业' WHERE id % 10 = 0; ANALYZE");
    let store = customer_pool::store::Store::open(&env.db()).unwrap();
    let plan = |f: customer_pool::store::ListFilter| {
        customer_pool::store::sqlite::customers::explain(&store.conn, &f)
            .unwrap()
            .join("\n")
    };
    let by_level = plan(customer_pool::store::ListFilter {
        level: Some("A".into()),
        limit: Some(20),
        ..Default::default()
    });
    assert!(
        by_level.contains("USING INDEX customers_level"),
        "{by_level}"
    );
    let by_industry = plan(customer_pool::store::ListFilter {
        industry: Some("制造业".into()),
        limit: Some(20),
        ..Default::default()
    });
    assert!(
        by_industry.contains("USING INDEX customers_industry"),
        "{by_industry}"
    );
}

#[test]
fn contacts_in_custom_values_are_masked_in_any_width_and_json_type() {
    let env = declared();
    for f in ["备用", "座机", "多个"] {
        env.ok(&["fields", "add", f, "--type", "text"]);
    }
    let c = env.pooled("丁", "13800000004");
    // Written below the app (an old import, a script, psql): a full-width phone, one
    // split by slashes, one stored as a JSON number and one inside a list.
    env.exec(&format!(
        "UPDATE customers SET custom = '{{\"备忘\":\"老板手机：１３９１２３４５６７８，晚上打\",\
         \"备用\":\"139/1234/5671\",\"座机\":13912345679,\"多个\":[\"13912345670\"]}}' WHERE id = {c}"
    ));
    let id = c.to_string();
    let secrets = [
        "１３９１２３４５６７８",
        "13912345678",
        "1234/5671",
        "13912345679",
        "13912345670",
    ];
    let cols = "id,备忘,备用,座机,多个";
    let leaks = |text: &str| -> Vec<&str> {
        secrets
            .iter()
            .copied()
            .filter(|s| text.contains(s))
            .collect()
    };
    // A member and the viewer see the pooled customer's contacts masked: in show, list,
    // export and the table.
    for who in ["lihua", "lin"] {
        let shown = env.json_as(who, &["show", &id]);
        assert!(leaks(&shown.to_string()).is_empty(), "{who}: {shown}");
        assert_eq!(
            shown["custom.备忘"], "老板手机：139****5678，晚上打",
            "{who}"
        );
        assert_eq!(shown["custom.座机"], "139****5679", "{who}");
        let listed = env.json_as(who, &["list", "--columns", cols]);
        assert!(leaks(&listed.to_string()).is_empty(), "{who}: {listed}");
        let table = env.ok_as(who, &["list", "--columns", cols]);
        assert!(leaks(&table).is_empty(), "{who}: {table}");
        let exported = env.ok_as(who, &["export"]);
        assert!(leaks(&exported).is_empty(), "{who}: {exported}");
    }
    // No filter probes them, in either width or type.
    for w in [
        "备忘~1391234",
        "备忘~１３９１２３４",
        "备用~1234/56",
        "座机~1391234",
        "多个~1391234",
    ] {
        let found = ids(&env.json_as("lihua", &["list", "--where", w]));
        assert!(found.is_empty(), "{w}: {found:?}");
    }
    // The manager sees them as written.
    let shown = env.json_as("zhao", &["show", &id]);
    assert_eq!(
        shown["custom.备忘"],
        "老板手机：１３９１２３４５６７８，晚上打"
    );
    assert_eq!(shown["custom.座机"], 13912345679_i64);
    assert_eq!(
        ids(&env.json_as("zhao", &["list", "--where", "备用~1234/56"])),
        [c]
    );
}

#[test]
fn contacts_typed_into_name_company_city_source_tags_or_address_are_masked() {
    let env = declared();
    let c = env.pooled("丁", "13800000005");
    // Written below the app: a phone in the name, addresses in the company and tags, a
    // phone split by 、 in the city, a landline shaped like a date as the source.
    env.exec(&format!(
        "UPDATE customers SET name = '张三 13987654321', company = 'zhuge@qqcom', city = '139、2468、1357',
             source = '6234-56-78', tags = '李华@163.com', address = '139,1122,3344 某路' WHERE id = {c}"
    ));
    env.exec(&format!(
        "INSERT INTO customer_tags (tag, customer_id) VALUES ('李华@163.com', {c})"
    ));
    let id = c.to_string();
    let secrets = ["8765", "zhuge", "2468", "6234", "李华", "1122"];
    let leaks = |text: &str| -> Vec<&str> {
        secrets
            .iter()
            .copied()
            .filter(|s| text.contains(s))
            .collect()
    };
    for who in ["lihua", "lin"] {
        let shown = env.json_as(who, &["show", &id]);
        assert!(leaks(&shown.to_string()).is_empty(), "{who}: {shown}");
        assert_eq!(shown["name"], "张三 139****4321", "{who}");
        assert_eq!(shown["company"], "z***@qqcom", "{who}");
        assert_eq!(shown["city"], "139****1357", "{who}");
        assert_eq!(shown["source"], "62****78", "{who}");
        assert_eq!(shown["tags"], "李***@163.com", "{who}");
        let listed = env.json_as(who, &["list"]);
        assert!(leaks(&listed.to_string()).is_empty(), "{who}: {listed}");
        for format in ["table", "csv"] {
            let out = env.ok_as(who, &["--format", format, "list"]);
            assert!(leaks(&out).is_empty(), "{who} {format}: {out}");
            assert!(
                format == "table" || out.contains("139****4321"),
                "{who} {format}: {out}"
            );
        }
        for format in ["csv", "jsonl"] {
            let out = env.ok_as(who, &["export", "--format", format]);
            assert!(leaks(&out).is_empty(), "{who} {format}: {out}");
        }
        // Searching by what the reader sees works; by what is masked, nothing is found.
        assert_eq!(
            ids(&env.json_as(who, &["list", "--search", "张三"])),
            [c],
            "{who}"
        );
        for probe in [
            vec!["--search", "8765"],
            vec!["--search", "13987654321"],
            vec!["--search", "zhuge"],
            vec!["--city", "139、2468、1357"],
            vec!["--source", "6234-56-78"],
            vec!["--tag", "李华@163.com"],
        ] {
            let mut args = vec!["list"];
            args.extend(&probe);
            let found = ids(&env.json_as(who, &args));
            assert!(found.is_empty(), "{who} {probe:?}: {found:?}");
        }
    }
    // The manager sees them as written, and finds the customer by them.
    let shown = env.json_as("zhao", &["show", &id]);
    assert_eq!(shown["name"], "张三 13987654321");
    assert_eq!(shown["tags"], "李华@163.com");
    for probe in [
        vec!["--search", "8765"],
        vec!["--city", "139、2468、1357"],
        vec!["--source", "6234-56-78"],
        vec!["--tag", "李华@163.com"],
    ] {
        let mut args = vec!["list"];
        args.extend(&probe);
        assert_eq!(ids(&env.json_as("zhao", &args)), [c], "{probe:?}");
    }
}
