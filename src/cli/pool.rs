//! The pool: `pool claim|release|assign|transfer|lock|unlock`: arguments, the call into
//! `app::pool` per customer, and one result line per id.
use clap::Args;
use serde::Serialize;

use super::Ctx;
use crate::app::pool::{self as app, Claimed, HandedOver, LockChange, Release};
use crate::domain::roles::Action;
use crate::error::{Error, Result};
use crate::store::Backend;

#[derive(Debug, Args)]
pub struct ClaimArgs {
    /// Customer ids
    #[arg(required = true)]
    pub ids: Vec<i64>,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// Customer ids
    #[arg(required = true)]
    pub ids: Vec<i64>,
    /// Why (kept in the owner history), e.g. "不感兴趣"
    #[arg(long, required = true)]
    pub reason: String,
    /// Release into this pool instead of the customer's own
    #[arg(long, value_name = "POOL")]
    pub to_pool: Option<String>,
    /// Cancel the customer's open follow-ups (otherwise release is refused while any are open)
    #[arg(long)]
    pub cancel_followups: bool,
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    /// Customer ids (pooled, or owned by someone in your team)
    #[arg(required = true)]
    pub ids: Vec<i64>,
    /// The new owner
    #[arg(long, value_name = "USER")]
    pub to: String,
}

#[derive(Debug, Args)]
pub struct TransferArgs {
    /// Current owner
    #[arg(long, value_name = "USER")]
    pub from: String,
    /// New owner
    #[arg(long, value_name = "USER")]
    pub to: String,
    /// Every customer of --from (a bulk handover: max_owned is not checked)
    #[arg(long, conflicts_with = "ids")]
    pub all: bool,
    /// Only these customers
    #[arg(required_unless_present = "all")]
    pub ids: Vec<i64>,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Customer ids
    #[arg(required = true)]
    pub ids: Vec<i64>,
}

/// The outcome for one customer of a several-ID command.
#[derive(Debug, Serialize)]
pub struct Outcome {
    pub id: i64,
    pub ok: bool,
    pub result: String,
    pub exit_code: u8,
}

/// Runs `one` for every id, prints one line (or JSON object) per id, prints each
/// refusal with its hint on stderr, and fails with the worst exit code.
pub fn for_each_id(
    ctx: &mut Ctx,
    ids: &[i64],
    done: &str,
    mut one: impl FnMut(&mut dyn Backend, i64) -> Result<String>,
) -> Result<()> {
    let out = ctx.out;
    let store = ctx.store()?;
    let mut outcomes = Vec::with_capacity(ids.len());
    let mut worst = 0u8;
    let mut failed = 0usize;
    for &id in ids {
        match one(store, id) {
            Ok(msg) => outcomes.push(Outcome {
                id,
                ok: true,
                result: msg,
                exit_code: 0,
            }),
            Err(e) => {
                let code = e.exit_code();
                // Busy or broken database: stop, the rest would fail the same way.
                if code == 7 || code == 1 {
                    return Err(e);
                }
                crate::say!("error: {e}");
                if let Some(h) = e.hint() {
                    crate::say!("hint: {h}");
                }
                worst = worst.max(code);
                failed += 1;
                outcomes.push(Outcome {
                    id,
                    ok: false,
                    result: e.to_string(),
                    exit_code: code,
                });
            }
        }
    }
    out.rows(&outcomes, "")?;
    let n = ids.len();
    if failed == 0 {
        out.status(format!("{n} {done}"));
        Ok(())
    } else {
        Err(Error::Reported {
            code: worst,
            summary: format!("{} of {n} {done}, {failed} refused", n - failed),
        })
    }
}

pub fn claim(ctx: &mut Ctx, a: &ClaimArgs) -> Result<()> {
    // On a server, one statement claims every id its rules allow; the others (every id on
    // a file) go one by one, which says why one is refused.
    let at_once = app::claim_at_once(ctx.store()?, &a.ids)?;
    let me = match at_once.iter().all(|done| *done) {
        true => None,
        false => Some(ctx.require(Action::Claim)?),
    };
    let now = ctx.now()?;
    let mut at_once = at_once.into_iter();
    for_each_id(ctx, &a.ids, "claimed", |store, id| {
        if at_once.next() == Some(true) {
            return Ok("claimed".into());
        }
        let me = me
            .as_ref()
            .ok_or_else(|| Error::Other("claim: no acting user".into()))?;
        Ok(match app::claim(store, me, id, now)? {
            Claimed::Claimed => "claimed".into(),
            Claimed::AlreadyYours => "already yours".into(),
        })
    })
}

pub fn release(ctx: &mut Ctx, a: &ReleaseArgs) -> Result<()> {
    let me = ctx.require(Action::Release)?;
    let now = ctx.now()?;
    let r = Release {
        reason: app::release_reason(&a.reason)?,
        to_pool: a.to_pool.clone(),
        cancel_followups: a.cancel_followups,
    };
    for_each_id(ctx, &a.ids, "released", |store, id| {
        let done = app::release(store, &me, id, &r, now)?;
        Ok(format!("released to '{}'", done.pool))
    })
}

fn handed_over(done: HandedOver, to: &str) -> String {
    match done {
        HandedOver::Moved => format!("now owned by {to}"),
        HandedOver::AlreadyTheirs => format!("already owned by {to}"),
    }
}

pub fn assign(ctx: &mut Ctx, a: &AssignArgs) -> Result<()> {
    let me = ctx.require(Action::Assign)?;
    let now = ctx.now()?;
    let to = app::new_owner(ctx.store()?, &me, &a.to)?;
    for_each_id(ctx, &a.ids, "assigned", |store, id| {
        Ok(handed_over(
            app::assign(store, &me, &to, id, now)?,
            &to.login,
        ))
    })
}

pub fn transfer(ctx: &mut Ctx, a: &TransferArgs) -> Result<()> {
    let me = ctx.require(Action::Transfer)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let (from, to) = app::transfer_parties(ctx.store()?, &me, &a.from, &a.to)?;
    if !a.all {
        return for_each_id(ctx, &a.ids, "transferred", |store, id| {
            Ok(handed_over(
                app::transfer(store, &me, &from, &to, id, now)?,
                &to.login,
            ))
        });
    }
    let done = app::transfer_all(ctx.store()?, &me, &from, &to, now)?;
    out.record(&done)
}

pub fn lock(ctx: &mut Ctx, a: &LockArgs, locked: bool) -> Result<()> {
    let me = ctx.require(Action::Lock)?;
    let now = ctx.now()?;
    let done = if locked { "locked" } else { "unlocked" };
    for_each_id(ctx, &a.ids, done, |store, id| {
        Ok(match app::set_lock(store, &me, id, locked, now)? {
            LockChange::Changed => done.into(),
            LockChange::AlreadySo => format!("already {done}"),
        })
    })
}
