//! Who may take, give back, hand over or lock a customer: every refusal of the pool's
//! ownership rules, decided from facts the store read inside the change's transaction.
//! Pure: no store, no clock, no printing.
use super::customer::Customer;
use super::roles::{Role, User};
use super::rules::{check_claim, check_limit, counts_towards_limit, ClaimFacts, Rules, DAY};
use crate::error::{Error, Result};

/// What a claim finds before the rules are asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimStart {
    /// The claimer owns it already: nothing to do.
    AlreadyYours,
    /// Pooled and in a pool the claimer's team sees: ask the rules.
    Pooled,
}

/// A claim's first refusals: owned by someone else, or in a pool the claimer's team does
/// not see (admins see every pool).
pub fn claim_start(me: &User, c: &Customer, pool_visible: bool) -> Result<ClaimStart> {
    match (c.owner_id, &c.owner) {
        (Some(o), _) if o == me.id => return Ok(ClaimStart::AlreadyYours),
        (Some(_), owner) => {
            return Err(Error::AlreadyOwned {
                id: c.id,
                owner: owner.clone().unwrap_or_else(|| "someone else".into()),
            })
        }
        _ => {}
    }
    if me.role != Role::Admin && !pool_visible {
        return Err(Error::PoolNotVisible {
            pool: c.pool.clone(),
            team: me.team.clone(),
        });
    }
    Ok(ClaimStart::Pooled)
}

/// The rules of a claim: fresh hold, cooldown (on this customer, and on a copy of one the
/// claimer gave up: `lost_twin` = (its id, when lost)), max_owned (for stages that count),
/// and the daily cap.
pub fn decide_claim(
    me: &User,
    c: &Customer,
    rules: &Rules,
    facts: &ClaimFacts,
    lost_twin: Option<(i64, i64)>,
    now: i64,
) -> Result<()> {
    let mut facts = facts.clone();
    if !counts_towards_limit(rules, &c.stage) {
        facts.owned = 0;
    }
    check_claim(rules, &facts, &me.login, &c.pool, now)?;
    check_lost_twin(c.id, rules, lost_twin, now)
}

/// The re-claim cooldown also covers copies: a customer (`id`; 0 for a new one) with the
/// phone or e-mail of one the actor gave up within the cooldown is refused like that
/// customer (claim, add for oneself, edit). `lost_twin` = (the copied id, when lost),
/// looked up since `now - cooldown`.
pub fn check_lost_twin(
    id: i64,
    rules: &Rules,
    lost_twin: Option<(i64, i64)>,
    now: i64,
) -> Result<()> {
    let Some((twin, lost)) = lost_twin else {
        return Ok(());
    };
    let days = rules.reclaim_cooldown_days * DAY;
    if rules.reclaim_cooldown_days <= 0 || lost + days <= now {
        return Ok(());
    }
    Err(Error::Cooldown {
        // A new customer has no id yet: the one it copies is named.
        id: if id == 0 { twin } else { id },
        until: format!(
            "{} (same phone or e-mail as customer {twin}, which you gave up)",
            crate::clock::fmt_ts(Some(lost + days))
        ),
    })
}

/// Since when a lost copy still blocks (the cooldown window), or None when it is off.
pub fn lost_twin_since(rules: &Rules, now: i64) -> Option<i64> {
    (rules.reclaim_cooldown_days > 0).then(|| now - rules.reclaim_cooldown_days * DAY)
}

/// Who owns a customer that is being released: (owner id, owner login).
pub fn release_owner(c: &Customer) -> Result<(i64, String)> {
    match (c.owner_id, &c.owner) {
        (Some(o), Some(n)) => Ok((o, n.clone())),
        _ => Err(Error::AlreadyPooled {
            id: c.id,
            pool: c.pool.clone(),
        }),
    }
}

/// Where a release may go: a member only into the customer's own pool (another pool would
/// take it out of its rules and other teams' reach); anyone only into a pool their team
/// sees. `target` = (pool id, name, visible to the actor's team).
pub fn decide_release_pool(me: &User, c: &Customer, target: (i64, &str, bool)) -> Result<()> {
    let (pid, name, visible) = target;
    if c.locked {
        return Err(Error::Locked { id: c.id });
    }
    if me.role == Role::Member && pid != c.pool_id {
        return Err(Error::Forbidden(format!(
            "a member releases customer {} into its own pool '{}'; a manager can move it",
            c.id, c.pool
        )));
    }
    if me.role != Role::Admin && !visible {
        return Err(Error::PoolNotVisible {
            pool: name.to_string(),
            team: me.team.clone(),
        });
    }
    Ok(())
}

/// Open follow-ups block a release unless the caller said to cancel them.
pub fn decide_open_followups(id: i64, open: i64, cancel: bool) -> Result<()> {
    if open > 0 && !cancel {
        return Err(Error::OpenFollowups { id, n: open });
    }
    Ok(())
}

/// The new owner of an assign or transfer: active, not a viewer, and in a manager's own
/// team.
pub fn check_new_owner(me: &User, to: &User) -> Result<()> {
    if !to.active {
        return Err(Error::invalid(
            "--to",
            format!("'{}' is deactivated", to.login),
        ));
    }
    if to.role == Role::Viewer {
        return Err(Error::invalid(
            "--to",
            format!("'{}' is a viewer and cannot own customers", to.login),
        ));
    }
    check_same_team(me, to)
}

/// A manager hands over only within their team.
pub fn check_same_team(me: &User, other: &User) -> Result<()> {
    if me.role != Role::Admin && other.team_id != me.team_id {
        return Err(Error::Forbidden(format!(
            "'{}' is not in your team ({})",
            other.login, me.team
        )));
    }
    Ok(())
}

/// What an assign or transfer finds before the rules are asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandOver {
    AlreadyTheirs,
    Move,
}

/// An assign (or a transfer: `expect_from`) of one customer to `to`: owned by the expected
/// user, not locked while owned, in a pool the new owner's team sees when pooled.
pub fn hand_over_start(
    c: &Customer,
    to: &User,
    expect_from: Option<&User>,
    pool_visible_to_new_owner: bool,
) -> Result<HandOver> {
    if let Some(from) = expect_from {
        if c.owner_id != Some(from.id) && c.owner_id != Some(to.id) {
            return Err(Error::NotOwnedBy {
                id: c.id,
                user: from.login.clone(),
            });
        }
    }
    if c.owner_id == Some(to.id) {
        return Ok(HandOver::AlreadyTheirs);
    }
    if c.owner_id.is_some() && c.locked {
        return Err(Error::Locked { id: c.id });
    }
    if c.owner_id.is_none() && to.role != Role::Admin && !pool_visible_to_new_owner {
        return Err(Error::PoolNotVisible {
            pool: c.pool.clone(),
            team: to.team.clone(),
        });
    }
    Ok(HandOver::Move)
}

/// max_owned for the new owner of a handed-over customer (`owned`: what they own in its
/// pool that counts); stages that do not count pass.
pub fn decide_hand_over_limit(rules: &Rules, c: &Customer, to: &User, owned: i64) -> Result<()> {
    if counts_towards_limit(rules, &c.stage) {
        check_limit(rules, owned, &to.login, &c.pool)?;
    }
    Ok(())
}

/// Locking: only owned customers, only where the pool allows it, at most max_locked per
/// owner (`locked_now`: what the owner has locked).
pub fn decide_lock(c: &Customer, rules: &Rules, locked_now: i64) -> Result<()> {
    if c.owner_id.is_none() {
        return Err(Error::LockPooled { id: c.id });
    }
    if rules.max_locked == 0 {
        return Err(Error::LockingOff {
            pool: c.pool.clone(),
        });
    }
    if locked_now >= rules.max_locked {
        return Err(Error::LockLimit {
            who: c.owner.clone().unwrap_or_else(|| "?".into()),
            n: locked_now,
            max: rules.max_locked,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::roles::test_user as user;

    fn pooled(id: i64) -> Customer {
        Customer {
            id,
            stage: "lead".into(),
            pool_id: 1,
            pool: "public".into(),
            ..Customer::default()
        }
    }

    #[test]
    fn claim_refuses_owned_and_invisible_and_accepts_own() {
        let me = user(1, Role::Member, 10);
        let mut c = pooled(5);
        assert_eq!(claim_start(&me, &c, true).unwrap(), ClaimStart::Pooled);
        assert!(matches!(
            claim_start(&me, &c, false),
            Err(Error::PoolNotVisible { .. })
        ));
        assert_eq!(
            claim_start(&user(9, Role::Admin, 11), &c, false).unwrap(),
            ClaimStart::Pooled
        );
        c.owner_id = Some(1);
        c.owner = Some("u1".into());
        assert_eq!(
            claim_start(&me, &c, true).unwrap(),
            ClaimStart::AlreadyYours
        );
        c.owner_id = Some(2);
        c.owner = Some("u2".into());
        assert!(matches!(
            claim_start(&me, &c, true),
            Err(Error::AlreadyOwned { id: 5, .. })
        ));
    }

    #[test]
    fn a_won_customer_does_not_count_towards_max_owned_unless_count_won() {
        let me = user(1, Role::Member, 10);
        let rules = Rules {
            max_owned: 2,
            ..Rules::default()
        };
        let facts = ClaimFacts {
            customer_id: 5,
            owned: 2,
            ..ClaimFacts::default()
        };
        let mut c = pooled(5);
        assert!(matches!(
            decide_claim(&me, &c, &rules, &facts, None, 0),
            Err(Error::LimitReached { .. })
        ));
        c.stage = "loyal".into();
        decide_claim(&me, &c, &rules, &facts, None, 0).unwrap();
    }

    #[test]
    fn a_copy_of_a_customer_given_up_waits_out_the_cooldown() {
        let rules = Rules {
            reclaim_cooldown_days: 7,
            ..Rules::default()
        };
        assert!(matches!(
            check_lost_twin(0, &rules, Some((3, 100)), 100 + DAY),
            Err(Error::Cooldown { id: 3, .. })
        ));
        check_lost_twin(0, &rules, Some((3, 100)), 100 + 7 * DAY).unwrap();
        check_lost_twin(0, &rules, None, 100).unwrap();
    }

    #[test]
    fn members_release_only_into_the_customers_own_pool() {
        let me = user(1, Role::Member, 10);
        let mut c = pooled(5);
        c.owner_id = Some(1);
        decide_release_pool(&me, &c, (1, "public", true)).unwrap();
        assert!(matches!(
            decide_release_pool(&me, &c, (2, "east", true)),
            Err(Error::Forbidden(_))
        ));
        let boss = user(2, Role::Manager, 10);
        decide_release_pool(&boss, &c, (2, "east", true)).unwrap();
        assert!(matches!(
            decide_release_pool(&boss, &c, (3, "west", false)),
            Err(Error::PoolNotVisible { .. })
        ));
        c.locked = true;
        assert!(matches!(
            decide_release_pool(&me, &c, (1, "public", true)),
            Err(Error::Locked { .. })
        ));
    }

    #[test]
    fn locks_need_an_owner_a_pool_that_allows_them_and_room() {
        let mut c = pooled(5);
        let mut rules = Rules {
            max_locked: 0,
            ..Rules::default()
        };
        assert!(matches!(
            decide_lock(&c, &rules, 0),
            Err(Error::LockPooled { .. })
        ));
        c.owner_id = Some(1);
        assert!(matches!(
            decide_lock(&c, &rules, 0),
            Err(Error::LockingOff { .. })
        ));
        rules.max_locked = 2;
        decide_lock(&c, &rules, 1).unwrap();
        assert!(matches!(
            decide_lock(&c, &rules, 2),
            Err(Error::LockLimit { n: 2, max: 2, .. })
        ));
    }

    #[test]
    fn a_manager_hands_over_within_the_team_only_to_active_non_viewers() {
        let boss = user(1, Role::Manager, 10);
        check_new_owner(&boss, &user(2, Role::Member, 10)).unwrap();
        assert!(check_new_owner(&boss, &user(3, Role::Member, 11)).is_err());
        assert!(check_new_owner(&boss, &user(4, Role::Viewer, 10)).is_err());
        let mut gone = user(5, Role::Member, 10);
        gone.active = false;
        assert!(check_new_owner(&boss, &gone).is_err());
        check_new_owner(&user(9, Role::Admin, 12), &user(3, Role::Member, 11)).unwrap();
    }
}
