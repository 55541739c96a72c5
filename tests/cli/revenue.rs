//! `pool report revenue`: live deals per period and currency, never summed across
//! currencies, voided deals out, scoped like the other reports, days in the configured
//! time zone.
use serde_json::{json, Value};

use chrono::Timelike;

use crate::common::fixtures::{at_members_clock, claimed, sales_org};
use crate::common::TestEnv;

/// lihua (east): 1000 CNY in October, 200 USD and 500 CNY in November; chen (east): 300
/// CNY and a voided 700 CNY in November; wang (north): 4000 CNY in November.
fn deals() -> TestEnv {
    let mut env = sales_org();
    env.now = "2026-11-30T09:00:00Z".into();
    let li = claimed(&env, "lihua", "13800000001");
    let chen = claimed(&env, "chen", "13800000002");
    let wang = claimed(&env, "wang", "13800000003");
    let add = |who: &str, id: &str, amount: &str, cur: &str, on: &str| {
        let v = env.json_as(
            who,
            &[
                "deal",
                "add",
                id,
                "--amount",
                amount,
                "--currency",
                cur,
                "--on",
                on,
            ],
        );
        v["deal"].to_string()
    };
    add("lihua", &li, "1000", "CNY", "2026-10-05");
    add("lihua", &li, "200", "USD", "2026-11-03");
    add("lihua", &li, "500", "CNY", "2026-11-20");
    add("chen", &chen, "300", "CNY", "2026-11-01");
    let typo = add("chen", &chen, "700", "CNY", "2026-11-02");
    add("wang", &wang, "4000", "CNY", "2026-11-10");
    env.ok_as("zhao", &["deal", "void", &typo, "--reason", "typed twice"]);
    env
}

/// (period, currency, deals, amount) of a report's rows.
fn rows(v: &Value) -> Vec<(String, String, i64, String)> {
    v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["period"].as_str().unwrap().to_string(),
                r["currency"].as_str().unwrap().to_string(),
                r["deals"].as_i64().unwrap(),
                r["amount"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn row(p: &str, c: &str, n: i64, a: &str) -> (String, String, i64, String) {
    (p.into(), c.into(), n, a.into())
}

const RANGE: [&str; 4] = ["--from", "2026-10-01", "--to", "2026-11-30"];

fn revenue(env: &TestEnv, who: &str, extra: &[&str]) -> Value {
    let mut a = vec!["report", "revenue"];
    a.extend(RANGE);
    a.extend(extra);
    env.json_as(who, &a)
}

#[test]
fn revenue_by_month_per_currency_without_voided_deals() {
    let env = deals();
    let v = revenue(&env, "admin", &["--by", "month"]);
    assert_eq!(
        rows(&v),
        [
            row("2026-10", "CNY", 1, "1000.00"),
            row("2026-11", "CNY", 3, "4800.00"),
            row("2026-11", "USD", 1, "200.00"),
        ]
    );
    assert_eq!(v["totals"][0]["amount"], "5800.00");
    assert_eq!(v["totals"][1]["currency"], "USD");
    assert_eq!(v["totals"][1]["amount"], "200.00");
    assert_eq!(v["scope"], "all");
    // Data only: no bar in JSON or CSV.
    assert!(v["rows"][0].get("bar").is_none());
    let mut a = vec!["report", "revenue", "--format", "csv"];
    a.extend(RANGE);
    let csv = env.ok(&a);
    assert!(csv.starts_with("period,currency,deals,amount\n"), "{csv}");
    assert!(!csv.contains('█'), "{csv}");
    let mut a = vec!["report", "revenue"];
    a.extend(RANGE);
    let table = env.ok(&a);
    assert!(table.contains('█'), "{table}");
    assert!(
        table.contains("Total: 5800.00 CNY (4 deals); 200.00 USD (1 deal)"),
        "{table}"
    );
}

#[test]
fn revenue_by_day_week_and_quarter() {
    let env = deals();
    let v = revenue(&env, "admin", &["--by", "week"]);
    assert_eq!(
        rows(&v),
        [
            row("2026-W41", "CNY", 1, "1000.00"),
            row("2026-W44", "CNY", 1, "300.00"),
            row("2026-W45", "USD", 1, "200.00"),
            row("2026-W46", "CNY", 1, "4000.00"),
            row("2026-W47", "CNY", 1, "500.00"),
        ]
    );
    let v = revenue(&env, "admin", &["--by", "quarter"]);
    assert_eq!(
        rows(&v),
        [
            row("2026-Q4", "CNY", 4, "5800.00"),
            row("2026-Q4", "USD", 1, "200.00"),
        ]
    );
    let v = env.json(&[
        "report",
        "revenue",
        "--by",
        "day",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-03",
    ]);
    assert_eq!(
        rows(&v),
        [
            row("2026-11-01", "CNY", 1, "300.00"),
            row("2026-11-03", "USD", 1, "200.00"),
        ]
    );
    env.fails_as(
        "admin",
        &[
            "report",
            "revenue",
            "--from",
            "2026-11-30",
            "--to",
            "2026-11-01",
        ],
        6,
    );
}

#[test]
fn revenue_is_scoped_like_the_other_reports() {
    let env = deals();
    // A manager: their team's people.
    let v = revenue(&env, "zhao", &[]);
    assert_eq!(v["scope"], "team sales-east");
    assert_eq!(
        rows(&v),
        [
            row("2026-10", "CNY", 1, "1000.00"),
            row("2026-11", "CNY", 2, "800.00"),
            row("2026-11", "USD", 1, "200.00"),
        ]
    );
    env.fails_as("zhao", &["report", "revenue", "--team", "sales-north"], 4);
    let v = revenue(&env, "qian", &[]);
    assert_eq!(rows(&v), [row("2026-11", "CNY", 1, "4000.00")]);
    // A member: their own deals only.
    let v = revenue(&env, "lihua", &[]);
    assert_eq!(v["scope"], "user lihua");
    assert_eq!(
        rows(&v),
        [
            row("2026-10", "CNY", 1, "1000.00"),
            row("2026-11", "CNY", 1, "500.00"),
            row("2026-11", "USD", 1, "200.00"),
        ]
    );
    env.fails_as("lihua", &["report", "revenue", "--team", "sales-east"], 4);
    // An admin may pick a team.
    let v = revenue(&env, "admin", &["--team", "sales-north"]);
    assert_eq!(rows(&v), [row("2026-11", "CNY", 1, "4000.00")]);
}

#[test]
fn revenue_days_are_local_days() {
    let mut env = sales_org();
    // 20:00 UTC on the 30th is already 1 December in 杭州. On a server lihua writes at
    // the server's clock: a zone is picked where the local day is not the UTC day now
    // (+14 from 10:00 UTC, else −11), so the test proves the same at any hour.
    env.now = "2026-11-30T20:00:00Z".into();
    let utc = at_members_clock(&mut env);
    let (zone, hours) = match () {
        _ if !env.is_pg() => ("Asia/Shanghai", 8),
        _ if utc.hour() >= 10 => ("Pacific/Kiritimati", 14),
        _ => ("Pacific/Pago_Pago", -11),
    };
    env.ok(&["settings", "set", "timezone", zone]);
    let local = (utc + chrono::Duration::hours(hours)).date_naive();
    assert_ne!(local, utc.date_naive());
    if !env.is_pg() {
        assert_eq!(local.to_string(), "2026-12-01");
    }
    let id = claimed(&env, "lihua", "13800000001");
    env.ok_as("lihua", &["deal", "add", &id, "--amount", "88"]);
    let v = env.json_as("lihua", &["report", "revenue", "--by", "day"]);
    assert_eq!(v["to"], local.to_string());
    assert_eq!(
        v["from"],
        (local - chrono::Duration::days(13)).to_string(),
        "2026-11-18 on SQLite"
    );
    assert_eq!(rows(&v), [row(&local.to_string(), "CNY", 1, "88.00")]);
    let v = env.json_as("lihua", &["report", "revenue", "--by", "week"]);
    let week = local.format("%G-W%V").to_string(); // 2026-W49 on SQLite
    assert_eq!(v["rows"][0]["period"], json!(week));
}

#[test]
fn snap_report_revenue_at_100_columns() {
    let env = deals();
    let mut a = vec!["report", "revenue"];
    a.extend(RANGE);
    insta::assert_snapshot!("revenue_by_month", env.snap(&a));
}
