//! The one scope check: may this actor do this, and on this customer? Every use case —
//! reads included — asks here, so a rule enforced on one path is enforced on all.
use crate::domain::customer::Customer;
use crate::domain::roles::{allowed, may_work_on, Action, Role, User};
use crate::error::{Error, Result};
use crate::store::Tx;

/// The role check: may `me`'s role do `action` at all?
pub fn require(me: &User, action: Action) -> Result<()> {
    if allowed(me.role, action) {
        Ok(())
    } else {
        Err(Error::PermissionDenied {
            role: me.role.as_str().into(),
            action: action.describe().into(),
        })
    }
}

/// May `me` work on (change, log on, release, read unmasked…) this customer? Admins on
/// all; managers on pooled customers in pools their team sees and on their team's;
/// members on their own.
pub fn check(tx: &mut dyn Tx, me: &User, c: &Customer) -> Result<()> {
    if c.owner_id.is_none() && me.role != Role::Admin && !tx.pool_visible(c.pool_id, me.team_id)? {
        return Err(Error::Forbidden(format!(
            "customer {} is in a pool your team does not see",
            c.id
        )));
    }
    if may_work_on(me.role, me.id, me.team_id, c.owner_id, c.owner_team_id) {
        return Ok(());
    }
    Err(match &c.owner {
        None => Error::Forbidden(format!(
            "customer {} is in the pool '{}'; claim it first (pool claim {})",
            c.id, c.pool, c.id
        )),
        Some(o) => Error::Forbidden(format!("customer {} belongs to {o}", c.id)),
    })
}

/// May `me` read this customer at all (masked)? Owned customers: yes; pooled ones only
/// in a pool their team sees (admins: every pool). Changes ask [`check`], which is
/// stricter; what is unmasked is `domain::roles::sees_contact`.
pub fn readable(tx: &mut dyn Tx, me: &User, c: &Customer) -> Result<()> {
    if c.owner_id.is_none() {
        let visible = tx.pool_visible(c.pool_id, me.team_id)?;
        crate::domain::customer_rules::check_pool_visible(me, &c.pool, visible)?;
    }
    Ok(())
}

/// A customer `me` may work on, read in `tx`.
pub fn customer(tx: &mut dyn Tx, me: &User, id: i64) -> Result<Customer> {
    // A server hides a pooled customer of a pool the team does not see (row level
    // security) and says which pool; to work on it is the refusal `check` gives.
    let c = tx.customer(id).map_err(|e| match e {
        Error::PoolNotVisible { .. } => {
            Error::Forbidden(format!("customer {id} is in a pool your team does not see"))
        }
        e => e,
    })?;
    check(tx, me, &c)?;
    Ok(c)
}
