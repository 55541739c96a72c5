//! `pool backup`, `pool restore`, `pool doctor`: the company's memory must survive
//! crashes, bad files and mistakes.
use std::collections::hash_map::Entry;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use serde_json::json;

use super::output::confirm;
use super::Ctx;
use crate::domain::roles::Action;
use crate::domain::rules::recycle_due;
use crate::error::{Error, Result};
use crate::outfile;
use crate::store::{audit, migrate, pool, safety};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the backup (a new file; the folder must exist)
    pub file: PathBuf,
    /// Replace FILE if it exists: a previous pool backup that nobody has open or any
    /// other regular file; never the live database, a database in use, or another
    /// program's database
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

/// May the backup replace what is at `target`? Nothing, or (with --force) a file that is
/// not the live database by any name, not a directory or device, and — if it is a
/// database — one that nobody uses (no -wal/-shm beside it, no process holding it open).
fn check_backup_target(
    target: &std::path::Path,
    force: bool,
    protect: &outfile::Protected,
) -> Result<()> {
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

/// Backup: the copy is written beside FILE under a temporary name, checked, recorded in
/// the audit log, then renamed over FILE. A failure at any point removes the temporary
/// file and leaves no audit row; FILE is whole or untouched.
pub fn backup(ctx: &mut Ctx, a: &BackupArgs) -> Result<()> {
    let me = ctx.require(Action::Backup)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let live = ctx.db_path()?;
    let protect = outfile::Protected::database(&live);
    let folder = match a.file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !folder.is_dir() {
        return Err(Error::invalid(
            "FILE",
            format!("the folder {} does not exist", folder.display()),
        ));
    }
    check_backup_target(&a.file, a.force, &protect)?;
    safety::sweep_leftovers(&a.file, "partial");
    let store = ctx.store()?;
    let (tmp, file) = outfile::temp_beside(&a.file, "partial", &protect)?;
    drop(file);
    let written = (|| -> Result<(safety::FileCheck, u64)> {
        safety::backup_to(&store.conn, &tmp)?;
        let check = safety::check_file(&safety::open_read_only(&tmp)?)?;
        if check.integrity != "ok" || check.audit_error.is_some() || check.schema_error.is_some() {
            return Err(Error::Integrity(format!(
                "the backup does not verify: {} {} {}",
                check.integrity,
                check.audit_error.clone().unwrap_or_default(),
                check.schema_error.clone().unwrap_or_default()
            )));
        }
        let bytes = std::fs::metadata(&tmp)?.len();
        // Recorded before the copy takes its name: no backup exists without its row.
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
                after: Some(json!({
                    "file": a.file.display().to_string(),
                    "bytes": bytes,
                    "customers": check.customers,
                    "audit_head": check.audit_head,
                })),
            },
        )?;
        tx.commit()?;
        std::fs::rename(&tmp, &a.file)?;
        Ok((check, bytes))
    })();
    let (check, bytes) = match written {
        Ok(w) => w,
        Err(e) => {
            safety::remove_db_files(&tmp);
            return Err(e);
        }
    };
    outfile::sync_dir(&a.file);
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

/// Restore: the backup is copied once to a private file beside the database, and only
/// that copy is checked (integrity, audit chain, exactly pool's schema for its version),
/// upgraded to this binary's schema and given its `restore` audit row — so the file
/// cannot be swapped between the check and the copy; then its pages are written into the
/// live database in one transaction while everybody else keeps working
/// (`store::safety::restore_into_live` explains why that is atomic for them), after the
/// current contents are copied aside under the same lock.
pub fn restore(ctx: &mut Ctx, a: &RestoreArgs) -> Result<()> {
    let me = ctx.require(Action::Restore)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let yes = ctx.global.yes;
    let live = ctx.db_path()?;
    let protect = outfile::Protected::database(&live);
    if protect.holds_path(&a.file) {
        return Err(Error::invalid(
            "FILE",
            "is the live database itself; restore a backup of it",
        ));
    }
    if !a.file.exists() {
        return Err(Error::not_found("file", a.file.display()));
    }
    safety::sweep_leftovers(&live, "restoring");
    let aside_base = PathBuf::from(format!(
        "{}.before-restore-{now}-{}",
        live.display(),
        std::process::id()
    ));
    safety::sweep_leftovers(&aside_base, "partial");
    let (tmp, file) = outfile::temp_beside(&live, "restoring", &protect)?;
    drop(file);
    let restored = (|| -> Result<Option<(safety::FileCheck, PathBuf)>> {
        // 1. One copy of the file, and everything below reads only that copy.
        let mut prepared = safety::copy_backup(&a.file, &tmp)?;
        let check = safety::check_file(&prepared)?;
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
        if let Some(e) = &check.schema_error {
            return Err(Error::Integrity(format!("{}: {e}", a.file.display())));
        }
        if let Some(e) = &check.audit_error {
            return Err(Error::Integrity(format!(
                "{}: audit chain broken: {e}",
                a.file.display()
            )));
        }
        if !confirm(
            yes,
            &format!(
                "replace the contents of {} with {} ({} customers)?",
                live.display(),
                a.file.display(),
                check.customers
            ),
        )? {
            return Ok(None);
        }
        // 2. Upgraded to this binary's schema, checked again, stamped.
        migrate::to_latest(&mut prepared)?;
        migrate::check_schema(&prepared)?;
        let tx = prepared.transaction()?;
        audit::append(
            &tx,
            audit::Record {
                at: now,
                actor: &me.login,
                action: "restore",
                entity: "database",
                entity_id: None,
                before: Some(json!({"kept_at": aside_base.display().to_string()})),
                after: Some(
                    json!({"from": a.file.display().to_string(), "audit_head": check.audit_head}),
                ),
            },
        )?;
        tx.commit()?;
        safety::match_page_size(&prepared, &ctx.store()?.conn)?;
        // 3. Into the live database, for everyone at once.
        let aside = safety::restore_into_live(&prepared, &live, &aside_base)?;
        Ok(Some((check, aside)))
    })();
    safety::remove_db_files(&tmp);
    let Some((check, aside)) = restored? else {
        out.status("nothing restored");
        return Ok(());
    };
    ctx.close_store();
    // The restoring admin's remembered audit head moves to the restored chain (others'
    // `audit verify` will say the chain changed until they accept it).
    if let Some((seq, hash)) = audit::head(&safety::open_read_only(&live)?)? {
        super::audit_cmd::remember_head(&live, seq, &hash);
    }
    out.status(format!(
        "restored {} from {}; the previous contents are kept at {}",
        live.display(),
        a.file.display(),
        aside.display()
    ));
    out.record(&RestoreReport {
        restored_from: a.file.display().to_string(),
        database: live.display().to_string(),
        previous_kept_at: Some(aside.display().to_string()),
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
    let schema = file.schema_error.clone();
    if file.integrity == "ok" {
        add(
            "schema",
            Some(schema.is_none()),
            schema
                .clone()
                .unwrap_or_else(|| "exactly pool's tables, indexes and triggers".into()),
            "the schema was changed outside pool (a planted or dropped trigger, index or table); restore a backup",
        );
    }
    // With foreign tables nothing else can be read; a dropped or planted trigger or index
    // is reported above and the rows are checked all the same.
    if file.integrity == "ok" && (schema.is_none() || migrate::tables_match(&conn)) {
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
        let (n, sample) = safety::key_mismatches(&conn)?;
        add(
            "match keys",
            Some(n == 0),
            if n == 0 {
                "every phone and e-mail key matches its raw value".into()
            } else {
                format!("{n} customers' keys differ from their phone or e-mail (e.g. {sample})")
            },
            "a phone or e-mail was changed outside pool; re-enter it with pool edit ID --phone …",
        );
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
