//! `pool merge` and `pool dedupe undo`: merging by hand, safely, and back.
use serde_json::Value;

use crate::common::fixtures::{add_pooled, east_team};
use crate::common::TestEnv;

const TABLES: [(&str, &str); 6] = [
    ("customers", "id"),
    ("customer_tags", "customer_id, tag"),
    ("interactions", "id"),
    ("followups", "id"),
    ("deals", "id"),
    ("ownership_events", "id"),
];

/// Every row of the tables a merge touches, as text, for exact before/after comparison.
fn snapshot(env: &TestEnv) -> Vec<String> {
    if let Some(db) = &env.pg {
        let mut c = db.client();
        let mut out = Vec::new();
        for (t, order) in TABLES {
            for r in c
                .query(
                    &format!("SELECT row_to_json(x)::text FROM {t} x ORDER BY {order}"),
                    &[],
                )
                .unwrap()
            {
                out.push(format!("{t}: {}", r.get::<_, String>(0)));
            }
        }
        return out;
    }
    let c = env.sql("");
    let mut out = Vec::new();
    for (t, order) in TABLES {
        let mut s = c
            .prepare(&format!("SELECT * FROM {t} ORDER BY {order}"))
            .unwrap();
        let n = s.column_count();
        let rows = s
            .query_map([], |r| {
                let cells: Vec<String> = (0..n)
                    .map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap()))
                    .collect();
                Ok(format!("{t}: {}", cells.join("|")))
            })
            .unwrap();
        out.extend(rows.map(|r| r.unwrap()));
    }
    out
}

#[test]
fn merge_by_hand_keeps_the_oldest_and_moves_everything() {
    let mut env = east_team();
    let a = add_pooled(
        &env,
        &[
            "--name",
            "张伟",
            "--company",
            "杭州云帆科技有限公司",
            "--phone",
            "13800138000",
            "--tags",
            "VIP",
        ],
    );
    env.now = "2026-11-23T09:00:00Z".into();
    let b = add_pooled(
        &env,
        &[
            "--name",
            "张伟",
            "--company",
            "杭州云帆科技",
            "--email",
            "zw@yf.cn",
            "--city",
            "杭州",
            "--tags",
            "制造业",
        ],
    );
    env.ok(&["assign", &b, "--to", "li"]);
    env.ok_as(
        "li",
        &[
            "log",
            &b,
            "call",
            "聊了报价",
            "--next",
            "发合同",
            "--due",
            "+3d",
        ],
    );
    env.ok_as("li", &["deal", "add", &b, "--amount", "500"]);
    let v = env.json_as("zhao", &["merge", &a, &b]);
    assert_eq!(v["survivor"].to_string(), a);
    let c = env.json(&["show", &a]);
    assert_eq!(c["email"], "zw@yf.cn");
    assert_eq!(c["phone"], "13800138000");
    assert_eq!(c["city"], "杭州");
    assert_eq!(c["tags"], "VIP,制造业");
    assert_eq!(c["owner"], "li", "owned beats pooled");
    assert_eq!(c["stage"], "customer");
    let what: Vec<&str> = c["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    assert!(
        what.contains(&"call") && what.contains(&"deal") && what.contains(&"followup open"),
        "{what:?}"
    );
    let err = env.fails_as("admin", &["show", &b], 3);
    assert!(err.contains(&format!("merged into {a}")), "{err}");
    env.fails_as("li", &["merge", &a, &b], 4);
    assert_eq!(env.audit_count("merge"), 1);
    // PostgreSQL checks foreign keys on every write; SQLite is asked.
    if !env.is_pg() {
        assert_eq!(env.count("pragma_foreign_key_check"), 0);
    }
}

#[test]
fn undo_restores_the_state_before_the_merge_exactly() {
    let mut env = east_team();
    let a = add_pooled(
        &env,
        &["--name", "李娜", "--phone", "13900000001", "--tags", "VIP"],
    );
    env.now = "2026-11-23T09:00:00Z".into();
    let b = add_pooled(
        &env,
        &[
            "--name",
            "李娜",
            "--email",
            "ln@163.com",
            "--tags",
            "零售",
            "--city",
            "上海",
        ],
    );
    env.ok(&["assign", &b, "--to", "wang"]);
    env.ok_as(
        "wang",
        &[
            "log",
            &b,
            "visit",
            "上门拜访",
            "--next",
            "回访",
            "--due",
            "+2d",
        ],
    );
    let before = snapshot(&env);
    let m = env.json(&["merge", &a, &b]);
    assert_ne!(snapshot(&env), before);
    let id = m["merge_id"].to_string();
    env.ok(&["dedupe", "undo", &id]);
    assert_eq!(snapshot(&env), before);
    env.fails_as("admin", &["dedupe", "undo", &id], 5);
    env.fails_as("admin", &["dedupe", "undo", "999"], 3);
    env.ok(&["audit", "verify"]);
}

#[test]
fn two_different_owners_need_a_manager() {
    let env = east_team();
    let a = add_pooled(
        &env,
        &[
            "--name",
            "王芳",
            "--phone",
            "13700000001",
            "--email",
            "wf@163.com",
        ],
    );
    let b = add_pooled(
        &env,
        &[
            "--name",
            "王芳",
            "--phone",
            "+86 137 0000 0001",
            "--email",
            "WF@163.com",
        ],
    );
    env.ok(&["assign", &a, "--to", "li"]);
    env.ok(&["assign", &b, "--to", "wang"]);
    let before = snapshot(&env);
    let err = env.fails_as("zhao", &["merge", &a, &b], 5);
    assert!(err.contains("different owners (li, wang)"), "{err}");
    assert_eq!(snapshot(&env), before);
    // A nightly run that found such a cluster did its job: exit 0, the cluster listed as
    // skipped with the reason, for a manager (cron must not report a failure every night).
    let out = env.run_as("zhao", &["dedupe", "--apply", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("need a manager"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["skipped_need_manager"], 1);
    assert_eq!(v["merged"].as_array().unwrap().len(), 0);
    let skipped = v["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1);
    assert_eq!(
        skipped[0]["ids"],
        serde_json::json!([a.parse::<i64>().unwrap(), b.parse::<i64>().unwrap()])
    );
    assert!(skipped[0]["reason"]
        .as_str()
        .unwrap()
        .contains("different owners (li, wang)"));
    assert!(skipped[0]["probability"].as_f64().unwrap() >= 0.99);
    assert_eq!(snapshot(&env), before);
}
