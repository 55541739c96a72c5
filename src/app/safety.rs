//! Backup, restore and doctor: the company's memory must survive crashes, bad files and
//! mistakes.
use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use serde_json::json;

use super::scope;
use crate::domain::roles::{Action, User};
use crate::domain::rules::{recycle_due, Rules};
use crate::error::{Error, Result};
use crate::store::ops::audit::Record;
use crate::store::ops::maintenance::{aside_name, Diagnosis, FileCheck};
use crate::store::Backend;

/// What a backup wrote.
#[derive(Debug, Serialize)]
pub struct BackedUp {
    pub file: String,
    pub bytes: u64,
    pub customers: i64,
    pub audit_rows: i64,
    pub audit_head: String,
}

/// Backup (admin): the copy is written beside FILE under a temporary name, checked,
/// recorded in the audit log, then renamed over FILE. A failure at any point removes the
/// temporary file and leaves no audit row; FILE is whole or untouched.
pub fn backup(
    store: &mut dyn Backend,
    me: &User,
    file: &Path,
    force: bool,
    now: i64,
) -> Result<BackedUp> {
    scope::require(me, Action::Backup)?;
    let copy = store.backup_copy(file, force)?;
    let check = copy.check();
    let done = BackedUp {
        file: file.display().to_string(),
        bytes: copy.bytes(),
        customers: check.customers,
        audit_rows: check.audit_rows,
        audit_head: check.audit_head.clone(),
    };
    // Recorded before the copy takes its name: no backup exists without its row.
    let mut tx = store.write()?;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "backup",
        entity: "database",
        entity_id: None,
        before: None,
        after: Some(json!({
            "file": done.file,
            "bytes": done.bytes,
            "customers": done.customers,
            "audit_head": done.audit_head,
        })),
    })?;
    tx.commit()?;
    copy.publish()?;
    Ok(done)
}

/// What a restore did (None from `restore`: the user said no).
#[derive(Debug, Serialize)]
pub struct Restored {
    pub restored_from: String,
    pub database: String,
    pub previous_kept_at: Option<String>,
    pub customers: i64,
    pub audit_head: String,
}

/// Restore (admin): the backup is copied once, privately, and only that copy is checked
/// (integrity, audit chain, exactly pool's schema for its version), shown to `confirm`,
/// upgraded to this binary's schema and given its `restore` audit row — so the file
/// cannot be swapped between the check and the copy; then it replaces the live data for
/// everyone at once, after the current contents are kept aside.
pub fn restore(
    store: &mut dyn Backend,
    me: &User,
    file: &Path,
    now: i64,
    confirm: &mut dyn FnMut(&FileCheck) -> Result<bool>,
) -> Result<Option<Restored>> {
    scope::require(me, Action::Restore)?;
    let database = store.location();
    let aside = aside_name(Path::new(&database), now);
    let mut prepared = store.prepare_restore(file, &aside)?;
    let (latest, check) = (crate::store::LATEST_SCHEMA, prepared.check());
    restorable(check, file, latest)?;
    if !confirm(check)? {
        return Ok(None);
    }
    let (customers, audit_head) = (check.customers, check.audit_head.clone());
    prepared.upgrade()?;
    {
        let mut tx = prepared.write()?;
        tx.audit(Record {
            at: now,
            actor: &me.login,
            action: "restore",
            entity: "database",
            entity_id: None,
            before: Some(json!({"kept_at": aside.display().to_string()})),
            after: Some(json!({"from": file.display().to_string(), "audit_head": audit_head})),
        })?;
        tx.commit()?;
    }
    let kept = prepared.install()?;
    super::audit::remember_current_head(store)?;
    Ok(Some(Restored {
        restored_from: file.display().to_string(),
        database,
        previous_kept_at: Some(kept),
        customers,
        audit_head,
    }))
}

/// A backup is restored only whole: intact, not newer than this binary, exactly pool's
/// schema, and an unbroken audit chain.
fn restorable(check: &FileCheck, file: &Path, latest: i64) -> Result<()> {
    if check.integrity != "ok" {
        return Err(Error::Integrity(format!(
            "{} fails integrity_check: {}",
            file.display(),
            check.integrity
        )));
    }
    if check.schema_version > latest {
        return Err(Error::SchemaTooNew {
            found: check.schema_version,
            known: latest,
        });
    }
    if let Some(e) = &check.schema_error {
        return Err(Error::Integrity(format!("{}: {e}", file.display())));
    }
    if let Some(e) = &check.audit_error {
        return Err(Error::Integrity(format!(
            "{}: audit chain broken: {e}",
            file.display()
        )));
    }
    Ok(())
}

/// One line of the doctor's report.
#[derive(Debug, Serialize)]
pub struct Finding {
    pub check: String,
    pub status: &'static str,
    pub detail: String,
    pub hint: String,
}

/// The doctor's checks of a database opened read-only (so a damaged one is examined
/// too): integrity, schema, foreign keys, audit chain, WAL mode, schema version, recycle
/// dates against the rules, match keys, inconsistent rows, and the filesystem.
pub fn doctor(db: &mut dyn Diagnosis) -> Result<Vec<Finding>> {
    let mut checks = Vec::new();
    let mut add = |check: &str, ok: Option<bool>, detail: String, hint: &str| {
        checks.push(Finding {
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
    let file = match db.file_check() {
        Ok(f) => f,
        Err(e) => {
            add(
                "integrity_check",
                Some(false),
                e.to_string(),
                "restore the last good backup: pool restore FILE",
            );
            return Ok(checks);
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
    if file.integrity == "ok" && (schema.is_none() || db.tables_match()) {
        let fk = db.foreign_key_problems()?;
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
        let mode = db.journal_mode()?;
        add(
            "WAL mode",
            Some(mode.eq_ignore_ascii_case("wal")),
            mode,
            "any pool command switches the file back to WAL",
        );
        let latest = db.latest_schema();
        add(
            "schema version",
            Some(file.schema_version <= latest),
            format!("{} (this binary writes {latest})", file.schema_version),
            "upgrade pool",
        );
        if file.schema_version >= 5 {
            let (n, sample) = recycle_date_mismatches(db)?;
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
        let (n, sample) = db.key_mismatches()?;
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
        for (what, n, sample) in db.inconsistencies()? {
            add(
                &what,
                Some(n == 0),
                if n == 0 { "none".into() } else { format!("{n} (e.g. {sample})") },
                "run pool recycle / pool user deactivate again, or fix by hand with pool assign / release",
            );
        }
    }
    match db.filesystem() {
        Some((fs, true)) => add(
            "filesystem",
            None,
            format!("{fs}: a network filesystem"),
            "WAL needs shared memory on one machine; keep the database on a local disk",
        ),
        Some((fs, false)) => add("filesystem", Some(true), fs, ""),
        None => add(
            "filesystem",
            None,
            "unknown".into(),
            "could not tell; keep the database on a local disk",
        ),
    }
    Ok(checks)
}

/// The doctor on a server (managers and admins): the server's own security checks
/// (row level security, policies, grants, triggers, definer functions, audit head),
/// the schema version, and the audit chain recomputed row by row. None: not a server.
pub fn doctor_server(store: &mut dyn Backend, me: &User) -> Result<Option<Vec<Finding>>> {
    scope::require(me, Action::Doctor)?;
    let Some(server) = store.server_checks()? else {
        return Ok(None);
    };
    let mut checks: Vec<Finding> = server
        .into_iter()
        .map(|c| Finding {
            check: c.check,
            status: if c.ok { "ok" } else { "FAIL" },
            detail: c.detail,
            hint: if c.ok { String::new() } else { c.hint },
        })
        .collect();
    let (found, latest) = (store.schema_version()?, crate::store::postgres::LATEST);
    checks.push(Finding {
        check: "schema version".into(),
        status: if found == latest { "ok" } else { "FAIL" },
        detail: format!("{found} (this binary writes {latest})"),
        hint: if found == latest {
            String::new()
        } else {
            "the database owner upgrades it with pool init --server (or upgrade pool)".into()
        },
    });
    let mut tx = store.read()?;
    let mut v = crate::domain::audit::Verifier::default();
    let mut broken = None;
    tx.for_each_audit(&mut |row| match v.push(&row) {
        Ok(()) => Ok(true),
        Err(b) => {
            broken = Some(b);
            Ok(false)
        }
    })?;
    checks.push(Finding {
        check: "audit chain".into(),
        status: if broken.is_none() { "ok" } else { "FAIL" },
        detail: match &broken {
            None => format!("{} rows, head {}", v.rows, v.head_hash),
            Some(b) => format!("broken: {b} (rows 1..{} verify)", v.head_seq),
        },
        hint: if broken.is_none() {
            String::new()
        } else {
            "the audit log was changed outside pool (a superuser); compare with a dump (pool audit verify --expect HEAD)".into()
        },
    });
    Ok(Some(checks))
}

/// Owned customers whose stored recycle date (kept by the schema's trigger) is not the
/// one their pool's rules give: how many, and a few ids. Streams the customers.
fn recycle_date_mismatches(db: &mut dyn Diagnosis) -> Result<(i64, String)> {
    let rules: HashMap<i64, Rules> = db.all_rules()?.into_iter().collect();
    let (mut n, mut sample) = (0i64, Vec::new());
    db.for_each_recycle_date(&mut |id, pool_id, facts, stored| {
        let expected = rules
            .get(&pool_id)
            .and_then(|r| recycle_due(r, facts))
            .map(|(d, _)| d);
        if expected != stored {
            n += 1;
            if sample.len() < 5 {
                sample.push(id.to_string());
            }
        }
        Ok(())
    })?;
    Ok((n, sample.join(", ")))
}
