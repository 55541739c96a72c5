//! Contact people in server mode (migration 6): the binary as each user, and `psql` as a
//! member, who must get no further than with `pool` — contact phones of a customer that
//! is not theirs come back masked, the base table's contact columns are not readable,
//! and writes to another's customer are refused by the server. Runs only when
//! POOL_TEST_PG holds a superuser's libpq connection info (`.ci/pg-cluster start`).
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const PHONE: &str = "13900001111";

struct Server {
    conninfo: String,
    port: String,
    db: String,
    dir: tempfile::TempDir,
}

impl Server {
    fn new(name: &str) -> Option<Server> {
        let conninfo = std::env::var("POOL_TEST_PG").ok().filter(|s| !s.is_empty());
        let port = std::env::var("PGPORT").ok().filter(|s| !s.is_empty());
        let (Some(conninfo), Some(port)) = (conninfo, port) else {
            eprintln!("pg_contacts::{name}: skipped (set POOL_TEST_PG and PGPORT, e.g. eval \"$(.ci/pg-cluster start)\")");
            return None;
        };
        let s = Server {
            conninfo,
            port,
            db: format!("pk_{name}_{}", std::process::id()),
            dir: tempfile::TempDir::new().unwrap(),
        };
        s.drop_all();
        s.superuser(&format!("CREATE ROLE {}_owner LOGIN CREATEROLE", s.db));
        s.superuser(&format!(
            "CREATE DATABASE {0} OWNER {0}_owner TEMPLATE template0 ENCODING 'UTF8'",
            s.db
        ));
        Some(s)
    }

    fn role(&self, who: &str) -> String {
        format!("{}_{who}", self.db)
    }

    fn run(&self, who: &str, args: &[&str]) -> Output {
        Command::new(assert_cmd::cargo::cargo_bin("pool"))
            .env_clear()
            .env("HOME", self.dir.path())
            .env("NO_COLOR", "1")
            .env(
                "POOL_DB",
                format!(
                    "postgresql://{}@127.0.0.1:{}/{}",
                    self.role(who),
                    self.port,
                    self.db
                ),
            )
            .current_dir(self.dir.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run pool")
    }

    fn ok(&self, who: &str, args: &[&str]) -> String {
        let out = self.run(who, args);
        assert!(
            out.status.success(),
            "pool {args:?} as {who}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn json(&self, who: &str, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        serde_json::from_str(&self.ok(who, &all)).expect("JSON")
    }

    fn fails(&self, who: &str, args: &[&str], code: i32) -> String {
        let out = self.run(who, args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "pool {args:?} as {who}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    /// `psql -c SQL` as pool user `who` (unaligned, tuples only, verbose errors).
    fn psql(&self, who: &str, sql: &str) -> Output {
        Command::new("psql")
            .args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-v",
                "VERBOSITY=verbose",
            ])
            .arg("-d")
            .arg(format!(
                "{} user={} dbname={}",
                self.conninfo,
                self.role(who),
                self.db
            ))
            .args(["-c", sql])
            .env_remove("PGOPTIONS")
            .stdin(Stdio::null())
            .output()
            .expect("psql")
    }

    fn psql_ok(&self, who: &str, sql: &str) -> String {
        let out = self.psql(who, sql);
        assert!(
            out.status.success(),
            "as {who}: {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The statement must fail with this SQLSTATE.
    fn psql_refused(&self, who: &str, sql: &str, sqlstate: &str) {
        let out = self.psql(who, sql);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(sqlstate),
            "as {who}: {sql}: expected {sqlstate}, got {err}"
        );
    }

    fn superuser(&self, sql: &str) {
        let out = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.conninfo,
                "-c",
                sql,
            ])
            .stdin(Stdio::null())
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn drop_all(&self) {
        let _ = Command::new("psql")
            .args(["-X", "-q", "-d", &self.conninfo, "-c"])
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db))
            .args(["-c"])
            .arg(
                ["owner", "admin", "li", "wang", "zhao"]
                    .iter()
                    .map(|w| format!("DROP ROLE IF EXISTS {};", self.role(w)))
                    .collect::<String>(),
            )
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
    }

    /// Owner prepares, admin adds team east with members li and wang and manager zhao.
    fn org(&self) {
        let admin = self.role("admin");
        self.ok(
            "owner",
            &["init", "--server", "--admin", &admin, "--team", "hq"],
        );
        self.ok("admin", &["team", "add", "east"]);
        for (who, role) in [("li", "member"), ("wang", "member"), ("zhao", "manager")] {
            self.ok(
                "admin",
                &[
                    "user",
                    "add",
                    &self.role(who),
                    "--team",
                    "east",
                    "--role",
                    role,
                ],
            );
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.drop_all();
    }
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn a_member_with_psql_sees_pooled_contacts_masked_and_cannot_write_them() {
    let Some(s) = Server::new("psql") else { return };
    s.org();
    s.ok(
        "admin",
        &[
            "add",
            "--name",
            "公海客户",
            "--phone",
            "13800000001",
            "--pool",
        ],
    );
    s.ok(
        "admin",
        &[
            "contact",
            "add",
            "1",
            "--name",
            "李娜",
            "--title",
            "采购经理",
            "--phone",
            PHONE,
            "--email",
            "li.na@qq.com",
        ],
    );
    // Through the masked view: pooled, so masked for a member, whole for the manager.
    assert_eq!(
        s.psql_ok("li", "SELECT name, phone, email, phone_key FROM contacts_v"),
        "李娜|139****1111|l***@qq.com|"
    );
    assert_eq!(s.psql_ok("zhao", "SELECT phone FROM contacts_v"), PHONE);
    // The table's contact columns are not the member's to read, in any clause.
    s.psql_refused("li", "SELECT phone FROM contacts", "42501");
    s.psql_refused(
        "li",
        "SELECT id FROM contacts WHERE email LIKE 'li%'",
        "42501",
    );
    assert_eq!(s.psql_ok("li", "SELECT name FROM contacts"), "李娜");
    // Writes on a customer that is not theirs: refused by the server's guard.
    s.psql_refused(
        "li",
        "INSERT INTO contacts (customer_id, name, created_at, updated_at) VALUES (1, 'x', 0, 0)",
        "PT403",
    );
    s.psql_refused("li", "UPDATE contacts SET name = 'x'", "PT403");
    s.psql_refused("li", "DELETE FROM contacts", "PT403");
    // Through the binary: the same masking.
    let list = s.json("li", &["contact", "list", "1"]);
    assert_eq!(list[0]["phone"], "139****1111");
    s.fails("li", &["contact", "add", "1", "--name", "x"], 4);
    // Once li owns it: hers to read and change; wang (same team, member) sees it masked.
    s.ok("li", &["claim", "1"]);
    assert_eq!(s.psql_ok("li", "SELECT phone FROM contacts_v"), PHONE);
    assert_eq!(
        s.psql_ok("wang", "SELECT phone FROM contacts_v"),
        "139****1111"
    );
    s.psql_refused("wang", "UPDATE contacts SET name = 'x'", "PT403");
    // The server stamps who and when, whatever the client writes.
    s.psql_ok(
        "li",
        "INSERT INTO contacts (customer_id, name, created_by, created_at, updated_at) VALUES (1, '王强', NULL, 1, 1)",
    );
    let by = s.psql_ok(
        "li",
        "SELECT u.login FROM contacts k JOIN users u ON u.id = k.created_by WHERE k.name = '王强'",
    );
    assert_eq!(by, s.role("li"));
    // Every change was audited by the server, phones masked.
    let log = s.json("admin", &["audit", "log", "--customer", "1"]);
    let rows: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "contact_add")
        .collect();
    assert_eq!(rows.len(), 2, "{log}");
    assert!(!log.to_string().contains(PHONE), "{log}");
    s.ok("admin", &["audit", "verify"]);
}

#[test]
fn contacts_through_the_binary_on_the_server() {
    let Some(s) = Server::new("cli") else { return };
    s.org();
    s.ok(
        "admin",
        &["add", "--name", "客户", "--phone", "13800000001", "--pool"],
    );
    s.ok("li", &["claim", "1"]);
    let added = s.json(
        "li",
        &["contact", "add", "1", "--name", "李娜", "--phone", PHONE],
    );
    let n = added["contact"].to_string();
    s.fails(
        "li",
        &["contact", "add", "1", "--name", "x", "--phone", "12"],
        6,
    );
    let e = s.json(
        "li",
        &[
            "contact",
            "edit",
            "1",
            &n,
            "--title",
            "采购经理",
            "--email",
            "Li.Na@QQ.com",
        ],
    );
    assert_eq!(e["changed"], serde_json::json!(["title", "email"]));
    // Search by the contact's phone: substrings for the owner, not for wang; a whole
    // number for wang exactly as the main contact's (the server hides masked keys).
    assert_eq!(ids(&s.json("li", &["list", "--search", "0000111"])), [1]);
    assert!(ids(&s.json("wang", &["list", "--search", "0000111"])).is_empty());
    assert_eq!(
        ids(&s.json("wang", &["list", "--search", PHONE])),
        ids(&s.json("wang", &["list", "--search", "13800000001"]))
    );
    // show lists contacts and deals; revenue counts the deal.
    s.ok(
        "li",
        &["deal", "add", "1", "--amount", "100", "--on", "2026-01-05"],
    );
    let shown = s.json("li", &["show", "1"]);
    assert_eq!(shown["contacts"][0]["email"], "li.na@qq.com");
    assert_eq!(shown["deals"][0]["amount"], "100.00");
    let masked = s.json("wang", &["show", "1"]);
    assert_eq!(masked["contacts"][0]["phone"], "139****1111");
    let r = s.json(
        "li",
        &[
            "report",
            "revenue",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-31",
        ],
    );
    assert_eq!(r["rows"][0]["amount"], "100.00", "{r}");
    let r = s.json(
        "zhao",
        &[
            "report",
            "revenue",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-31",
        ],
    );
    assert_eq!(r["totals"][0]["amount"], "100.00", "{r}");
    // Export carries them, masked unless asked for.
    let ex = s.json("admin", &["export"]);
    assert_eq!(ex[0]["contacts"][0]["phone"], "139****1111");
    let ex = s.json("admin", &["export", "--unmasked"]);
    assert_eq!(ex[0]["contacts"][0]["phone"], PHONE);
    s.ok("li", &["contact", "remove", "1", &n, "--yes"]);
    assert!(s
        .json("li", &["contact", "list", "1"])
        .as_array()
        .unwrap()
        .is_empty());
    let log = s.json("admin", &["audit", "log", "--customer", "1"]);
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for a in ["contact_add", "contact_edit", "contact_remove"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    s.ok("admin", &["audit", "verify"]);
}
