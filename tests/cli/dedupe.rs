//! Step 5: finding duplicates, merging them safely, undoing a merge.
use serde_json::Value;

use crate::common::TestEnv;

fn team() -> TestEnv {
    let env = TestEnv::new();
    env.user("zhao", "east", "manager");
    env.user("li", "east", "member");
    env.user("wang", "east", "member");
    env
}

fn add(env: &TestEnv, args: &[&str]) -> String {
    let mut a = vec!["add", "--pool"];
    a.extend(args);
    env.json(&a)["id"].to_string()
}

/// Every row of the tables a merge touches, as text, for exact before/after comparison.
fn snapshot(env: &TestEnv) -> Vec<String> {
    let c = env.sql("");
    let mut out = Vec::new();
    for (t, order) in [
        ("customers", "id"),
        ("customer_tags", "customer_id, tag"),
        ("interactions", "id"),
        ("followups", "id"),
        ("deals", "id"),
        ("ownership_events", "id"),
    ] {
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
    let mut env = team();
    let a = add(
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
    let b = add(
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
    assert_eq!(c["tags"], "vip,制造业");
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
    assert_eq!(
        env.query_i64("SELECT count(*) FROM audit_log WHERE action = 'merge'"),
        1
    );
    assert_eq!(
        env.query_i64("SELECT count(*) FROM pragma_foreign_key_check"),
        0
    );
}

#[test]
fn undo_restores_the_state_before_the_merge_exactly() {
    let mut env = team();
    let a = add(
        &env,
        &["--name", "李娜", "--phone", "13900000001", "--tags", "VIP"],
    );
    env.now = "2026-11-23T09:00:00Z".into();
    let b = add(
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
    let env = team();
    let a = add(
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
    let b = add(
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

#[test]
fn dedupe_reports_clusters_then_apply_merges_them_once() {
    let env = team();
    // Same person: phone formats, e-mail case, legal suffix dropped.
    add(
        &env,
        &[
            "--name",
            "陈杰",
            "--company",
            "成都天府软件有限公司",
            "--phone",
            "18600001111",
        ],
    );
    add(
        &env,
        &[
            "--name",
            "陈杰",
            "--company",
            "成都天府软件",
            "--phone",
            "+86 186-0000-1111",
        ],
    );
    add(
        &env,
        &[
            "--name",
            "陈杰",
            "--email",
            "CJ@tf.cn",
            "--phone",
            "186 0000 1111",
            "--company",
            "成都天府软件股份有限公司",
        ],
    );
    add(&env, &["--name", "陈杰", "--email", "cj@tf.cn"]);
    // Name and address only, one typo.
    add(
        &env,
        &[
            "--name",
            "周明",
            "--address",
            "浙江省杭州市西湖区文三路90号",
            "--city",
            "杭州",
        ],
    );
    add(
        &env,
        &[
            "--name",
            "周铭",
            "--address",
            "浙江省杭州市西湖区文三路90号",
            "--city",
            "杭州",
        ],
    );
    // Different people at one company.
    add(
        &env,
        &[
            "--name",
            "赵敏",
            "--company",
            "杭州云帆科技有限公司",
            "--phone",
            "13800000001",
        ],
    );
    add(
        &env,
        &[
            "--name",
            "钱磊",
            "--company",
            "杭州云帆科技有限公司",
            "--phone",
            "13800000002",
        ],
    );
    let v = env.json(&["dedupe"]);
    let clusters = v["clusters"].as_array().unwrap();
    let ids: Vec<Vec<i64>> = clusters
        .iter()
        .map(|c| {
            c["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_i64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(ids, [vec![1, 2, 3, 4], vec![5, 6]]);
    // Each cluster: its weakest link's probability and why, and every joining pair with
    // each field's log2 Bayes factor.
    assert!(clusters[1]["reasons"]
        .as_str()
        .unwrap()
        .contains("same address"));
    for c in clusters {
        assert!(c["probability"].as_f64().unwrap() >= 0.99, "{c}");
        let pairs = c["pairs"].as_array().unwrap();
        assert_eq!(pairs.len(), c["ids"].as_array().unwrap().len() - 1);
        for p in pairs {
            assert!(p["probability"].as_f64().unwrap() >= 0.99);
            let fields = p["fields"].as_array().unwrap();
            let total: f64 = fields
                .iter()
                .map(|f| f["weight"].as_f64().unwrap())
                .sum::<f64>()
                + p["prior_weight"].as_f64().unwrap();
            assert!(total > 6.0, "log2 odds of p ≥ 0.99: {p}");
        }
    }
    let first: Vec<&str> = clusters[0]["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["fields"].as_array().unwrap())
        .map(|f| f["level"].as_str().unwrap())
        .collect();
    assert!(
        first.contains(&"same phone") && first.contains(&"same email"),
        "{first:?}"
    );
    // Reporting changed nothing.
    assert_eq!(
        env.query_i64("SELECT count(*) FROM customers WHERE merged_into IS NOT NULL"),
        0
    );
    let applied = env.json(&["dedupe", "--apply"]);
    assert_eq!(applied["summary"]["merged"], 2);
    assert_eq!(
        env.query_i64("SELECT count(*) FROM customers WHERE merged_into IS NOT NULL"),
        4
    );
    assert_eq!(env.query_i64("SELECT count(*) FROM merges"), 2);
    let again = env.json(&["dedupe", "--apply"]);
    assert_eq!(again["summary"]["clusters"], 0);
    let table = env.ok(&["dedupe"]);
    assert!(table.is_empty(), "{table}");
    env.fails_as("admin", &["dedupe", "--interactive"], 2);
    env.fails_as("li", &["dedupe"], 4);
    env.fails_as("admin", &["dedupe", "--threshold", "1.5"], 6);
}

#[test]
fn a_killed_dedupe_apply_keeps_whole_merges_only() {
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "3000"]);
    for wait_ms in [100u64, 400, 1200] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pool"))
            .env_clear()
            .env("POOL_DB", env.db())
            .env("POOL_USER", "admin")
            .env("POOL_NOW", &env.now)
            .args(["dedupe", "--apply", "-q", "--format", "json"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        let _ = child.kill();
        let _ = child.wait();
        assert_merges_whole(&env);
    }
    // A run to the end merges what the killed runs left, on the same invariants.
    let _ = env.run_as("admin", &["dedupe", "--apply", "-q"]);
    assert!(
        env.query_i64("SELECT count(*) FROM merges") > 0,
        "the demo has ~10% near-duplicates"
    );
    assert_merges_whole(&env);
    env.ok(&["audit", "verify"]);
}

/// Every tombstone has its merge record, and no record points at a tombstone.
pub fn assert_merges_whole(env: &TestEnv) {
    let ok: String = env
        .sql("")
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let orphan_tombstones = env.query_i64(
        "SELECT count(*) FROM customers c WHERE c.merged_into IS NOT NULL AND NOT EXISTS
           (SELECT 1 FROM merges m, json_each(m.merged_ids) j WHERE j.value = c.id AND m.undone_at IS NULL)",
    );
    assert_eq!(orphan_tombstones, 0);
    for t in ["interactions", "followups", "deals"] {
        let n = env.query_i64(&format!(
            "SELECT count(*) FROM {t} x JOIN customers c ON c.id = x.customer_id WHERE c.merged_into IS NOT NULL"
        ));
        assert_eq!(n, 0, "{t} left on a merged tombstone");
    }
    let merges = env.query_i64("SELECT count(*) FROM merges WHERE undone_at IS NULL");
    let audited = env.query_i64("SELECT count(*) FROM audit_log WHERE action = 'merge'");
    assert_eq!(merges, audited);
}

/// The survivor keeps the full legal name and the complete address, whichever member
/// had them.
#[test]
fn apply_keeps_the_most_complete_value_of_each_field() {
    let mut env = team();
    let a = add(
        &env,
        &[
            "--name",
            "孙丽",
            "--company",
            "南京明远贸易",
            "--phone",
            "13500001234",
            "--address",
            "江苏省南京市鼓楼区中山路8",
        ],
    );
    env.now = "2026-11-23T09:00:00Z".into();
    add(
        &env,
        &[
            "--name",
            "孙丽",
            "--company",
            "南京明远贸易有限公司",
            "--phone",
            "135 0000 1234",
            "--email",
            "sunli@163.com",
            "--address",
            "江苏省南京市鼓楼区中山路8号",
        ],
    );
    let v = env.json(&["dedupe", "--apply"]);
    assert_eq!(v["summary"]["merged"], 1, "{v}");
    let c = env.json(&["show", &a]);
    assert_eq!(c["company"], "南京明远贸易有限公司");
    assert_eq!(c["address"], "江苏省南京市鼓楼区中山路8号");
    assert_eq!(c["email"], "sunli@163.com");
}
