//! Pools, their rules, and ownership: who owns a customer, and its owner history.
use crate::domain::rules::{ClaimFacts, Rules};
use crate::error::Result;

/// One row of a customer's owner history (claim, release, assign, transfer, recycle…).
#[derive(Debug, Clone)]
pub struct OwnershipEvent<'a> {
    pub customer_id: i64,
    pub event: &'a str,
    pub from_user: Option<i64>,
    pub to_user: Option<i64>,
    pub by_user: i64,
    pub pool_id: i64,
    pub reason: Option<&'a str>,
    pub at: i64,
}

/// An open follow-up nobody will do.
#[derive(Debug, Clone, Copy)]
pub struct Stray {
    pub id: i64,
    pub customer_id: i64,
    pub assignee_id: i64,
    /// The customer's owner (None: it is in a pool).
    pub owner_id: Option<i64>,
}

pub trait PoolOps {
    /// A pool's id by name (not found: exit 3).
    fn pool_id(&mut self, name: &str) -> Result<i64>;
    /// Whether a team sees (may claim from) a pool; `public` is seen by every team.
    fn pool_visible(&mut self, pool_id: i64, team_id: i64) -> Result<bool>;
    /// A pool's rules (its defaults where none were set).
    fn rules(&mut self, pool_id: i64) -> Result<Rules>;
    /// What a claim of `customer_id` by `user` is decided on; a rule that is off is not
    /// counted. `day_start`: the start of the claimer's day, for the daily cap.
    fn claim_facts(
        &mut self,
        customer_id: i64,
        pooled_at: Option<i64>,
        user: i64,
        pool_id: i64,
        rules: &Rules,
        day_start: i64,
    ) -> Result<ClaimFacts>;
    /// Customers `user` owns in a pool that count towards max_owned.
    fn owned_count(&mut self, user: i64, pool_id: i64, count_won: bool) -> Result<i64>;
    /// Locked customers `user` owns.
    fn locked_count(&mut self, user: i64) -> Result<i64>;
    /// Another customer (not `except`) with this phone or e-mail key that `user` released
    /// or lost to recycling since `since`: (its id, when it was lost).
    fn lost_twin(
        &mut self,
        user: i64,
        phone_key: Option<&str>,
        email_key: Option<&str>,
        except: i64,
        since: i64,
    ) -> Result<Option<(i64, i64)>>;
    /// The conditional claim: true only if nobody owned the customer at this instant.
    fn set_owner_if_pooled(&mut self, id: i64, owner: i64, now: i64) -> Result<bool>;
    /// Moves an owned customer, only if `from` still owns it.
    fn set_owner_if_owned_by(&mut self, id: i64, from: i64, to: i64, now: i64) -> Result<bool>;
    /// Returns a customer to a pool, only if `from` still owns it.
    fn return_to_pool(&mut self, id: i64, from: i64, pool_id: i64, now: i64) -> Result<bool>;
    /// Gives every customer of `from` to `to`, with one event each; their ids.
    fn transfer_all(
        &mut self,
        from: i64,
        to: i64,
        by: i64,
        event: &str,
        now: i64,
    ) -> Result<Vec<i64>>;
    fn set_locked(&mut self, id: i64, locked: bool, now: i64) -> Result<()>;
    /// Open follow-ups of a customer.
    fn open_followups(&mut self, customer_id: i64) -> Result<i64>;
    /// Hands a customer's open follow-ups to its new owner `to`: those of the previous
    /// owner `from` and of anyone not an active member of `to`'s team. The ids moved.
    fn move_open_followups(
        &mut self,
        customer_id: i64,
        from: Option<i64>,
        to: i64,
    ) -> Result<Vec<i64>>;
    /// Open follow-ups nobody will do (the customer is pooled, the assignee deactivated
    /// or outside the owner's team), in id order.
    fn stray_followups(&mut self) -> Result<Vec<Stray>>;
    /// Gives one open follow-up to another assignee; false if it is not open.
    fn reassign_followup(&mut self, id: i64, to: i64) -> Result<bool>;
    /// Cancels a customer's open follow-ups with a note; how many.
    fn cancel_open_followups(&mut self, customer_id: i64, note: &str, now: i64) -> Result<usize>;
    /// Says what the next ownership change of this transaction is (`release`,
    /// `recycle`, `assign`…) and why, before it is made: a backend whose server writes the
    /// history and audit rows itself (PostgreSQL) labels them with it. SQLite: nothing to
    /// do, [`PoolOps::record_event`] writes the row after the change.
    fn intend(&mut self, _event: &str, _reason: Option<&str>) -> Result<()> {
        Ok(())
    }
    /// Appends one row of owner history.
    fn record_event(&mut self, e: &OwnershipEvent) -> Result<()>;
    /// New leads allocation may deal out: pooled customers of a pool nobody has owned
    /// yet (optionally with ids in a range, for one import), oldest first: (id, stage).
    fn allocation_candidates(
        &mut self,
        pool_id: i64,
        ids: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<(i64, String)>>;
    /// Customers a user received by claim or allocation since `since`.
    fn received_since(&mut self, user: i64, since: i64) -> Result<i64>;
    /// Who got a pool's last allocated lead.
    fn allocation_cursor(&mut self, pool_id: i64) -> Result<Option<i64>>;
    fn set_allocation_cursor(&mut self, pool_id: i64, user: i64) -> Result<()>;
}
