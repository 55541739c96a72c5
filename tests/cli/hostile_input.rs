//! Step 12, "bad input that must get a clear error and lose nothing" (items 9–14) and
//! audit payloads (item 16): each test feeds the real binary what a careless or hostile
//! user would, and checks for a clear error with the right exit code and no lost data.
use std::io::Write;
use std::process::Output;

use serde_json::Value;

use crate::common::TestEnv;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A customer owned by the admin; returns its id.
fn owned(env: &TestEnv, name: &str, phone: &str) -> String {
    let v = env.json(&["add", "--name", name, "--phone", phone]);
    v["id"].as_i64().expect("id").to_string()
}

// ------------------------------------------------------------------ item 14

#[test]
fn busy_timeout_out_of_range_or_malformed_is_a_clear_error() {
    let env = TestEnv::new();
    for bad in ["2147484", "abc", "-1", "1.5", ""] {
        let out = env
            .cmd()
            .env("POOL_BUSY_TIMEOUT", bad)
            .args(["list"])
            .output()
            .expect("run");
        assert_eq!(
            out.status.code(),
            Some(6),
            "POOL_BUSY_TIMEOUT={bad:?}: {}",
            stderr(&out)
        );
        let err = stderr(&out);
        assert!(err.contains("invalid POOL_BUSY_TIMEOUT"), "{err}");
        assert!(err.contains("hint: set it to whole seconds"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = env
        .cmd()
        .env("POOL_BUSY_TIMEOUT", "5")
        .args(["list"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_malformed_expected_head_is_invalid_input_not_a_broken_chain() {
    let env = TestEnv::new();
    for bad in ["zzz", "3:zzz", "x:0000", &"g".repeat(64)] {
        let err = env.fails_as("admin", &["audit", "verify", "--expect", bad], 6);
        assert!(err.contains("invalid --expect"), "{err}");
        assert!(!err.contains("truncated or rewritten"), "{err}");
    }
    // A well-formed head that is not in the chain is still an integrity failure.
    let absent = "ab".repeat(32);
    env.fails_as("admin", &["audit", "verify", "--expect", &absent], 8);
}

#[test]
fn a_malformed_database_is_an_integrity_failure_everywhere() {
    let env = TestEnv::new();
    for i in 0..200 {
        env.pooled(&format!("客户{i}"), &format!("139{:08}", i));
    }
    // Garbage over every page but the first (the schema stays readable).
    let db = env.db();
    let len = std::fs::metadata(&db).expect("db").len() as usize;
    assert!(len > 8192, "{len}");
    let mut bytes = std::fs::read(&db).expect("read db");
    for b in &mut bytes[4096..] {
        *b = 0xA5;
    }
    std::fs::write(&db, &bytes).expect("write db");
    for args in [
        vec!["list"],
        vec!["show", "150"],
        vec!["export", "--format", "jsonl"],
    ] {
        let err = env.fails_as("admin", &args, 8);
        assert!(err.contains("integrity failure"), "{args:?}: {err}");
        assert!(err.contains("hint: run pool doctor"), "{args:?}: {err}");
    }
}

#[test]
fn absurd_rule_values_are_refused_with_the_allowed_range() {
    let env = TestEnv::new();
    let before = env.json(&["rules", "show"]);
    for (flag, value) in [
        ("--fresh-hold-hours", "4294967295"),
        ("--reclaim-cooldown-days", "4294967295"),
        ("--recycle-no-contact-days", "99999"),
        ("--warn-days", "100000"),
        ("--max-owned", "-3"),
    ] {
        let arg = format!("{flag}={value}");
        let err = env.fails_as("admin", &["rules", "set", &arg], 6);
        assert!(err.contains(&format!("invalid {flag}")), "{err}");
        assert!(err.contains("hint: use 0 to"), "{err}");
    }
    assert_eq!(env.json(&["rules", "show"]), before);
    env.ok(&[
        "rules",
        "set",
        "--fresh-hold-hours",
        "48",
        "--reclaim-cooldown-days",
        "30",
    ]);
}

#[test]
fn absurd_dates_and_a_ten_digit_mobile_are_refused() {
    let env = TestEnv::new();
    let id = owned(&env, "张三", "13800138000");
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
    assert_eq!(env.query_i64("SELECT count(*) FROM followups"), 0);
    assert_eq!(env.query_i64("SELECT count(*) FROM deals"), 0);
    assert_eq!(env.query_i64("SELECT count(*) FROM interactions"), 0);
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
