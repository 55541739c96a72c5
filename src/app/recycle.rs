//! `pool recycle`: owned customers past their pool's rules go back to the pool. Safe from
//! cron while people work: candidates are found with a read, then moved in small write
//! transactions that re-check each customer, so a contact logged a moment ago saves it
//! and nobody waits long for the write lock. Running it twice changes nothing the second
//! time.
use std::collections::HashMap;

use serde::Serialize;
use serde_json::json;

use super::rules::RulesCache;
use super::scope;
use crate::clock::iso_ts;
use crate::domain::roles::{Action, Role, User};
use crate::domain::rules::{recycle_due, shortest_recycle_days, RecycleReason, DAY};
use crate::error::Result;
use crate::store::ops::audit::Record;
use crate::store::ops::pool::OwnershipEvent;
use crate::store::Backend;

/// Customers moved per transaction.
const BATCH: usize = 500;

/// One customer recycled (or, in a dry run, that would be).
#[derive(Debug, Serialize)]
pub struct Recycled {
    pub id: i64,
    pub owner: String,
    pub pool: String,
    pub reason: &'static str,
    pub due: Option<String>,
}

struct Planned {
    id: i64,
    owner: i64,
    pool_id: i64,
    pool: String,
    reason: RecycleReason,
    due: i64,
}

/// Recycles every owned customer past its pool's rules at `now`; with `dry_run`, only
/// says which (nothing is written, so it is allowed under a simulated clock).
pub fn run(store: &mut dyn Backend, me: &User, dry_run: bool, now: i64) -> Result<Vec<Recycled>> {
    scope::require(me, Action::Recycle)?;
    let (logins, planned) = {
        let mut tx = store.read()?;
        let logins: HashMap<i64, String> = tx
            .users(None, true)?
            .into_iter()
            .map(|u| (u.id, u.login))
            .collect();
        // A manager recycles their own team's customers, on both backends (a server's row
        // policies would refuse them the rest, so a dry run must not list those either).
        let team = (me.role == Role::Manager).then_some(me.team_id);
        let mut planned = Vec::new();
        for (pid, pname) in tx.all_pools()? {
            let rules = tx.rules(pid)?;
            let Some(shortest) = shortest_recycle_days(&rules) else {
                continue;
            };
            if rules.overrides.is_empty() {
                // No per-stage/tag days: the store finds exactly the customers that are due.
                for d in tx.due_by(pid, &rules, None, team, now)? {
                    let reason = if d.reason == "no_deal" {
                        RecycleReason::NoDeal
                    } else {
                        RecycleReason::NoContact
                    };
                    planned.push(Planned {
                        id: d.id,
                        owner: d.owner_id,
                        pool_id: pid,
                        pool: pname.clone(),
                        reason,
                        due: d.due,
                    });
                }
                continue;
            }
            let by_tag = rules.overrides.iter().any(|o| o.scope == "tag");
            for row in tx.recycle_candidates(pid, now - shortest * DAY, team, by_tag)? {
                if let Some((due, reason)) = recycle_due(&rules, &row.facts) {
                    if due <= now {
                        planned.push(Planned {
                            id: row.id,
                            owner: row.owner_id,
                            pool_id: pid,
                            pool: pname.clone(),
                            reason,
                            due,
                        });
                    }
                }
            }
        }
        (logins, planned)
    };
    let login = |id: i64| logins.get(&id).cloned().unwrap_or_default();
    let mut done = Vec::new();
    if dry_run {
        for p in &planned {
            done.push(Recycled {
                id: p.id,
                owner: login(p.owner),
                pool: p.pool.clone(),
                reason: p.reason.as_str(),
                due: iso_ts(Some(p.due)),
            });
        }
        return Ok(done);
    }
    for chunk in planned.chunks(BATCH) {
        let mut tx = store.write()?;
        // Each pool's rules, read once per transaction (under the same lock).
        let mut rules = RulesCache::default();
        for p in chunk {
            // Decide again under the write lock: the owner may have logged a call,
            // released or locked it since the read above.
            let Some(row) = tx.owned_row(p.id)? else {
                continue;
            };
            if row.owner_id != p.owner || row.pool_id != p.pool_id {
                continue;
            }
            let Some((due, reason)) = recycle_due(rules.get(&mut *tx, p.pool_id)?, &row.facts)
            else {
                continue;
            };
            if due > now {
                continue;
            }
            tx.intend("recycle", Some(reason.as_str()))?;
            if !tx.return_to_pool(p.id, p.owner, p.pool_id, now)? {
                continue;
            }
            tx.record_event(&OwnershipEvent {
                customer_id: p.id,
                event: "recycle",
                from_user: Some(p.owner),
                to_user: None,
                by_user: me.id,
                pool_id: p.pool_id,
                reason: Some(reason.as_str()),
                at: now,
            })?;
            // Nobody owns it now: its open follow-ups are cancelled, with the reason.
            let cancelled = tx.cancel_open_followups(
                p.id,
                &format!("cancelled on recycle: {}", reason.as_str()),
                now,
            )?;
            let owner = login(p.owner);
            let mut after =
                json!({"owner": null, "reason": reason.as_str(), "due": iso_ts(Some(due))});
            if cancelled > 0 {
                after["followups_cancelled"] = json!(cancelled);
            }
            tx.audit(Record {
                at: now,
                actor: &me.login,
                action: "recycle",
                entity: "customer",
                entity_id: Some(p.id),
                before: Some(json!({"owner": owner, "pool": p.pool})),
                after: Some(after),
            })?;
            done.push(Recycled {
                id: p.id,
                owner,
                pool: p.pool.clone(),
                reason: reason.as_str(),
                due: iso_ts(Some(due)),
            });
        }
        tx.commit()?;
    }
    Ok(done)
}
