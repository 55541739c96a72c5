//! The SQLite backend: open with the pragmas every connection needs, migrate, and hand
//! out IMMEDIATE write transactions (`tx::SqliteTx`). SQLite's SQL lives under this module.
pub mod audit;
pub mod bulk;
pub mod contacts;
pub mod customers;
pub mod dedupe;
pub mod demo;
pub mod fields;
pub mod maintenance;
pub mod merge;
pub mod migrate;
pub mod notify;
pub mod ownership;
pub mod pools;
pub mod recycle;
pub mod reports;
pub mod rules;
pub mod safety;
pub mod teams;
pub mod tx;
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
    /// Whether changes may be dated by `POOL_NOW` (the OS account is a pool admin). Set
    /// when the acting user is known; until then no change may be simulated.
    pub may_simulate: bool,
}

impl Store {
    /// Opens (creating it and its parent folder if needed) and migrates the database.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_with(path, false)
    }

    /// `open`, where `init` is true for `pool init`: only an explicit init may start a
    /// database in an existing empty file (a truncated database — `pool export > pool.db`
    /// — must not quietly become a new one whose admin is whoever comes first).
    pub fn open_with(path: &Path, init: bool) -> Result<Store> {
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    Error::Other(format!("cannot create folder {}: {e}", parent.display()))
                })?;
            }
        }
        refuse_orphan_wal(path)?;
        refuse_hard_links(path)?;
        if !init {
            refuse_empty_file(path)?;
        }
        let conn = open_conn(path, true)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            may_simulate: false,
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
            if std::fs::symlink_metadata(&aside).is_err() {
                match safety::backup_to_new_file(&store.conn, path, &aside) {
                    // Another process opening the same old file made the copy first.
                    Err(_) if std::fs::symlink_metadata(&aside).is_ok() => {}
                    done => done?,
                }
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
    ///
    /// `POOL_NOW` would date the change: refused unless the OS account is a pool admin,
    /// so nobody beats a cooldown, a daily cap or the recycle clock by setting it.
    pub fn begin(&mut self) -> Result<Transaction<'_>> {
        if crate::clock::is_simulated() && !self.may_simulate {
            return Err(Error::SimulatedClock);
        }
        self.begin_unchecked()
    }

    /// A write transaction that is rolled back, or that records no dated change (the
    /// first admin, a dry run).
    pub fn begin_unchecked(&mut self) -> Result<Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }
}

/// A connection with the pragmas every connection needs; `create` allows a new file.
pub fn open_conn(path: &Path, create: bool) -> Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::CannotOpen) {
            Error::Other(format!("cannot open the database {}: {e}", path.display()))
        } else {
            Error::from(e)
        }
    })?;
    // Switching a brand-new file to WAL while another process does the same can return
    // "busy" at once, without waiting in the busy handler: wait here instead.
    let deadline = std::time::Instant::now() + busy_timeout();
    loop {
        match configure(&conn) {
            Err(Error::Busy(_)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            done => return done.map(|()| conn),
        }
    }
}

/// A -wal left beside a missing or empty database file belongs to a database that was
/// removed while in use: SQLite would replay its pages into a new, empty file and make a
/// database out of fragments. Refuse instead of creating one there.
fn refuse_orphan_wal(path: &Path) -> Result<()> {
    let db_len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    if db_len == 0 && wal_len > 0 {
        return Err(Error::Integrity(format!(
            "{} has no database beside it ({} is missing or empty); refusing to start a new database from a stray write-ahead log",
            wal.display(),
            path.display()
        )));
    }
    Ok(())
}

/// A database reachable under two names (hard links) gets two sets of -wal/-shm files,
/// so two processes using the two names do not see each other's locks and corrupt it.
fn refuse_hard_links(path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    for suffix in crate::outfile::SIDE_FILES {
        let p = PathBuf::from(format!("{}{suffix}", path.display()));
        if let Ok(m) = std::fs::metadata(&p) {
            if m.nlink() > 1 {
                return Err(Error::Integrity(format!(
                    "{} has {} names (hard links); SQLite locks a database by name, so two names corrupt it. Remove the other name(s) (find / -samefile {}) and use one path",
                    p.display(),
                    m.nlink(),
                    p.display()
                )));
            }
        }
    }
    Ok(())
}

/// An existing empty file is either being created by a concurrent first command (SQLite
/// writes the header within milliseconds: wait for it) or a database that was truncated.
fn refuse_empty_file(path: &Path) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        match std::fs::metadata(path) {
            Ok(m) if m.len() == 0 => {}
            _ => return Ok(()),
        }
        if std::time::Instant::now() >= deadline {
            return Err(Error::Integrity(format!(
                "{} is an empty file, not a database; if it held your pool, restore a backup (pool restore FILE); to start a new database in it, run pool init",
                path.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
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
    // `--where` on custom values a reader sees masked compares the masked text, as the
    // reader sees it (customers.rs custom_condition): no probing masked data by filter.
    conn.create_scalar_function(
        "pool_mask_text",
        1,
        rusqlite::functions::FunctionFlags::SQLITE_UTF8
            | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            Ok(match ctx.get_raw(0) {
                rusqlite::types::ValueRef::Text(t) => {
                    let t = String::from_utf8_lossy(t);
                    rusqlite::types::Value::Text(crate::domain::mask::mask_in_text(&t).into_owned())
                }
                // A phone stored as a JSON number: its masked text where masking changes it.
                number @ (rusqlite::types::ValueRef::Integer(_)
                | rusqlite::types::ValueRef::Real(_)) => {
                    let text = match number {
                        rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                        rusqlite::types::ValueRef::Real(r) => r.to_string(),
                        _ => String::new(),
                    };
                    match crate::domain::mask::mask_in_text(&text) {
                        std::borrow::Cow::Owned(m) => rusqlite::types::Value::Text(m),
                        std::borrow::Cow::Borrowed(_) => number.into(),
                    }
                }
                other => other.into(),
            })
        },
    )?;
    Ok(())
}
