//! The integration suite on PostgreSQL (`POOL_TEST_BACKEND=postgres`).
//!
//! PostgreSQL roles are cluster-wide and the tests name their users `admin`, `lihua`, …
//! in every test, so two tests cannot share a cluster at once. Each cluster is a *slot*:
//! a test holds one for its whole run, on a database of its own that `pool init --server`
//! prepares, and gives it back with the database and every login role it made dropped.
//! The clusters come from `POOL_TEST_PG_SLOTS` (libpq connection strings of superusers,
//! separated by `|`; `.ci/test` starts them) or else the one `POOL_TEST_PG` that
//! `.ci/pg-cluster start` prints. Give one slot more than test threads: a test that opens
//! two databases takes a second slot (see `acquire`).
#![allow(dead_code)]
use std::process::{Command, Stdio};
use std::sync::{Condvar, Mutex, OnceLock};

use postgres::{Client, NoTls};

/// The database each slot's test runs on, and the role that owns it (it runs the
/// migrations, as a real deployment's owner would).
const DB: &str = "pool_suite";
const OWNER: &str = "pool_suite_owner";

/// Whether this run puts the suite on PostgreSQL.
pub fn enabled() -> bool {
    std::env::var("POOL_TEST_BACKEND").is_ok_and(|b| b == "postgres" || b == "pg")
}

/// Marks a test that proves something only a SQLite file has; on PostgreSQL it
/// returns at once, saying why. Grep `sqlite_only!` for the list.
#[macro_export]
macro_rules! sqlite_only {
    ($why:expr) => {
        if $crate::common::pg::enabled() {
            eprintln!("{}: SQLite only: {}", module_path!(), $why);
            return;
        }
    };
}

/// Marks a test of a feature the server does not have yet; on PostgreSQL it returns
/// at once. Grep `server_gap!` to switch them on when the server gains the feature.
#[macro_export]
macro_rules! server_gap {
    ($what:expr) => {
        if $crate::common::pg::enabled() {
            eprintln!("{}: not yet on a server: {}", module_path!(), $what);
            return;
        }
    };
}

/// Marks a test the server fails today because of a bug in server mode (listed in the
/// issue); on PostgreSQL it returns at once. Grep `server_bug!`: each is work to do, not
/// a backend difference.
#[macro_export]
macro_rules! server_bug {
    ($what:expr) => {
        if $crate::common::pg::enabled() {
            eprintln!("{}: server bug, skipped: {}", module_path!(), $what);
            return;
        }
    };
}

struct Slots {
    state: Mutex<State>,
    turn: Condvar,
    conninfos: Vec<String>,
}

struct State {
    free: Vec<bool>,
    /// How many test threads hold at least one slot.
    holders: usize,
}

thread_local! {
    /// How many slots this test thread holds (a test may open two databases at once).
    static HELD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn slots() -> &'static Slots {
    static SLOTS: OnceLock<Slots> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let list = std::env::var("POOL_TEST_PG_SLOTS")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| std::env::var("POOL_TEST_PG").ok())
            .filter(|s| !s.trim().is_empty())
            .expect(
                "POOL_TEST_BACKEND=postgres needs a cluster: eval \"$(.ci/pg-cluster start)\" \
                 (sets POOL_TEST_PG), or POOL_TEST_PG_SLOTS from bash .ci/test",
            );
        let conninfos: Vec<String> = list
            .split('|')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        Slots {
            state: Mutex::new(State {
                free: vec![true; conninfos.len()],
                holders: 0,
            }),
            turn: Condvar::new(),
            conninfos,
        }
    })
}

/// Takes a free slot. A test's first database leaves one slot free while another test
/// holds one, so a test that opens a second database (export here, import there) always
/// gets it: no two tests can each hold one and wait for the other's.
fn acquire() -> usize {
    let s = slots();
    let nested = HELD.with(|h| h.get()) > 0;
    assert!(
        !nested || s.conninfos.len() > 1,
        "this test opens two databases at once: it needs two clusters (POOL_TEST_PG_SLOTS)"
    );
    let mut st = s.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let free = st.free.iter().filter(|f| **f).count();
        let may = if nested {
            free >= 1
        } else {
            free >= 2 || (free == 1 && st.holders == 0)
        };
        if may {
            let i = st.free.iter().position(|f| *f).expect("a free slot");
            st.free[i] = false;
            if !nested {
                st.holders += 1;
            }
            HELD.with(|h| h.set(h.get() + 1));
            return i;
        }
        st = s.turn.wait(st).unwrap_or_else(|e| e.into_inner());
    }
}

fn release(slot: usize) {
    let s = slots();
    let mut st = s.state.lock().unwrap_or_else(|e| e.into_inner());
    st.free[slot] = true;
    let left = HELD.with(|h| {
        h.set(h.get().saturating_sub(1));
        h.get()
    });
    if left == 0 {
        st.holders = st.holders.saturating_sub(1);
    }
    s.turn.notify_all();
}

/// One test's database on a cluster it has to itself until this is dropped.
pub struct PgDb {
    slot: usize,
    conninfo: String,
    port: String,
}

impl PgDb {
    /// Waits for a free cluster, then makes a fresh database on it, prepared by
    /// `pool init --server` run by the owner, with `admin` (team `default`) its admin.
    pub fn new(home: &std::path::Path) -> PgDb {
        let slot = acquire();
        let s = slots();
        let conninfo = s.conninfos[slot].clone();
        let port = conninfo
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("port="))
            .unwrap_or("5432")
            .trim_matches('\'')
            .to_string();
        let db = PgDb {
            slot,
            conninfo,
            port,
        };
        // What a test that died left behind goes first.
        if let Err(e) = db.clean() {
            panic!("clean the test cluster: {e}");
        }
        let mut su = db.superuser("postgres");
        su.batch_execute(&format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER}') THEN
                 CREATE ROLE {OWNER} LOGIN CREATEROLE;
               END IF;
             END $$"
        ))
        .expect("create the owner role");
        // Its own statement: CREATE DATABASE cannot run in a transaction block.
        su.batch_execute(&format!(
            "CREATE DATABASE {DB} OWNER {OWNER} TEMPLATE template0 ENCODING 'UTF8'"
        ))
        .expect("create the test database");
        let out = Command::new(assert_cmd::cargo::cargo_bin("pool"))
            .env_clear()
            .env("HOME", home)
            .env("NO_COLOR", "1")
            .env("POOL_DB", db.url(OWNER))
            .current_dir(home)
            .args(["init", "--server", "--admin", "admin", "--team", "default"])
            .stdin(Stdio::null())
            .output()
            .expect("run pool init --server");
        assert!(
            out.status.success(),
            "pool init --server: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        db
    }

    /// The connection URL for `pool` acting as `login` (on a server the actor is the
    /// login role).
    pub fn url(&self, login: &str) -> String {
        format!("postgresql://{login}@127.0.0.1:{}/{DB}", self.port)
    }

    /// The owner's login (what `pool init --server` runs as).
    pub fn owner(&self) -> &'static str {
        OWNER
    }

    /// A superuser connection to the test's database: sees every row (row security
    /// does not bind it).
    pub fn client(&self) -> Client {
        self.superuser(DB)
    }

    /// SQL run below the app, as the tests do with the SQLite file: no triggers fire
    /// (no guard, no audit row), like a raw write to the file.
    pub fn exec(&self, sql: &str) {
        let mut c = self.client();
        // The tests' SQL is SQLite's: its unixepoch() is given here, outside the schema
        // pool checks.
        c.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS suite_sql;
             CREATE OR REPLACE FUNCTION suite_sql.unixepoch(text) RETURNS bigint
               LANGUAGE sql IMMUTABLE AS 'SELECT extract(epoch FROM $1::timestamptz)::bigint';
             SET search_path = public, suite_sql;
             SET session_replication_role = replica; {sql}; RESET session_replication_role"
        ))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The role of an active user (`admin`, `member` …), None if there is no such user.
    pub fn role_of(&self, login: &str) -> Option<String> {
        self.client()
            .query_opt(
                "SELECT role FROM users WHERE login = $1 AND active",
                &[&login],
            )
            .expect("read users")
            .map(|r| r.get(0))
    }

    fn superuser(&self, dbname: &str) -> Client {
        Client::connect(&format!("{} dbname={dbname}", self.conninfo), NoTls)
            .unwrap_or_else(|e| panic!("connect to the test cluster ({}): {e}", self.conninfo))
    }

    /// Drops the test database and the login roles its users had. Never panics: it
    /// also runs while a failed test unwinds.
    fn clean(&self) -> Result<(), String> {
        let connect = |db: &str| {
            Client::connect(&format!("{} dbname={db}", self.conninfo), NoTls)
                .map_err(|e| e.to_string())
        };
        let mut su = connect("postgres")?;
        let exists = su
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&DB])
            .map_err(|e| e.to_string())?
            .is_some();
        if !exists {
            return Ok(());
        }
        let logins: Vec<String> = connect(DB)
            .and_then(|mut c| {
                c.query(
                    "SELECT login FROM users WHERE login NOT IN ($1, current_user)",
                    &[&OWNER],
                )
                .map_err(|e| e.to_string())
            })
            // Dropped before its first migration: no users table, no user roles.
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
            .unwrap_or_default();
        su.batch_execute(&format!("DROP DATABASE {DB} WITH (FORCE)"))
            .map_err(|e| format!("drop the test database: {e}"))?;
        for login in logins {
            su.batch_execute(&format!(
                "DROP ROLE IF EXISTS \"{}\"",
                login.replace('"', "\"\"")
            ))
            .map_err(|e| format!("drop role {login}: {e}"))?;
        }
        Ok(())
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if let Err(e) = self.clean() {
            eprintln!("pg suite: could not clean slot {}: {e}", self.slot);
        }
        release(self.slot);
    }
}

/// The libpq connection info of the cluster the `pg_*` tests use, if there is one:
/// the first of `POOL_TEST_PG_SLOTS`, or `POOL_TEST_PG`.
fn server_configured() -> bool {
    ["POOL_TEST_PG_SLOTS", "POOL_TEST_PG"]
        .iter()
        .any(|k| std::env::var(k).is_ok_and(|v| !v.trim().is_empty()))
}

fn port_of(conninfo: &str) -> String {
    conninfo
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("port="))
        .unwrap_or("5432")
        .trim_matches('\'')
        .to_string()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The `pg_*` tests' server: a database of its own (`{db}`, owned by the login role
/// `{db}_owner`) on a cluster slot this test holds until it is dropped, and every test
/// user a login role named `{db}_{who}`, so a crashed run's leftovers never meet a new
/// run's. `pool` and `psql` run as those roles; dropping it drops the database and every
/// role with its prefix (and `extra_roles`).
pub struct Server {
    pub db: String,
    /// HOME and working folder of every `pool` run.
    pub dir: tempfile::TempDir,
    /// Cluster roles the test made outside the prefix (the demo's people).
    pub extra_roles: Vec<String>,
    conninfo: String,
    port: String,
    slot: usize,
}

impl Server {
    /// A fresh, empty database for test `name` (`prefix_name_pid`), or None (the test
    /// says it is skipped) without a cluster.
    pub fn new(prefix: &str, name: &str) -> Option<Server> {
        if !server_configured() {
            eprintln!("{prefix}_{name}: skipped (set POOL_TEST_PG, e.g. eval \"$(.ci/pg-cluster start)\")");
            return None;
        }
        let slot = acquire();
        let conninfo = slots().conninfos[slot].clone();
        // Built before anything can fail, so that Drop gives the slot back.
        let s = Server {
            db: format!("{prefix}_{name}_{}", std::process::id()),
            dir: tempfile::TempDir::new().expect("temp dir"),
            extra_roles: Vec::new(),
            port: port_of(&conninfo),
            conninfo,
            slot,
        };
        s.drop_all();
        s.superuser(&format!("CREATE ROLE {}_owner LOGIN CREATEROLE", s.db));
        s.superuser(&format!(
            "CREATE DATABASE {0} OWNER {0}_owner TEMPLATE template0 ENCODING 'UTF8'",
            s.db
        ));
        Some(s)
    }

    /// A fresh database with every migration file loaded by its owner through `psql`
    /// (as an operator would), and `people` (login, team, role) added as pool users;
    /// None (the test says it is skipped) without a cluster.
    pub fn migrated(prefix: &str, name: &str, people: &[(&str, &str, &str)]) -> Option<Server> {
        let s = Server::new(prefix, name)?;
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("src/store/postgres/migrations"),
        )
        .expect("migrations folder")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
        files.sort();
        for f in files {
            let out = s
                .psql_cmd(&s.role("owner"))
                .args(["-1", "-f"])
                .arg(&f)
                .output()
                .expect("run psql");
            assert!(
                out.status.success(),
                "{}: {}",
                f.display(),
                text(&out.stderr)
            );
        }
        for (who, team, role) in people {
            s.sql(
                "",
                &format!(
                    "SELECT pool_private.add_user('{}', '{team}', '{role}')",
                    s.role(who)
                ),
            );
        }
        Some(s)
    }

    /// The users-table id of test user `who`.
    pub fn id(&self, who: &str) -> i64 {
        self.sql(
            "",
            &format!("SELECT id FROM users WHERE login = '{}'", self.role(who)),
        )
        .parse()
        .expect("user id")
    }

    /// The login role of test user `who` ("" and "owner": the database's owner).
    pub fn role(&self, who: &str) -> String {
        let who = if who.is_empty() { "owner" } else { who };
        format!("{}_{who}", self.db)
    }

    /// The connection URL `pool` uses as `who`.
    pub fn url(&self, who: &str) -> String {
        format!(
            "postgresql://{}@127.0.0.1:{}/{}",
            self.role(who),
            self.port,
            self.db
        )
    }

    /// `pool` as `who`, with a clean environment and no input.
    pub fn cmd(&self, who: &str) -> Command {
        self.cmd_at(&self.url(who))
    }

    /// `pool` with `POOL_DB=url`, with a clean environment and no input.
    pub fn cmd_at(&self, url: &str) -> Command {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("pool"));
        c.env_clear()
            .env("HOME", self.dir.path())
            .env("NO_COLOR", "1")
            .env("POOL_DB", url)
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        c
    }

    /// A session-mode PgBouncer (`.ci/pg-pooler`) in front of this test's cluster; it
    /// stops when dropped. Fails the test if PgBouncer is missing: `.ci/run` installs it.
    pub fn pooler(&self) -> Pooler {
        self.pooler_checking(None)
    }

    /// The same, but clients give their SCRAM password, checked against the secret role
    /// `lookup` reads through `pgbouncer.user_lookup` (README, "Many short commands").
    pub fn pooler_checking(&self, lookup: Option<&str>) -> Pooler {
        let dir = std::env::temp_dir().join(format!("pool-pgbouncer-{}", self.db));
        let su = self.superuser_login();
        let out =
            Command::new(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/pg-pooler"))
                .arg("start")
                .arg(&dir)
                .args([&self.port, &su])
                .env("POOL_PGBOUNCER_SCRAM", lookup.unwrap_or(""))
                .stdin(Stdio::null())
                .output()
                .expect("run .ci/pg-pooler");
        assert!(
            out.status.success(),
            "starting PgBouncer: {}",
            text(&out.stderr)
        );
        Pooler {
            dir,
            port: text(&out.stdout).trim().to_string(),
        }
    }

    /// The cluster's superuser, as the slot's connection info names it.
    fn superuser_login(&self) -> String {
        self.conninfo
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("user="))
            .unwrap_or("postgres")
            .trim_matches('\'')
            .to_string()
    }

    /// A session of login role `login` in database `dbname` of this test's cluster, over
    /// TCP as `pool` connects (the test holds it open).
    pub fn connect_as(&self, login: &str, dbname: &str) -> Result<Client, postgres::Error> {
        Client::connect(
            &format!(
                "host=127.0.0.1 port={} user={login} dbname={dbname}",
                self.port
            ),
            NoTls,
        )
    }

    /// The connection URL `pool` uses as `who` through `pooler`.
    pub fn url_via(&self, pooler: &Pooler, who: &str) -> String {
        format!(
            "postgresql://{}@127.0.0.1:{}/{}",
            self.role(who),
            pooler.port,
            self.db
        )
    }

    /// `pool` as `who` through `pooler`.
    pub fn cmd_via(&self, pooler: &Pooler, who: &str) -> Command {
        self.cmd_at(&self.url_via(pooler, who))
    }

    pub fn run(&self, who: &str, args: &[&str]) -> std::process::Output {
        self.cmd(who).args(args).output().expect("run pool")
    }

    /// `pool` as `who` must succeed; its stdout.
    pub fn ok(&self, who: &str, args: &[&str]) -> String {
        let out = self.run(who, args);
        assert!(
            out.status.success(),
            "pool {args:?} as {who}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// `ok` with `--format json`, parsed.
    pub fn json(&self, who: &str, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        serde_json::from_str(&self.ok(who, &all)).expect("JSON")
    }

    /// `pool` as `who` must exit with `code`; the whole output.
    pub fn fails_out(&self, who: &str, args: &[&str], code: i32) -> std::process::Output {
        let out = self.run(who, args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "pool {args:?} as {who}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    }

    /// `fails_out`'s stderr.
    pub fn fails(&self, who: &str, args: &[&str], code: i32) -> String {
        text(&self.fails_out(who, args, code).stderr)
    }

    /// The owner prepares the database with `pool init --server`; the admin is `admin`
    /// in `team`.
    pub fn init(&self, team: &str) {
        let admin = self.role("admin");
        self.ok(
            "owner",
            &["init", "--server", "--admin", &admin, "--team", team],
        );
    }

    /// The admin adds test user `who`.
    pub fn add_user(&self, who: &str, team: &str, role: &str) {
        let login = self.role(who);
        self.ok(
            "admin",
            &["user", "add", &login, "--team", team, "--role", role],
        );
    }

    /// `psql` as login role `login` in this database: unaligned, tuples only, stops at
    /// the first error, which is verbose (it names the SQLSTATE).
    pub fn psql_cmd(&self, login: &str) -> Command {
        let mut c = Command::new("psql");
        c.args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"])
            .args(["-v", "VERBOSITY=verbose", "-d"])
            .arg(format!("{} user={login} dbname={}", self.conninfo, self.db))
            .env_remove("PGOPTIONS")
            .stdin(Stdio::null());
        c
    }

    /// `psql -c SQL` as login role `login` (one implicit transaction).
    pub fn psql_login(&self, login: &str, sql: &str) -> std::process::Output {
        self.psql_cmd(login)
            .arg("-c")
            .arg(sql)
            .output()
            .expect("run psql")
    }

    /// `psql -c SQL` as test user `who`.
    pub fn psql(&self, who: &str, sql: &str) -> std::process::Output {
        self.psql_login(&self.role(who), sql)
    }

    /// SQL as test user `who` must succeed; its output, trimmed.
    pub fn sql(&self, who: &str, sql: &str) -> String {
        let out = self.psql(who, sql);
        assert!(
            out.status.success(),
            "as {who}: {sql}\nfailed: {}",
            text(&out.stderr)
        );
        text(&out.stdout).trim().to_string()
    }

    /// SQL as test user `who` must fail with this SQLSTATE; the error.
    pub fn refused(&self, who: &str, sql: &str, sqlstate: &str) -> String {
        let out = self.psql(who, sql);
        let err = text(&out.stderr);
        assert!(
            !out.status.success(),
            "as {who}: {sql}\nwas allowed: {}",
            text(&out.stdout)
        );
        assert!(
            err.contains(&format!("ERROR:  {sqlstate}:")),
            "as {who}: {sql}\nexpected SQLSTATE {sqlstate}, got: {err}"
        );
        err
    }

    /// SQL as the cluster's superuser, outside this database; its output, trimmed.
    pub fn superuser(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(&self.conninfo)
            .args(["-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("run psql");
        assert!(out.status.success(), "{sql}: {}", text(&out.stderr));
        text(&out.stdout).trim().to_string()
    }

    /// SQL as the superuser inside this database (row security does not bind it).
    pub fn su(&self, sql: &str) -> String {
        let out = self.psql_login(&self.superuser_login(), sql);
        assert!(out.status.success(), "{sql}: {}", text(&out.stderr));
        text(&out.stdout).trim().to_string()
    }

    /// Drops the database and the test's roles. Never panics: it also runs while a
    /// failed test unwinds.
    fn drop_all(&self) {
        let Ok(mut su) = Client::connect(&self.conninfo, NoTls) else {
            eprintln!("pg server test: cannot reach {} to clean up", self.conninfo);
            return;
        };
        let db = &self.db;
        if let Err(e) = su.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")) {
            eprintln!("pg server test: drop {db}: {e}");
        }
        let prefixed: Vec<String> = su
            .query(
                "SELECT rolname::text FROM pg_roles WHERE starts_with(rolname, $1)",
                &[&format!("{db}_")],
            )
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
            .unwrap_or_default();
        for role in prefixed.iter().chain(&self.extra_roles) {
            let sql = format!("DROP ROLE IF EXISTS \"{}\"", role.replace('"', "\"\""));
            if let Err(e) = su.batch_execute(&sql) {
                eprintln!("pg server test: {sql}: {e}");
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.drop_all();
        release(self.slot);
    }
}

/// A PgBouncer started by `Server::pooler`.
pub struct Pooler {
    dir: std::path::PathBuf,
    pub port: String,
}

impl Drop for Pooler {
    fn drop(&mut self) {
        let _ =
            Command::new(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/pg-pooler"))
                .arg("stop")
                .arg(&self.dir)
                .status();
    }
}
