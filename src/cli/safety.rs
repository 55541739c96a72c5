//! `pool backup`, `pool restore`, `pool doctor`: arguments, the call into
//! `app::safety`, the prompt and the report.
use std::path::PathBuf;

use clap::Args;

use super::output::confirm;
use super::Ctx;
use crate::app::safety as app;
use crate::domain::roles::Action;
use crate::error::{Error, Result};
use crate::store::ops::maintenance::FileCheck;

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
pub struct DoctorArgs {
    /// Repair what can be repaired safely, then check again (admin): open follow-ups
    /// nobody will do go to their customer's owner, or are cancelled when the customer is
    /// in a pool; each change is audited
    #[arg(long)]
    pub fix: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup made by `pool backup`
    pub file: PathBuf,
}

pub fn backup(ctx: &mut Ctx, a: &BackupArgs) -> Result<()> {
    let me = ctx.require(Action::Backup)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let done = app::backup(ctx.store()?, &me, &a.file, a.force, now)?;
    out.status(format!(
        "backup written to {} ({} bytes); audit head {}",
        a.file.display(),
        done.bytes,
        done.audit_head
    ));
    out.record(&done)
}

pub fn restore(ctx: &mut Ctx, a: &RestoreArgs) -> Result<()> {
    let me = ctx.require(Action::Restore)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let yes = ctx.global.yes;
    let live = ctx.db_path()?;
    let mut ask = |check: &FileCheck| {
        confirm(
            yes,
            &format!(
                "replace the contents of {} with {} ({} customers)?",
                live.display(),
                a.file.display(),
                check.customers
            ),
        )
    };
    let done = app::restore(ctx.store()?, &me, &a.file, now, &mut ask);
    // The connection saw the file replaced underneath: never reused.
    ctx.close_store();
    let Some(done) = done? else {
        out.status("nothing restored");
        return Ok(());
    };
    out.status(format!(
        "restored {} from {}; the previous contents are kept at {}",
        done.database,
        done.restored_from,
        done.previous_kept_at.as_deref().unwrap_or("?")
    ));
    out.record(&done)
}

pub fn doctor(ctx: &mut Ctx, a: &DoctorArgs) -> Result<()> {
    let out = ctx.out;
    let path = ctx.db_path()?;
    if crate::store::postgres::is_server_url(&path.to_string_lossy()) {
        return doctor_server(ctx, a);
    }
    if !path.exists() {
        return Err(Error::not_found("database", path.display()));
    }
    if a.fix {
        let me = ctx.require(Action::Repair)?;
        let now = ctx.now()?;
        let done = crate::app::work::fix_stray_followups(ctx.store()?, &me, now)?;
        out.status(format!(
            "doctor --fix: {} follow-up(s) handed to their customer's owner, {} cancelled",
            done.moved.len(),
            done.cancelled.len()
        ));
        ctx.close_store();
    }
    // Who may run it is checked when the file can be read; a damaged file that cannot
    // even say who its users are is examined anyway (that is what doctor is for).
    match ctx.require(Action::Doctor) {
        Ok(_) => {}
        Err(e) if e.exit_code() == 4 => return Err(e),
        Err(_) => ctx.close_store(),
    }
    let checks = app::doctor(crate::store::diagnose(&path)?.as_mut())?;
    report_findings(ctx, &checks)
}

/// On a server: its security setup and the audit chain (no file to examine; `--fix`
/// has nothing to repair there).
fn doctor_server(ctx: &mut Ctx, a: &DoctorArgs) -> Result<()> {
    if a.fix {
        return Err(Error::invalid_hint(
            "--fix",
            "pool doctor --fix repairs a SQLite file; a server's data is repaired by its owner",
            "run pool doctor without --fix and follow the hints",
        ));
    }
    let me = ctx.require(Action::Doctor)?;
    let checks = app::doctor_server(ctx.store()?, &me)?
        .ok_or_else(|| Error::Other("not a server database".into()))?;
    report_findings(ctx, &checks)
}

fn report_findings(ctx: &mut Ctx, checks: &[app::Finding]) -> Result<()> {
    let out = ctx.out;
    out.rows(checks, "")?;
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.status == "FAIL")
        .map(|c| c.check.as_str())
        .collect();
    if !failed.is_empty() {
        // The failing checks by name, so a cron mail says what broke.
        return Err(Error::Reported {
            code: 8,
            summary: format!(
                "doctor found {} problem(s) ({}); see the hints above",
                failed.len(),
                failed.join(", ")
            ),
        });
    }
    out.status("doctor: all checks passed");
    Ok(())
}
