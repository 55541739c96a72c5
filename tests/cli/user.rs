//! `pool user` and `pool team`: admins manage people; deactivation hands customers on.
use serde_json::Value;

use crate::common::fixtures::sales_org;
use crate::common::TestEnv;

#[test]
fn teams_and_users_are_managed_by_admins_only() {
    sqlite_only!("the OS account is a second admin of a file (on a server admin is the last one)");
    let env = TestEnv::new();
    env.ok(&["team", "add", "sales-east"]);
    env.fails_as("admin", &["team", "add", "sales-east"], 5);
    env.user("lihua", "sales-east", "member");
    env.user("zhao", "sales-east", "manager");
    env.fails_as("lihua", &["team", "add", "x"], 4);
    env.fails_as("zhao", &["user", "add", "x"], 4);
    env.fails_as("admin", &["user", "add", "bad name"], 6);
    env.ok(&["user", "set-role", "lihua", "manager"]);
    let users = env.json(&["user", "list", "--team", "sales-east"]);
    let roles: Vec<(&str, &str)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["login"].as_str().unwrap(), u["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, [("lihua", "manager"), ("zhao", "manager")]);
    let teams = env.json(&["team", "list"]);
    assert_eq!(teams.as_array().unwrap().len(), 2);
    // The last admin cannot demote themselves (`admin` steps down first; the OS
    // account, the first admin, is then the last).
    env.ok(&["user", "set-role", "admin", "member"]);
    let os = TestEnv::os_account();
    let out = env
        .cmd_os()
        .args(["user", "set-role", &os, "member"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
}

#[test]
fn logins_are_plain_names_unique_without_case() {
    sqlite_only!("a server's logins are role names: lower-case only");
    let env = TestEnv::new();
    env.user("lihua", "sales", "member");
    let err = env.fails_as(
        "admin",
        &[
            "user", "add", "LiHua", "--team", "sales", "--role", "member",
        ],
        5,
    );
    assert!(err.contains("already exists"), "{err}");
    for bad in ["=cmd", "li hua", "+86", "@me", "a=b", ""] {
        let err = env.fails_as(
            "admin",
            &["user", "add", bad, "--team", "sales", "--role", "member"],
            6,
        );
        assert!(err.contains("not a plain name"), "{bad:?}: {err}");
    }
}

#[test]
fn deactivating_a_user_returns_or_transfers_their_customers() {
    sqlite_only!("a deactivated user on a server cannot log in at all (pg_server)");
    let env = sales_org();
    let a = env.pooled("甲", "13800000001").to_string();
    let b = env.pooled("乙", "13800000002").to_string();
    env.ok_as("lihua", &["claim", &a]);
    env.ok_as("chen", &["claim", &b]);
    let v = env.json(&["user", "deactivate", "lihua"]);
    assert_eq!(v["customers_returned"], 1);
    assert_eq!(env.json(&["show", &a])["owner"], Value::Null);
    env.fails_as("lihua", &["list"], 4);
    let v = env.json(&["user", "deactivate", "chen", "--transfer-to", "zhao"]);
    assert_eq!(v["customers_transferred"], 1);
    assert_eq!(env.json(&["show", &b])["owner"], "zhao");
}

/// Refused user and team changes.
#[test]
fn snap_user_refusals() {
    sqlite_only!("a server's logins are role names: lower-case only");
    let env = TestEnv::new();
    env.user("lihua", "sales", "member");
    insta::assert_snapshot!(
        "login_taken",
        env.snap(&["user", "add", "LiHua", "--team", "sales", "--role", "member"])
    );
    insta::assert_snapshot!(
        "login_not_plain",
        env.snap(&["user", "add", "li hua", "--team", "sales", "--role", "member"])
    );
    insta::assert_snapshot!("team_exists", env.snap(&["team", "add", "sales"]));
    insta::assert_snapshot!("unknown_user", env.snap(&["user", "deactivate", "nobody"]));
}
