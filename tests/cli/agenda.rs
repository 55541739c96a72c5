//! `pool agenda`: my day, and my team's for a manager.
use crate::common::fixtures::{claimed, sales_teams};

#[test]
fn agenda_lists_my_day_and_the_managers_team() {
    sqlite_only!("POOL_NOW sets a member's day (on a server only an admin's)");
    let env = sales_teams();
    env.ok(&[
        "rules",
        "set",
        "--recycle-no-contact-days",
        "30",
        "--warn-days",
        "5",
    ]);
    let a = claimed(&env, "lihua", "13800000001");
    let b = claimed(&env, "lihua", "13800000002");
    env.ok_as(
        "lihua",
        &[
            "followup",
            "add",
            &a,
            "--due",
            "2026-11-20",
            "--past",
            "逾期",
        ],
    );
    env.ok_as("lihua", &["followup", "add", &a, "--due", "today", "今天"]);
    env.ok_as("lihua", &["followup", "add", &b, "--due", "+2d", "后天"]);
    env.ok_as("lihua", &["followup", "add", &b, "--due", "+30d", "下个月"]);
    // b was claimed 27 days ago: due back in 3 days, inside warn_days.
    env.exec(&format!(
        "UPDATE customers SET claimed_at = claimed_at - 27 * 86400 WHERE id = {b}"
    ));
    let v = env.json_as("lihua", &["agenda"]);
    assert_eq!(v["overdue"][0]["action"], "逾期");
    assert_eq!(v["today"][0]["action"], "今天");
    assert_eq!(v["next_7_days"].as_array().unwrap().len(), 1);
    assert_eq!(v["recycle_soon"].as_array().unwrap().len(), 1);
    assert_eq!(v["recycle_soon"][0]["id"].to_string(), b);
    assert_eq!(v["recycle_soon"][0]["days_left"], 3);
    assert!(v.get("team_overdue").is_none());
    let m = env.json_as("zhao", &["agenda"]);
    assert_eq!(m["team_overdue"][0]["assignee"], "lihua");
    let silent: Vec<String> = m["team_silent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].to_string())
        .collect();
    assert_eq!(silent, std::slice::from_ref(&b));
    let table = env.ok_as("lihua", &["agenda"]);
    assert!(
        table.contains("Overdue (1)") && table.contains("About to be recycled (1)"),
        "{table}"
    );
    assert!(env
        .ok_as("chen", &["agenda"])
        .contains("Nothing due for chen"));
}

#[test]
fn long_agendas_and_followup_lists_show_the_first_lines_and_say_how_many_more() {
    let env = sales_teams();
    let id = claimed(&env, "lihua", "13800000051");
    for i in 0..25 {
        env.ok_as(
            "lihua",
            &[
                "followup",
                "add",
                &id,
                "--due",
                "2026-11-20",
                "--past",
                &format!("事{i}"),
            ],
        );
    }
    let out = env
        .cmd_as("lihua")
        .args(["agenda", "--columns", "id,action"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Overdue (25)"), "{text}");
    assert_eq!(text.matches("┆ 事").count(), 20, "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("5 more line(s) not shown"), "{err}");
    let all = env.ok_as(
        "lihua",
        &["agenda", "--limit", "0", "--columns", "id,action"],
    );
    assert_eq!(all.matches("┆ 事").count(), 25);
    // JSON carries every line unless asked otherwise.
    let v = env.json_as("lihua", &["agenda"]);
    assert_eq!(v["overdue"].as_array().unwrap().len(), 25);
    let v = env.json_as("lihua", &["followup", "list", "--limit", "10"]);
    assert_eq!(v.as_array().unwrap().len(), 10);
    let out = env
        .cmd_as("lihua")
        .args(["followup", "list", "--limit", "10"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("first 10 of 25 shown"));
}
