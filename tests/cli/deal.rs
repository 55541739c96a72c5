//! `pool deal add/list/void`: exact amounts, sums that never overflow.
use serde_json::Value;

use crate::common::fixtures::{claimed, find, sales_teams};

#[test]
fn deals_are_exact_and_make_a_lead_a_customer() {
    let env = sales_teams();
    let id = claimed(&env, "lihua", "13800000001");
    let v = env.json_as(
        "lihua",
        &[
            "deal",
            "add",
            &id,
            "--amount",
            "12000.50",
            "--currency",
            "cny",
            "--product",
            "企业版",
        ],
    );
    assert_eq!(v["amount"], "12000.50");
    assert_eq!(v["currency"], "CNY");
    assert_eq!(v["stage"], "customer");
    let minor = env.deal_amounts_minor()[0];
    assert_eq!(minor, 1_200_050);
    env.ok_as(
        "lihua",
        &["deal", "add", &id, "--amount", "0.10", "--on", "2026-11-01"],
    );
    assert_eq!(env.deal_amounts_minor().iter().sum::<i64>(), 1_200_060);
    env.fails_as("lihua", &["deal", "add", &id, "--amount", "1.005"], 6);
    env.fails_as("lihua", &["deal", "add", &id, "--amount", "12k"], 6);
    env.fails_as(
        "lihua",
        &["deal", "add", &id, "--amount", "1", "--currency", "yuan"],
        6,
    );
    assert_eq!(env.count("customers WHERE won_at IS NOT NULL"), 1);
}

#[test]
fn only_well_formed_amounts_are_accepted() {
    let env = sales_teams();
    let id = claimed(&env, "lihua", "13800000001");
    for bad in [
        "12,50",
        "1,2,3",
        ",5",
        "_5",
        "5_000",
        "1,0000",
        "5.",
        "92233720368547758.07",
        "1000000000000.01",
    ] {
        let err = env.fails_as("lihua", &["deal", "add", &id, "--amount", bad], 6);
        assert!(err.contains("invalid amount"), "{bad}: {err}");
        assert!(
            err.contains("hint: write the amount with a dot"),
            "{bad}: {err}"
        );
    }
    assert_eq!(env.count("deals"), 0);
    let v = env.json_as("lihua", &["deal", "add", &id, "--amount", "12,000.50"]);
    assert_eq!(v["amount"], "12000.50");
    let v = env.json_as(
        "lihua",
        &["deal", "add", &id, "--amount", "1,000,000,000,000.00"],
    );
    assert_eq!(v["amount"], "1000000000000.00");
}

#[test]
fn deal_sums_never_overflow_and_never_mix_currencies() {
    sqlite_only!("writes amounts beyond the app's range into the SQLite file");
    let env = sales_teams();
    let a = claimed(&env, "lihua", "13800000001");
    let b = claimed(&env, "wang", "13800000002");
    env.ok_as(
        "lihua",
        &["deal", "add", &a, "--amount", "1,000,000,000,000"],
    );
    env.ok_as(
        "lihua",
        &["deal", "add", &a, "--amount", "5", "--currency", "usd"],
    );
    env.ok_as("wang", &["deal", "add", &b, "--amount", "0.01"]);
    // 100,000 more deals at the largest amount: their sum (1e19 minor units) is beyond
    // an i64, as a busy database over years could be.
    let conn = env.sql("");
    conn.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
         INSERT INTO deals (customer_id, user_id, amount_minor, currency, on_date, created_at)
         SELECT c.id, c.owner_id, 100000000000000, 'CNY', '2026-11-01', 1790000000
           FROM n, customers c WHERE c.owner_id = (SELECT id FROM users WHERE login = 'lihua')",
    )
    .expect("insert deals");
    drop(conn);
    // 100,001 deals of a trillion: 1.00001e17, exact.
    let want = "100001000000000000.00 CNY; 5.00 USD";
    let v = env.json(&["report", "owners"]);
    let li = find(&v, "user", "lihua");
    assert_eq!(li["deals"], 100_002);
    assert_eq!(li["deal_amount"], want, "{li}");
    assert_eq!(find(&v, "user", "wang")["deal_amount"], "0.01 CNY");
    let v = env.json_as("zhao", &["report", "owners"]);
    assert_eq!(find(&v, "user", "lihua")["deal_amount"], want);
    let t = env.json(&["report", "teams"]);
    let east = find(&t["teams"], "team", "sales-east");
    assert_eq!(east["deal_amount"], want);
    assert_eq!(
        find(&t["teams"], "team", "sales-north")["deal_amount"],
        "0.01 CNY"
    );
}

#[test]
fn deals_are_listed_and_a_mistake_is_voided_with_an_audit_row() {
    let env = sales_teams();
    let a = claimed(&env, "lihua", "13800000001");
    let b = claimed(&env, "wang", "13800000002");
    let d = env.json_as("lihua", &["deal", "add", &a, "--amount", "120000"]);
    let deal = d["deal"].as_i64().expect("deal id").to_string();
    assert_eq!(d["stage"], "customer");
    env.ok_as("wang", &["deal", "add", &b, "--amount", "7"]);

    // Lists follow the scope: members their own customers, managers their team.
    let mine = env.json_as("lihua", &["deal", "list"]);
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "{mine}");
    assert_eq!(mine[0]["amount"], "120000.00");
    assert_eq!(
        env.json_as("zhao", &["deal", "list"])
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        env.json(&["deal", "list"]).as_array().map(Vec::len),
        Some(2)
    );
    env.fails_as("wang", &["deal", "list", "--customer", &a], 4);

    // Who may void: not another team's member, not a member of the same team.
    env.fails_as("wang", &["deal", "void", &deal, "--reason", "typo"], 4);
    env.fails_as("chen", &["deal", "void", &deal, "--reason", "typo"], 4);
    env.fails_as("lihua", &["deal", "void", &deal], 2);
    env.ok_as(
        "zhao",
        &["deal", "void", &deal, "--reason", "typed 120000 for 12000"],
    );
    env.fails_as("lihua", &["deal", "void", &deal, "--reason", "again"], 5);

    // Gone from lists and reports, kept with --voided; the lead is a lead again.
    assert_eq!(
        env.json_as("lihua", &["deal", "list"])
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let all = env.json_as("lihua", &["deal", "list", "--voided"]);
    assert_eq!(all[0]["voided"], true);
    assert_eq!(all[0]["void_reason"], "typed 120000 for 12000");
    let li = find(&env.json(&["report", "owners"]), "user", "lihua").clone();
    assert_eq!(li["deals"], 0);
    assert_eq!(li["deal_amount"], "0.00");
    assert_eq!(env.json(&["show", &a])["stage"], "lead");
    let log = env.json(&["audit", "log", "--customer", &a, "--action", "deal_void"]);
    assert_eq!(log.as_array().map(Vec::len), Some(1), "{log}");
    assert_eq!(log[0]["actor"], "zhao");
    let before: Value =
        serde_json::from_str(log[0]["before"].as_str().expect("before")).expect("JSON before");
    assert_eq!(before["amount_minor"], 12_000_000);
    assert_eq!(before["stage"], "customer");
}

/// Refused deals: malformed amounts, a bad currency, voiding without a reason or twice.
#[test]
fn snap_deal_refusals() {
    let env = sales_teams();
    let id = claimed(&env, "lihua", "13800000001");
    for (name, amount) in [
        ("amount_comma", "12,50"),
        ("amount_too_precise", "1.005"),
        ("amount_k", "12k"),
    ] {
        insta::assert_snapshot!(
            name,
            env.snap_as("lihua", &["deal", "add", &id, "--amount", amount])
        );
    }
    insta::assert_snapshot!(
        "currency",
        env.snap_as(
            "lihua",
            &["deal", "add", &id, "--amount", "1", "--currency", "yuan"]
        )
    );
    let deal = env.json_as("lihua", &["deal", "add", &id, "--amount", "5"])["deal"].to_string();
    insta::assert_snapshot!(
        "void_other_team",
        env.snap_as("wang", &["deal", "void", &deal, "--reason", "typo"])
    );
    // clap's usage line names the options the environment gave (POOL_USER on SQLite,
    // none on a server): not part of what is checked here.
    insta::assert_snapshot!(
        "void_no_reason",
        env.snap_as("lihua", &["deal", "void", &deal])
            .replace(" --as <USER> <ID>", " <ID>")
    );
    env.ok_as("zhao", &["deal", "void", &deal, "--reason", "typo"]);
    insta::assert_snapshot!(
        "void_twice",
        env.snap_as("lihua", &["deal", "void", &deal, "--reason", "again"])
    );
}

/// A manager who voids a deal with psql cannot leave the customer counted as won: the
/// server puts it back to lead and audits the void with both stages (migration 11).
#[test]
fn a_void_through_psql_puts_the_stage_back_on_the_server() {
    let env = sales_teams();
    let Some(db) = &env.pg else {
        return; // on SQLite the app is the only door (the test above)
    };
    let a = claimed(&env, "lihua", "13800000001");
    let deal = env.json_as("lihua", &["deal", "add", &a, "--amount", "5"])["deal"]
        .as_i64()
        .expect("deal id");
    assert_eq!(env.json(&["show", &a])["stage"], "customer");
    let mut zhao = postgres::Client::connect(&db.url("zhao"), postgres::NoTls).unwrap();
    let n = zhao
        .execute(
            "UPDATE deals SET voided_at = 1, void_reason = 'psql' WHERE id = $1",
            &[&deal],
        )
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(env.json(&["show", &a])["stage"], "lead");
    let row = env.last_audit("deal_void");
    assert_eq!(row.actor, "zhao");
    let before: Value = serde_json::from_str(&row.before.expect("before")).unwrap();
    let after: Value = serde_json::from_str(&row.after.expect("after")).unwrap();
    assert_eq!(before["stage"], "customer");
    assert_eq!(after["stage"], "lead");
    assert_eq!(after["reason"], "psql");
    env.ok(&["audit", "verify"]);
}
