//! Step 12, "bad input that must get a clear error and lose nothing" (items 9–14) and
//! audit payloads (item 16): each test feeds the real binary what a careless or hostile
//! user would, and checks for a clear error with the right exit code and no lost data.
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

// ------------------------------------------------------------------ item 10

/// Sales team east (manager zhao, members lihua and chen) and north (member wang).
fn teams() -> TestEnv {
    let env = TestEnv::new();
    env.user("zhao", "sales-east", "manager");
    env.user("lihua", "sales-east", "member");
    env.user("chen", "sales-east", "member");
    env.user("wang", "sales-north", "member");
    env
}

/// A pooled customer claimed by `who`; returns its id.
fn claimed(env: &TestEnv, who: &str, phone: &str) -> String {
    let id = env.pooled("客户", phone).to_string();
    env.ok_as(who, &["claim", &id]);
    id
}

fn find<'a>(rows: &'a Value, key: &str, value: &str) -> &'a Value {
    rows.as_array()
        .expect("array")
        .iter()
        .find(|r| r[key] == value)
        .unwrap_or_else(|| panic!("no {key}={value} in {rows}"))
}

#[test]
fn only_well_formed_amounts_are_accepted() {
    let env = teams();
    let id = claimed(&env, "lihua", "13800000001");
    for bad in [
        "12,50",
        "1,2,3",
        ",5",
        "_5",
        "5_000",
        "1,0000",
        "5.",
        "92233720368547758.07",
        "1000000000000.01",
    ] {
        let err = env.fails_as("lihua", &["deal", "add", &id, "--amount", bad], 6);
        assert!(err.contains("invalid amount"), "{bad}: {err}");
        assert!(
            err.contains("hint: write the amount with a dot"),
            "{bad}: {err}"
        );
    }
    assert_eq!(env.query_i64("SELECT count(*) FROM deals"), 0);
    let v = env.json_as("lihua", &["deal", "add", &id, "--amount", "12,000.50"]);
    assert_eq!(v["amount"], "12000.50");
    let v = env.json_as(
        "lihua",
        &["deal", "add", &id, "--amount", "1,000,000,000,000.00"],
    );
    assert_eq!(v["amount"], "1000000000000.00");
}

#[test]
fn deal_sums_never_overflow_and_never_mix_currencies() {
    let env = teams();
    let a = claimed(&env, "lihua", "13800000001");
    let b = claimed(&env, "wang", "13800000002");
    env.ok_as(
        "lihua",
        &["deal", "add", &a, "--amount", "1,000,000,000,000"],
    );
    env.ok_as(
        "lihua",
        &["deal", "add", &a, "--amount", "5", "--currency", "usd"],
    );
    env.ok_as("wang", &["deal", "add", &b, "--amount", "0.01"]);
    // 100,000 more deals at the largest amount: their sum (1e19 minor units) is beyond
    // an i64, as a busy database over years could be.
    let conn = env.sql("");
    conn.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
         INSERT INTO deals (customer_id, user_id, amount_minor, currency, on_date, created_at)
         SELECT c.id, c.owner_id, 100000000000000, 'CNY', '2026-11-01', 1790000000
           FROM n, customers c WHERE c.owner_id = (SELECT id FROM users WHERE login = 'lihua')",
    )
    .expect("insert deals");
    drop(conn);
    // 100,001 deals of a trillion: 1.00001e17, exact.
    let want = "100001000000000000.00 CNY; 5.00 USD";
    let v = env.json(&["report", "owners"]);
    let li = find(&v, "user", "lihua");
    assert_eq!(li["deals"], 100_002);
    assert_eq!(li["deal_amount"], want, "{li}");
    assert_eq!(find(&v, "user", "wang")["deal_amount"], "0.01 CNY");
    let v = env.json_as("zhao", &["report", "owners"]);
    assert_eq!(find(&v, "user", "lihua")["deal_amount"], want);
    let t = env.json(&["report", "teams"]);
    let east = find(&t["teams"], "team", "sales-east");
    assert_eq!(east["deal_amount"], want);
    assert_eq!(
        find(&t["teams"], "team", "sales-north")["deal_amount"],
        "0.01 CNY"
    );
}

#[test]
fn deals_are_listed_and_a_mistake_is_voided_with_an_audit_row() {
    let env = teams();
    let a = claimed(&env, "lihua", "13800000001");
    let b = claimed(&env, "wang", "13800000002");
    let d = env.json_as("lihua", &["deal", "add", &a, "--amount", "120000"]);
    let deal = d["deal"].as_i64().expect("deal id").to_string();
    assert_eq!(d["stage"], "customer");
    env.ok_as("wang", &["deal", "add", &b, "--amount", "7"]);

    // Lists follow the scope: members their own customers, managers their team.
    let mine = env.json_as("lihua", &["deal", "list"]);
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "{mine}");
    assert_eq!(mine[0]["amount"], "120000.00");
    assert_eq!(
        env.json_as("zhao", &["deal", "list"])
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        env.json(&["deal", "list"]).as_array().map(Vec::len),
        Some(2)
    );
    env.fails_as("wang", &["deal", "list", "--customer", &a], 4);

    // Who may void: not another team's member, not a member of the same team.
    env.fails_as("wang", &["deal", "void", &deal, "--reason", "typo"], 4);
    env.fails_as("chen", &["deal", "void", &deal, "--reason", "typo"], 4);
    env.fails_as("lihua", &["deal", "void", &deal], 2);
    env.ok_as(
        "zhao",
        &["deal", "void", &deal, "--reason", "typed 120000 for 12000"],
    );
    env.fails_as("lihua", &["deal", "void", &deal, "--reason", "again"], 5);

    // Gone from lists and reports, kept with --voided; the lead is a lead again.
    assert_eq!(
        env.json_as("lihua", &["deal", "list"])
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let all = env.json_as("lihua", &["deal", "list", "--voided"]);
    assert_eq!(all[0]["voided"], true);
    assert_eq!(all[0]["void_reason"], "typed 120000 for 12000");
    let li = find(&env.json(&["report", "owners"]), "user", "lihua").clone();
    assert_eq!(li["deals"], 0);
    assert_eq!(li["deal_amount"], "0.00");
    assert_eq!(env.json(&["show", &a])["stage"], "lead");
    let log = env.json(&["audit", "log", "--customer", &a, "--action", "deal_void"]);
    assert_eq!(log.as_array().map(Vec::len), Some(1), "{log}");
    assert_eq!(log[0]["actor"], "zhao");
    let before: Value =
        serde_json::from_str(log[0]["before"].as_str().expect("before")).expect("JSON before");
    assert_eq!(before["amount_minor"], 12_000_000);
    assert_eq!(before["stage"], "customer");
}

// ------------------------------------------------------------------ items 9 and 12

/// Runs `pool import ARGS` as admin with the address space capped (`ulimit -v`, KiB),
/// so an import that grows with its longest record dies instead of passing.
fn import_capped(env: &TestEnv, kib: u64, args: &[&str]) -> Output {
    let pool = assert_cmd::cargo::cargo_bin("pool");
    let mut script = format!("ulimit -v {kib} && exec '{}' import", pool.display());
    for a in args {
        script.push_str(&format!(" '{a}'"));
    }
    let mut c = std::process::Command::new("sh");
    c.arg("-c").arg(script);
    c.env_clear()
        .envs(env.envs("admin"))
        .env("PATH", "/usr/bin:/bin")
        .current_dir(env.dir.path());
    c.output().expect("run sh")
}

/// The rejects file as (line, reason, first data cell) rows.
fn rejects(env: &TestEnv, name: &str) -> Vec<(String, String, String)> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(env.dir.path().join(name))
        .expect("rejects file");
    r.records()
        .map(|rec| {
            let rec = rec.expect("rejects row");
            (
                rec.get(0).unwrap_or("").to_string(),
                rec.get(1).unwrap_or("").to_string(),
                rec.get(2).unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// 400 MB of address space: far above what a bounded import needs (its resident set
/// stays near 30 MB here), far below the GBs an unbounded one takes for these inputs.
const CAP_KIB: u64 = 400 * 1024;

#[test]
fn a_huge_record_is_rejected_with_its_line_in_bounded_memory() {
    let env = TestEnv::new();
    let path = env.dir.path().join("oneline.csv");
    // 20 MB of one-byte cells on one line: ten million cells, the costliest record to
    // hold (an unbounded reader takes ~75 times its size), then rows of 500,000 cells.
    let mut text = b"name,phone,notes\nA,13800000001,".to_vec();
    for _ in 0..10 * 1024 * 1024 {
        text.extend_from_slice(b"a,");
    }
    text.extend_from_slice(b"\nB,13800000002,ok\n");
    for i in 0..20 {
        text.extend_from_slice(format!("W{i},1390000{i:04},").as_bytes());
        for _ in 0..500_000 {
            text.extend_from_slice(b",");
        }
        text.extend_from_slice(b"x\n");
    }
    std::fs::write(&path, &text).expect("write csv");
    let out = import_capped(
        &env,
        CAP_KIB,
        &[
            "oneline.csv",
            "--rejects",
            "rejects.csv",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).expect("summary");
    assert_eq!(s["imported"], 1, "{s}");
    assert_eq!(s["rejected"], 21, "{s}");
    assert_eq!(s["rejected_by_reason"]["oversize record"], 1, "{s}");
    assert_eq!(s["rejected_by_reason"]["ragged row"], 20, "{s}");
    let r = rejects(&env, "rejects.csv");
    assert_eq!(r.len(), 21);
    assert_eq!(r[0].0, "2");
    assert!(
        r[0].1.contains("longer than the limit of 1024 KiB"),
        "{}",
        r[0].1
    );
    assert_eq!(r[0].2, "A");
    assert_eq!(r[1].0, "4");
    assert_eq!(r[1].1, "500003 cells, the header has 3");
    assert_eq!(r[20].0, "23");
    assert_eq!(env.json(&["list"])[0]["name"], "B");

    // Endless input: refused at once, as binary (zero bytes) or as a first row that
    // never ends.
    let out = import_capped(&env, CAP_KIB, &["/dev/zero"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("invalid file: holds zero bytes"),
        "{}",
        stderr(&out)
    );
    std::fs::write(env.dir.path().join("endless.csv"), vec![b'y'; 3 << 20]).expect("write");
    let out = import_capped(&env, CAP_KIB, &["endless.csv"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("invalid header: the first row is longer than 1024 KiB"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unclosed_quote_names_the_line_it_opened_on_and_what_it_swallowed() {
    let env = TestEnv::new();
    std::fs::write(
        env.dir.path().join("quote.csv"),
        "name,phone,notes\n\
         A,13800000001,ok\n\
         B,\"13800000002,the quote opens here\n\
         C,13800000003,x\n\
         D,13800000004,y\n\
         E,13800000005,z\n",
    )
    .expect("write csv");
    let s = env.json(&["import", "quote.csv", "--rejects", "rejects.csv"]);
    assert_eq!(s["imported"], 1, "{s}");
    assert_eq!(s["rejected_by_reason"]["unclosed quote"], 1, "{s}");
    let r = rejects(&env, "rejects.csv");
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].0, "3");
    assert!(
        r[0].1.contains("a quote opened on line 3 is never closed")
            && r[0].1.contains("swallowed the 3 line(s) after it"),
        "{}",
        r[0].1
    );
}

// ------------------------------------------------------------------ item 11

#[test]
fn utf16_without_a_bom_is_detected_both_ways_or_refused_by_name() {
    let text = "name,phone,city\nBob,13800000001,杭州\n李四,13800000002,上海\n";
    for (file, bytes, label) in [
        (
            "be.csv",
            text.encode_utf16()
                .flat_map(|u| u.to_be_bytes())
                .collect::<Vec<u8>>(),
            "utf-16be",
        ),
        (
            "le.csv",
            text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
            "utf-16le",
        ),
    ] {
        let env = TestEnv::new();
        std::fs::write(env.dir.path().join(file), &bytes).expect("write csv");
        let s = env.json(&["import", file, "--rejects", "rejects.csv"]);
        assert_eq!(s["encoding"], label, "{s}");
        assert_eq!(s["imported"], 2, "{s}");
        let names: Vec<Value> = env
            .json(&["list"])
            .as_array()
            .expect("rows")
            .iter()
            .map(|c| c["name"].clone())
            .collect();
        assert_eq!(names, ["Bob", "李四"], "{file}");
    }
    // Looks like UTF-16BE (zero bytes at even offsets) but holds a lone surrogate.
    let env = TestEnv::new();
    let mut bytes: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
    bytes.extend_from_slice(&[0xD8, 0x00, 0x00, b'A', 0x00, b'\n']);
    std::fs::write(env.dir.path().join("broken.csv"), &bytes).expect("write csv");
    let err = env.fails_as("admin", &["import", "broken.csv"], 6);
    assert!(err.contains("looks like utf-16be"), "{err}");
    assert!(err.contains("hint: pass --encoding"), "{err}");
    assert_eq!(env.query_i64("SELECT count(*) FROM customers"), 0);
}

// ------------------------------------------------------------------ item 13

#[test]
fn rejected_rows_from_stdin_are_kept_in_the_current_folder() {
    let env = TestEnv::new();
    let out = env
        .cmd()
        .args(["import", "-", "--format", "json"])
        .write_stdin("name,phone\nA,13800000001\nB,not-a-phone\n")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).expect("summary");
    assert_eq!(s["imported"], 1, "{s}");
    assert_eq!(s["rejected"], 1, "{s}");
    assert_eq!(s["rejects_file"], "stdin.rejects.csv", "{s}");
    let r = rejects(&env, "stdin.rejects.csv");
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].0, "3");
    assert!(r[0].1.contains("invalid phone"), "{}", r[0].1);
    assert_eq!(r[0].2, "B");
}

/// The cells of CSV text, by row.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("csv row").iter().map(String::from).collect())
        .collect()
}

#[test]
fn list_and_show_as_csv_guard_formula_cells_like_export() {
    let env = TestEnv::new();
    let evil = "=cmd|' /C calc'!A0";
    let v = env.json(&[
        "add",
        "--name",
        evil,
        "--company",
        "+SUM(1)",
        "--phone",
        "13800000001",
        "--city",
        "@杭州",
    ]);
    let id = v["id"].as_i64().expect("id").to_string();
    let export = csv_rows(&env.ok(&["export"]));
    let col = |rows: &[Vec<String>], name: &str| -> String {
        let i = rows[0].iter().position(|h| h == name).expect("column");
        rows[1][i].clone()
    };
    assert_eq!(col(&export, "name"), format!("'{evil}"));
    let list = csv_rows(&env.ok(&["list", "--format", "csv"]));
    let show = csv_rows(&env.ok(&["show", &id, "--format", "csv"]));
    for field in ["name", "company", "city"] {
        assert_eq!(col(&list, field), col(&export, field), "list {field}");
        assert_eq!(col(&show, field), col(&export, field), "show {field}");
    }
    assert_eq!(col(&list, "id"), id, "numbers are not guarded");
}

#[test]
fn custom_columns_are_capped_per_import_and_in_all() {
    let env = TestEnv::new();
    let mut head = String::from("name,phone");
    let mut row = String::from("A,13800000001");
    for i in 0..10_000 {
        head.push_str(&format!(",c{i}"));
        row.push_str(",x");
    }
    std::fs::write(env.dir.path().join("wide.csv"), format!("{head}\n{row}\n")).expect("write");
    let err = env.fails_as("admin", &["import", "wide.csv"], 6);
    assert!(
        err.contains("10000 columns are no customer field") && err.contains("at most 100"),
        "{err}"
    );
    assert!(err.contains("hint: remove the columns"), "{err}");
    assert_eq!(env.query_i64("SELECT count(*) FROM customers"), 0);

    // 100 new ones per import, 300 in all.
    for batch in 0..4 {
        let names: Vec<String> = (0..100).map(|i| format!("f{batch}_{i}")).collect();
        let text = format!(
            "name,phone,{}\nN{batch},1380000010{batch},{}\n",
            names.join(","),
            vec!["v"; 100].join(",")
        );
        std::fs::write(env.dir.path().join("f.csv"), text).expect("write");
        if batch < 3 {
            env.ok(&["import", "f.csv"]);
        } else {
            let err = env.fails_as("admin", &["import", "f.csv"], 6);
            assert!(err.contains("has 300 custom fields"), "{err}");
        }
    }
    let export = csv_rows(&env.ok(&["export"]));
    let custom = export[0]
        .iter()
        .filter(|h| h.starts_with("custom."))
        .count();
    assert_eq!(custom, 300);
    assert_eq!(export.len(), 4, "three imported customers and the header");
}

// ------------------------------------------------------------------ item 16

/// The actions of `pool audit log --customer ID`, oldest first.
fn customer_log(env: &TestEnv, id: &str) -> Vec<String> {
    let v = env.json(&["audit", "log", "--customer", id, "--limit", "0"]);
    let mut actions: Vec<String> = v
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["action"].as_str().unwrap_or("").to_string())
        .collect();
    actions.reverse();
    actions
}

#[test]
fn every_change_to_a_customer_is_found_by_its_id_and_payloads_are_json() {
    let env = teams();
    // Imported: found through its import.
    std::fs::write(
        env.dir.path().join("leads.csv"),
        "name,phone,city\n甲,13800000001,杭州\n乙,13800000002,杭州\n丙,13800000003,上海\n",
    )
    .expect("write");
    let s = env.json(&["import", "leads.csv", "--rejects", "rejects.csv"]);
    let first = s["first_id"].as_i64().expect("first id");
    let (a, b, c) = (
        first.to_string(),
        (first + 1).to_string(),
        (first + 2).to_string(),
    );
    assert_eq!(customer_log(&env, &b), ["import"]);
    let other = owned(&env, "丁", "13800000009");
    assert!(!customer_log(&env, &other).contains(&"import".to_string()));

    // Claimed, then moved in bulk by transfer --all and by a deactivation.
    env.ok_as("lihua", &["claim", &a, &b]);
    env.ok_as(
        "lihua",
        &["followup", "add", &a, "--due", "2026-12-01", "call"],
    );
    env.ok_as(
        "zhao",
        &["transfer", "--from", "lihua", "--to", "chen", "--all"],
    );
    env.ok(&["user", "deactivate", "chen"]);
    // Merged: the merged-away customer finds the merge and its undo.
    let m = env.json(&["merge", &b, &c]);
    let merge_id = m["merge_id"].as_i64().expect("merge id").to_string();
    env.ok(&["dedupe", "undo", &merge_id]);
    assert_eq!(
        customer_log(&env, &a),
        [
            "import",
            "claim",
            "followup_add",
            "transfer",
            "user_deactivate"
        ]
    );
    assert_eq!(
        customer_log(&env, &c),
        ["import", "merged_into", "merge_restored"],
        "the customer merged into {b}"
    );
    let log = env.json(&["audit", "log", "--customer", &a, "--action", "transfer"]);
    let before: Value =
        serde_json::from_str(log[0]["before"].as_str().expect("before")).expect("JSON");
    assert_eq!(before["owner"], "lihua");

    // Every payload is JSON; filters are objects, not Rust debug text.
    env.ok(&["export", "--city", "杭州", "--stage", "lead"]);
    env.ok(&["list", "--city", "杭州"]);
    let all = env.json(&["audit", "log", "--limit", "0"]);
    for row in all.as_array().expect("rows") {
        for side in ["before", "after"] {
            if let Some(text) = row[side].as_str() {
                let parsed: Result<Value, _> = serde_json::from_str(text);
                assert!(parsed.is_ok(), "{side} of {row}");
                assert!(!text.contains("FilterArgs"), "{row}");
            }
        }
    }
    let export = env.json(&["audit", "log", "--action", "export"]);
    let after: Value =
        serde_json::from_str(export[0]["after"].as_str().expect("after")).expect("JSON");
    assert_eq!(
        after["filter"],
        serde_json::json!({"city": "杭州", "stage": "lead"})
    );
    assert_eq!(after["format"], "csv");
    let view = env.json(&["audit", "log", "--action", "view_unmasked"]);
    let after: Value =
        serde_json::from_str(view[0]["after"].as_str().expect("after")).expect("JSON");
    assert_eq!(after["filter"], serde_json::json!({"city": "杭州"}));
}
