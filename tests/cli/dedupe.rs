//! `pool dedupe`: clusters, `--apply`, kills mid-way.
use customer_pool::domain::synthetic::Rng;

use crate::common::fixtures::{add_pooled, east_team};
use crate::common::kill::{intact, kill_after, pool, ITERATIONS};
use crate::common::TestEnv;

/// Every tombstone has its merge record, and no record points at a tombstone.
pub fn assert_merges_whole(env: &TestEnv) {
    // The file's own consistency; a server's is PostgreSQL's.
    if !env.is_pg() {
        assert_eq!(env.integrity_check(), "ok");
    }
    let merged_ids = if env.is_pg() {
        "jsonb_array_elements_text(m.merged_ids::jsonb) j(value) WHERE j.value::bigint = c.id"
    } else {
        "json_each(m.merged_ids) j WHERE j.value = c.id"
    };
    let orphan_tombstones = env.count(&format!(
        "customers c WHERE c.merged_into IS NOT NULL AND NOT EXISTS
           (SELECT 1 FROM merges m, {merged_ids} AND m.undone_at IS NULL)"
    ));
    assert_eq!(orphan_tombstones, 0);
    for t in ["interactions", "followups", "deals"] {
        let n = env.count(&format!(
            "{t} x JOIN customers c ON c.id = x.customer_id WHERE c.merged_into IS NOT NULL"
        ));
        assert_eq!(n, 0, "{t} left on a merged tombstone");
    }
    let merges = env.count("merges WHERE undone_at IS NULL");
    let audited = env.audit_count("merge");
    assert_eq!(merges, audited);
}

#[test]
fn dedupe_reports_clusters_then_apply_merges_them_once() {
    let env = east_team();
    // Same person: phone formats, e-mail case, legal suffix dropped.
    add_pooled(
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
    add_pooled(
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
    add_pooled(
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
    add_pooled(&env, &["--name", "陈杰", "--email", "cj@tf.cn"]);
    // Name and address only, one typo.
    add_pooled(
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
    add_pooled(
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
    add_pooled(
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
    add_pooled(
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
    assert_eq!(env.count("customers WHERE merged_into IS NOT NULL"), 0);
    let applied = env.json(&["dedupe", "--apply"]);
    assert_eq!(applied["summary"]["merged"], 2);
    assert_eq!(env.count("customers WHERE merged_into IS NOT NULL"), 4);
    assert_eq!(env.count("merges"), 2);
    let again = env.json(&["dedupe", "--apply"]);
    assert_eq!(again["summary"]["clusters"], 0);
    let table = env.ok(&["dedupe"]);
    assert!(table.is_empty(), "{table}");
    env.fails_as("admin", &["dedupe", "--interactive"], 2);
    env.fails_as("li", &["dedupe"], 4);
    env.fails_as("admin", &["dedupe", "--threshold", "1.5"], 6);
}

/// The survivor keeps the full legal name and the complete address, whichever member
/// had them.
/// A report of more clusters than one rendering batch (256) labels every cluster with
/// its own members' names, in its ids' order, in JSON and in JSON lines alike.
#[test]
fn a_long_report_labels_each_cluster_with_its_own_members() {
    let env = TestEnv::new();
    let letters = |k: usize| -> String {
        let (a, b) = (k / 26, k % 26);
        format!("{}{}", (b'a' + a as u8) as char, (b'a' + b as u8) as char)
    };
    let mut csv = String::from("name,company,phone,email\n");
    for k in 0..300 {
        let name = format!("Quill {}ston", letters(k));
        let row = format!(
            "{name},Vane {} Works,1390000{k:04},q{k}@vane.test\n",
            letters(k)
        );
        csv.push_str(&row);
        csv.push_str(&row);
    }
    let file = env.dir.path().join("pairs.csv");
    std::fs::write(&file, csv).unwrap();
    let file = file.display().to_string();
    crate::common::fixtures::import(&env, &[&file, "--on-duplicate", "create"]);
    let listed = env.json(&["list", "--limit", "1000"]);
    let label = |id: i64| -> String {
        let c = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no customer {id}"));
        format!(
            "{} / {}",
            c["name"].as_str().unwrap(),
            c["company"].as_str().unwrap()
        )
    };
    let json = env.json(&["dedupe", "--limit", "0"]);
    let lines = env.ok(&["--format", "jsonl", "dedupe", "--limit", "0"]);
    let jsonl: serde_json::Value = serde_json::from_str(lines.trim()).unwrap();
    for report in [&json, &jsonl] {
        let clusters = report["clusters"].as_array().unwrap();
        assert_eq!(clusters.len(), 300);
        for c in clusters {
            let ids: Vec<i64> = c["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_i64().unwrap())
                .collect();
            let want: Vec<String> = ids.iter().map(|i| label(*i)).collect();
            assert_eq!(c["names"], want.join(" | "), "{c}");
            assert_eq!(c["pairs"].as_array().unwrap().len(), ids.len() - 1);
        }
    }
}

#[test]
fn apply_keeps_the_most_complete_value_of_each_field() {
    let mut env = east_team();
    let a = add_pooled(
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
    add_pooled(
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

#[test]
fn a_killed_dedupe_apply_keeps_whole_merges_only() {
    let env = TestEnv::new();
    env.ok(&["demo", "--customers", "3000"]);
    for wait_ms in [100u64, 400, 1200] {
        let mut child = env
            .spawn_cmd_as("admin")
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
    assert!(env.count("merges") > 0, "the demo has ~10% near-duplicates");
    assert_merges_whole(&env);
    env.ok(&["audit", "verify"]);
}

#[test]
fn dedupe_apply_killed_50_times_keeps_whole_merges() {
    let mut rng = Rng::new(2);
    let mut env = TestEnv::new();
    for i in 0..ITERATIONS {
        if i % 10 == 0 {
            env = TestEnv::new();
            env.ok(&["demo", "--customers", "1500", "--seed", &i.to_string()]);
        }
        kill_after(
            pool(
                &env,
                "admin",
                &["dedupe", "--apply", "-q", "--format", "json"],
            ),
            rng.below(400),
        );
        crate::dedupe::assert_merges_whole(&env);
        intact(&env);
    }
}
