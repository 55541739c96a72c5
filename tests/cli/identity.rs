//! Who acts: the OS account, `--as` for admins only, `POOL_NOW` never dating a change,
//! unknown and deactivated actors.
use rusqlite::Connection;

use crate::common::TestEnv;

/// Makes the OS account running the tests a plain member (`admin` stays the admin, but
/// nobody on this OS account can act as them any more): the hostile colleague's
/// position. Tests set up what they need before.
fn demote_os_account(env: &TestEnv) -> String {
    let os = TestEnv::os_account();
    env.ok(&["user", "set-role", &os, "member", "--team", "sales"]);
    os
}

fn with_lihua() -> TestEnv {
    let env = TestEnv::new();
    env.user("lihua", "sales", "member");
    env
}

fn audit_rows(env: &TestEnv, action: &str) -> Vec<(i64, String, Option<String>, Option<i64>)> {
    Connection::open(env.db())
        .unwrap()
        .prepare("SELECT at, actor, os_user, sim_at FROM audit_log WHERE action = ?1 ORDER BY seq")
        .unwrap()
        .query_map([action], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn without_user_or_logname_the_os_account_acts() {
    // Cron jobs and containers often have no USER: the uid still has a name.
    let env = TestEnv::new();
    let out = env.os_ok(&["user", "list", "--format", "json"]);
    assert!(out.contains(&TestEnv::os_account()));
}

#[test]
fn deactivated_actor_is_refused() {
    let env = TestEnv::new();
    env.user("lihua", "sales-east", "member");
    env.ok(&["user", "deactivate", "lihua"]);
    let err = env.fails_as("lihua", &["list"], 4);
    assert!(err.contains("deactivated"), "{err}");
    env.ok(&["user", "set-role", "lihua", "--active"]);
    env.ok_as("lihua", &["list"]);
}

#[test]
fn user_and_logname_do_not_make_anyone_someone_else() {
    let env = with_lihua();
    let id = env.pooled("c1", "13800000001").to_string();
    let os = demote_os_account(&env);
    let out = env
        .cmd_os()
        .env_remove("POOL_NOW")
        .env("USER", "lihua")
        .env("LOGNAME", "lihua")
        .env("USERNAME", "lihua")
        .args(["claim", &id, "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = Connection::open(env.db())
        .unwrap()
        .query_row(
            "SELECT u.login FROM customers c JOIN users u ON u.id = c.owner_id WHERE c.id = ?1",
            [&id],
            |r| r.get::<_, String>(0),
        )
        .unwrap();
    assert_eq!(c, os);
}

#[test]
fn only_an_admins_os_account_may_act_as_another_user() {
    let env = with_lihua();
    let id = env.pooled("c1", "13800000001").to_string();
    let os = demote_os_account(&env);
    for who in ["lihua", "admin"] {
        let out = env
            .cmd_os()
            .env("POOL_USER", who)
            .args(["claim", &id])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "--as {who}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("only a pool admin's OS account"), "{err}");
        let out = env
            .cmd_os()
            .args(["--as", who, "user", "list"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "--as {who}");
    }
    // Naming yourself is not acting as someone else.
    env.cmd_os().args(["--as", &os, "list"]).assert().success();
    let owner: Option<i64> = Connection::open(env.db())
        .unwrap()
        .query_row("SELECT owner_id FROM customers WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(owner, None);
}

#[test]
fn acting_as_someone_names_both_in_the_audit_log() {
    let env = TestEnv::new();
    let os = TestEnv::os_account();
    env.user("lihua", "sales", "member");
    let id = env.pooled("c1", "13800000001").to_string();
    env.ok_as("lihua", &["claim", &id]);
    let claims = audit_rows(&env, "claim");
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].1, "lihua");
    assert_eq!(claims[0].2.as_deref(), Some(os.as_str()));
    // The OS account acting as itself leaves os_user empty.
    env.os_ok(&["release", &id, "--reason", "x"]);
    let mine = env.cmd_os().args(["claim", &id]).output().unwrap();
    assert!(mine.status.success());
    let claims = audit_rows(&env, "claim");
    assert_eq!(claims[1].1, os);
    assert_eq!(claims[1].2, None);
    env.ok(&["audit", "verify"]);
}

#[test]
fn pool_now_must_be_a_valid_time() {
    let env = TestEnv::new();
    env.cmd()
        .env("POOL_NOW", "yesterday-ish")
        .arg("list")
        .assert()
        .code(6);
}

#[test]
fn pool_now_does_not_date_a_members_changes() {
    let env = with_lihua();
    env.ok(&[
        "rules",
        "set",
        "--daily-claims",
        "2",
        "--reclaim-cooldown-days",
        "7",
    ]);
    let ids: Vec<String> = (0..4)
        .map(|i| {
            env.pooled(&format!("c{i}"), &format!("1380000000{i}"))
                .to_string()
        })
        .collect();
    demote_os_account(&env);
    // Reads may look at another day.
    env.cmd_os()
        .env("POOL_NOW", "2026-12-30")
        .args(["list", "--in-pool"])
        .assert()
        .success();
    // A change may not: no cap, cooldown or recycle clock is beaten by a date.
    for id in &ids {
        let out = env
            .cmd_os()
            .env("POOL_NOW", "2026-12-30")
            .args(["claim", id])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "claim {id} under POOL_NOW");
        assert!(String::from_utf8_lossy(&out.stderr).contains("POOL_NOW"));
    }
    // Without it the daily cap holds as always: 2 of 4.
    let mut claimed = 0;
    for id in &ids {
        let out = env
            .cmd_os()
            .env_remove("POOL_NOW")
            .args(["claim", id])
            .output()
            .unwrap();
        if out.status.success() {
            claimed += 1;
        }
    }
    assert_eq!(claimed, 2);
}

#[test]
fn audit_rows_carry_the_real_time_and_the_simulated_one_beside_it() {
    let env = TestEnv::new();
    let id = env.pooled("c1", "13800000001").to_string();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 5;
    env.ok(&["edit", &id, "--city", "上海"]);
    let rows = audit_rows(&env, "customer_edit");
    let (at, _, _, sim_at) = rows.last().cloned().unwrap();
    assert!(at >= before, "audit time {at} is not the real time");
    // TestEnv sets POOL_NOW=2026-11-22T09:00:00Z.
    assert_eq!(sim_at, Some(1_795_338_000));
    // And an admin acting as a member with POOL_NOW gets the same: real `at`.
    env.user("lihua", "sales", "member");
    env.ok_as("lihua", &["claim", &id]);
    let (at2, _, _, _) = audit_rows(&env, "claim")[0].clone();
    assert!(at2 >= at);
}
