//! `pool list`: filters, search, the query plan.
use crate::common::fixtures::{sales_with_viewer, two_teams};
use crate::common::TestEnv;

#[test]
fn list_filters() {
    let env = sales_with_viewer();
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
    assert!(csv.starts_with(
        "id,name,company,phone,email,city,stage,level,industry,tags,owner,pool,last_contact"
    ));
}

#[test]
fn no_contact_days_uses_the_clock() {
    sqlite_only!("POOL_NOW sets a member's clock (on a server only an admin's)");
    let mut env = sales_with_viewer();
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
fn search_is_not_an_oracle_for_masked_contacts() {
    let (env, north, pooled) = two_teams();
    let found = |user: &str, q: &str| -> Vec<String> {
        env.json_as(user, &["list", "--search", q])
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].to_string())
            .collect()
    };
    // Digit by digit, a prefix or suffix never confirms a masked phone…
    for (user, id, phone) in [
        ("lihua", &pooled, "13787654321"),
        ("lin", &pooled, "13787654321"),
        ("zhao", &north, "13912345678"),
        ("lihua", &north, "13912345678"),
    ] {
        for n in 4..phone.len() {
            assert!(
                !found(user, &phone[..n]).contains(id),
                "{user} found {id} by prefix {}",
                &phone[..n]
            );
            assert!(!found(user, &phone[n..]).contains(id), "{user}: suffix");
        }
        // …only the whole number does.
        assert!(found(user, phone).contains(id), "{user}: whole number");
    }
    assert!(!found("zhao", "secret@").contains(&north));
    assert!(found("zhao", "secret@north.cn").contains(&north));
    // Where the contact is visible, substrings work as before.
    assert!(found("wang", "2345").contains(&north));
    assert!(found("zhao", "8765").contains(&pooled));
}

#[test]
fn pooled_city_lookup_uses_an_index() {
    sqlite_only!(
        "the SQLite store's query plan (EXPLAIN QUERY PLAN on the file; the server plans its own)"
    );
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "2000"]);
    let store = customer_pool::store::Store::open(&env.db()).unwrap();
    let f = customer_pool::store::ListFilter {
        in_pool: Some(None),
        city: Some("杭州".into()),
        limit: Some(20),
        ..Default::default()
    };
    let plan = customer_pool::store::sqlite::customers::explain(&store.conn, &f)
        .unwrap()
        .join("\n");
    assert!(
        plan.contains("USING INDEX customers_city (city=? AND owner_id=?)"),
        "{plan}"
    );
    let f = customer_pool::store::ListFilter {
        owner_id: Some(2),
        ..Default::default()
    };
    let plan = customer_pool::store::sqlite::customers::explain(&store.conn, &f)
        .unwrap()
        .join("\n");
    assert!(plan.contains("USING INDEX customers_owner"), "{plan}");
}

/// With psql, a member gets from the server's whole-key search (migration 11) no more
/// than `pool list --search` gives: a whole key finds a masked customer's id, a shorter
/// key or a pattern nothing, and a customer in a pool her team does not see stays hidden.
#[test]
fn a_member_with_psql_cannot_probe_keys_through_the_server() {
    let (env, north, pooled) = two_teams();
    let Some(db) = &env.pg else {
        return; // the server's function; SQLite's search is the app's (above)
    };
    env.ok(&["pools", "add", "northpool", "--team", "north"]);
    let hidden = env.json(&[
        "add",
        "--name",
        "北池",
        "--phone",
        "13655554444",
        "--pool",
        "northpool",
    ])["id"]
        .to_string();
    let key_of = |id: &str| -> String {
        db.client()
            .query_one(
                "SELECT phone_key FROM customers WHERE id = $1",
                &[&id.parse::<i64>().unwrap()],
            )
            .unwrap()
            .get(0)
    };
    let mut lihua = postgres::Client::connect(&db.url("lihua"), postgres::NoTls).unwrap();
    let mut found = |pk: &str| -> Vec<String> {
        lihua
            .query("SELECT pool_private.whole_key_match($1, NULL)", &[&pk])
            .unwrap()
            .iter()
            .map(|r| r.get::<_, i64>(0).to_string())
            .collect()
    };
    for id in [&north, &pooled] {
        let key = key_of(id);
        assert_eq!(found(&key), std::slice::from_ref(id), "whole key of {id}");
        assert!(found(&key[..key.len() - 1]).is_empty(), "a prefix of {id}");
        assert!(found(&key[1..]).is_empty(), "a suffix of {id}");
        assert!(found(&format!("{}%", &key[..6])).is_empty(), "a pattern");
    }
    assert!(
        found(&key_of(&hidden)).is_empty(),
        "a hidden pool's customer"
    );
    // Her own reads of the keys stay masked: the view shows no key of the pooled one.
    let k: Option<String> = lihua
        .query_one(
            "SELECT phone_key FROM customers_v WHERE id = $1",
            &[&pooled.parse::<i64>().unwrap()],
        )
        .unwrap()
        .get(0);
    assert_eq!(k, None);
}
