//! `pool backup`, `pool restore`, `pool doctor`: the company's memory must survive
//! crashes, bad files and mistakes.
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use serde_json::json;

use super::output::confirm;
use super::Ctx;
use crate::domain::roles::Action;
use crate::domain::rules::recycle_due;
use crate::error::{Error, Result};
use crate::store::{audit, migrate, pool, safety};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the backup
    pub file: PathBuf,
    /// Overwrite FILE if it exists
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup made by `pool backup`
    pub file: PathBuf,
}

#[derive(Serialize)]
struct BackupReport {
    file: String,
    bytes: u64,
    customers: i64,
    audit_rows: i64,
    audit_head: String,
}

fn tmp_beside(p: &Path, tag: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(format!(".{tag}-{}", std::process::id()));
    PathBuf::from(s)
}

pub fn backup(ctx: &mut Ctx, a: &BackupArgs) -> Result<()> {
    let me = ctx.require(Action::Backup)?;
    let now = ctx.now()?;
    let out = ctx.out;
    if a.file.exists() && !a.force {
        return Err(Error::Conflict(format!(
            "{} exists; pass --force to overwrite it",
            a.file.display()
        )));
    }
    let store = ctx.store()?;
    if std::fs::canonicalize(&a.file).ok() == std::fs::canonicalize(&store.path).ok() {
        return Err(Error::invalid("FILE", "is the live database"));
    }
    // Record the backup first, so the copy's audit head includes its own backup row.
    let tx = store.begin()?;
    audit::append(
        &tx,
        audit::Record {
            at: now,
            actor: &me.login,
            action: "backup",
            entity: "database",
            entity_id: None,
            before: None,
            after: Some(json!({"file": a.file.display().to_string()})),
        },
    )?;
    tx.commit()?;
    // Write beside the target and rename, so FILE is never half-written.
    let tmp = tmp_beside(&a.file, "partial");
    let _ = std::fs::remove_file(&tmp);
    if let Err(e) = safety::backup_to(&store.conn, &tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let check = safety::check_file(&safety::open_read_only(&tmp)?)?;
    if check.integrity != "ok" || check.audit_error.is_some() {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::Integrity(format!(
            "the backup does not verify: {} {}",
            check.integrity,
            check.audit_error.unwrap_or_default()
        )));
    }
    std::fs::rename(&tmp, &a.file)?;
    if let Some(dir) = a.file.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    let bytes = std::fs::metadata(&a.file)?.len();
    out.status(format!(
        "backup written to {} ({bytes} bytes); audit head {}",
        a.file.display(),
        check.audit_head
    ));
    out.record(&BackupReport {
        file: a.file.display().to_string(),
        bytes,
        customers: check.customers,
        audit_rows: check.audit_rows,
        audit_head: check.audit_head,
    })
}

#[derive(Serialize)]
struct RestoreReport {
    restored_from: String,
    database: String,
    previous_kept_at: Option<String>,
    customers: i64,
    audit_head: String,
}

pub fn restore(ctx: &mut Ctx, a: &RestoreArgs) -> Result<()> {
    let me = ctx.require(Action::Restore)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let yes = ctx.global.yes;
    let live = ctx.db_path()?;
    // 1. The file must be sound before anything is touched.
    let check = safety::check_file(&safety::open_read_only(&a.file)?)?;
    if check.integrity != "ok" {
        return Err(Error::Integrity(format!(
            "{} fails integrity_check: {}",
            a.file.display(),
            check.integrity
        )));
    }
    if check.schema_version > migrate::LATEST {
        return Err(Error::SchemaTooNew {
            found: check.schema_version,
            known: migrate::LATEST,
        });
    }
    if let Some(e) = &check.audit_error {
        return Err(Error::Integrity(format!(
            "{}: audit chain broken: {e}",
            a.file.display()
        )));
    }
    // 2. Nobody else may be using the live database.
    let others = safety::other_openers(&live);
    if !others.is_empty() {
        return Err(Error::Conflict(format!(
            "other processes have the database open (pids {}); stop them first",
            others
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if !confirm(
        yes,
        &format!("replace {} with {}?", live.display(), a.file.display()),
    )? {
        out.status("nothing restored");
        return Ok(());
    }
    // 3. Fold the WAL into the live file, close it, move it aside.
    let aside = if live.exists() {
        let store = ctx.store()?;
        store.checkpoint()?;
        ctx.close_store();
        let aside = PathBuf::from(format!("{}.before-restore-{now}", live.display()));
        std::fs::rename(&live, &aside)?;
        for ext in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", live.display()));
        }
        Some(aside)
    } else {
        None
    };
    // 4. Copy the backup in (via a temp file and rename), then open it (migrating an older one).
    let tmp = tmp_beside(&live, "restoring");
    std::fs::copy(&a.file, &tmp)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, &live)?;
    let store = ctx.store()?;
    let tx = store.begin()?;
    audit::append(
        &tx,
        audit::Record {
            at: now,
            actor: &me.login,
            action: "restore",
            entity: "database",
            entity_id: None,
            before: Some(json!({"kept_at": aside.as_ref().map(|p| p.display().to_string())})),
            after: Some(
                json!({"from": a.file.display().to_string(), "audit_head": check.audit_head}),
            ),
        },
    )?;
    tx.commit()?;
    out.status(format!(
        "restored {} from {}{}",
        live.display(),
        a.file.display(),
        aside
            .as_ref()
            .map(|p| format!("; the previous database is kept at {}", p.display()))
            .unwrap_or_default()
    ));
    out.record(&RestoreReport {
        restored_from: a.file.display().to_string(),
        database: live.display().to_string(),
        previous_kept_at: aside.map(|p| p.display().to_string()),
        customers: check.customers,
        audit_head: check.audit_head,
    })
}

#[derive(Serialize)]
struct Check {
    check: String,
    status: &'static str,
    detail: String,
    hint: String,
}

pub fn doctor(ctx: &mut Ctx) -> Result<()> {
    let out = ctx.out;
    let path = ctx.db_path()?;
    if !path.exists() {
        return Err(Error::not_found("database", path.display()));
    }
    // Who may run it is checked when the file can be read; a damaged file that cannot
    // even say who its users are is examined anyway (that is what doctor is for).
    match ctx.require(Action::Doctor) {
        Ok(_) => {}
        Err(e) if e.exit_code() == 4 => return Err(e),
        Err(_) => ctx.close_store(),
    }
    // Doctor reads the file directly (no migration, no actor): it must work on a
    // damaged database too. Permission: the acting user is checked if the file opens.
    let conn = safety::open_read_only(&path)?;
    let mut checks = Vec::new();
    let mut add = |check: &str, ok: Option<bool>, detail: String, hint: &str| {
        checks.push(Check {
            check: check.into(),
            status: match ok {
                Some(true) => "ok",
                Some(false) => "FAIL",
                None => "warn",
            },
            detail,
            hint: if ok == Some(true) {
                String::new()
            } else {
                hint.into()
            },
        });
    };
    let file = match safety::check_file(&conn) {
        Ok(f) => f,
        Err(e) => {
            add(
                "integrity_check",
                Some(false),
                e.to_string(),
                "restore the last good backup: pool restore FILE",
            );
            return finish(&out, checks);
        }
    };
    add(
        "integrity_check",
        Some(file.integrity == "ok"),
        file.integrity.clone(),
        "restore the last good backup: pool restore FILE",
    );
    if file.integrity == "ok" {
        drop(conn);
        let conn = safety::open_read_only(&path)?;
        let fk = safety::foreign_key_problems(&conn)?;
        add(
            "foreign keys",
            Some(fk.is_empty()),
            if fk.is_empty() {
                "ok".into()
            } else {
                format!(
                    "{} broken: {}",
                    fk.len(),
                    fk.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
                )
            },
            "rows point at missing parents; restore a backup or ask a developer",
        );
        add(
            "audit chain",
            Some(file.audit_error.is_none()),
            match &file.audit_error {
                None => format!("{} rows, head {}", file.audit_rows, file.audit_head),
                Some(e) => e.clone(),
            },
            "the audit log was changed outside pool; compare with a backup (pool audit verify --expect HEAD)",
        );
        let mode = safety::journal_mode(&conn)?;
        add(
            "WAL mode",
            Some(mode.eq_ignore_ascii_case("wal")),
            mode,
            "any pool command switches the file back to WAL",
        );
        add(
            "schema version",
            Some(file.schema_version <= migrate::LATEST),
            format!(
                "{} (this binary writes {})",
                file.schema_version,
                migrate::LATEST
            ),
            "upgrade pool",
        );
        if file.schema_version >= 5 {
            let (n, sample) = recycle_date_mismatches(&conn)?;
            add(
                "recycle dates",
                Some(n == 0),
                if n == 0 {
                    "every owned customer's stored date follows its pool's rules".into()
                } else {
                    format!("{n} differ from the rules (e.g. {sample})")
                },
                "the customers_recycle_due trigger was dropped or bypassed: restore a backup, or re-date a pool by changing its recycling rules (pool rules set)",
            );
        }
        for (what, n, sample) in safety::inconsistencies(&conn)? {
            add(
                &what,
                Some(n == 0),
                if n == 0 { "none".into() } else { format!("{n} (e.g. {sample})") },
                "run pool recycle / pool user deactivate again, or fix by hand with pool assign / release",
            );
        }
    }
    match safety::filesystem_of(&path) {
        Some(fs) if safety::is_network_fs(&fs) => add(
            "filesystem",
            None,
            format!("{fs}: a network filesystem"),
            "WAL needs shared memory on one machine; keep the database on a local disk",
        ),
        Some(fs) => add("filesystem", Some(true), fs, ""),
        None => add(
            "filesystem",
            None,
            "unknown".into(),
            "could not tell; keep the database on a local disk",
        ),
    }
    finish(&out, checks)
}

/// Owned customers whose stored recycle date (kept by the schema's trigger) is not
/// the one their pool's rules give: how many, and a few ids.
fn recycle_date_mismatches(conn: &rusqlite::Connection) -> Result<(i64, String)> {
    let mut rules = std::collections::HashMap::new();
    let (mut n, mut sample) = (0i64, Vec::new());
    pool::for_each_recycle_date(conn, |w, stored| {
        let r = match rules.entry(w.pool_id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(pool::rules(conn, w.pool_id)?),
        };
        let expected = recycle_due(r, &w.facts).map(|(d, _)| d);
        if expected != stored {
            n += 1;
            if sample.len() < 5 {
                sample.push(w.id.to_string());
            }
        }
        Ok(())
    })?;
    Ok((n, sample.join(", ")))
}

fn finish(out: &super::output::Out, checks: Vec<Check>) -> Result<()> {
    out.rows(&checks, "")?;
    let failed = checks.iter().filter(|c| c.status == "FAIL").count();
    if failed > 0 {
        return Err(Error::Reported {
            code: 8,
            summary: format!("doctor found {failed} problem(s); see the hints above"),
        });
    }
    out.status("doctor: all checks passed");
    Ok(())
}
