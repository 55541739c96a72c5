//! Step 4: importing real-world leads files and exporting them again.
use std::path::PathBuf;

use serde_json::Value;

use crate::common::TestEnv;

fn data(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .display()
        .to_string()
}

fn import(env: &TestEnv, args: &[&str]) -> Value {
    let mut a = vec!["import"];
    a.extend(args);
    a.extend(["--rejects", "rejects.csv", "--force"]);
    env.json(&a)
}

fn names(env: &TestEnv) -> Vec<String> {
    env.json(&["list", "--limit", "0"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn utf8_bom_gbk_and_utf16_give_the_same_customers() {
    let mut seen = Vec::new();
    for f in ["utf8_bom.csv", "gbk_excel.csv", "utf16le.csv", "crlf.csv"] {
        let env = TestEnv::new();
        let s = import(&env, &[&data(f)]);
        assert_eq!(s["rows"], 3, "{f}: {s}");
        assert_eq!(s["imported"], 3, "{f}: {s}");
        assert_eq!(s["rejected"], 0, "{f}: {s}");
        let all = env.json(&["export", "--unmasked"]);
        let c = &all[0];
        assert_eq!(c["name"], "张伟", "{f}");
        assert_eq!(c["company"], "杭州云帆科技有限公司");
        assert_eq!(c["address"], "浙江省杭州市西湖区文三路90号");
        assert_eq!(c["tags"], "vip,制造业");
        assert_eq!(c["custom.职位"], "采购经理");
        assert_eq!(all[2]["email"], "wangfang@qq.com");
        seen.push((f, s["encoding"].as_str().unwrap().to_string(), all));
    }
    assert_eq!(seen[0].1, "utf-8");
    assert_eq!(seen[1].1, "gb18030");
    assert_eq!(seen[2].1, "utf-16le");
    let strip = |v: &Value| -> Vec<Value> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c.as_object_mut().unwrap().remove("created");
                c
            })
            .collect()
    };
    for (f, _, all) in &seen[1..] {
        assert_eq!(strip(all), strip(&seen[0].2), "{f}");
    }
}

#[test]
fn gb18030_four_byte_characters_survive() {
    let env = TestEnv::new();
    let s = import(&env, &["--encoding", "gb18030", &data("gb18030_4byte.csv")]);
    assert_eq!(s["imported"], 1, "{s}");
    assert_eq!(names(&env), ["𠮷野家"]);
    // Auto-detection finds it too.
    let env = TestEnv::new();
    import(&env, &[&data("gb18030_4byte.csv")]);
    assert_eq!(names(&env), ["𠮷野家"]);
}

#[test]
fn ragged_and_oversize_rows_are_rejected_and_the_rest_imported() {
    let env = TestEnv::new();
    let s = import(&env, &[&data("ragged.csv")]);
    assert_eq!(s["rows"], 4);
    assert_eq!(s["imported"], 2);
    assert_eq!(s["rejected"], 2);
    assert_eq!(s["rejected_by_reason"]["ragged row"], 2);
    let rejects = std::fs::read_to_string(env.dir.path().join("rejects.csv")).unwrap();
    let mut lines = rejects.lines();
    assert_eq!(
        lines.next().unwrap(),
        "line,reason,姓名,公司,手机,邮箱,城市,地址,来源,标签,备注,职位"
    );
    assert!(lines
        .next()
        .unwrap()
        .starts_with("3,\"2 cells, the header has 10\",赵六,只有两列"));

    let env = TestEnv::new();
    let s = import(&env, &[&data("oversize.csv")]);
    assert_eq!(s["imported"], 2);
    assert_eq!(s["rejected_by_reason"]["oversize field"], 1);
}

#[test]
fn quoted_newlines_delimiters_and_doubled_quotes() {
    let env = TestEnv::new();
    let s = import(&env, &[&data("quoted_newlines.csv")]);
    assert_eq!(s["imported"], 2, "{s}");
    let all = env.json(&["export", "--unmasked"]);
    assert_eq!(all[0]["name"], "Emily \"Em\" Carter");
    assert_eq!(all[0]["company"], "Northwind, Inc.");
    assert_eq!(all[0]["notes"], "line one\nline two, with comma");
    assert_eq!(all[1]["company"], "杭州\"一号\"科技");
}

#[test]
fn invalid_bytes_are_an_error_with_the_line_and_nothing_is_imported() {
    let env = TestEnv::new();
    let err = env.fails_as("admin", &["import", &data("invalid_bytes.csv")], 6);
    assert!(err.contains("invalid utf-8 bytes on line 3"), "{err}");
    assert_eq!(env.query_i64("SELECT count(*) FROM customers"), 0);
}

#[test]
fn empty_and_header_only_files() {
    let env = TestEnv::new();
    let err = env.fails_as("admin", &["import", &data("empty.csv")], 6);
    assert!(err.contains("is empty"), "{err}");
    let s = import(&env, &[&data("header_only.csv")]);
    assert_eq!(s["rows"], 0);
    assert_eq!(s["imported"], 0);
}

#[test]
fn chinese_only_headers_and_map_and_custom_columns() {
    let env = TestEnv::new();
    let s = import(&env, &[&data("chinese_only_headers.csv")]);
    assert_eq!(s["imported"], 1);
    let c = &env.json(&["export", "--unmasked"])[0];
    assert_eq!(c["name"], "陈杰");
    assert_eq!(c["company"], "成都天府软件有限公司");
    assert_eq!(c["phone"], "18600001111");
    let env = TestEnv::new();
    let f = env.dir.path().join("custom.csv");
    std::fs::write(
        &f,
        "Contact Person,Mobile2,Team Size\nAnna,13800138020,50\n",
    )
    .unwrap();
    let err = env.fails_as("admin", &["import", f.to_str().unwrap()], 6);
    assert!(
        err.contains("no name or company column") && err.contains("--map"),
        "{err}"
    );
    let s = import(
        &env,
        &[
            "--map",
            "Contact Person=name",
            "--map",
            "Mobile2=phone",
            f.to_str().unwrap(),
        ],
    );
    assert_eq!(s["imported"], 1, "{s}");
    let c = &env.json(&["export", "--unmasked"])[0];
    assert_eq!(c["phone"], "13800138020");
    assert_eq!(c["custom.Team Size"], "50");
}

#[test]
fn formula_cells_are_neutralised_on_export_and_restored_on_import() {
    let env = TestEnv::new();
    let s = import(&env, &[&data("formula.csv")]);
    assert_eq!(s["imported"], 2, "{s}");
    let csv = env.ok(&["export", "--unmasked"]);
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""),
        "{csv}"
    );
    assert!(
        csv.contains("'+1+1")
            && csv.contains("'@SUM(A1)")
            && csv.contains("'-危险")
            && csv.contains("'=1+2"),
        "{csv}"
    );
    for line in csv.lines().skip(1) {
        for cell in line.split(',') {
            let c = cell.trim_start_matches('"');
            assert!(
                !c.starts_with(['=', '+', '-', '@']),
                "unguarded cell {cell} in {line}"
            );
        }
    }
    // Back in: the guard quote is removed again.
    let f = env.dir.path().join("out.csv");
    std::fs::write(&f, &csv).unwrap();
    let env2 = TestEnv::new();
    import(&env2, &[f.to_str().unwrap()]);
    let c = env2.json(&["export", "--unmasked"]);
    assert_eq!(c[0]["name"], "=HYPERLINK(\"http://evil\")");
    assert_eq!(c[0]["notes"], "+1+1");
}

#[test]
fn duplicates_skip_merge_create_and_a_second_run_adds_nothing() {
    let env = TestEnv::new();
    let f = env.dir.path().join("dups.csv");
    std::fs::write(
        &f,
        "姓名,公司,手机,邮箱,城市\n张伟,云帆,13800138001,,\n张伟,云帆,+86 138-0013-8001,zw@yf.cn,杭州\n李娜,明远,13900000002,ln@163.com,\n",
    )
    .unwrap();
    let path = f.to_str().unwrap();
    let s = import(&env, &[path]);
    assert_eq!(s["imported"], 2);
    assert_eq!(s["duplicates_in_file"], 1);
    let again = import(&env, &[path]);
    assert_eq!(again["imported"], 0);
    assert_eq!(again["duplicates_in_database"], 3);
    assert_eq!(env.query_i64("SELECT count(*) FROM customers"), 2);
    // merge fills the empty e-mail and city of the first 张伟, never overwrites.
    let m = import(&env, &["--on-duplicate", "merge", path]);
    assert_eq!(m["merged"], 1, "{m}");
    let c = &env.json(&["export", "--unmasked"])[0];
    assert_eq!(c["email"], "zw@yf.cn");
    assert_eq!(c["city"], "杭州");
    assert_eq!(c["phone"], "13800138001");
    let c2 = import(&env, &["--on-duplicate", "create", path]);
    assert_eq!(c2["imported"], 3);
}

#[test]
fn dry_run_writes_nothing_and_owner_and_pool_placement() {
    let env = TestEnv::new();
    env.user("lihua", "sales-east", "member");
    env.ok(&["pools", "add", "expo", "--team", "sales-east"]);
    let s = import(&env, &["--dry-run", &data("utf8_bom.csv")]);
    assert_eq!(s["imported"], 3);
    assert_eq!(s["dry_run"], true);
    assert_eq!(env.query_i64("SELECT count(*) FROM customers"), 0);
    assert_eq!(
        env.query_i64("SELECT count(*) FROM audit_log WHERE action = 'import'"),
        0
    );
    import(
        &env,
        &[
            "--pool",
            "expo",
            "--source",
            "2026杭州展会",
            "--tags",
            "展会线索",
            &data("utf8_bom.csv"),
        ],
    );
    let c = env.json(&["list", "--in-pool", "expo"]);
    assert_eq!(c.as_array().unwrap().len(), 3);
    assert_eq!(c[1]["tags"], "展会线索");
    env.fails_as(
        "lihua",
        &["import", "--owner", "admin", &data("crlf.csv")],
        4,
    );
}

#[test]
fn one_audit_row_per_import_with_the_file_hash() {
    let env = TestEnv::new();
    let s = import(&env, &[&data("utf8_bom.csv")]);
    let after: String = env
        .sql("")
        .query_row(
            "SELECT after FROM audit_log WHERE action = 'import'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let v: Value = serde_json::from_str(&after).unwrap();
    let bytes = std::fs::read(data("utf8_bom.csv")).unwrap();
    use sha2::Digest;
    let want = format!("{:x}", sha2::Sha256::digest(&bytes));
    assert_eq!(v["sha256"], want);
    assert_eq!(s["sha256"], want);
    assert_eq!(v["imported"], 3);
    assert_eq!(v["first_id"], 1);
    assert_eq!(v["last_id"], 3);
}

#[test]
fn stdin_import() {
    let env = TestEnv::new();
    let out = env
        .cmd()
        .args(["import", "-"])
        .write_stdin("name,phone\nStdin Lead,13800138030\n")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(names(&env), ["Stdin Lead"]);
}

#[test]
fn export_masks_by_role_and_logs_unmasked_exports() {
    let env = TestEnv::new();
    env.user("zhao", "sales-east", "manager");
    env.user("lihua", "sales-east", "member");
    env.user("lin", "marketing", "viewer");
    import(&env, &[&data("utf8_bom.csv")]);
    let masked = env.json_as("lihua", &["export"]);
    assert_eq!(masked[0]["phone"], "138****8001");
    assert_eq!(masked[0]["email"], "z***@yunfan.cn");
    let viewer = env.ok_as("lin", &["export"]);
    assert!(!viewer.contains("13800138001"), "{viewer}");
    env.fails_as("lin", &["export", "--unmasked"], 4);
    env.fails_as("lihua", &["export", "--unmasked"], 4);
    let full = env.json_as("zhao", &["export", "--unmasked", "--city", "杭州"]);
    assert_eq!(full[0]["phone"], "13800138001");
    let after: String = env
        .sql("")
        .query_row(
            "SELECT after FROM audit_log WHERE action = 'export' AND actor = 'zhao'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let v: Value = serde_json::from_str(&after).unwrap();
    assert_eq!(v["rows"], 1);
    assert_eq!(v["unmasked"], true);
    assert_eq!(v["filter"], serde_json::json!({"city": "杭州"}));
    let o = env.dir.path().join("all.jsonl");
    env.ok(&["export", "--format", "jsonl", "-o", o.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&o).unwrap().lines().count(), 3);
}

#[test]
fn export_then_import_round_trips_every_field() {
    let env = TestEnv::new();
    import(&env, &[&data("utf8_bom.csv")]);
    import(&env, &[&data("quoted_newlines.csv")]);
    import(&env, &[&data("formula.csv")]);
    env.ok(&["edit", "1", "--stage", "customer"]);
    let f = env.dir.path().join("all.csv");
    env.ok(&["export", "--unmasked", "-o", f.to_str().unwrap()]);
    let env2 = TestEnv::new();
    let s = import(&env2, &[f.to_str().unwrap()]);
    assert_eq!(s["imported"], 7, "{s}");
    let pick = |env: &TestEnv| -> Vec<Value> {
        env.json(&["export", "--unmasked"])
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let mut c = c.clone();
                let o = c.as_object_mut().unwrap();
                for k in ["id", "owner", "pool", "created", "last_contact"] {
                    o.remove(k);
                }
                c
            })
            .collect()
    };
    assert_eq!(pick(&env), pick(&env2));
}

/// Writes `n` distinct leads to a CSV file.
pub fn big_csv(path: &std::path::Path, n: usize) {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(w, "姓名,公司,手机,邮箱,城市,备注").unwrap();
    for i in 0..n {
        writeln!(
            w,
            "客户{i},公司{i}有限公司,1{:010},c{i}@example.com,杭州,第{i}行",
            3_000_000_000u64 + i as u64
        )
        .unwrap();
    }
}

#[test]
fn a_killed_import_leaves_the_database_unchanged() {
    let env = TestEnv::new();
    import(&env, &[&data("utf8_bom.csv")]);
    let before = env.query_i64("SELECT count(*) FROM customers");
    let audit_before = env.query_i64("SELECT count(*) FROM audit_log");
    let f = env.dir.path().join("big.csv");
    big_csv(&f, 100_000);
    for (round, wait_ms) in [300u64, 1000, 2500].into_iter().enumerate() {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pool"))
            .env_clear()
            .env("POOL_DB", env.db())
            .env("POOL_USER", "admin")
            .args(["import", f.to_str().unwrap(), "-q"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        assert!(
            child.try_wait().unwrap().is_none(),
            "import finished before it could be killed"
        );
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert_eq!(
            env.query_i64("SELECT count(*) FROM customers"),
            before,
            "round {round}"
        );
        assert_eq!(
            env.query_i64("SELECT count(*) FROM audit_log"),
            audit_before
        );
        let ok: String = env
            .sql("")
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
    }
}

#[test]
fn bulk_mode_finds_the_same_duplicates_and_rebuilds_the_indexes() {
    use std::io::Write;
    let env = TestEnv::new();
    // Two customers already in the database; the file repeats one of them.
    env.ok(&[
        "add",
        "--name",
        "老客户",
        "--phone",
        "13900000000",
        "--pool",
    ]);
    env.ok(&[
        "add",
        "--name",
        "另一个",
        "--email",
        "old@example.com",
        "--pool",
    ]);
    let indexes_before = env.customer_indexes();
    assert!(indexes_before.len() >= 10, "{indexes_before:?}");
    let f = env.dir.path().join("bulk.csv");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&f).unwrap());
        // Notes make the file big enough (about 150 bytes a row) for the bulk path.
        let note = "展会上交换了名片，对年底的批量采购感兴趣，下周再联系".repeat(2);
        writeln!(w, "姓名,公司,手机,邮箱,城市,标签,备注").unwrap();
        for i in 0..15_000u64 {
            writeln!(
                w,
                "客户{i},公司{i},1{:010},c{i}@example.com,杭州,VIP,{note}",
                3_000_000_000u64 + i
            )
            .unwrap();
            if i % 1000 == 0 {
                // The same person, phone written differently: a duplicate in the file.
                writeln!(w, "客户{i},,+86 1{:010},,杭州,,", 3_000_000_000u64 + i).unwrap();
            }
        }
        writeln!(w, "老客户,,139-0000-0000,,,,").unwrap();
        writeln!(w, "另一个,,,OLD@example.com,,,").unwrap();
        writeln!(w, "坏数据,,12,,,,").unwrap();
    }
    // A dry run drops the indexes for its load, then rolls everything back.
    let d = import(&env, &["--dry-run", f.to_str().unwrap()]);
    assert_eq!(d["imported"], 15_000);
    assert_eq!(env.customer_indexes(), indexes_before);
    assert_eq!(env.query_i64("SELECT count(*) FROM customers"), 2);
    let s = import(&env, &[f.to_str().unwrap()]);
    assert_eq!(s["rows"], 15_018);
    assert_eq!(s["imported"], 15_000);
    assert_eq!(s["duplicates_in_file"], 15);
    assert_eq!(s["duplicates_in_database"], 2);
    assert_eq!(s["rejected"], 1);
    assert_eq!(
        env.query_i64("SELECT count(*) FROM customer_tags WHERE tag = 'vip'"),
        15_000
    );
    // Every index of customers and customer_tags is back, with the same definition.
    assert_eq!(env.customer_indexes(), indexes_before);
    let ok: String = env
        .sql("")
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    // A second run adds nothing.
    let again = import(&env, &[f.to_str().unwrap()]);
    assert_eq!(again["imported"], 0);
    assert_eq!(again["duplicates_in_database"], 15_017);
    // Merge mode over the bulk path fills gaps from in-file duplicates.
    let env2 = TestEnv::new();
    let m = import(&env2, &["--on-duplicate", "merge", f.to_str().unwrap()]);
    assert_eq!(m["imported"], 15_002);
    assert_eq!(env2.query_i64("SELECT count(*) FROM customers"), 15_002);
}

#[test]
fn the_example_leads_file_imports_with_its_known_problems() {
    let env = TestEnv::new();
    let f = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/leads.csv");
    let s = import(&env, &[f.to_str().unwrap()]);
    assert_eq!(s["rows"], 205);
    assert_eq!(s["rejected"], 3, "{s}");
    assert_eq!(s["duplicates_in_file"], 8, "{s}");
    assert_eq!(s["imported"], 194);
    // The 职位 column is kept as a custom field.
    let v = env.json(&["export", "--unmasked", "--search", "孙悦"]);
    assert_eq!(v[0]["custom.职位"], "CTO");
}

/// Step 13: the model decides. 王林 at 创亿信息 twice, with another phone and e-mail, is two
/// people; the same person with a typo in the name and the phone written differently is a
/// duplicate. Every skipped row is listed beside the rejects, with what it matched.
#[test]
fn import_skips_only_what_the_model_calls_a_duplicate_and_lists_each() {
    let env = TestEnv::new();
    env.ok(&[
        "add",
        "--pool",
        "--name",
        "王林",
        "--company",
        "创亿信息有限公司",
        "--phone",
        "13284849202",
        "--email",
        "u24922@qq.com",
        "--city",
        "杭州",
    ]);
    let f = env.dir.path().join("leads.csv");
    std::fs::write(
        &f,
        "姓名,公司,手机,邮箱,城市\n\
         王林,创亿信息有限公司,19292562070,u25255@qq.com,杭州\n\
         王琳,创亿信息,132-8484-9202,u24922@qq.com,杭州\n\
         Henry Collinson,,+61 404217909,henry.c@gmail.com,Bonnyrigg\n\
         Collinson Henry,,+61 404217909,henry.c@gmail.com,Bonnyrigg\n",
    )
    .unwrap();
    let s = import(&env, &[f.to_str().unwrap()]);
    assert_eq!(s["rows"], 4);
    assert_eq!(s["imported"], 2, "{s}");
    assert_eq!(s["duplicates_in_database"], 1);
    assert_eq!(s["duplicates_in_file"], 1);
    let report_path = format!("{}.duplicates.csv", f.display());
    assert_eq!(s["duplicates_file"], report_path.as_str());
    let mut r = csv::Reader::from_path(&report_path).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "line",
            "action",
            "matched_id",
            "matched_line",
            "probability",
            "reasons"
        ]
    );
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    // Line 3 (王琳) matches customer 1, which was in the database before.
    assert_eq!(&rows[0][0], "3");
    assert_eq!(&rows[0][1], "skipped");
    assert_eq!(&rows[0][2], "1");
    assert_eq!(&rows[0][3], "");
    assert!(rows[0][4].parse::<f64>().unwrap() >= 0.99);
    assert!(rows[0][5].contains("same phone"), "{:?}", &rows[0]);
    // Line 5 (the swapped name) matches the customer line 4 just created.
    assert_eq!(&rows[1][0], "5");
    assert_eq!(&rows[1][3], "4");
    assert!(rows[1][5].contains("name order swapped"), "{:?}", &rows[1]);
    // The namesake at the same company is a customer of their own.
    let wang: Vec<i64> = env
        .json(&["list", "--search", "王林", "--limit", "0"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(wang.len(), 2, "{wang:?}");
    // A dry run reports too: now every row is a customer already.
    std::fs::remove_file(&report_path).unwrap();
    let d = import(&env, &["--dry-run", f.to_str().unwrap()]);
    assert_eq!(d["imported"], 0);
    assert_eq!(
        csv::Reader::from_path(&report_path)
            .unwrap()
            .records()
            .count(),
        4
    );
}
