//! Backups, restore checks and the doctor's queries.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::domain::audit::{Break, Verifier};
use crate::error::{Error, Result};
use crate::outfile;

/// Copies the live database to `dest` with SQLite's online backup API, all pages in one
/// step: the copy is one consistent snapshot taken under a read transaction, which in
/// WAL mode never blocks writers and never has to restart because of them.
/// `dest` must be a file the caller just created (empty).
pub fn backup_to(src: &Connection, dest: &Path) -> Result<()> {
    let mut out = Connection::open_with_flags(
        dest,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    out.busy_timeout(super::busy_timeout())?;
    {
        let b = Backup::new(src, &mut out)?;
        step_to_done(&b, -1)?;
    }
    // A backup is one self-contained file: no WAL beside it.
    out.pragma_update(None, "journal_mode", "DELETE")?;
    drop(out);
    std::fs::File::open(dest)?.sync_all()?;
    Ok(())
}

/// Runs backup steps of `pages` pages until SQLite says done, waiting out busy locks up to
/// the busy timeout (exit 7 after it). `pages` = 0 only takes the locks.
fn step_to_done(b: &Backup<'_, '_>, pages: i32) -> Result<()> {
    let deadline = Instant::now() + super::busy_timeout();
    loop {
        match b.step(pages)? {
            StepResult::Done => return Ok(()),
            StepResult::More if pages >= 0 => return Ok(()),
            StepResult::More => {}
            _ if Instant::now() >= deadline => {
                return Err(Error::Busy(super::busy_timeout().as_secs()))
            }
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// A backup of `src` written to `dest`, which must not exist yet: created exclusively
/// (never through a planted link), written under a temporary name and renamed, so
/// `dest` is whole or absent. Used for copies the tool names itself.
pub fn backup_to_new_file(src: &Connection, live: &Path, dest: &Path) -> Result<()> {
    let protect = outfile::Protected::database(live);
    let (tmp, file) = outfile::temp_beside(dest, "partial", &protect)?;
    drop(file);
    let done = backup_to(src, &tmp).and_then(|()| {
        if std::fs::symlink_metadata(dest).is_ok() {
            return Err(Error::Conflict(format!(
                "{} appeared meanwhile",
                dest.display()
            )));
        }
        std::fs::rename(&tmp, dest)?;
        Ok(())
    });
    if done.is_err() {
        remove_db_files(&tmp);
    }
    outfile::sync_dir(dest);
    done
}

/// Removes a database file the tool created and its side files (best effort).
pub fn remove_db_files(p: &Path) {
    for suffix in outfile::SIDE_FILES {
        let mut s = p.as_os_str().to_owned();
        s.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(s));
    }
}

/// Copies the whole backup at `backup` into the new file `to` (created by the caller), so
/// it can be checked, upgraded and amended without touching the user's file.
pub fn copy_backup(backup: &Path, to: &Path) -> Result<Connection> {
    let src = open_read_only(backup)?;
    backup_to(&src, to)?;
    let conn = Connection::open_with_flags(
        to,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(super::busy_timeout())?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Gives `prepared` the page size of the live database (SQLite cannot copy pages of one
/// size into a WAL database of another).
pub fn match_page_size(prepared: &Connection, live: &Connection) -> Result<()> {
    let want: i64 = live.pragma_query_value(None, "page_size", |r| r.get(0))?;
    let have: i64 = prepared.pragma_query_value(None, "page_size", |r| r.get(0))?;
    if want != have {
        prepared.pragma_update(None, "page_size", want)?;
        prepared.execute_batch("VACUUM")?;
    }
    Ok(())
}

/// Replaces the contents of the live database with `prepared`'s, for everyone at once.
///
/// The file is never renamed, removed or truncated: SQLite's backup API writes the new
/// pages *into* the live database as one ordinary write transaction under its own locks.
/// Other processes keep their connections; a reader sees the old database or the
/// restored one (WAL snapshots), never a missing, empty or mixed file; a writer waits for
/// the lock (its busy timeout) and then writes into the restored database; nobody can
/// find the path empty and start a new database there. The transaction also changes the
/// schema cookie, so every other connection re-reads the schema.
///
/// The first step copies no pages but takes the live database's write lock; while it is
/// held, the current contents are copied to `aside` (nobody can commit in between, so the
/// copy is exactly what the restore replaces). Then every page is copied and committed.
/// A failure before that commit (including being killed) leaves the live database as it
/// was: SQLite rolls the unfinished transaction back.
///
/// The copy aside is named after `aside` (the first free name, chosen under the lock, so
/// two restores in the same second do not collide); its path is returned.
pub fn restore_into_live(prepared: &Connection, live: &Path, aside: &Path) -> Result<PathBuf> {
    let mut dest = super::open_conn(live, false)?;
    let reader = open_read_only(live)?;
    let aside = {
        let b = Backup::new(prepared, &mut dest)?;
        step_to_done(&b, 0)?;
        let aside = outfile::unused_name(aside);
        backup_to_new_file(&reader, live, &aside)?;
        drop(reader);
        step_to_done(&b, -1)?;
        aside
    };
    // Fold the copied pages into the file now, if no reader is in the way.
    dest.busy_timeout(Duration::from_millis(200))?;
    let _ = dest.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    Ok(aside)
}

/// Removes what a killed backup or restore left beside `target`: files named
/// `TARGET.TAG-PID…` (and their -journal) whose process no longer runs. Best effort.
pub fn sweep_leftovers(target: &Path, tag: &str) {
    let Some(name) = target.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!("{name}.{tag}-");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name();
        let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
            continue;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        // Only where /proc tells the truth (Linux); elsewhere nothing is removed.
        if !alive && Path::new("/proc/self").exists() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Whether the file starts with SQLite's header.
pub fn is_sqlite_file(p: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(p).is_ok_and(|mut f| f.read_exact(&mut head).is_ok())
        && &head == b"SQLite format 3\0"
}

/// Whether the file is a backup `pool backup` wrote: a pool schema (an audit log) in
/// rollback-journal mode. A live pool database is always in WAL mode (file format
/// bytes 18 and 19 are 2), even while nobody has it open, so it never qualifies.
pub fn is_pool_backup(p: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 20];
    let rollback = std::fs::File::open(p).is_ok_and(|mut f| f.read_exact(&mut head).is_ok())
        && head[18] == 1
        && head[19] == 1;
    rollback
        && open_read_only(p).is_ok_and(|c| {
            c.query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'audit_log'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .is_ok_and(|n| n == 1)
        })
}

pub use crate::store::ops::maintenance::FileCheck;

fn corrupt(e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseCorrupt) | Some(rusqlite::ErrorCode::NotADatabase) => {
            Error::Integrity(format!("the file is damaged: {e}"))
        }
        _ => Error::from(e),
    }
}

pub fn open_read_only(path: &Path) -> Result<Connection> {
    if !path.exists() {
        return Err(Error::not_found("file", path.display()));
    }
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.busy_timeout(super::busy_timeout_checked()?)?;
    Ok(c)
}

/// integrity_check, schema version and audit chain of a database, read-only.
pub fn check_file(conn: &Connection) -> Result<FileCheck> {
    let mut f = FileCheck::default();
    let mut s = conn.prepare("PRAGMA integrity_check").map_err(corrupt)?;
    let problems: Vec<String> = s
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(corrupt)?
        .collect::<rusqlite::Result<_>>()
        .map_err(corrupt)?;
    f.integrity = problems.join("; ");
    f.schema_version = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(corrupt)?;
    if f.integrity != "ok" {
        return Ok(f);
    }
    if let Err(e) = super::migrate::check_schema(conn) {
        f.schema_error = Some(match e {
            Error::Integrity(m) => m,
            other => other.to_string(),
        });
        // Foreign tables: nothing of pool's can be read.
        if !super::migrate::tables_match(conn) {
            return Ok(f);
        }
    }
    let mut v = Verifier::default();
    let mut broken: Option<Break> = None;
    super::audit::for_each(conn, |row| match v.push(&row) {
        Ok(()) => Ok(true),
        Err(b) => {
            broken = Some(b);
            Ok(false)
        }
    })?;
    f.audit_rows = v.rows;
    f.audit_head = format!("{}:{}", v.head_seq, v.head_hash);
    f.audit_error = broken.map(|b| b.to_string());
    f.customers = conn
        .query_row("SELECT count(*) FROM customers", [], |r| r.get(0))
        .map_err(corrupt)?;
    Ok(f)
}

/// (table, rowid, parent) rows that break a foreign key.
pub fn foreign_key_problems(conn: &Connection) -> Result<Vec<String>> {
    let mut s = conn.prepare("PRAGMA foreign_key_check").map_err(corrupt)?;
    let rows = s
        .query_map([], |r| {
            Ok(format!(
                "{} row {} → {}",
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                r.get::<_, String>(2)?
            ))
        })
        .map_err(corrupt)?;
    rows.collect::<rusqlite::Result<_>>().map_err(corrupt)
}

/// Rows whose state contradicts itself: (what, how many, example ids).
pub fn inconsistencies(conn: &Connection) -> Result<Vec<(String, i64, String)>> {
    let checks = [
        (
            "customers owned by a deactivated user",
            "SELECT c.id FROM customers c JOIN users u ON u.id = c.owner_id WHERE c.owner_id IS NOT NULL AND c.deleted_at IS NULL AND u.active = 0",
        ),
        (
            "pooled customers that are locked or have a claim time",
            "SELECT id FROM customers WHERE owner_id IS NULL AND deleted_at IS NULL AND (locked = 1 OR claimed_at IS NOT NULL)",
        ),
        (
            "open follow-ups of deleted or merged customers",
            "SELECT f.id FROM followups f JOIN customers c ON c.id = f.customer_id WHERE f.status = 'open' AND c.deleted_at IS NOT NULL",
        ),
        (
            "customers merged into a missing or deleted customer",
            "SELECT c.id FROM customers c LEFT JOIN customers s ON s.id = c.merged_into WHERE c.merged_into IS NOT NULL AND (s.id IS NULL OR (s.deleted_at IS NOT NULL AND s.merged_into IS NULL))",
        ),
        (
            "customers in a pool or deleted with a recycle date",
            "SELECT id FROM customers WHERE recycle_due_at IS NOT NULL AND (owner_id IS NULL OR deleted_at IS NOT NULL)",
        ),
        (
            // Every change of owner goes through pool, which records an ownership event;
            // an owner changed with another tool is not the last event's. (Survivors of
            // a merge carry their tombstones' events and are left out.)
            "owners that differ from the last ownership event",
            "SELECT c.id FROM customers c
             WHERE c.deleted_at IS NULL AND c.merged_into IS NULL
               AND c.id NOT IN (SELECT survivor_id FROM merges)
               AND c.owner_id IS NOT (SELECT e.to_user FROM ownership_events e
                                      WHERE e.customer_id = c.id ORDER BY e.id DESC LIMIT 1)",
        ),
        (
            "open follow-ups nobody will do (customer pooled, assignee deactivated or outside the owner's team)",
            super::ownership::STRAY_FOLLOWUPS,
        ),
        (
            "owned customers without a claim time",
            "SELECT id FROM customers WHERE owner_id IS NOT NULL AND deleted_at IS NULL AND claimed_at IS NULL",
        ),
    ];
    let mut out = Vec::new();
    for (what, sql) in checks {
        let ids: Vec<i64> = conn
            .prepare(sql)
            .map_err(corrupt)?
            .query_map([], |r| r.get(0))
            .map_err(corrupt)?
            .collect::<rusqlite::Result<_>>()
            .map_err(corrupt)?;
        let sample: Vec<String> = ids.iter().take(5).map(|i| i.to_string()).collect();
        out.push((what.to_string(), ids.len() as i64, sample.join(", ")));
    }
    Ok(out)
}

/// Live customers whose stored match keys are not the keys of their raw phone and
/// e-mail (a value changed with another tool): how many, and a few ids.
pub fn key_mismatches(conn: &Connection) -> Result<(i64, String)> {
    use crate::domain::normalize::{email_key, phone_key};
    let mut s = conn
        .prepare(
            "SELECT id, phone, phone_key, email, email_key FROM customers WHERE deleted_at IS NULL",
        )
        .map_err(corrupt)?;
    let mut rows = s.query([]).map_err(corrupt)?;
    let (mut n, mut sample) = (0i64, Vec::new());
    while let Some(r) = rows.next().map_err(corrupt)? {
        let id: i64 = r.get(0)?;
        let phone: Option<String> = r.get(1)?;
        let pk: Option<String> = r.get(2)?;
        let email: Option<String> = r.get(3)?;
        let ek: Option<String> = r.get(4)?;
        let want_pk = phone.as_deref().and_then(|p| phone_key(p).ok());
        let want_ek = email.as_deref().and_then(|e| email_key(e).ok());
        if want_pk != pk || want_ek != ek {
            n += 1;
            if sample.len() < 5 {
                sample.push(id.to_string());
            }
        }
    }
    Ok((n, sample.join(", ")))
}

/// The filesystem type the file lives on (Linux: the longest matching mount point in
/// /proc/mounts), for the network-filesystem warning.
pub fn filesystem_of(path: &Path) -> Option<String> {
    let abs = std::fs::canonicalize(path).ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|l| {
            let mut p = l.split_whitespace();
            let _dev = p.next()?;
            let mnt = p.next()?.replace("\\040", " ");
            let fs = p.next()?;
            abs.starts_with(&mnt).then(|| (mnt.len(), fs.to_string()))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, fs)| fs)
}

pub fn is_network_fs(fs: &str) -> bool {
    matches!(
        fs,
        "nfs" | "nfs4" | "cifs" | "smb3" | "smbfs" | "9p" | "afs" | "ceph" | "glusterfs" | "davfs"
    ) || fs.starts_with("fuse.sshfs")
        || fs.starts_with("fuse.rclone")
}

/// Other processes that have the file open (Linux /proc; empty elsewhere).
pub fn other_openers(path: &Path) -> Vec<u32> {
    let Ok(target) = std::fs::canonicalize(path) else {
        return Vec::new();
    };
    let me = std::process::id();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        if fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .map(|l| l == target)
                .unwrap_or(false)
        }) {
            pids.push(pid);
        }
    }
    pids
}

pub fn journal_mode(conn: &Connection) -> Result<String> {
    conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .map_err(corrupt)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The restore's design rests on this: a backup step of zero pages takes the
    /// destination's write lock and keeps it until the last step.
    #[test]
    fn a_zero_page_step_holds_the_destination_write_lock() {
        let d = tempfile::tempdir().unwrap();
        let live = d.path().join("live.db");
        let c = Connection::open(&live).unwrap();
        c.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .unwrap();
        let src = Connection::open_in_memory().unwrap();
        src.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (2), (3);")
            .unwrap();
        let mut dest = Connection::open(&live).unwrap();
        let other = Connection::open(&live).unwrap();
        other.busy_timeout(Duration::ZERO).unwrap();
        {
            let b = Backup::new(&src, &mut dest).unwrap();
            step_to_done(&b, 0).unwrap();
            let e = other.execute_batch("BEGIN IMMEDIATE").unwrap_err();
            assert_eq!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy)
            );
            // Readers still read the old contents meanwhile.
            let n: i64 = other
                .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 1);
            step_to_done(&b, -1).unwrap();
        }
        let n: i64 = other
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
        other.execute_batch("BEGIN IMMEDIATE; ROLLBACK").unwrap();
    }
}
