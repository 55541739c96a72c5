//! The test environment: a temp folder with its own database, a fixed clock, no colour.
#![allow(dead_code)]
use std::path::PathBuf;
use std::process::Output;

pub mod files;
pub mod fixtures;
pub mod kill;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

pub struct TestEnv {
    pub dir: TempDir,
    pub now: String,
}

impl TestEnv {
    /// A new database. Its first command makes the OS account running the tests the
    /// admin; that account then adds the admin `admin`, whom the tests act as (the OS
    /// account is a pool admin, so `POOL_USER` is honoured, like sudo).
    pub fn new() -> TestEnv {
        let env = TestEnv {
            dir: TempDir::new().expect("temp dir"),
            now: "2026-11-22T09:00:00Z".into(),
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

    /// The whole environment `pool` runs with in these tests.
    pub fn envs(&self, user: &str) -> Vec<(&'static str, std::ffi::OsString)> {
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

    pub fn sql(&self, sql: &str) -> rusqlite::Connection {
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

    /// The login of the customer's owner, `None` while it is in a pool.
    pub fn owner_of(&self, id: i64) -> Option<String> {
        self.conn()
            .query_row(
                "SELECT u.login FROM customers c LEFT JOIN users u ON u.id = c.owner_id WHERE c.id = ?1",
                [id],
                |r| r.get(0),
            )
            .expect("customer")
    }

    /// A connection to the test's database file.
    pub fn conn(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.db()).expect("open db")
    }

    pub fn query_i64(&self, sql: &str) -> i64 {
        let c = rusqlite::Connection::open(self.db()).expect("open db");
        c.query_row(sql, [], |r| r.get(0)).expect("query")
    }
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
