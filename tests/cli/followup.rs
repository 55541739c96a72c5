//! `pool followup add/list/done/cancel`, and the dates every dated command accepts.
use chrono::Datelike;

use crate::common::fixtures::{admin_owned, at_members_clock, claimed, sales_teams};
use crate::common::TestEnv;

fn actions_for(env: &TestEnv, user: &str) -> Vec<String> {
    env.json_as(user, &["followup", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["action"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn followups_add_list_done_cancel() {
    let mut env = sales_teams();
    // Sunday 2026-11-22 on SQLite; on a server lihua writes at its clock: today.
    let today = at_members_clock(&mut env).date_naive();
    let id = claimed(&env, "lihua", "13800000001");
    let days = |n: i64| today + chrono::Duration::days(n);
    let overdue = days(-2).to_string();
    // "next monday" is 1 to 7 days away (tomorrow on SQLite).
    let monday = days(7 - i64::from(today.weekday().num_days_from_monday()));
    let mut planned = [
        (days(-2), "逾期的"),
        (today, "今天的"),
        (days(3), "三天后"),
        (monday, "下周一"),
        (days(20), "很远"),
    ];
    for (due, action) in [
        (overdue.as_str(), "逾期的"),
        ("today", "今天的"),
        ("+3d", "三天后"),
        ("next monday", "下周一"),
        ("+20d", "很远"),
    ] {
        env.ok_as(
            "lihua",
            &["followup", "add", &id, "--due", due, "--past", action],
        );
    }
    let actions = |args: &[&str]| -> Vec<String> {
        env.json_as("lihua", args)
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["action"].as_str().unwrap().to_string())
            .collect()
    };
    // Listed by due date, then as added.
    planned.sort_by_key(|p| p.0);
    let in_order: Vec<&str> = planned.iter().map(|p| p.1).collect();
    if !env.is_pg() {
        assert_eq!(in_order, ["逾期的", "今天的", "下周一", "三天后", "很远"]);
    }
    assert_eq!(actions(&["followup", "list"]), in_order);
    assert_eq!(actions(&["followup", "list", "--overdue"]), ["逾期的"]);
    assert_eq!(
        actions(&["followup", "list", "--due-within", "7d"]),
        in_order[..4]
    );
    env.fails_as(
        "lihua",
        &["followup", "add", &id, "--due", "someday", "x"],
        6,
    );
    env.fails_as(
        "lihua",
        &[
            "followup",
            "add",
            &id,
            "--due",
            "today",
            "x",
            "--assignee",
            "wang",
        ],
        4,
    );
    env.ok_as(
        "zhao",
        &[
            "followup",
            "add",
            &id,
            "--due",
            "today",
            "经理安排",
            "--assignee",
            "chen",
        ],
    );
    assert_eq!(actions_for(&env, "chen"), ["经理安排"]);
    let first = env.json_as("lihua", &["followup", "list"])[0]["id"].to_string();
    env.ok_as("lihua", &["followup", "done", &first, "--note", "已发"]);
    env.fails_as("lihua", &["followup", "done", &first], 5);
    env.fails_as("wang", &["followup", "cancel", &first], 4);
    let second = env.json_as("lihua", &["followup", "list"])[0]["id"].to_string();
    env.ok_as("lihua", &["followup", "cancel", &second]);
    let all = env.json_as("lihua", &["followup", "list", "--status", "all"]);
    let statuses: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["done", "cancelled", "open", "open", "open"]);
    env.fails_as("lihua", &["followup", "done", "999"], 3);
    let team = env.json_as("zhao", &["followup", "list", "--team", "sales-east"]);
    assert_eq!(team.as_array().unwrap().len(), 4);
    // Eight days on (2026-11-30 on SQLite): "next monday" and "+3d" are overdue. POOL_NOW
    // sets a member's clock for reads on a server too.
    let later = format!("{}T09:00:00Z", days(8));
    let out = env
        .cmd_as("lihua")
        .env("POOL_NOW", &later)
        .args(["followup", "list", "--overdue", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
}

#[test]
fn absurd_dates_and_a_ten_digit_mobile_are_refused() {
    let env = TestEnv::new();
    let id = admin_owned(&env, "张三", "13800138000");
    for (args, field) in [
        (
            vec!["followup", "add", &id, "--due", "1970-01-01", "call"],
            "--due",
        ),
        (
            vec!["followup", "add", &id, "--due", "2099-01-01", "call"],
            "--due",
        ),
        (
            vec!["deal", "add", &id, "--amount", "5", "--on", "2099-01-01"],
            "--on",
        ),
        (
            vec!["deal", "add", &id, "--amount", "5", "--on", "1900-01-01"],
            "--on",
        ),
        (vec!["log", &id, "call", "hi", "--at", "1900-01-01"], "--at"),
        (
            vec![
                "log",
                &id,
                "call",
                "hi",
                "--next",
                "x",
                "--due",
                "1970-01-01",
            ],
            "--due",
        ),
    ] {
        let err = env.fails_as("admin", &args, 6);
        assert!(err.contains(&format!("invalid {field}")), "{args:?}: {err}");
        assert!(err.contains("hint: give a date from"), "{args:?}: {err}");
    }
    assert_eq!(env.count("followups"), 0);
    assert_eq!(env.count("deals"), 0);
    assert_eq!(env.count("interactions"), 0);
    let err = env.fails_as(
        "admin",
        &["add", "--name", "李四", "--phone", "1380013800"],
        6,
    );
    assert!(err.contains("10 digits, not 11"), "{err}");
    // Sane values still work.
    env.ok(&["followup", "add", &id, "--due", "2026-12-01", "call"]);
    env.ok(&["deal", "add", &id, "--amount", "5", "--on", "2026-11-01"]);
    env.ok(&["log", &id, "call", "hi", "--at", "2026-11-20 10:00"]);
}

/// Refused follow-ups and dates: out of range, unreadable, not the member's to give or close.
#[test]
fn snap_followup_refusals() {
    sqlite_only!("POOL_NOW dates a member's input (on a server only an admin's)");
    let env = sales_teams();
    let id = claimed(&env, "lihua", "13800000001");
    insta::assert_snapshot!(
        "due_unreadable",
        env.snap_as("lihua", &["followup", "add", &id, "--due", "someday", "x"])
    );
    insta::assert_snapshot!(
        "due_out_of_range",
        env.snap_as(
            "lihua",
            &["followup", "add", &id, "--due", "2099-01-01", "x"]
        )
    );
    insta::assert_snapshot!(
        "assignee_other_team",
        env.snap_as(
            "lihua",
            &[
                "followup",
                "add",
                &id,
                "--due",
                "today",
                "x",
                "--assignee",
                "wang"
            ]
        )
    );
    let f =
        env.json_as("lihua", &["followup", "add", &id, "--due", "today", "x"])["id"].to_string();
    insta::assert_snapshot!(
        "cancel_not_yours",
        env.snap_as("wang", &["followup", "cancel", &f])
    );
    env.ok_as("lihua", &["followup", "done", &f]);
    insta::assert_snapshot!(
        "done_twice",
        env.snap_as("lihua", &["followup", "done", &f])
    );
    insta::assert_snapshot!(
        "unknown",
        env.snap_as("lihua", &["followup", "done", "999"])
    );
}

#[test]
fn dates_and_times_people_type_and_a_past_due_needs_past() {
    sqlite_only!("POOL_NOW dates a member's input (on a server only an admin's)");
    let mut env = sales_teams();
    env.now = "2026-11-25T02:00:00Z".into(); // a Wednesday, 10:00 in 杭州
    env.ok(&["settings", "set", "timezone", "Asia/Shanghai"]);
    let id = claimed(&env, "lihua", "13800000031");
    let due = |when: &str| -> String {
        env.json_as("lihua", &["followup", "add", &id, "--due", when, "联系"])["due"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(due("周五 9:30"), "2026-11-27 09:30");
    assert_eq!(due("下周一"), "2026-11-30");
    assert_eq!(due("12月8日"), "2026-12-08");
    assert_eq!(due("明天下午3点"), "2026-11-26 15:00");
    assert_eq!(due("today 16:00"), "2026-11-25 16:00");
    // Past: a date before today, or a time already gone today.
    for when in ["2026-11-20", "昨天", "today 09:00"] {
        let err = env.fails_as("lihua", &["followup", "add", &id, "--due", when, "x"], 6);
        assert!(err.contains("--past"), "{err}");
    }
    env.ok_as(
        "lihua",
        &["followup", "add", &id, "--due", "昨天", "--past", "补录"],
    );
    // Today's timed follow-up is in today's agenda, after the untimed ones.
    let a = env.json_as("lihua", &["agenda"]);
    let today: Vec<&str> = a["today"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["due"].as_str().unwrap())
        .collect();
    assert_eq!(today, ["2026-11-25 16:00"]);
    assert_eq!(a["overdue"].as_array().unwrap().len(), 1);
    let soon = env.json_as("lihua", &["followup", "list", "--due-within", "2d"]);
    assert_eq!(
        soon.as_array().unwrap().len(),
        4,
        "yesterday, today, 明天下午, 周五"
    );
}
