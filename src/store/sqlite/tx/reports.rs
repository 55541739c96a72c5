use super::SqliteTx;
use crate::error::Result;
use crate::store::ops::reports::{
    Access, Activity, Count, DealScope, FollowupLoad, Funnel, OwnerStats, QualityCounts, ReportOps,
    RevenueDay, Worst,
};
use crate::store::sqlite::reports;

impl ReportOps for SqliteTx<'_> {
    fn pooled_per_pool(&mut self) -> Result<Vec<Count>> {
        reports::pooled_per_pool(&self.tx)
    }

    fn owned_total(&mut self) -> Result<i64> {
        reports::owned_total(&self.tx)
    }

    fn by_stage(&mut self) -> Result<Vec<Count>> {
        reports::by_stage(&self.tx)
    }

    fn events_between(&mut self, from: i64, to: i64) -> Result<Vec<Count>> {
        reports::events_between(&self.tx, from, to)
    }

    fn owner_stats(&mut self, team: Option<i64>, now: i64, today: &str) -> Result<Vec<OwnerStats>> {
        reports::owner_stats(&self.tx, team, now, today)
    }

    fn cross_team(&mut self) -> Result<Vec<(String, String, i64)>> {
        reports::cross_team(&self.tx)
    }

    fn funnel(&mut self) -> Result<Funnel> {
        reports::funnel(&self.tx)
    }

    fn followup_load(
        &mut self,
        team: Option<i64>,
        today: &str,
        week: &str,
    ) -> Result<Vec<FollowupLoad>> {
        reports::followup_load(&self.tx, team, today, week)
    }

    fn activity(
        &mut self,
        fmt: &str,
        from: i64,
        to: i64,
        team: Option<i64>,
        offset: i64,
    ) -> Result<Vec<Activity>> {
        reports::activity(&self.tx, fmt, from, to, team, offset)
    }

    fn field_quality(&mut self) -> Result<QualityCounts> {
        reports::field_quality(&self.tx)
    }

    fn duplicated(&mut self) -> Result<i64> {
        reports::duplicated(&self.tx)
    }

    fn worst_records(&mut self, masks: &[(i64, i64)], limit: i64) -> Result<Vec<Worst>> {
        reports::worst_records(&self.tx, masks, limit)
    }

    fn access(&mut self, from: i64, to: i64) -> Result<Vec<Access>> {
        reports::access(&self.tx, from, to)
    }

    fn revenue(&mut self, from: &str, to: &str, scope: DealScope) -> Result<Vec<RevenueDay>> {
        reports::revenue(&self.tx, from, to, scope)
    }
}
