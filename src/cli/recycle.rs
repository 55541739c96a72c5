//! `pool recycle`: owned customers past their pool's rules go back to the pool.
//! Safe from cron while people work: candidates are found with a read, then moved in
//! small IMMEDIATE transactions that re-check each customer, so a contact logged a
//! moment ago saves it and nobody waits long for the write lock. Running it twice
//! changes nothing the second time.
use std::collections::HashMap;

use clap::Args;
use serde::Serialize;
use serde_json::json;

use super::Ctx;
use crate::clock::iso_ts;
use crate::domain::roles::Action;
use crate::domain::rules::{recycle_due, shortest_recycle_days, RecycleReason, DAY};
use crate::error::Result;
use crate::store::{audit, pool, users};

/// Customers moved per transaction.
const BATCH: usize = 500;

#[derive(Debug, Args)]
pub struct RecycleArgs {
    /// Show what would be recycled, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize)]
pub struct Recycled {
    pub id: i64,
    pub owner: String,
    pub pool: String,
    pub reason: &'static str,
    pub due: Option<String>,
}

pub fn run(ctx: &mut Ctx, a: &RecycleArgs) -> Result<()> {
    let me = ctx.require(Action::Recycle)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let store = ctx.store()?;
    let logins: HashMap<i64, String> = users::list(&store.conn, None, true)?
        .into_iter()
        .map(|u| (u.id, u.login))
        .collect();
    let mut planned = Vec::new();
    for (pid, pname) in pool::all_pool_ids(&store.conn)? {
        let rules = pool::rules(&store.conn, pid)?;
        let Some(shortest) = shortest_recycle_days(&rules) else {
            continue;
        };
        if rules.overrides.is_empty() {
            // No per-stage/tag days: SQL finds exactly the customers that are due.
            for d in pool::due_by(&store.conn, pid, &rules, None, None, now)? {
                let reason = if d.reason == "no_deal" {
                    RecycleReason::NoDeal
                } else {
                    RecycleReason::NoContact
                };
                planned.push((d.id, d.owner_id, pid, pname.clone(), reason, d.due));
            }
            continue;
        }
        for row in pool::recycle_candidates(&store.conn, pid, now - shortest * DAY)? {
            if let Some((due, reason)) = recycle_due(&rules, &row.facts) {
                if due <= now {
                    planned.push((row.id, row.owner_id, pid, pname.clone(), reason, due));
                }
            }
        }
    }
    let mut done: Vec<Recycled> = Vec::new();
    if a.dry_run {
        for (id, owner, _, pname, reason, due) in &planned {
            done.push(Recycled {
                id: *id,
                owner: logins.get(owner).cloned().unwrap_or_default(),
                pool: pname.clone(),
                reason: reason.as_str(),
                due: iso_ts(Some(*due)),
            });
        }
    } else {
        for chunk in planned.chunks(BATCH) {
            let tx = store.begin()?;
            // Each pool's rules, read once per transaction (under the same lock).
            let mut rules_of: HashMap<i64, crate::domain::rules::Rules> = HashMap::new();
            for (id, owner, pid, pname, _, _) in chunk {
                // Decide again under the write lock: the owner may have logged a call,
                // released or locked it since the read above.
                let Some(row) = pool::owned_row_by_id(&tx, *id)? else {
                    continue;
                };
                if row.owner_id != *owner || row.pool_id != *pid {
                    continue;
                }
                if !rules_of.contains_key(pid) {
                    rules_of.insert(*pid, pool::rules(&tx, *pid)?);
                }
                let Some((due, reason)) =
                    rules_of.get(pid).and_then(|r| recycle_due(r, &row.facts))
                else {
                    continue;
                };
                if due > now || !pool::return_to_pool(&tx, *id, *owner, *pid, now)? {
                    continue;
                }
                pool::record_event(
                    &tx,
                    *id,
                    "recycle",
                    Some(*owner),
                    None,
                    me.id,
                    *pid,
                    Some(reason.as_str()),
                    now,
                )?;
                let owner_login = logins.get(owner).cloned().unwrap_or_default();
                audit::append(
                    &tx,
                    audit::Record {
                        at: now,
                        actor: &me.login,
                        action: "recycle",
                        entity: "customer",
                        entity_id: Some(*id),
                        before: Some(json!({"owner": owner_login, "pool": pname})),
                        after: Some(
                            json!({"owner": null, "reason": reason.as_str(), "due": iso_ts(Some(due))}),
                        ),
                    },
                )?;
                done.push(Recycled {
                    id: *id,
                    owner: owner_login,
                    pool: pname.clone(),
                    reason: reason.as_str(),
                    due: iso_ts(Some(due)),
                });
            }
            tx.commit()?;
        }
    }
    out.rows(&done, "nothing to recycle")?;
    let verb = if a.dry_run {
        "would be recycled"
    } else {
        "recycled"
    };
    out.status(format!("{} customer(s) {verb}", done.len()));
    Ok(())
}
