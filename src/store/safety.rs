//! Backups, restore checks and the doctor's queries.
use std::path::Path;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::domain::audit::{Break, Verifier};
use crate::error::{Error, Result};

/// Copies the live database to `dest` with SQLite's online backup API, all pages in one
/// step: the copy is one consistent snapshot taken under a read transaction, which in
/// WAL mode never blocks writers and never has to restart because of them.
pub fn backup_to(src: &Connection, dest: &Path) -> Result<()> {
    let mut out = Connection::open(dest)?;
    {
        let b = Backup::new(src, &mut out)?;
        loop {
            // -1: every page in one step, under one read transaction.
            match b.step(-1)? {
                StepResult::Done => break,
                StepResult::More => {}
                StepResult::Busy | StepResult::Locked => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
    // A backup is one self-contained file: no WAL beside it.
    out.pragma_update(None, "journal_mode", "DELETE")?;
    drop(out);
    std::fs::File::open(dest)?.sync_all()?;
    Ok(())
}

/// What a database file looks like to `restore` and `doctor`.
#[derive(Debug, Default, serde::Serialize)]
pub struct FileCheck {
    pub integrity: String,
    pub schema_version: i64,
    pub audit_rows: i64,
    pub audit_head: String,
    pub audit_error: Option<String>,
    pub customers: i64,
}

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
