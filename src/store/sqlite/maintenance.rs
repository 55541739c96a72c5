//! The SQLite side of backup, restore and doctor (`store::ops::maintenance`): files
//! beside the database, SQLite's online backup API, and read-only checks.
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::tx::SqliteTx;
use super::{migrate, safety, Store};
use crate::domain::rules::Rules;
use crate::error::{Error, Result};
use crate::outfile;
use crate::store::ops::maintenance::{
    Diagnosis, FileCheck, Maintenance, PendingCopy, PreparedRestore, RecycleDateVisitor,
};
use crate::store::Tx;

/// May a backup replace what is at `target`? Nothing, or (with --force) a file that is
/// not the live database by any name, not a directory or device, and — if it is a
/// database — one that nobody uses (no -wal/-shm beside it, no process holding it open).
fn check_backup_target(target: &Path, force: bool, protect: &outfile::Protected) -> Result<()> {
    protect.check_path(target, "FILE")?;
    let Ok(meta) = std::fs::metadata(target) else {
        if std::fs::symlink_metadata(target).is_ok() {
            return Err(Error::invalid(
                "FILE",
                format!("{} is a symbolic link to a missing file", target.display()),
            ));
        }
        return Ok(());
    };
    if !meta.is_file() {
        return Err(Error::invalid(
            "FILE",
            format!("{} is not a regular file", target.display()),
        ));
    }
    if !force {
        return Err(Error::invalid(
            "FILE",
            format!(
                "{} exists; pass --force to replace it, or choose a new name",
                target.display()
            ),
        ));
    }
    let in_use = outfile::SIDE_FILES[1..].iter().any(|s| {
        let mut p = target.as_os_str().to_owned();
        p.push(s);
        std::fs::symlink_metadata(PathBuf::from(p)).is_ok()
    }) || !safety::other_openers(target).is_empty();
    if in_use {
        return Err(Error::invalid(
            "FILE",
            format!(
                "{} is a database in use (side files beside it or a process holding it open); pool never replaces one",
                target.display()
            ),
        ));
    }
    if safety::is_sqlite_file(target) && !safety::is_pool_backup(target) {
        return Err(Error::invalid(
            "FILE",
            format!(
                "{} is a database that is not a pool backup; pool never replaces one",
                target.display()
            ),
        ));
    }
    Ok(())
}

struct Pending {
    tmp: PathBuf,
    dest: PathBuf,
    check: FileCheck,
    bytes: u64,
    published: bool,
}

impl PendingCopy for Pending {
    fn check(&self) -> &FileCheck {
        &self.check
    }

    fn bytes(&self) -> u64 {
        self.bytes
    }

    fn publish(mut self: Box<Self>) -> Result<()> {
        std::fs::rename(&self.tmp, &self.dest)?;
        self.published = true;
        outfile::sync_dir(&self.dest);
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.published {
            safety::remove_db_files(&self.tmp);
        }
    }
}

struct Prepared<'s> {
    store: &'s mut Store,
    tmp: PathBuf,
    conn: Option<Connection>,
    check: FileCheck,
    aside: PathBuf,
}

impl Prepared<'_> {
    fn conn(&mut self) -> Result<&mut Connection> {
        self.conn
            .as_mut()
            .ok_or_else(|| Error::Other("the restore copy is closed".into()))
    }
}

impl PreparedRestore for Prepared<'_> {
    fn check(&self) -> &FileCheck {
        &self.check
    }

    fn upgrade(&mut self) -> Result<()> {
        let conn = self.conn()?;
        migrate::to_latest(conn)?;
        migrate::check_schema(conn)
    }

    fn write(&mut self) -> Result<Box<dyn Tx + '_>> {
        let tx = self.conn()?.transaction()?;
        Ok(Box::new(SqliteTx { tx }))
    }

    fn install(mut self: Box<Self>) -> Result<String> {
        let conn = self
            .conn
            .take()
            .ok_or_else(|| Error::Other("the restore copy is closed".into()))?;
        safety::match_page_size(&conn, &self.store.conn)?;
        let aside = safety::restore_into_live(&conn, &self.store.path, &self.aside)?;
        Ok(aside.display().to_string())
    }
}

impl Drop for Prepared<'_> {
    fn drop(&mut self) {
        self.conn = None;
        safety::remove_db_files(&self.tmp);
    }
}

impl Maintenance for Store {
    fn backup_copy(&mut self, dest: &Path, force: bool) -> Result<Box<dyn PendingCopy>> {
        let protect = outfile::Protected::database(&self.path);
        let folder = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !folder.is_dir() {
            return Err(Error::invalid(
                "FILE",
                format!("the folder {} does not exist", folder.display()),
            ));
        }
        check_backup_target(dest, force, &protect)?;
        safety::sweep_leftovers(dest, "partial");
        let (tmp, file) = outfile::temp_beside(dest, "partial", &protect)?;
        drop(file);
        let mut pending = Pending {
            tmp,
            dest: dest.to_path_buf(),
            check: FileCheck::default(),
            bytes: 0,
            published: false,
        };
        safety::backup_to(&self.conn, &pending.tmp)?;
        let check = safety::check_file(&safety::open_read_only(&pending.tmp)?)?;
        if check.integrity != "ok" || check.audit_error.is_some() || check.schema_error.is_some() {
            return Err(Error::Integrity(format!(
                "the backup does not verify: {} {} {}",
                check.integrity,
                check.audit_error.clone().unwrap_or_default(),
                check.schema_error.clone().unwrap_or_default()
            )));
        }
        pending.bytes = std::fs::metadata(&pending.tmp)?.len();
        pending.check = check;
        Ok(Box::new(pending))
    }

    fn prepare_restore(
        &mut self,
        file: &Path,
        aside: &Path,
    ) -> Result<Box<dyn PreparedRestore + '_>> {
        let protect = outfile::Protected::database(&self.path);
        if protect.holds_path(file) {
            return Err(Error::invalid(
                "FILE",
                "is the live database itself; restore a backup of it",
            ));
        }
        if !file.exists() {
            return Err(Error::not_found("file", file.display()));
        }
        safety::sweep_leftovers(&self.path, "restoring");
        safety::sweep_leftovers(aside, "partial");
        let (tmp, handle) = outfile::temp_beside(&self.path, "restoring", &protect)?;
        drop(handle);
        let mut prepared = Prepared {
            store: self,
            tmp,
            conn: None,
            check: FileCheck::default(),
            aside: aside.to_path_buf(),
        };
        // One copy of the file, and everything after reads only that copy.
        let conn = safety::copy_backup(file, &prepared.tmp)?;
        prepared.check = safety::check_file(&conn)?;
        prepared.conn = Some(conn);
        Ok(Box::new(prepared))
    }
}

/// The doctor's view of a database file.
pub struct Diagnose {
    path: PathBuf,
    conn: Connection,
}

impl Diagnose {
    pub fn open(path: &Path) -> Result<Diagnose> {
        if !path.exists() {
            return Err(Error::not_found("database", path.display()));
        }
        Ok(Diagnose {
            path: path.to_path_buf(),
            conn: safety::open_read_only(path)?,
        })
    }
}

impl Diagnosis for Diagnose {
    fn file_check(&mut self) -> Result<FileCheck> {
        let check = safety::check_file(&self.conn);
        // A fresh connection for what follows (the checks above may leave statements
        // and schema state behind on a damaged file).
        self.conn = safety::open_read_only(&self.path)?;
        check
    }

    fn tables_match(&mut self) -> bool {
        migrate::tables_match(&self.conn)
    }

    fn foreign_key_problems(&mut self) -> Result<Vec<String>> {
        safety::foreign_key_problems(&self.conn)
    }

    fn journal_mode(&mut self) -> Result<String> {
        safety::journal_mode(&self.conn)
    }

    fn key_mismatches(&mut self) -> Result<(i64, String)> {
        safety::key_mismatches(&self.conn)
    }

    fn inconsistencies(&mut self) -> Result<Vec<(String, i64, String)>> {
        safety::inconsistencies(&self.conn)
    }

    fn for_each_recycle_date(&mut self, each: &mut RecycleDateVisitor) -> Result<()> {
        super::recycle::for_each_recycle_date(&self.conn, |w, stored| {
            each(w.id, w.pool_id, &w.facts, stored)
        })
    }

    fn all_rules(&mut self) -> Result<Vec<(i64, Rules)>> {
        super::pools::all_pool_ids(&self.conn)?
            .into_iter()
            .map(|(id, _)| Ok((id, super::rules::rules(&self.conn, id)?)))
            .collect()
    }

    fn filesystem(&mut self) -> Option<(String, bool)> {
        safety::filesystem_of(&self.path).map(|fs| {
            let network = safety::is_network_fs(&fs);
            (fs, network)
        })
    }

    fn latest_schema(&self) -> i64 {
        migrate::LATEST
    }
}
