//! SQLite: open with the pragmas every connection needs, migrate, and hand out
//! IMMEDIATE write transactions. All SQL of the tool lives under this module.
pub mod audit;
pub mod customers;
pub mod dedupe;
pub mod demo;
pub mod merge;
pub mod migrate;
pub mod pool;
pub mod reports;
pub mod safety;
pub mod teams;
pub mod users;
pub mod work;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Error, Result};

/// The longest wait POOL_BUSY_TIMEOUT may ask for (a day: longer is a typo, and SQLite
/// counts the wait in i32 milliseconds).
pub const MAX_BUSY_TIMEOUT_SECS: u64 = 86_400;

/// How long a command waits for another writer before giving up with exit 7.
/// Infallible for messages; `busy_timeout_checked` is what a connection is opened with.
pub fn busy_timeout() -> Duration {
    busy_timeout_checked().unwrap_or(Duration::from_secs(30))
}

/// POOL_BUSY_TIMEOUT (whole seconds, 0..=86400; default 30); anything else is an error,
/// never silently ignored.
pub fn busy_timeout_checked() -> Result<Duration> {
    match std::env::var_os("POOL_BUSY_TIMEOUT") {
        None => Ok(Duration::from_secs(30)),
        Some(raw) => {
            let text = raw.to_string_lossy();
            match text.trim().parse::<u64>() {
                Ok(secs) if secs <= MAX_BUSY_TIMEOUT_SECS => Ok(Duration::from_secs(secs)),
                _ => Err(Error::invalid_hint(
                    "POOL_BUSY_TIMEOUT",
                    format!(
                        "'{text}' is not a number of seconds from 0 to {MAX_BUSY_TIMEOUT_SECS}"
                    ),
                    "set it to whole seconds, e.g. POOL_BUSY_TIMEOUT=30, or unset it (default 30)",
                )),
            }
        }
    }
}

pub struct Store {
    pub conn: Connection,
    pub path: PathBuf,
}

impl Store {
    /// Opens (creating it and its parent folder if needed) and migrates the database.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    Error::Other(format!("cannot create folder {}: {e}", parent.display()))
                })?;
            }
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        configure(&conn)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        // An older database is copied aside (online backup) before it is upgraded, so a
        // failed or unwanted upgrade can be undone with `pool restore`.
        let found = migrate::user_version(&store.conn)?;
        if (1..migrate::LATEST).contains(&found) {
            let aside = PathBuf::from(format!(
                "{}.before-v{}-upgrade",
                path.display(),
                migrate::LATEST
            ));
            if !aside.exists() {
                safety::backup_to(&store.conn, &aside)?;
            }
        }
        migrate::to_latest(&mut store.conn)?;
        Ok(store)
    }

    /// Copies the WAL into the database file and empties it, so old page images are gone
    /// from both files (best effort: a reader still open can hold some frames back).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// A bigger page cache for this connection only, for bulk work (demo, import).
    pub fn bulk_cache_mib(&self, mib: i64) -> Result<()> {
        self.conn.pragma_update(None, "cache_size", -mib * 1024)?;
        Ok(())
    }

    /// Fresh planner statistics after a bulk load.
    pub fn analyze(&self) -> Result<()> {
        self.conn.execute_batch("ANALYZE")?;
        Ok(())
    }

    /// A write transaction that takes the write lock at its start, so a decision made
    /// inside it cannot be invalidated by another writer (no check-then-act races).
    pub fn begin(&mut self) -> Result<Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }
}

/// The pragmas of every connection.
pub fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(busy_timeout_checked()?)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        return Err(Error::Other(format!(
            "could not switch the database to WAL mode (got '{mode}')"
        )));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Erased personal data must not linger in free pages (pool forget).
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}
