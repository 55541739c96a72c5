use super::SqliteTx;
use crate::error::Result;
use crate::store::ops::work::{Deal, DealFilter, Followup, FollowupFilter, Watched, WorkOps};
use crate::store::sqlite::work;

impl WorkOps for SqliteTx<'_> {
    fn log_interaction(
        &mut self,
        customer_id: i64,
        user_id: i64,
        kind: &str,
        summary: &str,
        at: i64,
        counts: bool,
        now: i64,
    ) -> Result<i64> {
        work::log_interaction(
            &self.tx,
            customer_id,
            user_id,
            kind,
            summary,
            at,
            counts,
            now,
        )
    }

    fn add_followup(
        &mut self,
        customer_id: i64,
        assignee: i64,
        by: i64,
        due: &str,
        action: &str,
        now: i64,
    ) -> Result<i64> {
        work::add_followup(&self.tx, customer_id, assignee, by, due, action, now)
    }

    fn followup(&mut self, id: i64) -> Result<Followup> {
        work::get_followup(&self.tx, id)
    }

    fn close_followup(
        &mut self,
        id: i64,
        status: &str,
        note: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        work::close_followup(&self.tx, id, status, note, now)
    }

    fn list_followups(&mut self, f: &FollowupFilter) -> Result<Vec<Followup>> {
        work::list_followups(&self.tx, f)
    }

    fn add_deal(
        &mut self,
        customer_id: i64,
        user_id: i64,
        amount_minor: i64,
        currency: &str,
        product: Option<&str>,
        on: &str,
        now: i64,
    ) -> Result<i64> {
        work::add_deal(
            &self.tx,
            customer_id,
            user_id,
            amount_minor,
            currency,
            product,
            on,
            now,
        )
    }

    fn deal(&mut self, id: i64) -> Result<Deal> {
        work::get_deal(&self.tx, id)
    }

    fn list_deals(&mut self, f: &DealFilter) -> Result<Vec<Deal>> {
        work::list_deals(&self.tx, f)
    }

    fn void_deal(&mut self, id: i64, by: i64, reason: &str, now: i64) -> Result<bool> {
        work::void_deal(&self.tx, id, by, reason, now)
    }

    fn owned_for_warning(&mut self, owner: Option<i64>, team: Option<i64>) -> Result<Vec<Watched>> {
        work::owned_for_warning(&self.tx, owner, team)
    }
}
