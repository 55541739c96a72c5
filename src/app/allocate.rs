//! `pool allocate` and `pool import --allocate` (自动分配): a pool's new leads dealt out
//! to its allocation targets by its rule (round robin or least loaded), within each
//! target's max_owned and daily cap. Each lead is assigned with the same conditional
//! change as a claim, so two runs at once never give one lead twice; one ownership event
//! and one audit row per lead, and the pool's follow-up rule on claim applies.
use serde::Serialize;
use serde_json::json;

use super::pool::audit_customer;
use super::rules::allocation_targets;
use super::scope;
use crate::domain::allocate::{plan, Method, Seat};
use crate::domain::roles::{Action, Role, User};
use crate::domain::rules::day_start;
use crate::error::{Error, Result};
use crate::store::ops::pool::OwnershipEvent;
use crate::store::{Backend, Tx};

/// Leads dealt per transaction.
const BATCH: i64 = 200;

/// One lead dealt out (or, in a dry run, that would be).
#[derive(Debug, Serialize)]
pub struct Allocated {
    pub id: i64,
    pub pool: String,
    pub to: String,
    pub method: String,
}

/// What to allocate.
#[derive(Debug, Default)]
pub struct Request {
    /// One pool (default: every pool whose rules allocate).
    pub pool: Option<String>,
    /// At most this many leads in all.
    pub limit: Option<i64>,
    /// Only leads with ids in this range (the rows of one import).
    pub ids: Option<(i64, i64)>,
    pub dry_run: bool,
}

/// May `me` deal this pool's leads to these users? Admins: yes; managers when every
/// target is in their team.
fn check_targets(me: &User, pool: &str, targets: &[User]) -> Result<()> {
    if me.role == Role::Admin {
        return Ok(());
    }
    if let Some(u) = targets.iter().find(|u| u.team_id != me.team_id) {
        return Err(Error::Forbidden(format!(
            "pool '{pool}' allocates to {} of team {}; only an admin or that team's manager may run it",
            u.login, u.team
        )));
    }
    Ok(())
}

/// Deals out new leads; returns who got what.
pub fn allocate(
    store: &mut dyn Backend,
    me: &User,
    req: &Request,
    now: i64,
) -> Result<Vec<Allocated>> {
    scope::require(me, Action::Assign)?;
    let pools: Vec<(i64, String)> = {
        let mut tx = store.read()?;
        match &req.pool {
            Some(p) => vec![(tx.pool_id(p)?, p.clone())],
            None => tx.all_pools()?,
        }
    };
    let mut done = Vec::new();
    let mut left = req.limit.unwrap_or(i64::MAX);
    for (pid, pname) in pools {
        loop {
            if left <= 0 {
                return Ok(done);
            }
            let mut tx = if req.dry_run {
                store.read()?
            } else {
                store.write()?
            };
            let rules = tx.rules(pid)?;
            let Some(method) = Method::parse(&rules.allocate) else {
                if req.pool.is_some() {
                    return Err(Error::invalid_hint(
                        "--pool",
                        format!("pool '{pname}' does not allocate"),
                        format!("pool rules set --pool {pname} --allocate round_robin --allocate-to team:NAME"),
                    ));
                }
                break;
            };
            let targets = allocation_targets(&mut *tx, &rules.allocate_to)?;
            check_targets(me, &pname, &targets)?;
            let leads = tx.allocation_candidates(pid, req.ids, left.min(BATCH))?;
            if leads.is_empty() {
                break;
            }
            let since = day_start(now);
            let mut seats = Vec::new();
            for u in &targets {
                // Allocation is an assignment: the target must be able to own from this pool.
                if !tx.pool_visible(pid, u.team_id)? {
                    continue;
                }
                seats.push(Seat {
                    user_id: u.id,
                    owned: tx.owned_count(u.id, pid, rules.count_won)?,
                    today: tx.received_since(u.id, since)?,
                });
            }
            let cursor = tx.allocation_cursor(pid)?;
            let who = plan(
                method,
                &seats,
                cursor,
                rules.max_owned,
                rules.daily_claims,
                leads.len(),
            );
            let full = who.len() < leads.len();
            let mut dealt = 0;
            for ((id, stage), uid) in leads.iter().zip(&who) {
                let to = targets.iter().find(|u| u.id == *uid).cloned();
                let Some(to) = to else { continue };
                if !req.dry_run {
                    tx.intend("assign", Some("allocate"))?;
                    if !tx.set_owner_if_pooled(*id, to.id, now)? {
                        // Taken meanwhile (cannot happen under the write lock).
                        continue;
                    }
                    record(&mut *tx, me, *id, pid, &to, &rules.allocate, stage, now)?;
                }
                dealt += 1;
                done.push(Allocated {
                    id: *id,
                    pool: pname.clone(),
                    to: to.login.clone(),
                    method: rules.allocate.clone(),
                });
            }
            if let Some(last) = who.last() {
                if !req.dry_run {
                    tx.set_allocation_cursor(pid, *last)?;
                }
            }
            left -= dealt;
            if !req.dry_run {
                tx.commit()?;
            }
            // Everyone full, a dry run (which cannot see its own plan), or the last batch.
            if full || req.dry_run || (leads.len() as i64) < BATCH || dealt == 0 {
                break;
            }
        }
    }
    Ok(done)
}

/// The ownership event, audit row and follow-up rule of one allocated lead.
#[allow(clippy::too_many_arguments)]
fn record(
    tx: &mut dyn Tx,
    me: &User,
    id: i64,
    pool_id: i64,
    to: &User,
    method: &str,
    stage: &str,
    now: i64,
) -> Result<()> {
    let reason = format!("allocate: {method}");
    tx.record_event(&OwnershipEvent {
        customer_id: id,
        event: "assign",
        from_user: None,
        to_user: Some(to.id),
        by_user: me.id,
        pool_id,
        reason: Some(&reason),
        at: now,
    })?;
    audit_customer(
        tx,
        me,
        "allocate",
        id,
        json!({"owner": null}),
        json!({"owner": to.login, "method": method}),
        now,
    )?;
    super::work::plan_on_event(tx, me, "claim", (id, pool_id, stage), to.id, now)?;
    Ok(())
}
