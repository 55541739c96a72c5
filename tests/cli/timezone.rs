//! Local time: the configured zone decides "today", the daily claim cap's day, the
//! agenda, and how times print.
use crate::common::fixtures::sales_org;
use crate::common::TestEnv;

fn due_of(env: &TestEnv, who: &str, id: &str, when: &str) -> String {
    let v = env.json_as(who, &["followup", "add", id, "--due", when, "打电话"]);
    v["due"].as_str().unwrap().to_string()
}

#[test]
fn at_0730_in_hangzhou_today_is_the_local_date() {
    sqlite_only!("POOL_NOW sets a member's day (on a server only an admin's)");
    let mut env = sales_org();
    let id = env.pooled("客户", "13800000021").to_string();
    env.ok_as("lihua", &["claim", &id]);
    // 23:30 UTC on Dec 1 is 07:30 on Dec 2 in Asia/Shanghai.
    env.now = "2026-12-01T23:30:00Z".into();
    assert_eq!(
        due_of(&env, "lihua", &id, "today"),
        "2026-12-01",
        "system zone: UTC"
    );
    env.ok(&["settings", "set", "timezone", "Asia/Shanghai"]);
    assert_eq!(due_of(&env, "lihua", &id, "today"), "2026-12-02");
    assert_eq!(due_of(&env, "lihua", &id, "tomorrow"), "2026-12-03");
    // Times print in the zone, JSON with the offset.
    let v = env.json_as("lihua", &["log", &id, "call", "聊了报价"]);
    assert_eq!(v["at"], "2026-12-02T07:30:00+08:00");
    let shown = env.json(&["settings", "show"]);
    assert_eq!(shown[0]["effective"], "Asia/Shanghai");
    // A team in another zone follows its own.
    env.ok(&[
        "settings",
        "set",
        "timezone",
        "Europe/Berlin",
        "--team",
        "sales-north",
    ]);
    let w = env.pooled("柏林客户", "13800000022").to_string();
    env.ok_as("wang", &["claim", &w]);
    assert_eq!(due_of(&env, "wang", &w, "today"), "2026-12-02");
    env.now = "2026-12-01T22:30:00Z".into(); // 23:30 in Berlin, 06:30 next day in Hangzhou
    assert_eq!(due_of(&env, "wang", &w, "today"), "2026-12-01");
    assert_eq!(due_of(&env, "lihua", &id, "today"), "2026-12-02");
    assert_eq!(env.audit_count("settings_set"), 2);
}

#[test]
fn the_daily_cap_resets_at_local_midnight() {
    sqlite_only!("POOL_NOW dates a member's claims (on a server only an admin's)");
    let mut env = sales_org();
    env.ok(&["settings", "set", "timezone", "Asia/Shanghai"]);
    env.ok(&["rules", "set", "--daily-claims", "1"]);
    let a = env.pooled("甲", "13800000023").to_string();
    let b = env.pooled("乙", "13800000024").to_string();
    let c = env.pooled("丙", "13800000025").to_string();
    env.now = "2026-12-01T15:30:00Z".into(); // 23:30 local, Dec 1
    env.ok_as("lihua", &["claim", &a]);
    env.fails_as("lihua", &["claim", &b], 5);
    env.now = "2026-12-01T16:30:00Z".into(); // 00:30 local, Dec 2 (still Dec 1 in UTC)
    env.ok_as("lihua", &["claim", &b]);
    env.fails_as("lihua", &["claim", &c], 5);
}

#[test]
fn who_sets_the_zone_and_what_it_may_be() {
    let env = sales_org();
    let err = env.fails_as("admin", &["settings", "set", "timezone", "Beijing"], 6);
    assert!(err.contains("Asia/Shanghai"), "{err}");
    env.fails_as("zhao", &["settings", "set", "timezone", "Asia/Shanghai"], 4);
    env.fails_as("admin", &["settings", "set", "colour", "blue"], 6);
    env.fails_as(
        "admin",
        &["settings", "set", "timezone", "UTC", "--team", "nobody"],
        3,
    );
    // TZ of the process applies when nothing is configured. A server always has a zone:
    // `pool init --server` stores the initializing machine's, so that every client and
    // the server's own daily cap count the same days; a client's TZ changes nothing there.
    let out = env
        .cmd_as("lihua")
        .env("TZ", "Asia/Tokyo")
        .args(["settings", "show", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    match &env.pg {
        None => assert_eq!(v[0]["effective"], "Asia/Tokyo"),
        Some(db) => {
            let stored: String = db
                .client()
                .query_one("SELECT value FROM settings WHERE key = 'timezone'", &[])
                .expect("init stored a zone")
                .get(0);
            assert_ne!(stored, "Asia/Tokyo");
            assert_eq!(v[0]["value"], stored.as_str());
            assert_eq!(v[0]["effective"], stored.as_str());
        }
    }
}

#[test]
fn the_key_lookup_quota_is_a_database_wide_number_set_by_admins() {
    let env = sales_org();
    let quota = |env: &TestEnv| {
        let shown = env.json(&["settings", "show"]);
        shown
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["setting"] == "key_lookups_per_day")
            .map(|s| s["effective"].clone())
            .unwrap()
    };
    assert_eq!(quota(&env), "20000");
    let audited = env.audit_count("settings_set");
    env.ok(&["settings", "set", "key_lookups_per_day", "5000"]);
    assert_eq!(quota(&env), "5000");
    for bad in [&["很多"][..], &["1.5"], &["9", "--team", "sales-north"]] {
        let mut args = vec!["settings", "set", "key_lookups_per_day"];
        args.extend(bad);
        env.fails_as("admin", &args, 6);
    }
    env.fails_as("lihua", &["settings", "set", "key_lookups_per_day", "9"], 4);
    assert_eq!(quota(&env), "5000");
    assert_eq!(env.audit_count("settings_set"), audited + 1);
}
