//! The pool: `pool claim|release|assign|transfer|lock|unlock`. Each customer is decided
//! and written in its own IMMEDIATE transaction: the rule checks, the conditional
//! update and the audit row commit together or not at all.
use clap::Args;
use serde::Serialize;
use serde_json::json;

use super::customer::check_scope;
use super::Ctx;
use crate::domain::roles::{Action, Role};
use crate::domain::rules::{check_claim, check_limit, counts_towards_limit, DAY};
use crate::error::{Error, Result};
use crate::store::users::User;
use crate::store::{audit, customers, pool, users, Store};

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
    mut one: impl FnMut(&mut Store, i64) -> Result<String>,
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

/// Start of the current UTC day, for the daily claim cap.
pub fn day_start(now: i64) -> i64 {
    now - now.rem_euclid(DAY)
}

fn ownership_audit(
    tx: &rusqlite::Connection,
    now: i64,
    me: &User,
    action: &str,
    id: i64,
    before: serde_json::Value,
    after: serde_json::Value,
) -> Result<()> {
    audit::append(
        tx,
        audit::Record {
            at: now,
            actor: &me.login,
            action,
            entity: "customer",
            entity_id: Some(id),
            before: Some(before),
            after: Some(after),
        },
    )?;
    Ok(())
}

/// The re-claim cooldown also covers copies: a customer (`id`; 0 for a new one) with the
/// phone or e-mail of one `me` gave up within the cooldown is refused like that customer
/// (claim, add for oneself, edit).
pub fn check_no_lost_twin(
    tx: &rusqlite::Connection,
    me: &User,
    id: i64,
    keys: (Option<&str>, Option<&str>),
    rules: &crate::domain::rules::Rules,
    now: i64,
) -> Result<()> {
    if rules.reclaim_cooldown_days <= 0 {
        return Ok(());
    }
    let days = rules.reclaim_cooldown_days * 86_400;
    if let Some((twin, lost)) = pool::lost_twin(tx, me.id, keys.0, keys.1, id, now - days)? {
        return Err(Error::Cooldown {
            // A new customer has no id yet: the one it copies is named.
            id: if id == 0 { twin } else { id },
            until: format!(
                "{} (same phone or e-mail as customer {twin}, which you gave up)",
                crate::clock::fmt_ts(Some(lost + days))
            ),
        });
    }
    Ok(())
}

/// Claims one pooled customer for `me`.
pub fn claim_one(store: &mut Store, me: &User, id: i64, now: i64) -> Result<String> {
    let tx = store.begin()?;
    let c = customers::get(&tx, id)?;
    match (c.owner_id, &c.owner) {
        (Some(o), _) if o == me.id => return Ok("already yours".into()),
        (Some(_), Some(owner)) => {
            return Err(Error::AlreadyOwned {
                id,
                owner: owner.clone(),
            })
        }
        _ => {}
    }
    if me.role != Role::Admin && !pool::visible(&tx, c.pool_id, me.team_id)? {
        return Err(Error::PoolNotVisible {
            pool: c.pool,
            team: me.team.clone(),
        });
    }
    let rules = pool::rules(&tx, c.pool_id)?;
    let mut facts = pool::claim_facts(
        &tx,
        id,
        c.pooled_at,
        me.id,
        c.pool_id,
        &rules,
        day_start(now),
    )?;
    if !counts_towards_limit(&rules, &c.stage) {
        facts.owned = 0;
    }
    check_claim(&rules, &facts, &me.login, &c.pool, now)?;
    let (phone, email) = customers::contact_keys(&tx, id)?;
    check_no_lost_twin(
        &tx,
        me,
        id,
        (phone.as_deref(), email.as_deref()),
        &rules,
        now,
    )?;
    if !pool::set_owner_if_pooled(&tx, id, me.id, now)? {
        // Unreachable while the write lock is held; kept as the last line of defence.
        return Err(Error::AlreadyOwned {
            id,
            owner: "someone else".into(),
        });
    }
    pool::record_event(
        &tx,
        id,
        "claim",
        None,
        Some(me.id),
        me.id,
        c.pool_id,
        None,
        now,
    )?;
    ownership_audit(
        &tx,
        now,
        me,
        "claim",
        id,
        json!({"owner": null, "pool": c.pool}),
        json!({"owner": me.login}),
    )?;
    tx.commit()?;
    Ok("claimed".into())
}

pub fn claim(ctx: &mut Ctx, a: &ClaimArgs) -> Result<()> {
    let me = ctx.require(Action::Claim)?;
    let now = ctx.now()?;
    for_each_id(ctx, &a.ids, "claimed", |store, id| {
        claim_one(store, &me, id, now)
    })
}

pub fn release(ctx: &mut Ctx, a: &ReleaseArgs) -> Result<()> {
    let me = ctx.require(Action::Release)?;
    let now = ctx.now()?;
    let reason = a.reason.trim().to_string();
    if reason.is_empty() {
        return Err(Error::invalid(
            "--reason",
            "say why the customer goes back to the pool",
        ));
    }
    for_each_id(ctx, &a.ids, "released", |store, id| {
        let tx = store.begin()?;
        let c = customers::get(&tx, id)?;
        let (owner_id, owner) = match (c.owner_id, &c.owner) {
            (Some(o), Some(n)) => (o, n.clone()),
            _ => {
                return Err(Error::Conflict(format!(
                    "customer {id} is already in the pool '{}'",
                    c.pool
                )))
            }
        };
        check_scope(&tx, &me, &c)?;
        if c.locked {
            return Err(Error::Locked { id });
        }
        let (pool_id, pool_name) = match &a.to_pool {
            Some(p) => {
                let pid = pool::pool_id(&tx, p)?;
                // A member releasing into another pool would take the customer out of
                // its pool's rules (cooldown, limits) and out of other teams' reach.
                if me.role == Role::Member && pid != c.pool_id {
                    return Err(Error::Forbidden(format!(
                        "a member releases customer {id} into its own pool '{}'; a manager can move it",
                        c.pool
                    )));
                }
                if me.role != Role::Admin && !pool::visible(&tx, pid, me.team_id)? {
                    return Err(Error::PoolNotVisible {
                        pool: p.clone(),
                        team: me.team.clone(),
                    });
                }
                (pid, p.clone())
            }
            None => (c.pool_id, c.pool.clone()),
        };
        let open = pool::open_followups(&tx, id)?;
        let mut cancelled = 0;
        if open > 0 {
            if !a.cancel_followups {
                return Err(Error::Conflict(format!(
                    "customer {id} has {open} open follow-up(s); pass --cancel-followups to cancel them, or finish them first"
                )));
            }
            cancelled = pool::cancel_open_followups(
                &tx,
                id,
                &format!("cancelled on release: {reason}"),
                now,
            )?;
        }
        if !pool::return_to_pool(&tx, id, owner_id, pool_id, now)? {
            return Err(Error::Conflict(format!(
                "customer {id} changed owner meanwhile"
            )));
        }
        pool::record_event(
            &tx,
            id,
            "release",
            Some(owner_id),
            None,
            me.id,
            pool_id,
            Some(&reason),
            now,
        )?;
        ownership_audit(
            &tx,
            now,
            &me,
            "release",
            id,
            json!({"owner": owner, "pool": c.pool}),
            json!({"owner": null, "pool": pool_name, "reason": reason, "followups_cancelled": cancelled}),
        )?;
        tx.commit()?;
        Ok(format!("released to '{pool_name}'"))
    })
}

/// Moves one customer to `to` (from the pool, or from `expect_from` / anyone in scope).
fn assign_one(
    store: &mut Store,
    me: &User,
    to: &User,
    id: i64,
    expect_from: Option<&User>,
    action: &str,
    now: i64,
) -> Result<String> {
    let tx = store.begin()?;
    let c = customers::get(&tx, id)?;
    if let Some(from) = expect_from {
        if c.owner_id != Some(from.id) && c.owner_id != Some(to.id) {
            return Err(Error::Conflict(format!(
                "customer {id} is not owned by {}",
                from.login
            )));
        }
    }
    if c.owner_id == Some(to.id) {
        return Ok(format!("already owned by {}", to.login));
    }
    check_scope(&tx, me, &c)?;
    if c.owner_id.is_some() && c.locked {
        return Err(Error::Locked { id });
    }
    if c.owner_id.is_none() && to.role != Role::Admin && !pool::visible(&tx, c.pool_id, to.team_id)?
    {
        return Err(Error::PoolNotVisible {
            pool: c.pool,
            team: to.team.clone(),
        });
    }
    let rules = pool::rules(&tx, c.pool_id)?;
    if counts_towards_limit(&rules, &c.stage) {
        let owned = pool::owned_count(&tx, to.id, c.pool_id, rules.count_won)?;
        check_limit(&rules, owned, &to.login, &c.pool)?;
    }
    let moved = match c.owner_id {
        None => pool::set_owner_if_pooled(&tx, id, to.id, now)?,
        Some(from) => pool::set_owner_if_owned_by(&tx, id, from, to.id, now)?,
    };
    if !moved {
        return Err(Error::Conflict(format!(
            "customer {id} changed owner meanwhile"
        )));
    }
    pool::record_event(
        &tx,
        id,
        action,
        c.owner_id,
        Some(to.id),
        me.id,
        c.pool_id,
        None,
        now,
    )?;
    ownership_audit(
        &tx,
        now,
        me,
        action,
        id,
        json!({"owner": c.owner, "pool": c.pool}),
        json!({"owner": to.login}),
    )?;
    tx.commit()?;
    Ok(format!("now owned by {}", to.login))
}

/// The new owner of an assign or transfer: active, and in a manager's own team.
fn target(store: &mut Store, me: &User, login: &str) -> Result<User> {
    let u = users::get(&store.conn, login)?;
    if !u.active {
        return Err(Error::invalid("--to", format!("'{login}' is deactivated")));
    }
    if u.role == Role::Viewer {
        return Err(Error::invalid(
            "--to",
            format!("'{login}' is a viewer and cannot own customers"),
        ));
    }
    if me.role != Role::Admin && u.team_id != me.team_id {
        return Err(Error::Forbidden(format!(
            "'{login}' is not in your team ({})",
            me.team
        )));
    }
    Ok(u)
}

pub fn assign(ctx: &mut Ctx, a: &AssignArgs) -> Result<()> {
    let me = ctx.require(Action::Assign)?;
    let now = ctx.now()?;
    let to = target(ctx.store()?, &me, &a.to)?;
    for_each_id(ctx, &a.ids, "assigned", |store, id| {
        assign_one(store, &me, &to, id, None, "assign", now)
    })
}

#[derive(Serialize)]
struct TransferAll {
    from: String,
    to: String,
    transferred: usize,
}

pub fn transfer(ctx: &mut Ctx, a: &TransferArgs) -> Result<()> {
    let me = ctx.require(Action::Transfer)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let store = ctx.store()?;
    let to = target(store, &me, &a.to)?;
    let from = users::get(&store.conn, &a.from)?;
    if me.role != Role::Admin && from.team_id != me.team_id {
        return Err(Error::Forbidden(format!(
            "'{}' is not in your team ({})",
            from.login, me.team
        )));
    }
    if from.id == to.id {
        return Err(Error::invalid("--to", "the same user as --from"));
    }
    if !a.all {
        return for_each_id(ctx, &a.ids, "transferred", |store, id| {
            assign_one(store, &me, &to, id, Some(&from), "transfer", now)
        });
    }
    let tx = store.begin()?;
    let ids = pool::transfer_all(&tx, from.id, to.id, me.id, "transfer", now)?;
    // One row per customer too, so `pool audit log --customer N` finds the move.
    for id in &ids {
        audit::append(
            &tx,
            audit::Record {
                at: now,
                actor: &me.login,
                action: "transfer",
                entity: "customer",
                entity_id: Some(*id),
                before: Some(json!({"owner": from.login})),
                after: Some(json!({"owner": to.login, "all": true})),
            },
        )?;
    }
    audit::append(
        &tx,
        audit::Record {
            at: now,
            actor: &me.login,
            action: "transfer",
            entity: "user",
            entity_id: Some(from.id),
            before: Some(json!({"owner": from.login, "customers": ids})),
            after: Some(json!({"owner": to.login})),
        },
    )?;
    tx.commit()?;
    out.record(&TransferAll {
        from: from.login,
        to: to.login,
        transferred: ids.len(),
    })
}

pub fn lock(ctx: &mut Ctx, a: &LockArgs, locked: bool) -> Result<()> {
    let me = ctx.require(Action::Lock)?;
    let now = ctx.now()?;
    let done = if locked { "locked" } else { "unlocked" };
    for_each_id(ctx, &a.ids, done, |store, id| {
        let tx = store.begin()?;
        let c = customers::get(&tx, id)?;
        let Some(owner_id) = c.owner_id else {
            return Err(Error::Conflict(format!(
                "customer {id} is in the pool; only owned customers can be locked"
            )));
        };
        check_scope(&tx, &me, &c)?;
        if c.locked == locked {
            return Ok(format!("already {done}"));
        }
        if locked {
            let rules = pool::rules(&tx, c.pool_id)?;
            if rules.max_locked == 0 {
                return Err(Error::Conflict(format!(
                    "locking is off in pool '{}' (max_locked = 0); an admin can turn it on: pool rules set --pool {} --max-locked N",
                    c.pool, c.pool
                )));
            }
            let n = pool::locked_count(&tx, owner_id)?;
            if n >= rules.max_locked {
                return Err(Error::Conflict(format!(
                    "lock limit reached: {} has {n}/{} locked customers",
                    c.owner.as_deref().unwrap_or("?"),
                    rules.max_locked
                )));
            }
        }
        pool::set_locked(&tx, id, locked, now)?;
        ownership_audit(
            &tx,
            now,
            &me,
            if locked { "lock" } else { "unlock" },
            id,
            json!({"locked": c.locked}),
            json!({"locked": locked}),
        )?;
        tx.commit()?;
        Ok(done.into())
    })
}
