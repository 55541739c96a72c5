//! `pool audit log|verify`: read and prove the trail.
use clap::Subcommand;

use super::Ctx;
use crate::app::audit as app;
use crate::domain::dates::parse_date;
use crate::domain::roles::Action;
use crate::error::Result;
use crate::store::LogFilter;

#[derive(Debug, Subcommand)]
#[command(defer = true)]
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
    ///
    /// The head it ends at is remembered (per OS user, outside
    /// the database); the next run fails if the chain no longer contains it, so a
    /// truncated or rewritten chain is caught without --expect
    Verify {
        /// The head you kept from an earlier run (HASH or SEQ:HASH): also catches a
        /// truncated or wholly rewritten chain
        #[arg(long, value_name = "HASH")]
        expect: Option<String>,
        /// Accept a chain that no longer contains the head remembered from the last run
        /// (after a restore you made on purpose)
        #[arg(long)]
        forget_head: bool,
    },
}

pub fn run(ctx: &mut Ctx, cmd: AuditCommand) -> Result<()> {
    let me = ctx.require(Action::ReadAudit)?;
    let clock = crate::clock::now()?;
    let out = ctx.out;
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
                        parse_date(field, d, crate::clock::today_of(clock)).map(|d| {
                            d.and_hms_opt(0, 0, 0)
                                .map(|t| t.and_utc().timestamp())
                                .unwrap_or(0)
                        })
                    })
                    .transpose()
            };
            let f = LogFilter {
                customer,
                actor: user,
                actors_in_team: None,
                action,
                since: day("--since", &since)?,
                until: day("--until", &until)?,
                limit: if limit > 0 { Some(limit) } else { None },
            };
            let rows = app::log(ctx.store()?, &me, f)?;
            out.rows(&rows, "no audit rows match")
        }
        AuditCommand::Verify {
            expect,
            forget_head,
        } => {
            let v = app::verify(ctx.store()?, &me, expect.as_deref(), forget_head)?;
            out.status(format!(
                "audit chain ok: {} rows; head {}:{}",
                v.rows, v.head_seq, v.head_hash
            ));
            out.record(&v)
        }
    }
}
