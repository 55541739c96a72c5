//! Who acts: the OS account, `--as` for admins only, `POOL_NOW` never dating a change,
//! unknown and deactivated actors.
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

#[test]
fn without_user_or_logname_the_os_account_acts() {
    sqlite_only!("OS-account identity and --as (a server's actor is the login role)");
    // Cron jobs and containers often have no USER: the uid still has a name.
    let env = TestEnv::new();
    let out = env.os_ok(&["user", "list", "--format", "json"]);
    assert!(out.contains(&TestEnv::os_account()));
}

#[test]
fn deactivated_actor_is_refused() {
    sqlite_only!("a deactivated user on a server cannot log in at all (pg_server)");
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
    sqlite_only!("OS-account identity and --as (a server's actor is the login role)");
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
    let c = env.owner_of(id.parse().expect("id")).expect("an owner");
    assert_eq!(c, os);
}

#[test]
fn only_an_admins_os_account_may_act_as_another_user() {
    sqlite_only!("OS-account identity and --as (a server's actor is the login role)");
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
    let owner = env.owner_of(id.parse().expect("id"));
    assert_eq!(owner, None);
}

#[test]
fn acting_as_someone_names_both_in_the_audit_log() {
    sqlite_only!("OS-account identity and --as (a server's actor is the login role)");
    let env = TestEnv::new();
    let os = TestEnv::os_account();
    env.user("lihua", "sales", "member");
    let id = env.pooled("c1", "13800000001").to_string();
    env.ok_as("lihua", &["claim", &id]);
    let claims = env.audit_rows("claim");
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].actor, "lihua");
    assert_eq!(claims[0].os_user.as_deref(), Some(os.as_str()));
    // The OS account acting as itself leaves os_user empty.
    env.os_ok(&["release", &id, "--reason", "x"]);
    let mine = env.cmd_os().args(["claim", &id]).output().unwrap();
    assert!(mine.status.success());
    let claims = env.audit_rows("claim");
    assert_eq!(claims[1].actor, os);
    assert_eq!(claims[1].os_user, None);
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
    sqlite_only!("OS-account identity and POOL_NOW for a non-admin");
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
    sqlite_only!("OS-account identity and POOL_NOW for a non-admin");
    let env = TestEnv::new();
    let id = env.pooled("c1", "13800000001").to_string();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 5;
    env.ok(&["edit", &id, "--city", "上海"]);
    let rows = env.audit_rows("customer_edit");
    let last = rows.last().cloned().unwrap();
    let (at, sim_at) = (last.at, last.sim_at);
    assert!(at >= before, "audit time {at} is not the real time");
    // TestEnv sets POOL_NOW=2026-11-22T09:00:00Z.
    assert_eq!(sim_at, Some(1_795_338_000));
    // And an admin acting as a member with POOL_NOW gets the same: real `at`.
    env.user("lihua", "sales", "member");
    env.ok_as("lihua", &["claim", &id]);
    let at2 = env.audit_rows("claim")[0].at;
    assert!(at2 >= at);
}

/// Who may not act, with the exit code and hint each gets.
#[test]
fn snap_actor_refusals() {
    sqlite_only!("OS-account identity and --as (a server's actor is the login role)");
    let env = with_lihua();
    let id = env.pooled("c1", "13800000001").to_string();
    insta::assert_snapshot!("unknown_actor", env.snap_as("mallory", &["list"]));
    env.user("gone", "sales", "member");
    env.ok(&["user", "deactivate", "gone"]);
    insta::assert_snapshot!("inactive_actor", env.snap_as("gone", &["list"]));
    let out = env
        .cmd()
        .env("POOL_NOW", "yesterday-ish")
        .arg("list")
        .output()
        .expect("run pool");
    insta::assert_snapshot!("invalid_pool_now", env.snap_output(&out));
    demote_os_account(&env);
    let out = env
        .cmd_os()
        .env("POOL_NOW", "2026-12-30")
        .args(["claim", &id])
        .output()
        .expect("run pool");
    insta::assert_snapshot!("pool_now_on_a_change", env.snap_output(&out));
    let out = env
        .cmd_os()
        .args(["--as", "lihua", "list"])
        .output()
        .expect("run pool");
    insta::assert_snapshot!("as_without_admin", env.snap_output(&out));
}
