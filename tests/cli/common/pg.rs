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
