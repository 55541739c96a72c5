//! `pool audit log|verify`: read and prove the trail.
use clap::Subcommand;
use serde::Serialize;

use super::Ctx;
use crate::domain::audit::Verifier;
use crate::domain::dates::parse_date;
use crate::domain::roles::{Action, Role};
use crate::error::{Error, Result};
use crate::store::audit::{self, LogFilter};
use crate::store::users;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Show audit rows, newest first (managers: their team's)
    #[command(alias = "ls")]
    Log {
        /// Only changes of this customer
        #[arg(long, value_name = "ID")]
        customer: Option<i64>,
        /// Only what this user did
        #[arg(long, value_name = "USER")]
        user: Option<String>,
        /// Only this action (claim, release, recycle, customer_edit, import, export, …)
        #[arg(long)]
        action: Option<String>,
        /// From this date (inclusive)
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Up to this date (exclusive)
        #[arg(long, value_name = "DATE")]
        until: Option<String>,
        /// At most N rows (0 = all)
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Recompute the hash chain; print the head to keep elsewhere (exit 8 if broken)
    Verify {
        /// The head you kept from an earlier run (HASH or SEQ:HASH): also catches a
        /// truncated or wholly rewritten chain
        #[arg(long, value_name = "HASH")]
        expect: Option<String>,
    },
}

#[derive(Serialize)]
struct Verified {
    ok: bool,
    rows: i64,
    head_seq: i64,
    head_hash: String,
    expect: Option<String>,
}

pub fn run(ctx: &mut Ctx, cmd: AuditCommand) -> Result<()> {
    let me = ctx.require(Action::ReadAudit)?;
    let clock = crate::clock::now()?;
    let out = ctx.out;
    let conn = &ctx.store()?.conn;
    match cmd {
        AuditCommand::Log {
            customer,
            user,
            action,
            since,
            until,
            limit,
        } => {
            let day = |field: &str, s: &Option<String>| -> Result<Option<i64>> {
                s.as_deref()
                    .map(|d| {
                        parse_date(field, d, clock.date_naive()).map(|d| {
                            d.and_hms_opt(0, 0, 0)
                                .map(|t| t.and_utc().timestamp())
                                .unwrap_or(0)
                        })
                    })
                    .transpose()
            };
            let f = LogFilter {
                customer,
                actor: user.clone(),
                actors_in_team: if me.role == Role::Manager {
                    Some(me.team_id)
                } else {
                    None
                },
                action,
                since: day("--since", &since)?,
                until: day("--until", &until)?,
                limit: if limit > 0 { Some(limit) } else { None },
            };
            if let Some(u) = &user {
                users::get(conn, u)?;
            }
            let rows = audit::list(conn, &f)?;
            out.rows(&rows, "no audit rows match")
        }
        AuditCommand::Verify { expect } => {
            // A malformed --expect is a typo (exit 6), not a rewritten chain (exit 8).
            if let Some(e) = &expect {
                parse_expect(e)?;
            }
            let mut v = Verifier::default();
            let mut broken = None;
            audit::for_each(conn, |row| match v.push(&row) {
                Ok(()) => Ok(true),
                Err(b) => {
                    broken = Some(b);
                    Ok(false)
                }
            })?;
            if let Some(b) = broken {
                return Err(Error::Integrity(format!(
                    "audit chain broken: {b} (rows 1..{} verify; head there {})",
                    v.head_seq, v.head_hash
                )));
            }
            if let Some(e) = &expect {
                let (seq, hash) = parse_expect(e)?;
                match audit::seq_of_hash(conn, &hash)? {
                    None => {
                        return Err(Error::Integrity(format!(
                            "the expected head {hash} is not in the chain: it was truncated or rewritten (head now {}:{})",
                            v.head_seq, v.head_hash
                        )))
                    }
                    Some(found) if seq.is_some_and(|s| s != found) => {
                        return Err(Error::Integrity(format!(
                            "the expected head is at row {found}, not {}: the chain was rewritten",
                            seq.unwrap_or_default()
                        )))
                    }
                    Some(_) => {}
                }
            }
            out.status(format!(
                "audit chain ok: {} rows; head {}:{}",
                v.rows, v.head_seq, v.head_hash
            ));
            out.record(&Verified {
                ok: true,
                rows: v.rows,
                head_seq: v.head_seq,
                head_hash: v.head_hash,
                expect,
            })
        }
    }
}

/// `HASH` or `SEQ:HASH` as `audit verify` prints it: a positive row number and 64 hex
/// digits (SHA-256).
fn parse_expect(e: &str) -> Result<(Option<i64>, String)> {
    let bad = |why: &str| {
        Error::invalid_hint(
            "--expect",
            format!("'{e}' {why}"),
            "pass the head exactly as `pool audit verify` printed it: SEQ:HASH or HASH",
        )
    };
    let (seq, hash) = match e.split_once(':') {
        Some((s, h)) => (
            Some(
                s.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad("does not start with a row number (SEQ:HASH)"))?,
            ),
            h.trim(),
        ),
        None => (None, e.trim()),
    };
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("is not a head hash (64 hexadecimal digits)"));
    }
    Ok((seq, hash.to_ascii_lowercase()))
}
