//! What the reports count.
use crate::error::Result;

pub use crate::store::sqlite::reports::{
    Access, Activity, Count, FollowupLoad, Funnel, OwnerStats, QualityCounts, Worst,
};

pub trait ReportOps {
    fn pooled_per_pool(&mut self) -> Result<Vec<Count>>;
    fn owned_total(&mut self) -> Result<i64>;
    fn by_stage(&mut self) -> Result<Vec<Count>>;
    /// Ownership events per kind between two times.
    fn events_between(&mut self, from: i64, to: i64) -> Result<Vec<Count>>;
    /// Per owner (of one team or all): owned, limit, contacts, overdue, deals.
    fn owner_stats(&mut self, team: Option<i64>, now: i64, today: &str) -> Result<Vec<OwnerStats>>;
    /// Customers that changed hands between teams: (from team, to team, count).
    fn cross_team(&mut self) -> Result<Vec<(String, String, i64)>>;
    fn funnel(&mut self) -> Result<Funnel>;
    fn followup_load(
        &mut self,
        team: Option<i64>,
        today: &str,
        week: &str,
    ) -> Result<Vec<FollowupLoad>>;
    /// Claims, releases, recycles and interactions per period (`fmt`: strftime format).
    fn activity(
        &mut self,
        fmt: &str,
        from: i64,
        to: i64,
        team: Option<i64>,
    ) -> Result<Vec<Activity>>;
    fn field_quality(&mut self) -> Result<QualityCounts>;
    /// Customers whose phone or e-mail another live customer has.
    fn duplicated(&mut self) -> Result<i64>;
    fn worst_records(&mut self, masks: &[(i64, i64)], limit: i64) -> Result<Vec<Worst>>;
    /// Unmasked reads and exports per user between two times.
    fn access(&mut self, from: i64, to: i64) -> Result<Vec<Access>>;
}
