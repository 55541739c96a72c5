//! Working a customer: interactions, follow-up plans, deals; and what recycle warnings
//! read about owned customers.
use serde::Serialize;

use crate::error::Result;

/// A follow-up as `pool followup list` and the agenda show it.
#[derive(Debug, Clone, Serialize)]
pub struct Followup {
    pub id: i64,
    pub customer_id: i64,
    pub customer: Option<String>,
    pub assignee: String,
    pub due: String,
    pub action: String,
    pub status: String,
    pub note: Option<String>,
    #[serde(skip)]
    pub assignee_id: i64,
    #[serde(skip)]
    pub assignee_team: i64,
    #[serde(skip)]
    pub owner_id: Option<i64>,
}

/// Which follow-ups a list shows (None: any).
#[derive(Debug, Default, Clone)]
pub struct FollowupFilter {
    pub assignee_id: Option<i64>,
    pub team_id: Option<i64>,
    pub customer_id: Option<i64>,
    /// None = every status
    pub status: Option<String>,
    pub due_before: Option<String>,
    pub due_on_or_after: Option<String>,
    pub due_until: Option<String>,
    pub limit: Option<i64>,
}

/// A deal as `pool deal list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Deal {
    pub id: i64,
    pub customer_id: i64,
    pub customer: Option<String>,
    pub owner: Option<String>,
    pub amount: String,
    pub currency: String,
    pub product: Option<String>,
    pub on: String,
    pub voided: bool,
    pub void_reason: Option<String>,
    #[serde(skip)]
    pub amount_minor: i64,
}

/// Which deals a list shows: one customer's, or those of customers owned by one user or
/// by a team's members (None = every deal, for admins).
#[derive(Debug, Default, Clone)]
pub struct DealFilter {
    pub customer_id: Option<i64>,
    pub owner_id: Option<i64>,
    pub owner_team: Option<i64>,
    pub include_voided: bool,
    pub limit: Option<i64>,
}

/// One line of a customer's history.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub at: i64,
    pub kind: String,
    pub by: Option<String>,
    pub detail: String,
}

/// An owned customer with what recycle warnings need.
pub struct Watched {
    pub id: i64,
    pub label: Option<String>,
    pub owner: String,
    pub pool_id: i64,
    pub facts: crate::domain::rules::OwnedFacts,
}

pub trait WorkOps {
    /// Adds an interaction and, if it `counts` as contact, moves the customer's last
    /// contact (the recycle clock) forward, never backwards; its id.
    #[allow(clippy::too_many_arguments)]
    fn log_interaction(
        &mut self,
        customer_id: i64,
        user_id: i64,
        kind: &str,
        summary: &str,
        at: i64,
        counts: bool,
        now: i64,
    ) -> Result<i64>;
    /// Plans an open follow-up; its id.
    fn add_followup(
        &mut self,
        customer_id: i64,
        assignee: i64,
        by: i64,
        due: &str,
        action: &str,
        now: i64,
    ) -> Result<i64>;
    /// Whether the store itself plans the follow-ups of a pool's claim and deal rules in
    /// the event's own statement (PostgreSQL: a server trigger, so no client can skip
    /// them): `None` if the app must plan them, else the id it planned for this customer
    /// in this transaction, if any.
    fn rule_followup_planned(&mut self, _customer_id: i64) -> Result<Option<Option<i64>>> {
        Ok(None)
    }
    /// One follow-up (not found: exit 3).
    fn followup(&mut self, id: i64) -> Result<Followup>;
    /// Closes an open follow-up as `done` or `cancelled`; false if it was not open.
    fn close_followup(
        &mut self,
        id: i64,
        status: &str,
        note: Option<&str>,
        now: i64,
    ) -> Result<bool>;
    /// Follow-ups of live customers matching a filter, soonest due first.
    fn list_followups(&mut self, f: &FollowupFilter) -> Result<Vec<Followup>>;
    /// Records a deal (a lead becomes a customer); its id.
    #[allow(clippy::too_many_arguments)]
    fn add_deal(
        &mut self,
        customer_id: i64,
        user_id: i64,
        amount_minor: i64,
        currency: &str,
        product: Option<&str>,
        on: &str,
        now: i64,
    ) -> Result<i64>;
    /// One deal (not found: exit 3).
    fn deal(&mut self, id: i64) -> Result<Deal>;
    /// Deals matching a filter, newest first.
    fn list_deals(&mut self, f: &DealFilter) -> Result<Vec<Deal>>;
    /// Voids a live deal (the stage and first-deal time follow); false if already void.
    fn void_deal(&mut self, id: i64, by: i64, reason: &str, now: i64) -> Result<bool>;
    /// Owned customers of one user or one team, for silence warnings.
    fn owned_for_warning(&mut self, owner: Option<i64>, team: Option<i64>) -> Result<Vec<Watched>>;
}
