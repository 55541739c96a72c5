//! Keeping the data safe: backups, restores and the doctor's checks. What a file-based
//! backend does here differs from what a server does, so these are whole steps, not rows:
//! the app decides who may run them and writes their audit rows.
use std::path::{Path, PathBuf};

use crate::domain::rules::{OwnedFacts, Rules};
use crate::error::Result;
use crate::store::Tx;

/// What a database (a backup, or the live one) looks like to restore and doctor.
#[derive(Debug, Default, serde::Serialize)]
pub struct FileCheck {
    pub integrity: String,
    pub schema_version: i64,
    pub audit_rows: i64,
    pub audit_head: String,
    pub audit_error: Option<String>,
    /// What differs from pool's schema of the file's version (nothing else is read then).
    pub schema_error: Option<String>,
    pub customers: i64,
}

/// A backup written and checked under a temporary name, not yet under its own. Dropped
/// without `publish`, it is removed.
pub trait PendingCopy {
    fn check(&self) -> &FileCheck;
    fn bytes(&self) -> u64;
    /// Gives the copy its name (atomically).
    fn publish(self: Box<Self>) -> Result<()>;
}

/// A backup copied privately and checked, ready to be upgraded, stamped and put in place
/// of the live data. Dropped without `install`, it is removed and nothing changed.
pub trait PreparedRestore {
    fn check(&self) -> &FileCheck;
    /// Upgrades the copy to this binary's schema and checks it again.
    fn upgrade(&mut self) -> Result<()>;
    /// A transaction on the copy (for its `restore` audit row).
    fn write(&mut self) -> Result<Box<dyn Tx + '_>>;
    /// Replaces the live data with the copy's, for everyone at once; the previous
    /// contents are kept aside first, at the returned place.
    fn install(self: Box<Self>) -> Result<String>;
}

pub trait Maintenance {
    /// Writes a consistent copy of the live data to a temporary file beside `dest` and
    /// checks it. `force`: `dest` may be replaced (only if it is an idle pool backup or
    /// an ordinary file).
    fn backup_copy(&mut self, dest: &Path, force: bool) -> Result<Box<dyn PendingCopy>>;
    /// Copies the backup at `file` privately and checks the copy (never the file again).
    /// `aside`: where the current contents will be kept.
    fn prepare_restore(
        &mut self,
        file: &Path,
        aside: &Path,
    ) -> Result<Box<dyn PreparedRestore + '_>>;
}

/// Called with (customer id, pool id, its facts, its stored recycle date).
pub type RecycleDateVisitor<'a> = dyn FnMut(i64, i64, &OwnedFacts, Option<i64>) -> Result<()> + 'a;

/// A database opened for the doctor: read-only, without migrating, and working on a
/// damaged file as far as it can.
pub trait Diagnosis {
    fn file_check(&mut self) -> Result<FileCheck>;
    /// Whether pool's tables are all there (foreign tables: nothing else can be read).
    fn tables_match(&mut self) -> bool;
    /// Rows that break a foreign key: "table rowid → parent".
    fn foreign_key_problems(&mut self) -> Result<Vec<String>>;
    fn journal_mode(&mut self) -> Result<String>;
    /// Customers whose stored phone/e-mail keys differ from their raw values.
    fn key_mismatches(&mut self) -> Result<(i64, String)>;
    /// (what, how many, sample) for each kind of inconsistent row.
    fn inconsistencies(&mut self) -> Result<Vec<(String, i64, String)>>;
    /// Every live owned customer: (id, pool id, facts, stored recycle date).
    fn for_each_recycle_date(&mut self, each: &mut RecycleDateVisitor) -> Result<()>;
    /// Every pool's rules: (pool id, rules).
    fn all_rules(&mut self) -> Result<Vec<(i64, Rules)>>;
    /// The filesystem the data is on, and whether it is a network one.
    fn filesystem(&mut self) -> Option<(String, bool)>;
    /// The newest schema version this binary knows.
    fn latest_schema(&self) -> i64;
}

/// One check of a server's security setup (`pool doctor` on PostgreSQL): what was
/// checked, whether it holds, what was found, what to do.
#[derive(Debug, Clone)]
pub struct ServerCheck {
    pub check: String,
    pub ok: bool,
    pub detail: String,
    pub hint: String,
}

/// The place a restore keeps the current contents: `DB.before-restore-TIME-PID`.
pub fn aside_name(live: &Path, now: i64) -> PathBuf {
    PathBuf::from(format!(
        "{}.before-restore-{now}-{}",
        live.display(),
        std::process::id()
    ))
}
