use super::SqliteTx;
use crate::domain::rules::{ClaimFacts, Rules};
use crate::error::Result;
use crate::store::ops::pool::Stray;
use crate::store::ops::pool::{OwnershipEvent, PoolOps};
use crate::store::sqlite::{ownership, pools, rules};

impl PoolOps for SqliteTx<'_> {
    fn pool_id(&mut self, name: &str) -> Result<i64> {
        pools::pool_id(&self.tx, name)
    }

    fn pool_visible(&mut self, pool_id: i64, team_id: i64) -> Result<bool> {
        pools::visible(&self.tx, pool_id, team_id)
    }

    fn rules(&mut self, pool_id: i64) -> Result<Rules> {
        rules::rules(&self.tx, pool_id)
    }

    fn claim_facts(
        &mut self,
        customer_id: i64,
        pooled_at: Option<i64>,
        user: i64,
        pool_id: i64,
        rules: &Rules,
        day_start: i64,
    ) -> Result<ClaimFacts> {
        ownership::claim_facts(
            &self.tx,
            customer_id,
            pooled_at,
            user,
            pool_id,
            rules,
            day_start,
        )
    }

    fn owned_count(&mut self, user: i64, pool_id: i64, count_won: bool) -> Result<i64> {
        ownership::owned_count(&self.tx, user, pool_id, count_won)
    }

    fn locked_count(&mut self, user: i64) -> Result<i64> {
        ownership::locked_count(&self.tx, user)
    }

    fn lost_twin(
        &mut self,
        user: i64,
        phone_key: Option<&str>,
        email_key: Option<&str>,
        except: i64,
        since: i64,
    ) -> Result<Option<(i64, i64)>> {
        ownership::lost_twin(&self.tx, user, phone_key, email_key, except, since)
    }

    fn set_owner_if_pooled(&mut self, id: i64, owner: i64, now: i64) -> Result<bool> {
        ownership::set_owner_if_pooled(&self.tx, id, owner, now)
    }

    fn set_owner_if_owned_by(&mut self, id: i64, from: i64, to: i64, now: i64) -> Result<bool> {
        ownership::set_owner_if_owned_by(&self.tx, id, from, to, now)
    }

    fn return_to_pool(&mut self, id: i64, from: i64, pool_id: i64, now: i64) -> Result<bool> {
        ownership::return_to_pool(&self.tx, id, from, pool_id, now)
    }

    fn transfer_all(
        &mut self,
        from: i64,
        to: i64,
        by: i64,
        event: &str,
        now: i64,
    ) -> Result<Vec<i64>> {
        ownership::transfer_all(&self.tx, from, to, by, event, now)
    }

    fn set_locked(&mut self, id: i64, locked: bool, now: i64) -> Result<()> {
        ownership::set_locked(&self.tx, id, locked, now)
    }

    fn open_followups(&mut self, customer_id: i64) -> Result<i64> {
        ownership::open_followups(&self.tx, customer_id)
    }

    fn move_open_followups(
        &mut self,
        customer_id: i64,
        from: Option<i64>,
        to: i64,
    ) -> Result<Vec<i64>> {
        ownership::move_open_followups(&self.tx, customer_id, from, to)
    }

    fn stray_followups(&mut self) -> Result<Vec<Stray>> {
        ownership::stray_followups(&self.tx)
    }

    fn reassign_followup(&mut self, id: i64, to: i64) -> Result<bool> {
        ownership::reassign_followup(&self.tx, id, to)
    }

    fn cancel_open_followups(&mut self, customer_id: i64, note: &str, now: i64) -> Result<usize> {
        ownership::cancel_open_followups(&self.tx, customer_id, note, now)
    }

    fn record_event(&mut self, e: &OwnershipEvent) -> Result<()> {
        ownership::record_event(
            &self.tx,
            e.customer_id,
            e.event,
            e.from_user,
            e.to_user,
            e.by_user,
            e.pool_id,
            e.reason,
            e.at,
        )
    }

    fn allocation_candidates(
        &mut self,
        pool_id: i64,
        ids: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<(i64, String)>> {
        ownership::allocation_candidates(&self.tx, pool_id, ids, limit)
    }

    fn received_since(&mut self, user: i64, since: i64) -> Result<i64> {
        ownership::received_since(&self.tx, user, since)
    }

    fn allocation_cursor(&mut self, pool_id: i64) -> Result<Option<i64>> {
        ownership::allocation_cursor(&self.tx, pool_id)
    }

    fn set_allocation_cursor(&mut self, pool_id: i64, user: i64) -> Result<()> {
        ownership::set_allocation_cursor(&self.tx, pool_id, user)
    }
}
