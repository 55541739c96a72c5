//! The test environment: a temp folder with its own database, a fixed clock, no colour.
#![allow(dead_code)]
use std::path::PathBuf;
use std::process::Output;

pub mod files;
pub mod fixtures;
pub mod kill;
#[macro_use]
pub mod pg;
pub mod rows;
pub mod workbook;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

pub struct TestEnv {
    pub dir: TempDir,
    pub now: String,
    /// The test's server database when the suite runs on PostgreSQL
    /// (`POOL_TEST_BACKEND=postgres`, see `common/pg.rs`).
    pub pg: Option<pg::PgDb>,
}

impl TestEnv {
    /// A new database. Its first command makes the OS account running the tests the
    /// admin; that account then adds the admin `admin`, whom the tests act as (the OS
    /// account is a pool admin, so `POOL_USER` is honoured, like sudo).
    ///
    /// On PostgreSQL: a database of its own, prepared by `pool init --server` with the
    /// admin `admin` in team `default`; each user is a login role.
    pub fn new() -> TestEnv {
        let dir = TempDir::new().expect("temp dir");
        if pg::enabled() {
            let db = pg::PgDb::new(dir.path());
            return TestEnv {
                dir,
                now: "2026-11-22T09:00:00Z".into(),
                pg: Some(db),
            };
        }
        let env = TestEnv {
            dir,
            now: "2026-11-22T09:00:00Z".into(),
            pg: None,
        };
        env.os_ok(&["init"]);
        env.os_ok(&[
            "user", "add", "admin", "--team", "default", "--role", "admin",
        ]);
        env
    }

    /// The OS account running the tests (its pool user is the database's first admin).
    pub fn os_account() -> String {
        customer_pool::identity::os_account()
    }

    /// `pool` as the OS account itself: no `--as`, no `POOL_USER`.
    pub fn cmd_os(&self) -> Command {
        let mut c = self.cmd_as("");
        c.env_remove("POOL_USER");
        c
    }

    pub fn os_ok(&self, args: &[&str]) -> String {
        let out = self.cmd_os().args(args).output().expect("run pool");
        assert!(
            out.status.success(),
            "pool {args:?} as the OS account failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("pool.db")
    }

    /// `pool` as the admin, with a clean environment.
    pub fn cmd(&self) -> Command {
        self.cmd_as("admin")
    }

    pub fn cmd_as(&self, user: &str) -> Command {
        let mut c = Command::cargo_bin("pool").expect("pool binary");
        c.env_clear()
            .envs(self.envs(user))
            .current_dir(self.dir.path());
        c
    }

    /// The same environment as `cmd_as`, as a std `Command` (for `spawn`: processes that
    /// run beside the test).
    pub fn spawn_cmd_as(&self, user: &str) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("pool"));
        c.env_clear()
            .envs(self.envs(user))
            .current_dir(self.dir.path());
        c
    }

    /// Whether this test runs on PostgreSQL.
    pub fn is_pg(&self) -> bool {
        self.pg.is_some()
    }

    /// The whole environment `pool` runs with in these tests. On a server the actor is
    /// the login role, so the user is the connection's (the OS account is the database
    /// owner's role), and only an admin may set the clock: others get the server's.
    pub fn envs(&self, user: &str) -> Vec<(&'static str, std::ffi::OsString)> {
        if let Some(db) = &self.pg {
            let login = if user.is_empty() { db.owner() } else { user };
            let mut v = vec![
                ("HOME", self.dir.path().into()),
                ("POOL_DB", db.url(login).into()),
                ("NO_COLOR", "1".into()),
                ("COLUMNS", "100".into()),
            ];
            if db.role_of(login).as_deref() == Some("admin") {
                v.push(("POOL_NOW", (&self.now).into()));
            }
            return v;
        }
        vec![
            ("HOME", self.dir.path().into()),
            ("POOL_DB", self.db().into()),
            ("POOL_USER", user.into()),
            ("POOL_NOW", (&self.now).into()),
            ("NO_COLOR", "1".into()),
            ("COLUMNS", "100".into()),
        ]
    }

    pub fn run_as(&self, user: &str, args: &[&str]) -> Output {
        self.cmd_as(user).args(args).output().expect("run pool")
    }

    /// One run as a snapshot: the exit code, stdout and stderr in one text (jj's
    /// `CommandOutput`), with the temp folder and the OS account replaced by placeholders.
    pub fn snap_as(&self, user: &str, args: &[&str]) -> String {
        let out = self.run_as(user, args);
        self.snap_output(&out)
    }

    /// `snap_as` for the admin.
    pub fn snap(&self, args: &[&str]) -> String {
        self.snap_as("admin", args)
    }

    /// An `Output` as a snapshot (see `snap_as`).
    pub fn snap_output(&self, out: &Output) -> String {
        let code = out
            .status
            .code()
            .map_or_else(|| "killed by a signal".to_string(), |c| c.to_string());
        let text = format!(
            "exit code: {code}\n----- stdout -----\n{}----- stderr -----\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.normalize(&text)
    }

    /// The temp folder as `[TEMP]`, the OS account running the tests as `[OS_USER]`.
    pub fn normalize(&self, text: &str) -> String {
        let text = text.replace(&self.dir.path().display().to_string(), "[TEMP]");
        let os = TestEnv::os_account();
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        // Whole words only: "root" in "rooted" stays.
        while let Some(i) = rest.find(os.as_str()) {
            let before = rest[..i].chars().next_back();
            let after = rest[i + os.len()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            out.push_str(&rest[..i]);
            out.push_str(if word(before) || word(after) {
                &os
            } else {
                "[OS_USER]"
            });
            rest = &rest[i + os.len()..];
        }
        out.push_str(rest);
        out
    }

    /// Runs as admin and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_as("admin", args)
    }

    pub fn ok_as(&self, user: &str, args: &[&str]) -> String {
        let out = self.run_as(user, args);
        assert!(
            out.status.success(),
            "pool {args:?} as {user} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs and asserts the exit code; returns stderr.
    pub fn fails_as(&self, user: &str, args: &[&str], code: i32) -> String {
        let out = self.run_as(user, args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "pool {args:?} as {user}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).expect("utf-8 stderr")
    }

    pub fn json_as(&self, user: &str, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["--format", "json"]);
        serde_json::from_str(&self.ok_as(user, &a)).expect("valid JSON")
    }

    pub fn json(&self, args: &[&str]) -> Value {
        self.json_as("admin", args)
    }

    /// Adds a user: `pool user add LOGIN --team TEAM --role ROLE`.
    pub fn user(&self, login: &str, team: &str, role: &str) {
        self.ok(&["user", "add", login, "--team", team, "--role", role]);
    }

    /// Adds a pooled customer and returns its id.
    pub fn pooled(&self, name: &str, phone: &str) -> i64 {
        let v = self.json(&[
            "add", "--name", name, "--phone", phone, "--city", "杭州", "--pool",
        ]);
        v["id"].as_i64().expect("id")
    }

    /// Runs SQL on the test's database below the app (on PostgreSQL as a superuser with
    /// triggers off, like a raw write to the SQLite file).
    pub fn exec(&self, sql: &str) {
        match &self.pg {
            Some(db) => db.exec(sql),
            None => {
                self.sql(sql);
            }
        }
    }

    /// Runs SQL on the SQLite file and returns the connection (SQLite only).
    pub fn sql(&self, sql: &str) -> rusqlite::Connection {
        assert!(
            self.pg.is_none(),
            "env.sql() opens the SQLite file: use env.exec() on both backends"
        );
        let c = rusqlite::Connection::open(self.db()).expect("open db");
        c.execute_batch(sql).expect("sql");
        c
    }

    /// Name and SQL of every index on customers and customer_tags (the ones a bulk
    /// import suspends and builds again).
    pub fn customer_indexes(&self) -> Vec<(String, String)> {
        let conn = self.sql("");
        let mut stmt = conn
            .prepare(
                "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL
                 AND tbl_name IN ('customers', 'customer_tags') ORDER BY name",
            )
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("rows");
        rows
    }

    /// A connection to the test's database file.
    pub fn conn(&self) -> rusqlite::Connection {
        assert!(
            self.pg.is_none(),
            "env.conn() opens the SQLite file (SQLite only)"
        );
        rusqlite::Connection::open(self.db()).expect("open db")
    }

    /// `SELECT count(*) FROM {what}`: a table, or a table with a `WHERE` clause or join.
    pub fn count(&self, what: &str) -> i64 {
        self.query_i64(&format!("SELECT count(*) FROM {what}"))
    }

    /// How many audit rows of one action there are.
    pub fn audit_count(&self, action: &str) -> i64 {
        if let Some(db) = &self.pg {
            return db
                .client()
                .query_one(
                    "SELECT count(*) FROM audit_log WHERE action = $1",
                    &[&action],
                )
                .expect("count audit rows")
                .get(0);
        }
        self.conn()
            .query_row(
                "SELECT count(*) FROM audit_log WHERE action = ?1",
                [action],
                |r| r.get(0),
            )
            .expect("count audit rows")
    }

    /// Every audit row, oldest first.
    pub fn audit_log(&self) -> Vec<AuditRow> {
        self.audit_where("1", "")
    }

    /// The audit rows of one action, oldest first.
    pub fn audit_rows(&self, action: &str) -> Vec<AuditRow> {
        self.audit_where("action = ?1", action)
    }

    /// The newest audit row of one action.
    pub fn last_audit(&self, action: &str) -> AuditRow {
        self.audit_rows(action)
            .pop()
            .unwrap_or_else(|| panic!("no audit row for {action}"))
    }

    fn audit_where(&self, filter: &str, param: &str) -> Vec<AuditRow> {
        let sql = format!(
            "SELECT seq, at, actor, action, entity, entity_id, before, after, os_user, sim_at
             FROM audit_log WHERE {filter} ORDER BY seq"
        );
        if let Some(db) = &self.pg {
            let mut c = db.client();
            let rows = if filter.contains("?1") {
                c.query(&sql.replace("?1", "$1"), &[&param])
            } else {
                c.query(&sql.replace("WHERE 1 ", "WHERE true "), &[])
            }
            .expect("query audit_log");
            return rows
                .iter()
                .map(|r| AuditRow {
                    seq: r.get(0),
                    at: r.get(1),
                    actor: r.get(2),
                    action: r.get(3),
                    entity: r.get(4),
                    entity_id: r.get(5),
                    before: r.get(6),
                    after: r.get(7),
                    os_user: r.get(8),
                    sim_at: r.get(9),
                })
                .collect();
        }
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql).expect("prepare");
        let params: &[&dyn rusqlite::ToSql] = if filter.contains("?1") {
            &[&param]
        } else {
            &[]
        };
        let rows = stmt
            .query_map(params, |r| {
                Ok(AuditRow {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    entity: r.get(4)?,
                    entity_id: r.get(5)?,
                    before: r.get(6)?,
                    after: r.get(7)?,
                    os_user: r.get(8)?,
                    sim_at: r.get(9)?,
                })
            })
            .expect("query audit_log")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("audit rows");
        rows
    }

    /// The `seq` of the newest audit row.
    pub fn audit_head_seq(&self) -> i64 {
        self.query_i64("SELECT max(seq) FROM audit_log")
    }

    /// How many ownership events of one kind (`claim`, `release`, `recycle` …) there are.
    pub fn events(&self, event: &str) -> i64 {
        self.ownership_events(event).len() as i64
    }

    /// The ownership events of one kind, oldest first.
    pub fn ownership_events(&self, event: &str) -> Vec<OwnershipEvent> {
        if let Some(db) = &self.pg {
            return db
                .client()
                .query(
                    "SELECT customer_id, event, reason FROM ownership_events WHERE event = $1 ORDER BY id",
                    &[&event],
                )
                .expect("query ownership_events")
                .iter()
                .map(|r| OwnershipEvent {
                    customer_id: r.get(0),
                    event: r.get(1),
                    reason: r.get(2),
                })
                .collect();
        }
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT customer_id, event, reason FROM ownership_events WHERE event = ?1 ORDER BY id",
            )
            .expect("prepare");
        let rows = stmt
            .query_map([event], |r| {
                Ok(OwnershipEvent {
                    customer_id: r.get(0)?,
                    event: r.get(1)?,
                    reason: r.get(2)?,
                })
            })
            .expect("query ownership_events")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("events");
        rows
    }

    /// The login of the customer's owner, `None` while it is in a pool.
    pub fn owner_of(&self, id: i64) -> Option<String> {
        if let Some(db) = &self.pg {
            return db
                .client()
                .query_one(
                    "SELECT u.login FROM customers c LEFT JOIN users u ON u.id = c.owner_id WHERE c.id = $1",
                    &[&id],
                )
                .expect("customer")
                .get(0);
        }
        self.conn()
            .query_row(
                "SELECT u.login FROM customers c LEFT JOIN users u ON u.id = c.owner_id WHERE c.id = ?1",
                [id],
                |r| r.get(0),
            )
            .expect("customer")
    }

    /// One text value of a customer's row: a column, or an expression over its columns.
    pub fn customer_text(&self, id: i64, expr: &str) -> Option<String> {
        if let Some(db) = &self.pg {
            return db
                .client()
                .query_one(
                    &format!("SELECT ({expr})::text FROM customers WHERE id = $1"),
                    &[&id],
                )
                .expect("customer")
                .get(0);
        }
        self.conn()
            .query_row(
                &format!("SELECT {expr} FROM customers WHERE id = ?1"),
                [id],
                |r| r.get(0),
            )
            .expect("customer")
    }

    /// The id of the customer with this name (the newest, if several have it).
    pub fn customer_id(&self, name: &str) -> i64 {
        if let Some(db) = &self.pg {
            return db
                .client()
                .query_one("SELECT max(id) FROM customers WHERE name = $1", &[&name])
                .expect("customer by name")
                .get(0);
        }
        self.conn()
            .query_row(
                "SELECT max(id) FROM customers WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .expect("customer by name")
    }

    /// The id of the newest customer row.
    pub fn newest_customer(&self) -> i64 {
        self.query_i64("SELECT max(id) FROM customers")
    }

    /// The amount of every deal, in minor units (cents), oldest first.
    pub fn deal_amounts_minor(&self) -> Vec<i64> {
        if let Some(db) = &self.pg {
            return db
                .client()
                .query("SELECT amount_minor FROM deals ORDER BY id", &[])
                .expect("query deals")
                .iter()
                .map(|r| r.get(0))
                .collect();
        }
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT amount_minor FROM deals ORDER BY id")
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| r.get(0))
            .expect("query deals")
            .collect::<rusqlite::Result<Vec<i64>>>()
            .expect("deals");
        rows
    }

    /// `PRAGMA integrity_check`: "ok" for a sound file.
    pub fn integrity_check(&self) -> String {
        self.conn()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check")
    }

    /// The schema version stamped in the file (`PRAGMA user_version`).
    pub fn user_version(&self) -> i64 {
        self.query_i64("PRAGMA user_version")
    }

    pub fn query_i64(&self, sql: &str) -> i64 {
        if let Some(db) = &self.pg {
            let row = db
                .client()
                .query_one(sql, &[])
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            use postgres::types::Type;
            let t = row.columns()[0].type_().clone();
            return match t {
                Type::INT8 => row.get::<_, Option<i64>>(0),
                Type::INT4 => row.get::<_, Option<i32>>(0).map(i64::from),
                Type::INT2 => row.get::<_, Option<i16>>(0).map(i64::from),
                Type::BOOL => row.get::<_, Option<bool>>(0).map(i64::from),
                other => panic!("{sql}: a {other} column, not an integer"),
            }
            .unwrap_or_else(|| panic!("{sql}: NULL"));
        }
        let c = rusqlite::Connection::open(self.db()).expect("open db");
        c.query_row(sql, [], |r| r.get(0)).expect("query")
    }
}

/// One row of the audit log.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub os_user: Option<String>,
    pub sim_at: Option<i64>,
}

impl AuditRow {
    /// The `after` payload, parsed.
    pub fn after_json(&self) -> Value {
        serde_json::from_str(self.after.as_deref().expect("an after payload")).expect("JSON after")
    }
}

/// One row of ownership_events.
#[derive(Debug, Clone)]
pub struct OwnershipEvent {
    pub customer_id: i64,
    pub event: String,
    pub reason: Option<String>,
}

/// The names of the checks a `pool doctor --format json` run failed.
pub fn failed_checks(out: &Output) -> Vec<String> {
    let v: Value = serde_json::from_slice(&out.stdout).expect("doctor JSON");
    v.as_array()
        .expect("a list of checks")
        .iter()
        .filter(|c| c["status"] == "FAIL")
        .map(|c| c["check"].as_str().unwrap_or_default().to_string())
        .collect()
}
