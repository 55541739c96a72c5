//! The database's files seen from outside pool: a bare process, read-only opens, digests,
//! crafted copies.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rusqlite::{Connection, OpenFlags};

use super::TestEnv;

pub fn pool(env: &TestEnv, user: &str) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("pool"));
    c.env_clear()
        .env("HOME", env.dir.path())
        .env("POOL_DB", env.db())
        .env("POOL_USER", user)
        .env("NO_COLOR", "1")
        .current_dir(env.dir.path())
        .stdin(Stdio::null());
    c
}

pub fn read_only(p: &Path) -> Connection {
    let c = Connection::open_with_flags(p, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(30)).unwrap();
    c
}

/// Raw SQL or SQLite internals have no place in a message to a user.
pub fn assert_no_raw_sql(stderr: &str) {
    for needle in [
        "CREATE TABLE",
        "already exists",
        "SQLITE_",
        "sqlite_master",
        "no such table",
    ] {
        assert!(!stderr.contains(needle), "raw SQL in: {stderr}");
    }
}

/// A digest of every byte of the database's files, to prove a refused command touched
/// nothing.
pub fn snapshot(db: &Path) -> Vec<(String, u64, String)> {
    use sha2::Digest;
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| {
            let p = format!("{}{s}", db.display());
            std::fs::read(&p)
                .ok()
                .map(|b| (p, b.len() as u64, format!("{:x}", sha2::Sha256::digest(&b))))
        })
        .collect()
}

/// A copy of a backup with `sql` run on it (the schema's triggers make some changes
/// impossible through pool, not through sqlite3).
pub fn crafted(env: &TestEnv, from: &Path, name: &str, sql: &str) -> PathBuf {
    let p = env.dir.path().join(name);
    std::fs::copy(from, &p).unwrap();
    Connection::open(&p).unwrap().execute_batch(sql).unwrap();
    p
}
