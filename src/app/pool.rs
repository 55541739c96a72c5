//! The pool's use cases: claim, release, assign, transfer, lock and unlock. Each customer
//! is decided and written in its own transaction: the rule checks, the conditional update,
//! the owner history and the audit row commit together or not at all.
use serde::Serialize;
use serde_json::{json, Value};

use super::scope;
use crate::domain::ownership::{self, ClaimStart, HandOver};
use crate::domain::roles::{Action, User};
use crate::domain::rules::{day_start, Rules};
use crate::error::{Error, Result};
use crate::store::ops::audit::Record;
use crate::store::ops::pool::OwnershipEvent;
use crate::store::{Backend, Tx};

/// What a claim did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Claimed {
    Claimed,
    AlreadyYours,
}

/// Claims one pooled customer for `me` (领取).
pub fn claim(store: &mut dyn Backend, me: &User, id: i64, now: i64) -> Result<Claimed> {
    scope::require(me, Action::Claim)?;
    let mut tx = store.write()?;
    let c = tx.customer(id)?;
    let visible = tx.pool_visible(c.pool_id, me.team_id)?;
    if ownership::claim_start(me, &c, visible)? == ClaimStart::AlreadyYours {
        return Ok(Claimed::AlreadyYours);
    }
    let rules = tx.rules(c.pool_id)?;
    let facts = tx.claim_facts(id, c.pooled_at, me.id, c.pool_id, &rules, day_start(now))?;
    let (phone, email) = tx.contact_keys(id)?;
    let twin = lost_twin(
        &mut *tx,
        me,
        id,
        (phone.as_deref(), email.as_deref()),
        &rules,
        now,
    )?;
    ownership::decide_claim(me, &c, &rules, &facts, twin, now)?;
    tx.intend("claim", None)?;
    if !tx.set_owner_if_pooled(id, me.id, now)? {
        // Unreachable while the write lock is held; kept as the last line of defence.
        return Err(Error::AlreadyOwned {
            id,
            owner: "someone else".into(),
        });
    }
    tx.record_event(&OwnershipEvent {
        customer_id: id,
        event: "claim",
        from_user: None,
        to_user: Some(me.id),
        by_user: me.id,
        pool_id: c.pool_id,
        reason: None,
        at: now,
    })?;
    audit_customer(
        &mut *tx,
        me,
        "claim",
        id,
        json!({"owner": null, "pool": c.pool}),
        json!({"owner": me.login}),
        now,
    )?;
    // The pool's follow-up rule on claim, in the claim's transaction.
    super::work::plan_on_event(&mut *tx, me, "claim", (id, c.pool_id, &c.stage), me.id, now)?;
    tx.commit()?;
    Ok(Claimed::Claimed)
}

/// Claims at once, where the backend's server decides claims itself (PostgreSQL), every
/// id of `ids` its rules allow, in order, in one transaction that writes the owner history
/// and audit rows: for each id whether it was claimed. All false on a file: there every
/// claim is decided by [`claim`], as is every id not claimed here (which explains why).
pub fn claim_at_once(store: &mut dyn Backend, ids: &[i64]) -> Result<Vec<bool>> {
    Ok(store
        .claim_at_once(ids)?
        .filter(|done| done.len() == ids.len())
        .unwrap_or_else(|| vec![false; ids.len()]))
}

/// A customer `me` gave up within the re-claim cooldown with the same phone or e-mail
/// as customer `id` (0: a new one): (its id, when lost). For claim, add and edit.
pub fn lost_twin(
    tx: &mut dyn Tx,
    me: &User,
    id: i64,
    keys: (Option<&str>, Option<&str>),
    rules: &Rules,
    now: i64,
) -> Result<Option<(i64, i64)>> {
    match ownership::lost_twin_since(rules, now) {
        None => Ok(None),
        Some(since) => tx.lost_twin(me.id, keys.0, keys.1, id, since),
    }
}

/// What a release asks for.
#[derive(Debug, Clone)]
pub struct Release {
    pub reason: String,
    /// Into this pool instead of the customer's own.
    pub to_pool: Option<String>,
    /// Cancel open follow-ups (otherwise they block the release).
    pub cancel_followups: bool,
}

/// What a release did.
#[derive(Debug, Clone, Serialize)]
pub struct Released {
    pub pool: String,
    pub followups_cancelled: usize,
}

/// Checks a release's reason before any customer is touched.
pub fn release_reason(reason: &str) -> Result<String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::invalid(
            "--reason",
            "say why the customer goes back to the pool",
        ));
    }
    Ok(reason.to_string())
}

/// Releases one customer back to a pool (放入公海).
pub fn release(
    store: &mut dyn Backend,
    me: &User,
    id: i64,
    r: &Release,
    now: i64,
) -> Result<Released> {
    scope::require(me, Action::Release)?;
    let reason = release_reason(&r.reason)?;
    let mut tx = store.write()?;
    let c = tx.customer(id)?;
    let (owner_id, owner) = ownership::release_owner(&c)?;
    scope::check(&mut *tx, me, &c)?;
    let (pool_id, pool_name) = match &r.to_pool {
        Some(p) => (tx.pool_id(p)?, p.clone()),
        None => (c.pool_id, c.pool.clone()),
    };
    let visible =
        pool_id == c.pool_id && r.to_pool.is_none() || tx.pool_visible(pool_id, me.team_id)?;
    ownership::decide_release_pool(me, &c, (pool_id, &pool_name, visible))?;
    let open = tx.open_followups(id)?;
    ownership::decide_open_followups(id, open, r.cancel_followups)?;
    let cancelled = if open > 0 {
        tx.cancel_open_followups(id, &format!("cancelled on release: {reason}"), now)?
    } else {
        0
    };
    tx.intend("release", Some(&reason))?;
    if !tx.return_to_pool(id, owner_id, pool_id, now)? {
        return Err(Error::ChangedMeanwhile { id });
    }
    tx.record_event(&OwnershipEvent {
        customer_id: id,
        event: "release",
        from_user: Some(owner_id),
        to_user: None,
        by_user: me.id,
        pool_id,
        reason: Some(&reason),
        at: now,
    })?;
    audit_customer(
        &mut *tx,
        me,
        "release",
        id,
        json!({"owner": owner, "pool": c.pool}),
        json!({"owner": null, "pool": pool_name, "reason": reason, "followups_cancelled": cancelled}),
        now,
    )?;
    tx.commit()?;
    Ok(Released {
        pool: pool_name,
        followups_cancelled: cancelled,
    })
}

/// The new owner of an assign or transfer, checked: active, not a viewer, and in a
/// manager's own team.
pub fn new_owner(store: &mut dyn Backend, me: &User, login: &str) -> Result<User> {
    let mut tx = store.read()?;
    let to = tx.user(login)?;
    ownership::check_new_owner(me, &to)?;
    Ok(to)
}

/// What an assign or transfer of one customer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HandedOver {
    Moved,
    AlreadyTheirs,
}

/// Gives one customer (pooled, or owned by someone in the manager's team) to `to`.
pub fn assign(
    store: &mut dyn Backend,
    me: &User,
    to: &User,
    id: i64,
    now: i64,
) -> Result<HandedOver> {
    scope::require(me, Action::Assign)?;
    hand_over(store, me, to, id, None, "assign", now)
}

/// Moves one customer of `from` to `to`.
pub fn transfer(
    store: &mut dyn Backend,
    me: &User,
    from: &User,
    to: &User,
    id: i64,
    now: i64,
) -> Result<HandedOver> {
    scope::require(me, Action::Transfer)?;
    hand_over(store, me, to, id, Some(from), "transfer", now)
}

fn hand_over(
    store: &mut dyn Backend,
    me: &User,
    to: &User,
    id: i64,
    expect_from: Option<&User>,
    action: &str,
    now: i64,
) -> Result<HandedOver> {
    let mut tx = store.write()?;
    let c = tx.customer(id)?;
    let visible = c.owner_id.is_some() || tx.pool_visible(c.pool_id, to.team_id)?;
    // Who owns it is checked before the actor's scope, so a transfer names the mismatch.
    if let Some(from) = expect_from {
        if c.owner_id != Some(from.id) && c.owner_id != Some(to.id) {
            return Err(Error::NotOwnedBy {
                id,
                user: from.login.clone(),
            });
        }
    }
    if c.owner_id == Some(to.id) {
        return Ok(HandedOver::AlreadyTheirs);
    }
    scope::check(&mut *tx, me, &c)?;
    if ownership::hand_over_start(&c, to, expect_from, visible)? == HandOver::AlreadyTheirs {
        return Ok(HandedOver::AlreadyTheirs);
    }
    let rules = tx.rules(c.pool_id)?;
    let owned = if rules.max_owned > 0 {
        tx.owned_count(to.id, c.pool_id, rules.count_won)?
    } else {
        0
    };
    ownership::decide_hand_over_limit(&rules, &c, to, owned)?;
    tx.intend(action, None)?;
    let moved = match c.owner_id {
        None => tx.set_owner_if_pooled(id, to.id, now)?,
        Some(from) => tx.set_owner_if_owned_by(id, from, to.id, now)?,
    };
    if !moved {
        return Err(Error::ChangedMeanwhile { id });
    }
    tx.record_event(&OwnershipEvent {
        customer_id: id,
        event: action,
        from_user: c.owner_id,
        to_user: Some(to.id),
        by_user: me.id,
        pool_id: c.pool_id,
        reason: None,
        at: now,
    })?;
    // Work follows the customer.
    let moved_followups = tx.move_open_followups(id, c.owner_id, to.id)?;
    let mut after = json!({"owner": to.login});
    if !moved_followups.is_empty() {
        after["followups_moved"] = json!(moved_followups);
    }
    audit_customer(
        &mut *tx,
        me,
        action,
        id,
        json!({"owner": c.owner, "pool": c.pool}),
        after,
        now,
    )?;
    if c.owner_id.is_none() {
        // Out of the pool: the pool's follow-up rule on claim applies to the new owner.
        super::work::plan_on_event(&mut *tx, me, "claim", (id, c.pool_id, &c.stage), to.id, now)?;
    }
    tx.commit()?;
    Ok(HandedOver::Moved)
}

/// The two users of a transfer: `from` in a manager's team, `to` a valid new owner, and
/// not the same.
pub fn transfer_parties(
    store: &mut dyn Backend,
    me: &User,
    from: &str,
    to: &str,
) -> Result<(User, User)> {
    scope::require(me, Action::Transfer)?;
    let to = new_owner(store, me, to)?;
    let from = store.read()?.user(from)?;
    ownership::check_same_team(me, &from)?;
    if from.id == to.id {
        return Err(Error::invalid("--to", "the same user as --from"));
    }
    Ok((from, to))
}

/// What a bulk transfer did.
#[derive(Debug, Clone, Serialize)]
pub struct TransferredAll {
    pub from: String,
    pub to: String,
    pub transferred: usize,
}

/// Gives every customer of `from` to `to` in one transaction (a handover: max_owned is
/// not checked), with one audit row per customer and one for the handover.
pub fn transfer_all(
    store: &mut dyn Backend,
    me: &User,
    from: &User,
    to: &User,
    now: i64,
) -> Result<TransferredAll> {
    scope::require(me, Action::Transfer)?;
    let mut tx = store.write()?;
    let ids = tx.transfer_all(from.id, to.id, me.id, "transfer", now)?;
    // One row per customer too, so `pool audit log --customer N` finds the move.
    for id in &ids {
        let moved = tx.move_open_followups(*id, Some(from.id), to.id)?;
        let mut after = json!({"owner": to.login, "all": true});
        if !moved.is_empty() {
            after["followups_moved"] = json!(moved);
        }
        audit_customer(
            &mut *tx,
            me,
            "transfer",
            *id,
            json!({"owner": from.login}),
            after,
            now,
        )?;
    }
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "transfer",
        entity: "user",
        entity_id: Some(from.id),
        before: Some(json!({"owner": from.login, "customers": ids})),
        after: Some(json!({"owner": to.login})),
    })?;
    tx.commit()?;
    Ok(TransferredAll {
        from: from.login.clone(),
        to: to.login.clone(),
        transferred: ids.len(),
    })
}

/// What a lock or unlock did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LockChange {
    Changed,
    AlreadySo,
}

/// Locks (recycling skips it) or unlocks one owned customer.
pub fn set_lock(
    store: &mut dyn Backend,
    me: &User,
    id: i64,
    locked: bool,
    now: i64,
) -> Result<LockChange> {
    scope::require(me, Action::Lock)?;
    let mut tx = store.write()?;
    let c = tx.customer(id)?;
    if c.owner_id.is_none() {
        return Err(Error::LockPooled { id });
    }
    scope::check(&mut *tx, me, &c)?;
    if c.locked == locked {
        return Ok(LockChange::AlreadySo);
    }
    if locked {
        let rules = tx.rules(c.pool_id)?;
        let n = match c.owner_id {
            Some(owner) => tx.locked_count(owner)?,
            None => 0,
        };
        ownership::decide_lock(&c, &rules, n)?;
    }
    tx.set_locked(id, locked, now)?;
    audit_customer(
        &mut *tx,
        me,
        if locked { "lock" } else { "unlock" },
        id,
        json!({"locked": c.locked}),
        json!({"locked": locked}),
        now,
    )?;
    tx.commit()?;
    Ok(LockChange::Changed)
}

/// The audit row of a change to one customer.
pub(crate) fn audit_customer(
    tx: &mut dyn Tx,
    me: &User,
    action: &str,
    id: i64,
    before: Value,
    after: Value,
    now: i64,
) -> Result<()> {
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action,
        entity: "customer",
        entity_id: Some(id),
        before: Some(before),
        after: Some(after),
    })?;
    Ok(())
}
