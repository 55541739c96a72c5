//! Pools and their rules: `pool pools add|list`, `pool rules show|set`, and the one
//! per-pool rules cache the use cases that walk many customers share.
use std::collections::HashMap;

use serde_json::json;

use super::scope;
use crate::domain::roles::{self, Action, User};
use crate::domain::rules::{apply_changes, RuleChanges, Rules};
use crate::error::Result;
use crate::store::ops::audit::Record;
use crate::store::ops::rules::PoolRow;
use crate::store::{Backend, Tx};

/// Each pool's rules, read once (within one transaction, so under its snapshot or lock).
#[derive(Debug, Default)]
pub struct RulesCache {
    by_pool: HashMap<i64, Rules>,
}

impl RulesCache {
    pub fn get(&mut self, tx: &mut dyn Tx, pool_id: i64) -> Result<&Rules> {
        Ok(match self.by_pool.entry(pool_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(tx.rules(pool_id)?),
        })
    }
}

/// A team pool that only the named teams see (admin); its name.
pub fn add_pool(
    store: &mut dyn Backend,
    me: &User,
    name: &str,
    teams: &[String],
    now: i64,
) -> Result<String> {
    let name = roles::clean_name("pool", name)?;
    scope::require(me, Action::ManagePools)?;
    let mut tx = store.write()?;
    let ids = teams
        .iter()
        .map(|t| tx.team_id(t))
        .collect::<Result<Vec<_>>>()?;
    let id = tx.add_pool(&name, &ids, now)?;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "pool_add",
        entity: "pool",
        entity_id: Some(id),
        before: None,
        after: Some(json!({"name": name, "teams": teams})),
    })?;
    tx.commit()?;
    Ok(name)
}

pub fn list_pools(store: &mut dyn Backend, me: &User) -> Result<Vec<PoolRow>> {
    scope::require(me, Action::ReadCustomers)?;
    store.read()?.list_pools()
}

pub fn show(store: &mut dyn Backend, me: &User, pool: &str) -> Result<Rules> {
    scope::require(me, Action::ReadRules)?;
    let mut tx = store.read()?;
    let pid = tx.pool_id(pool)?;
    tx.rules(pid)
}

/// Changes a pool's rules (admin); the new rules. Owned customers' recycle dates follow
/// in the same transaction.
pub fn set(
    store: &mut dyn Backend,
    me: &User,
    pool: &str,
    changes: &RuleChanges,
    now: i64,
) -> Result<Rules> {
    scope::require(me, Action::ManageRules)?;
    let mut tx = store.write()?;
    let pid = tx.pool_id(pool)?;
    let before = tx.rules(pid)?;
    let after = apply_changes(&before, changes)?;
    if changes.allocate_to.is_some() {
        allocation_targets(&mut *tx, &after.allocate_to)?;
    }
    tx.save_rules(pid, &after)?;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "rules_set",
        entity: "pool",
        entity_id: Some(pid),
        before: Some(serde_json::to_value(&before)?),
        after: Some(serde_json::to_value(&after)?),
    })?;
    tx.commit()?;
    Ok(after)
}

/// The active members, managers and admins allocation deals to (`team:NAME` or
/// `users:a,b`), in a stable order (by id); an unknown team or user is an error,
/// viewers and deactivated users are left out.
pub fn allocation_targets(tx: &mut dyn Tx, to: &str) -> Result<Vec<User>> {
    use crate::domain::roles::Role;
    use crate::domain::rules::{parse_allocate_to, AllocateTo};
    let mut users = match parse_allocate_to(to)? {
        AllocateTo::Team(t) => {
            tx.team_id(&t)?;
            tx.users(Some(&t), false)?
        }
        AllocateTo::Users(list) => list
            .iter()
            .map(|l| tx.user(l))
            .collect::<Result<Vec<_>>>()?,
    };
    users.retain(|u| u.active && u.role != Role::Viewer);
    users.sort_by_key(|u| u.id);
    Ok(users)
}
