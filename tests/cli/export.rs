//! `pool export`: masking, audit before the first byte, formula guards, output files.
use std::io::Read;
use std::process::Stdio;

use rusqlite::Connection;
use serde_json::Value;

use crate::common::fixtures::{csv_rows, data, import, two_teams};
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
