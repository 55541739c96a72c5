//! `pool report`: every report, checked against a small hand-built database.
use serde_json::Value;

use crate::common::fixtures::{at_members_clock, find};
use crate::common::TestEnv;

/// 2 teams, 3 reps, 6 customers with known history. Today is Sunday 2026-11-22 (on a
/// server: today, see `at_members_clock`).
fn shop() -> TestEnv {
    let mut env = TestEnv::new();
    let today = at_members_clock(&mut env).date_naive();
    let overdue = (today - chrono::Duration::days(2)).to_string();
    env.user("zhao", "east", "manager");
    env.user("li", "east", "member");
    env.user("chen", "east", "member");
    env.user("wang", "north", "member");
    env.ok(&["pools", "add", "eastpool", "--team", "east"]);
    env.ok(&[
        "rules",
        "set",
        "--recycle-no-contact-days",
        "30",
        "--warn-days",
        "5",
        "--max-owned",
        "10",
    ]);
    for i in 1..=6 {
        env.pooled(&format!("客户{i}"), &format!("1380000000{i}"));
    }
    env.ok(&[
        "add",
        "--name",
        "池子",
        "--phone",
        "13800000009",
        "--pool",
        "eastpool",
    ]); // 7, pooled in eastpool
    env.ok_as("li", &["claim", "1", "2", "3"]);
    env.ok_as("wang", &["claim", "4"]);
    env.ok_as(
        "li",
        &[
            "log",
            "1",
            "call",
            "聊了",
            "--next",
            "发合同",
            "--due",
            &overdue,
            "--past",
        ],
    ); // overdue
    env.ok_as("li", &["followup", "add", "2", "--due", "today", "回访"]);
    env.ok_as("wang", &["followup", "add", "4", "--due", "+3d", "报价"]);
    env.ok_as("li", &["deal", "add", "1", "--amount", "1000.50"]);
    env.ok_as("li", &["release", "3", "--reason", "不合适"]);
    env.ok_as("wang", &["claim", "3"]); // north took what east released
    env.ok(&["edit", "5", "--stage", "churned"]);
    // Customer 2 was claimed 27 days ago: 3 days before recycling. (SQLite's trigger
    // moves the due date with the claim; the server's guard, off under `exec`, would.)
    env.exec("UPDATE customers SET claimed_at = claimed_at - 27 * 86400, recycle_due_at = recycle_due_at - 27 * 86400 WHERE id = 2");
    env
}

/// Stale and owners' "recycle soon" follow every change of the recycle clock: a log,
/// a lock, a rules change; the list is the soonest `--limit` per owner, the counts all.
#[test]
fn stale_follows_the_recycle_clock_and_limits_per_owner() {
    sqlite_only!("moves claimed_at in the SQLite file");
    let env = shop();
    // li owns 1 (contacted today) and 2 (3 days left); make 1 due in 2 days too.
    env.exec("UPDATE customers SET claimed_at = claimed_at - 28 * 86400, last_contact_at = last_contact_at - 28 * 86400 WHERE id = 1");
    let s = env.json(&["report", "stale"]);
    let ids: Vec<i64> = s["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2], "soonest first: {s}");
    assert_eq!(s["customers"][0]["days_left"], 2);
    let one = env.json(&["report", "stale", "--limit", "1"]);
    assert_eq!(one["customers"].as_array().unwrap().len(), 1);
    assert_eq!(one["customers"][0]["id"], 1);
    assert_eq!(one["owners"][0]["recycle_soon"], 2);
    assert_eq!(one["owners"][0]["shown"], 1);
    let table = env.ok(&["report", "stale", "--limit", "1"]);
    assert!(table.contains("li"), "{table}");
    // A call resets the clock of 1; a lock exempts 2.
    env.ok_as("li", &["log", "1", "call", "又聊了"]);
    env.ok(&["rules", "set", "--max-locked", "5"]);
    env.ok_as("li", &["lock", "2"]);
    let s = env.json(&["report", "stale"]);
    assert!(s["customers"].as_array().unwrap().is_empty(), "{s}");
    let owners = env.json(&["report", "owners"]);
    assert_eq!(find(&owners, "user", "li")["recycle_soon"], 0);
    // Shorter recycling for leads: both li's customers... 1 is a customer (deal), 2 is
    // locked; wang's lead 4 (claimed today) is due in 2 days with a 2-day lead rule.
    env.ok(&[
        "rules",
        "set",
        "--for",
        "stage=lead",
        "--recycle-no-contact-days",
        "2",
    ]);
    let s = env.json(&["report", "stale"]);
    let wang: Vec<&Value> = s["customers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["owner"] == "wang")
        .collect();
    assert_eq!(wang.len(), 2, "{s}");
    assert!(wang.iter().all(|c| c["days_left"] == 2), "{s}");
    assert_eq!(
        find(&env.json(&["report", "owners"]), "user", "wang")["recycle_soon"],
        2
    );
}

#[test]
fn summary_counts() {
    let env = shop();
    let v = env.json(&["report", "summary"]);
    assert_eq!(v["total"], 7);
    assert_eq!(v["owned"], 4);
    assert_eq!(v["pooled"], 3);
    assert_eq!(find(&v["pools"], "key", "public")["count"], 2);
    assert_eq!(find(&v["pools"], "key", "eastpool")["count"], 1);
    assert_eq!(find(&v["stages"], "key", "customer")["count"], 1);
    assert_eq!(find(&v["stages"], "key", "churned")["count"], 1);
    assert_eq!(find(&v["stages"], "key", "lead")["count"], 5);
    assert_eq!(v["this_week"]["claims"], 5);
    assert_eq!(v["this_week"]["releases"], 1);
    assert_eq!(v["last_week"]["claims"], 0);
}

#[test]
fn owners_and_teams() {
    let env = shop();
    let v = env.json(&["report", "owners"]);
    let li = find(&v, "user", "li");
    assert_eq!(li["owned"], 2);
    assert_eq!(li["limit"], 10);
    assert_eq!(li["contacts_30d"], 1);
    assert_eq!(li["overdue_followups"], 1);
    assert_eq!(li["deals"], 1);
    assert_eq!(li["deal_amount"], "1000.50 CNY");
    assert_eq!(li["recycle_soon"], 1);
    let wang = find(&v, "user", "wang");
    assert_eq!(wang["owned"], 2);
    assert_eq!(wang["overdue_followups"], 0);
    // A manager sees their own team only.
    let m = env.json_as("zhao", &["report", "owners"]);
    assert!(m.as_array().unwrap().iter().all(|r| r["team"] == "east"));
    env.fails_as("zhao", &["report", "owners", "--team", "north"], 4);
    let t = env.json(&["report", "teams"]);
    assert_eq!(find(&t["teams"], "team", "east")["owned"], 2);
    assert_eq!(find(&t["teams"], "team", "north")["owned"], 2);
    assert_eq!(t["cross_team"][0]["team"], "north");
    assert_eq!(t["cross_team"][0]["took_from"], "east");
    assert_eq!(t["cross_team"][0]["customers"], 1);
}

#[test]
fn funnel_stale_followups() {
    let env = shop();
    let f = env.json(&["report", "funnel"]);
    assert_eq!(f["total"], 7);
    assert_eq!(f["won"], 1);
    assert_eq!(f["lead_to_customer_pct"], 14.3);
    assert_eq!(f["churn_pct"], 14.3);
    assert_eq!(f["customer_to_loyal_pct"], 0.0);
    let s = env.json(&["report", "stale"]);
    let listed = s["customers"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], 2);
    assert_eq!(listed[0]["days_left"], 3);
    assert_eq!(listed[0]["owner"], "li");
    assert_eq!(listed[0]["reason"], "no_contact");
    assert_eq!(s["owners"].as_array().unwrap().len(), 1);
    assert_eq!(s["owners"][0]["owner"], "li");
    assert_eq!(s["owners"][0]["recycle_soon"], 1);
    let fu = env.json(&["report", "followups"]);
    let li = find(&fu, "assignee", "li");
    assert_eq!(
        (
            li["overdue"].as_i64(),
            li["today"].as_i64(),
            li["next_7_days"].as_i64()
        ),
        (Some(1), Some(1), Some(0))
    );
    let wang = find(&fu, "assignee", "wang");
    assert_eq!(wang["next_7_days"], 1);
}

#[test]
fn activity_by_day() {
    let env = shop();
    let today = &env.now[..10]; // 2026-11-22 on SQLite
    let v = env.json(&["report", "activity", "--by", "day", "--since", today]);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["period"], today);
    assert_eq!(v[0]["claims"], 5);
    assert_eq!(v[0]["releases"], 1);
    assert_eq!(v[0]["interactions"], 1);
    assert_eq!(v[0]["deals"], 1);
    let east = env.json(&["report", "activity", "--by", "day", "--team", "north"]);
    assert_eq!(east[0]["claims"], 2);
    env.fails_as(
        "admin",
        &[
            "report",
            "activity",
            "--since",
            "2026-12-01",
            "--until",
            "2026-11-01",
        ],
        6,
    );
}

#[test]
fn quality_score_and_duplicates() {
    let env = TestEnv::new();
    env.ok(&[
        "add",
        "--name",
        "A",
        "--phone",
        "13800000001",
        "--city",
        "杭州",
        "--address",
        "x",
        "--source",
        "展会",
        "--pool",
    ]);
    env.ok(&[
        "add",
        "--name",
        "B",
        "--phone",
        "+86 138 0000 0001",
        "--pool",
    ]);
    env.ok(&["add", "--company", "C公司", "--email", "c@c.cn", "--pool"]);
    env.ok(&["add", "--name", "D", "--pool"]);
    let q = env.json(&["report", "quality"]);
    assert_eq!(q["customers"], 4);
    assert_eq!(q["duplicate_rate_pct"], 50.0);
    let phone = find(&q["fields"], "field", "phone");
    assert_eq!(phone["filled_pct"], 50.0);
    assert_eq!(phone["valid_pct"], 100.0);
    // 35×3/4 + 15×1 + 10×1/4 + 10×1/4 + 10×1/4 + 20×(1−2/4) = 26.25+15+2.5+2.5+2.5+10
    assert_eq!(q["score"], 58.8);
    assert_eq!(q["worst"][0]["id"], 4);
    assert!(q["worst"][0]["missing"]
        .as_str()
        .unwrap()
        .contains("phone email"));
}

#[test]
fn access_report_flags_unusual_volume() {
    let mut env = shop();
    env.user("boss", "east", "manager");
    for _ in 0..3 {
        env.ok_as("boss", &["export", "--unmasked"]);
    }
    env.ok_as("zhao", &["show", "1"]);
    // The window ends at the reader's clock: on a server, after the managers' reads.
    at_members_clock(&mut env);
    let v = env.json(&["report", "access"]);
    let boss = find(&v, "user", "boss");
    assert_eq!(boss["exports"], 3);
    assert_eq!(boss["exported_rows"], 21);
    assert_eq!(boss["flagged"], false, "under 100 rows never flags");
    let zhao = find(&v, "user", "zhao");
    assert_eq!(zhao["unmasked_views"], 1);
    // 150 rows in the window against no history: flagged.
    env.ok(&["demo", "--customers", "150"]);
    env.ok_as("boss", &["export", "--unmasked"]);
    at_members_clock(&mut env);
    let v = env.json(&["report", "access"]);
    assert_eq!(find(&v, "user", "boss")["flagged"], true);
    env.fails_as("li", &["report", "access"], 4);
    // A manager's report covers their own team (the audit rows a manager reads).
    env.user("nboss", "north", "manager");
    env.ok_as("nboss", &["export", "--unmasked"]);
    at_members_clock(&mut env);
    let all = env.json(&["report", "access"]);
    assert_eq!(find(&all, "user", "nboss")["exports"], 1);
    let east = env.json_as("zhao", &["report", "access"]);
    let users: Vec<&str> = east
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["user"].as_str())
        .collect();
    assert!(users.contains(&"boss") && users.contains(&"zhao"), "{east}");
    assert!(!users.contains(&"nboss"), "{east}");
}

#[test]
fn json_and_table_agree_and_csv_has_the_rows() {
    let env = shop();
    let table = env.ok(&["report", "owners"]);
    let json = env.json(&["report", "owners"]);
    for r in json.as_array().unwrap() {
        let line = table
            .lines()
            .find(|l| l.contains(&format!(" {} ", r["user"].as_str().unwrap())))
            .unwrap();
        assert!(line.contains(&format!(" {} ", r["owned"])), "{line}");
    }
    let csv = env.ok(&["report", "followups", "--format", "csv"]);
    assert!(
        csv.starts_with("assignee,overdue,today,next_7_days"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 3);
    let summary = env.ok(&["report", "summary"]);
    assert!(summary.contains("█"), "{summary}");
}

#[test]
fn an_empty_database_gives_friendly_empty_reports() {
    let env = TestEnv::new();
    for r in [
        "summary",
        "owners",
        "teams",
        "funnel",
        "stale",
        "followups",
        "activity",
        "quality",
        "access",
    ] {
        let out = env.run_as("admin", &["report", r]);
        assert!(
            out.status.success(),
            "{r}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json = env.json(&["report", r]);
        assert!(json.is_object() || json.is_array(), "{r}");
    }
    assert!(env.ok(&["report", "summary"]).contains("The pool is empty"));
    assert!(env.ok(&["report", "quality"]).contains("No customers yet"));
}
