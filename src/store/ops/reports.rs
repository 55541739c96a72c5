//! What the reports count.
use crate::error::Result;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Count {
    pub key: String,
    pub count: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct OwnerStats {
    pub user: String,
    pub team: String,
    pub owned: i64,
    pub locked: i64,
    pub contacts_30d: i64,
    pub overdue_followups: i64,
    pub deals: i64,
    /// Live deal amounts per currency (never added across currencies).
    #[serde(skip)]
    pub deal_totals: crate::domain::money::Totals,
    #[serde(skip)]
    pub user_id: i64,
    #[serde(skip)]
    pub team_id: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Funnel {
    pub total: i64,
    pub lead: i64,
    pub customer: i64,
    pub loyal: i64,
    pub churned: i64,
    /// Customers that ever had a deal.
    pub won: i64,
    pub median_days_to_first_deal: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FollowupLoad {
    pub assignee: String,
    pub overdue: i64,
    pub today: i64,
    pub next_7_days: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Activity {
    pub period: String,
    pub claims: i64,
    pub releases: i64,
    pub recycles: i64,
    pub interactions: i64,
    pub deals: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FieldQuality {
    pub field: String,
    pub filled: i64,
    pub valid: i64,
}

/// Counts of the quality report.
#[derive(Debug, Clone, Default)]
pub struct QualityCounts {
    pub total: i64,
    /// With a name or a company.
    pub named: i64,
    /// With a valid phone or e-mail.
    pub reachable: i64,
    pub fields: Vec<FieldQuality>,
    /// Live customers per missing-fields mask (see `MISSING_MASK`).
    pub masks: Vec<(i64, i64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Worst {
    pub id: i64,
    pub name: Option<String>,
    pub company: Option<String>,
    pub missing: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Access {
    pub user: String,
    pub unmasked_views: i64,
    pub unmasked_rows: i64,
    pub exports: i64,
    pub exported_rows: i64,
    /// Rows per day over the 30 days before the window.
    pub usual_rows_per_day: f64,
    /// Whole phone/e-mail lookups in the window (server mode, which counts them: each is
    /// a probe of a masked contact); none on SQLite.
    pub key_lookups: Option<i64>,
    pub flagged: bool,
}

/// Live deals of one date in one currency (`pool report revenue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueDay {
    /// YYYY-MM-DD, the deal's local date.
    pub on: String,
    pub currency: String,
    pub deals: i64,
    pub amount_minor: i128,
}

/// Whose deals a revenue report sums (by the user a deal is credited to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DealScope {
    All,
    Team(i64),
    User(i64),
}

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
    /// Claims, releases, recycles and interactions per period (`fmt`: strftime format)
    /// of local days `offset` seconds ahead of UTC.
    fn activity(
        &mut self,
        fmt: &str,
        from: i64,
        to: i64,
        team: Option<i64>,
        offset: i64,
    ) -> Result<Vec<Activity>>;
    fn field_quality(&mut self) -> Result<QualityCounts>;
    /// Customers whose phone or e-mail another live customer has.
    fn duplicated(&mut self) -> Result<i64>;
    fn worst_records(&mut self, masks: &[(i64, i64)], limit: i64) -> Result<Vec<Worst>>;
    /// Unmasked reads and exports per user between two times.
    fn access(&mut self, from: i64, to: i64) -> Result<Vec<Access>>;
    /// Whole-key lookups per user counted by the store, between two times and in the 30
    /// days before: (login, in the window, before). None where nothing counts them
    /// (SQLite: the file is the boundary).
    fn key_lookups(&mut self, _from: i64, _to: i64) -> Result<Option<Vec<(String, i64, i64)>>> {
        Ok(None)
    }
    /// Live (not voided) deals per date and currency, dates `from..=to` (YYYY-MM-DD).
    fn revenue(&mut self, from: &str, to: &str, scope: DealScope) -> Result<Vec<RevenueDay>>;
}
