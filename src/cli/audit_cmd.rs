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
    /// Recompute the hash chain. The head it ends at is remembered (per OS user, outside
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
        AuditCommand::Verify {
            expect,
            forget_head,
        } => {
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
            let db = ctx.db_path()?;
            let conn = &ctx.store()?.conn;
            if let (Some((seq, hash, when)), false) = (remembered_head(&db), forget_head) {
                if audit::seq_of_hash(conn, &hash)? != Some(seq) {
                    return Err(Error::Integrity(format!(
                        "the chain no longer contains the head verified at {when} ({seq}:{hash}): it was truncated or rewritten (head now {}:{}); if a restore replaced the database on purpose, run pool audit verify --forget-head",
                        v.head_seq, v.head_hash
                    )));
                }
            }
            remember_head(&db, v.head_seq, &v.head_hash);
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

/// Where this OS user keeps the audit heads they verified: one line per database,
/// `PATH<TAB>SEQ<TAB>HASH<TAB>WHEN`, in the OS data folder (outside every database, so
/// whoever rewrites a database cannot rewrite it too, unless they are this OS user).
fn heads_file() -> Option<std::path::PathBuf> {
    directories::ProjectDirs::from("", "", "pool").map(|d| d.data_dir().join("verified-heads.tsv"))
}

fn db_key(db: &std::path::Path) -> String {
    std::fs::canonicalize(db)
        .unwrap_or_else(|_| db.to_path_buf())
        .display()
        .to_string()
}

/// The head last verified for `db` by this OS user: (seq, hash, when).
pub fn remembered_head(db: &std::path::Path) -> Option<(i64, String, String)> {
    let key = db_key(db);
    let text = std::fs::read_to_string(heads_file()?).ok()?;
    text.lines().rev().find_map(|l| {
        let mut f = l.split('\t');
        (f.next()? == key).then_some(())?;
        let seq = f.next()?.parse().ok()?;
        let hash = f.next()?.to_string();
        let when = f.next().unwrap_or("").to_string();
        Some((seq, hash, when))
    })
}

/// Remembers `seq:hash` as the verified head of `db` (best effort: a read-only home
/// folder only loses the memory, never the verification).
pub fn remember_head(db: &std::path::Path, seq: i64, hash: &str) {
    let Some(file) = heads_file() else {
        return;
    };
    let key = db_key(db);
    let when = crate::clock::iso_ts(Some(crate::clock::real_now())).unwrap_or_default();
    let mut lines: Vec<String> = std::fs::read_to_string(&file)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.split('\t').next() != Some(key.as_str()))
        .map(String::from)
        .collect();
    lines.push(format!("{key}\t{seq}\t{hash}\t{when}"));
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = file.with_extension(format!("tsv.{}", std::process::id()));
    if std::fs::write(&tmp, lines.join("\n") + "\n").is_ok() {
        let _ = std::fs::rename(&tmp, &file);
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
